"""The command line in Vietnamese: chosen by --lang, else THUVIEN_LANG, else a
Vietnamese locale; what a librarian meets (summaries, one-line errors, progress,
the start-up banner) is said in Vietnamese, English stays as it was; every message
of the catalogue has both languages with the same placeholders."""

from __future__ import annotations

import re
import string
import subprocess
import unicodedata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import SAMPLES, free_port
from test_pipeline_doors import _library_db
from test_ux_cli import COMMANDS
from test_ux_serve import COMMAND, busy_port, running

from thuvien_interop.cli import main
from thuvien_interop.validate.report import LEVELS
from thuvien_interop.wording import language_from_environment, number, plural, say, speaking
from thuvien_interop.wording.messages import CLICK, MESSAGES, NOUNS

SRC = Path(__file__).resolve().parent.parent / "src" / "thuvien_interop"
# No language from the environment: what a test passes decides.
NEUTRAL = {"THUVIEN_LANG": None, "LANG": None, "LC_ALL": None, "LC_MESSAGES": None}


def run(args: list[str], env: dict | None = None):
    return CliRunner().invoke(main, args, prog_name="thuvien-interop", env={**NEUTRAL, **(env or {})})


def _said(result) -> list[str]:
    """What a person is told, less click's usage lines (in either language)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"a traceback: {result.exception!r}"
    return [line for line in result.output.splitlines() if line.strip()
            and not line.startswith(("Usage: ", "Try '", "Cách dùng: ", "Xem '"))]


# -- choosing the language -------------------------------------------------------------
def test_the_language_comes_from_lang_else_thuvien_lang_else_the_locale():
    assert language_from_environment({}) == "en"
    assert language_from_environment({"LANG": "vi_VN.UTF-8"}) == "vi"
    assert language_from_environment({"LANG": "en_US.UTF-8", "LC_MESSAGES": "vi_VN"}) == "vi"
    # LC_ALL first, as POSIX says: an English LC_ALL wins over a Vietnamese LANG.
    assert language_from_environment({"LC_ALL": "C.UTF-8", "LANG": "vi_VN.UTF-8"}) == "en"
    assert language_from_environment({"THUVIEN_LANG": "vi", "LANG": "C"}) == "vi"
    assert language_from_environment({"THUVIEN_LANG": "en", "LANG": "vi_VN.UTF-8"}) == "en"


def test_lang_vi_says_the_import_summary_in_vietnamese(tmp_path):
    store = f"sqlite:///{tmp_path / 's.db'}"
    result = run(["--lang", "vi", "import", str(SAMPLES / "vietnamese-catalogue.mrc"),
                  "--store", store, "--quiet"])
    assert result.exit_code == 0, result.output
    [summary] = [line for line in result.output.splitlines() if line.startswith("Đã đọc")]
    assert re.fullmatch(r"Đã đọc \d+ bản ghi: \d+ đã nạp, 0 cập nhật, 0 không đổi, 0 đã xóa, "
                        r"0 bị từ chối\.", summary), summary
    # The same again in English, by --lang en after the command, in a Vietnamese locale.
    again = run(["import", str(SAMPLES / "vietnamese-catalogue.mrc"), "--store", store,
                 "--lang", "en"], env={"LANG": "vi_VN.UTF-8"})
    assert re.search(r"^Read \d+ records: 0 loaded, 0 updated, \d+ unchanged", again.output, re.M)


def test_thuvien_lang_vi_says_a_bad_value_and_a_missing_file_in_vietnamese(tmp_path):
    env = {"THUVIEN_LANG": "vi"}
    bad = run(["convert", str(SAMPLES / "vietnamese-dc.xml"), "--to", "pdf"], env)
    assert bad.exit_code == 2
    assert _said(bad) == ["Lỗi: Giá trị không hợp lệ cho '--to': 'pdf' không phải một trong "
                          "'oai_dc', 'marcxml', 'mods', 'marc', 'json'."]
    assert bad.output.startswith("Cách dùng: thuvien-interop convert [OPTIONS] SOURCE")
    missing = run(["check", "khong-co.mrc"], env)
    assert _said(missing) == ["Lỗi: Giá trị không hợp lệ cho 'FILES...': Không có 'khong-co.mrc'."]
    unknown = run(["import", "--sotre", "x"], env)
    assert _said(unknown)[0].startswith("Lỗi: Không có tùy chọn '--sotre'.")


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_says_an_unknown_option_in_one_vietnamese_line(path):
    result = run([*path, "--sotre", "sqlite:///x.db"], {"THUVIEN_LANG": "vi"})
    assert result.exit_code == 2
    [line] = _said(result)
    assert line.startswith("Lỗi: Không có tùy chọn '--sotre'.")
    assert result.output.startswith(f"Cách dùng: thuvien-interop {' '.join(path)}")


def test_a_vietnamese_locale_says_what_is_wrong_with_the_settings_file(tmp_path):
    env = {"LANG": "vi_VN.UTF-8"}
    missing = tmp_path / "khong-co.toml"
    result = run(["reindex", "--config", str(missing)], env)
    assert result.exit_code == 2
    assert _said(result) == [f"Lỗi: tệp cấu hình {missing} không tồn tại"]
    misspelt = tmp_path / "thuvien.toml"
    misspelt.write_text('[repository]\nnmae = "Thư viện tỉnh"\n', encoding="utf-8")
    result = run(["reindex", "--config", str(misspelt)], env)
    assert _said(result) == [f"Lỗi: {misspelt}, dòng 2: khóa 'nmae' không có trong [repository]; "
                             "có phải ý bạn là 'name'?"]


def test_a_bad_value_of_a_setting_is_said_in_vietnamese(tmp_path):
    wrong = tmp_path / "thuvien.toml"
    wrong.write_text('[repository]\nadmin_email = "thuvien"\n[oai]\npage_size = "200"\n',
                     encoding="utf-8")
    result = run(["--lang", "vi", "reindex", "--config", str(wrong)])
    assert _said(result) == [f"Lỗi: {wrong}, dòng 2: [repository] admin_email 'thuvien' không "
                             "phải địa chỉ thư điện tử: hãy ghi dạng \"thuvien@daklak.gov.vn\""]
    wrong.write_text('[oai]\npage_size = "200"\n', encoding="utf-8")
    result = run(["--lang", "vi", "reindex", "--config", str(wrong)])
    assert _said(result) == [f"Lỗi: {wrong}, dòng 2: [oai] page_size phải là số nguyên, không "
                             "phải văn bản '200'"]
    option = run(["--lang", "vi", "delete", "VN1", "--repository-id", "Thư viện tỉnh"])
    assert _said(option) == ["Lỗi: Giá trị không hợp lệ cho '--repository-id': 'Thư viện tỉnh' "
                             "không phải tên miền: hãy ghi một tên miền thư viện quản lý, ví dụ "
                             "\"thuviendaklak.vn\" (định danh sẽ có dạng "
                             "oai:<identifier>:<local id>)"]


def test_a_store_that_cannot_be_opened_is_one_vietnamese_line(tmp_path):
    result = run(["--lang", "vi", "reindex", "--store", "nonsense://x"])
    assert _said(result) == ["Lỗi: không hiểu địa chỉ kho 'nonsense://x': hãy dùng "
                             "sqlite:///đường/dẫn/tệp.db hoặc postgresql://…"]
    folder = tmp_path / "khong-co"
    result = run(["--lang", "vi", "reindex", "--store", f"sqlite:///{folder / 's.db'}"])
    assert _said(result) == [f"Lỗi: không tạo được kho {folder / 's.db'}: thư mục {folder} "
                             "không tồn tại"]


def test_a_file_of_no_known_format_and_a_profile_that_is_not_there_in_vietnamese(tmp_path):
    readme = Path(__file__).resolve().parent.parent / "README.md"
    result = run(["--lang", "vi", "import", str(readme), "--store", f"sqlite:///{tmp_path / 's.db'}"])
    assert _said(result) == [f"Lỗi: không nhận ra định dạng của {readme}: không phải MARC ISO 2709 "
                             "(phải bắt đầu bằng độ dài bản ghi năm chữ số) cũng không phải XML; "
                             "hãy cho --format"]
    result = run(["--lang", "vi", "sync", "--profile", "spreadsheet-vi", "--source", "x"])
    assert _said(result) == ["Lỗi: Giá trị không hợp lệ cho '--profile': 'spreadsheet-vi' là bảng "
                             "ánh xạ cột của bảng tính, không phải hồ sơ nguồn dữ liệu; các hồ sơ "
                             "nguồn dữ liệu có sẵn là: generic-sql, koha (`thuvien-interop "
                             "profiles` liệt kê tất cả)"]


def test_lang_on_the_command_line_beats_thuvien_lang_before_or_after_the_subcommand():
    for args in (["--lang", "vi", "check", "/no/such/file.mrc"],
                 ["check", "/no/such/file.mrc", "--lang", "vi"]):
        assert "Không có '/no/such/file.mrc'" in run(args, {"THUVIEN_LANG": "en"}).output, args
    assert "does not exist" in run(["check", "/no/such/file.mrc"], {"THUVIEN_LANG": "en"}).output


def test_an_unknown_language_is_one_line_naming_the_choices():
    for args, env in [(["--lang", "xx", "check", "x.mrc"], None),
                      (["check", "x.mrc", "--lang", "fr"], None),
                      (["check", "x.mrc"], {"THUVIEN_LANG": "vn"})]:
        result = run(args, env)
        assert result.exit_code == 2
        [line] = _said(result)
        assert re.fullmatch(r"Error: Invalid value for '--lang'( \(env var: 'THUVIEN_LANG'\))?: "
                            r"'(xx|fr|vn)' is not one of 'en', 'vi'\.", line), line


# -- the summaries ---------------------------------------------------------------------
def test_check_and_convert_summaries_in_vietnamese(tmp_path):
    checked = run(["--lang", "vi", "check", str(SAMPLES / "vietnamese-catalogue.mrc")])
    summary = [line for line in checked.output.splitlines() if line.startswith("Đã kiểm tra")]
    assert summary and re.fullmatch(r"Đã kiểm tra \d+ bản ghi trong 1 tệp: \d+ bản ghi có vấn đề "
                                    r"\(\d+ lỗi, \d+ cảnh báo\)\.", summary[0]), checked.output
    out = tmp_path / "out.xml"
    converted = run(["--lang", "vi", "convert", str(SAMPLES / "vietnamese-catalogue.mrc"),
                     "--to", "mods", "-o", str(out), "-q"])
    assert converted.exit_code == 0, converted.output
    assert re.fullmatch(r"Đã chuyển (\d+) trên \1 bản ghi sang mods\.\n", converted.output)


def test_check_says_what_it_finds_in_a_record_in_vietnamese():
    broken = Path(__file__).resolve().parent / "data" / "broken" / "invalid-xml-char.mrc"
    result = run(["--lang", "vi", "check", str(broken)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("invalid-xml-char.mrc: bản ghi 3 (byte 1816), 001 VN-TV-000043")
    assert lines[1] == ("  lỗi      245 $a: chứa U+0001, U+000B, ký tự XML 1.0 không cho phép: "
                        "'Hồ\\x01 Lắk\\x0b :'")
    with speaking("vi"):
        import pymarc

        from thuvien_interop.crosswalk.lint import lint_record

        record = pymarc.Record(leader="00000nxm a2200000 a 4500")
        record.add_field(pymarc.Field("001", data="VN1"), pymarc.Field("008", data="x" * 39))
        assert [str(f) for f in lint_record(record)] == [
            "đầu biểu/06 (loại bản ghi) là 'x'; MARC 21 cho phép 'a', 'c', 'd', 'e', 'f', 'g', "
            "'i', 'j', 'k', 'm', 'o', 'p', 'r', 't'",
            "không có 245 (nhan đề và thông tin trách nhiệm)",
            "008: 008 dài 39 ký tự, không phải 40"]


def test_what_a_reader_notes_is_said_in_vietnamese_and_found_the_same(tmp_path):
    import json

    broken = Path(__file__).resolve().parent / "data" / "broken"
    files = [str(broken / name) for name in ("wrong-length.mrc", "leader-lies.mrc", "marc8.mrc",
                                             "char-lengths.mrc", "broken-record.xml")]
    found = {}
    for lang in ("en", "vi"):
        report = json.loads(run(["--lang", lang, "check", "--json", *files]).output)
        found[lang] = [(r["file"], r["position"], f["code"], f["message"])
                       for r in report["records"] for f in r["problems"]]
    # The same findings, by kind, whatever the language they are said in.
    assert [f[:3] for f in found["vi"]] == [f[:3] for f in found["en"]]
    assert {"leader-length", "leader-09-lie", "directory"} <= {f[2] for f in found["vi"]}
    assert ("wrong-length.mrc", 8, "leader-length", "khi đọc: đầu biểu ghi bản ghi dài 1282 byte "
            "nhưng thực tế là 1182; đã dùng ký tự kết thúc bản ghi") in found["vi"]
    assert ("wrong-length.mrc", 8, "leader-length", "on reading: leader says the record is 1282 "
            "bytes but it is 1182; used the record terminator") in found["en"]
    english = [f[3] for f in found["en"]]
    assert not any(english_note in f[3] for f in found["vi"] for english_note in english)
    # import, with its worker processes, says them so too; and where the record is.
    out = run(["--lang", "vi", "import", *files[:2], "--store", f"sqlite:///{tmp_path / 'x.db'}",
               "--processes", "2", "-q"]).output
    assert ("wrong-length.mrc: bản ghi 8 (byte 6777): đầu biểu ghi bản ghi dài 1282 byte nhưng "
            "thực tế là 1182") in out, out


def test_sync_summary_in_vietnamese(tmp_path):
    _library_db(tmp_path / "lib.db", 3)
    result = run(["--lang", "vi", "sync", "--profile", "generic-sql", "--source",
                  f"sqlite:///{tmp_path / 'lib.db'}", "--store", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Nguồn sqlite:///") and lines[0].endswith("đọc kể từ đầu.")
    assert re.fullmatch(r"Đã đọc \d+ dòng: \d+ thêm mới, 0 cập nhật, 0 không đổi, \d+ đã xóa, "
                        r"0 không đọc được; \d+ tập hợp\.", lines[1]), lines[1]
    assert lines[2].startswith("Lần đồng bộ sau đọc từ ")


def test_a_harvest_logs_and_sums_up_in_vietnamese(sample_store, tmp_path):
    from conftest import live_server

    from thuvien_interop.oai.config import ProviderConfig
    from thuvien_interop.web import create_app

    with live_server(create_app(sample_store, ProviderConfig(page_size=200))) as root:
        result = run(["--lang", "vi", "harvest", root + "/oai", "--name", "mau", "--store",
                      f"sqlite:///{tmp_path / 'u.db'}", "--processes", "1"])
    assert result.exit_code == 0, result.output
    out = result.output
    # The log lines, said by the command's handler though a worker thread logged them.
    assert re.search(r"INFO +mau: thu hoạch xong: lần này 2 trang, 330 bản ghi \(330 mới, 0 cập "
                     r"nhật, 0 đã xóa, 0 không đổi, 0 cách ly\)", out), out
    head, row = out.splitlines()[-2:]
    assert head.split() == ["Nhà", "cung", "cấp", "Kết", "quả", "Trang", "Mới", "Cập", "nhật",
                            "Không", "đổi", "Đã", "xóa", "Cách", "ly", "Yêu", "cầu", "Giây"]
    assert re.match(r"mau +ok +2 +330 +0 +0 +0 +0 +\d+ +\d+,\d$", row), row


def test_why_a_harvest_failed_is_said_in_vietnamese_from_its_worker_threads(tmp_path):
    """Each provider of a sources file is harvested in a thread of its own: its
    retries and its failure speak the command's language, not the default."""
    from conftest import live_server

    def html_page(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return ["<!DOCTYPE html><html><body>Trang chủ của thư viện</body></html>".encode()]

    with live_server(html_page) as root:
        sources = tmp_path / "providers.toml"
        sources.write_text(f'[[provider]]\nname = "html"\nurl = "{root}/oai"\n'
                           '[[provider]]\nname = "tat"\nurl = "http://127.0.0.1:1/oai"\n', encoding="utf-8")
        result = run(["--lang", "vi", "harvest", "--sources", str(sources), "--store",
                      f"sqlite:///{tmp_path / 'u.db'}", "--retries", "1", "--processes", "1"])
    out = result.output
    assert result.exit_code != 0
    assert re.search(r"html: một trang HTML với mã 200, không phải câu trả lời OAI-PMH \(.*\); "
                     r"thử lại 1/1 sau [\d,]+ giây", out), out
    assert re.search(r"html: một trang HTML với mã 200, không phải câu trả lời OAI-PMH, từ \S+ "
                     r"\(đã thử 2 lần\)\. Địa chỉ có phải URL gốc OAI-PMH", out), out
    assert re.search(r"tat: kết nối bị từ chối .*, từ http://127\.0\.0\.1:1/oai \(đã thử 2 lần\)", out), out
    for english in ("retry", "tried", "not an OAI-PMH response", "connection refused"):
        assert english not in out, out


def test_harvest_status_and_delete_in_vietnamese(tmp_path):
    store = f"sqlite:///{tmp_path / 's.db'}"
    status = run(["--lang", "vi", "harvest", "status", "--store", store])
    assert status.output == "Kho này chưa ghi nhận lần thu hoạch nào.\n"
    deleted = run(["--lang", "vi", "delete", "VN1", "--store", store])
    assert deleted.exit_code == 1
    assert deleted.output.splitlines()[:2] == [
        "Đã xóa 0 bản ghi, 1 không có trong kho.",
        "Không có (1) — không có trong kho, không xóa gì:"]


def test_the_command_list_of_help_is_in_vietnamese():
    shown = run(["--lang", "vi", "--help"]).output
    assert shown.startswith("Cách dùng: thuvien-interop")
    assert "Liên thông thư viện: OAI-PMH, SRU/CQL, MARC21 và Dublin Core." in shown
    commands = shown.split("\nLệnh:\n", 1)[1]
    assert re.search(r"^  harvest +Thu hoạch các nhà cung cấp OAI-PMH vào một kho", commands, re.M)
    assert re.search(r"^  import +Nạp tệp MARC, Dublin Core hoặc bảng tính vào một kho", commands,
                     re.M)
    assert "--lang [en|vi]  Ngôn ngữ của thông báo: vi (tiếng Việt) hoặc en" in shown
    assert "The language of the messages" in run(["--help"]).output


def test_a_search_of_a_server_that_is_not_there_in_vietnamese():
    url = f"http://127.0.0.1:{free_port()}/sru"
    result = run(["--lang", "vi", "search", url, "dc.title = hanoi"])
    assert result.exit_code == 1
    assert _said(result) == [f"Lỗi: không tra cứu được {url}: kết nối bị từ chối (không có gì trả "
                             "lời ở địa chỉ và cổng đó). Máy chủ của nhà cung cấp có đang chạy "
                             "không, và địa chỉ có đúng không?"]


# -- real processes --------------------------------------------------------------------
@pytest.mark.parametrize(("lang", "env"), [(["--lang", "vi"], {}), ([], {"THUVIEN_LANG": "vi"}),
                                           ([], {"LANG": "vi_VN.UTF-8"})],
                         ids=["--lang", "THUVIEN_LANG", "LANG"])
def test_a_busy_port_is_one_vietnamese_line(tmp_path, lang, env):
    import os

    env = {k: v for k, v in os.environ.items() if k not in NEUTRAL} | env
    with busy_port() as port:
        done = subprocess.run([*COMMAND, *lang, "serve", "--store",
                               f"sqlite:///{tmp_path / 's.db'}", "--port", str(port)],
                              capture_output=True, text=True, encoding="utf-8", timeout=120,
                              env=env)
    assert done.returncode == 1
    assert (done.stdout + done.stderr).strip().splitlines() == [
        f"Lỗi: cổng {port} trên 127.0.0.1 đang có chương trình khác dùng (một máy chủ khác đang "
        f"chạy ở đó?): hãy dừng nó, hoặc chọn cổng khác bằng --port {port + 1}"]


def test_the_start_up_banner_in_vietnamese_and_the_pages_stay_english(tmp_path, sample_db):
    import os
    import shutil

    import requests

    shutil.copy(sample_db, tmp_path / "thuvien.db")
    store = f"sqlite:///{tmp_path / 'thuvien.db'}"
    env = {k: v for k, v in os.environ.items() if k not in NEUTRAL} | {"THUVIEN_LANG": "vi"}
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    with running("serve", "--store", store, "--port", str(port), env=env) as r:
        banner = r.until("Dừng bằng Ctrl-C.")
        assert banner[1:] == [
            f"  Kho:        {store} — 330 bản ghi",
            f"  OAI-PMH:    {root}/oai?verb=Identify",
            f"  Tra cứu:    {root}/  (mở bằng trình duyệt)",
            f"  SRU:        {root}/sru",
            "  Tiến trình: 1 tiến trình × 8 luồng (waitress)",
            "  Nhật ký:    ở đây, mỗi yêu cầu một dòng",
            "Dừng bằng Ctrl-C.",
        ]
        assert banner[0].startswith("Đang phục vụ ")
        # The server's threads speak the protocol's English, whatever the command spoke.
        page = requests.get(f"{root}/oai", params={"verb": "Nonsense"}, timeout=30)
        assert b'code="badVerb"' in page.content


# -- the catalogue ---------------------------------------------------------------------
def _fields(text: str) -> list[tuple[str, str]]:
    return sorted((name, spec) for _, name, spec, _ in string.Formatter().parse(text)
                  if name is not None)


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key):
    texts = MESSAGES[key]
    assert set(texts) == {"en", "vi"}, key
    assert texts["en"].strip() and texts["vi"].strip()
    assert unicodedata.is_normalized("NFC", texts["vi"]), f"{key}: Vietnamese not NFC"
    assert _fields(texts["en"]) == _fields(texts["vi"]), key


def test_clicks_messages_in_vietnamese_use_only_clicks_placeholders():
    for english, vietnamese in CLICK.items():
        assert unicodedata.is_normalized("NFC", vietnamese)
        assert {n for n, _ in _fields(vietnamese)} <= {n for n, _ in _fields(english)}, english


def test_the_options_of_every_command_are_explained_in_vietnamese():
    from thuvien_interop.wording.messages import OPTION_HELP

    helps = {p.help for path in COMMANDS for p in _params(path) if isinstance(p, click.Option)}
    helps.add("Show this message and exit.")  # click's own -h/--help
    assert set(OPTION_HELP) - helps == set(), "a translation of a help no option has"
    for vietnamese in OPTION_HELP.values():
        assert unicodedata.is_normalized("NFC", vietnamese)
    for command in main.commands:
        options = {p.help for p in _params((command,)) if isinstance(p, click.Option)}
        assert options - set(OPTION_HELP) <= {None, MESSAGES["cli.lang"]["en"]}, command
    shown = run(["--lang", "vi", "import", "--help"]).output
    assert "Không hiện thanh tiến độ; chỉ in phần tóm tắt." in shown
    assert "mặc định: 50" in " ".join(shown.split()) and "Hiện trợ giúp này rồi thoát." in shown
    assert "No progress bar; the summary only." in run(["import", "--help"]).output


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_the_help_of_every_command_is_in_vietnamese_with_its_english_examples(path):
    from thuvien_interop.wording.messages import COMMAND_HELP

    command = " ".join(path)
    assert set(COMMAND_HELP) == {" ".join(p) for p in COMMANDS}
    assert unicodedata.is_normalized("NFC", COMMAND_HELP[command])
    english = run([*path, "--help"], {"COLUMNS": "100"}).output
    shown = run(["--lang", "vi", *path, "--help"], {"COLUMNS": "100"}).output
    assert shown.split("\n")[2].strip()[:30] == COMMAND_HELP[command][:30]
    # Each example's command (a comment after it, in two spaces, is in words).
    examples = [re.split(r"\s{2,}", line.strip())[0] for line in english.splitlines()
                if line.lstrip().startswith(("thuvien-interop ", "curl ", "http://"))]
    assert examples and all(example in shown for example in examples), command
    assert max(len(line) for line in shown.splitlines()) <= 100


def _params(path: tuple[str, ...]) -> list:
    command = main
    for word in path:
        command = command.commands[word]
    return command.params


def _sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))


def test_every_message_and_noun_the_code_names_is_in_the_catalogue():
    code = _sources()
    said = set(re.findall(r"""\b(?:say|Said|echo_problems)\(\s*["']([^"']+)["']""", code))
    assert len(said) > 80
    assert said - set(MESSAGES) == set()
    # The ids the code makes from a name: each name has its message.
    from thuvien_interop.crosswalk.lint import _LEADER_VALUES
    from thuvien_interop.profiles import KINDS

    made = ({f"{prefix}.{kind}" for kind in [*KINDS, "profile"] for prefix in ("kind", "kinds")}
            | {f"profiles.{kind}" for kind in KINDS} | {f"help.{name}" for name in main.commands}
            | {f"lint.leader-{pos:02d}" for pos in _LEADER_VALUES} | {"lint.no-001", "lint.no-008"}
            | {"toml.key", "toml.section", "check.error", "check.warning"}
            | {f"search.{name}" for name in ("creator", "date", "subject", "identifier")}
            | {f"validate.section.{level}" for level in LEVELS}
            | {f"validate.ask.{ask}" for ask in _asked(code)})
    assert made - set(MESSAGES) == set()
    nouns = set(re.findall(r"""\bplural\([^()]*(?:\([^()]*\)[^()]*)*,\s*["']([^"']+)["']\)""", code))
    assert {"record", "error", "provider", "row"} <= nouns
    assert nouns - set(NOUNS) == set()


def _asked(code: str) -> set[str]:
    """The requests the validator describes by name (``expect_codes("no-verb", …)``)."""
    asked = set(re.findall(r"""\b(?:E|expect_codes|_window)\(\s*["']([a-z-]+)["']""", code))
    assert {"no-verb", "forged-token", "day", "second", "granularities"} <= asked
    return asked


def test_counted_nouns_and_numbers_in_vietnamese_have_one_form_and_dot_thousands():
    with speaking("vi"):
        assert [plural(n, "record") for n in (1, 3, 4000)] == ["1 bản ghi", "3 bản ghi",
                                                                 "4.000 bản ghi"]
        assert plural(2, "provider") == "2 nhà cung cấp"
        assert number(1234.5, ",.1f") == "1.234,5"
        assert say("harvest.rate", rate=4228.3) == ", 4.228 bản ghi/giây"
    assert plural(4000, "record") == "4,000 records" and number(1234.5, ",.1f") == "1,234.5"
