"""``thuvien-interop check`` and ``convert`` as a user runs them: what they print,
what they write, and their exit status."""

from __future__ import annotations

import io
import json
import unicodedata

import pymarc
import pytest
from click.testing import CliRunner
from conftest import DATA, SAMPLES, schema
from lxml import etree

from thuvien_interop.cli import main
from thuvien_interop.cli.check import check_file
from thuvien_interop.cli.convert import convert_stream
from thuvien_interop.crosswalk import legacy
from thuvien_interop.crosswalk.dc import DC_NS, OAI_DC_NS
from thuvien_interop.crosswalk.lint import lint_dc, repair_dc_mojibake
from thuvien_interop.crosswalk.marcxml import record_to_marcxml
from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.iso2709 import read_iso2709
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.oai.provider import Provider
from thuvien_interop.store import open_store

BROKEN = DATA / "broken"
CATALOGUE = SAMPLES / "vietnamese-catalogue.mrc"
N = 30


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The first N sample records (XSD validation is slow in pure Python)."""
    path = tmp_path_factory.mktemp("convert") / "small.mrc"
    with open(CATALOGUE, "rb") as src:
        raw = src.read()
    ends = [i for i, b in enumerate(raw) if b == 0x1D][:N]
    path.write_bytes(raw[:ends[-1] + 1])
    return path


# ------------------------------------------------------------------ check


def test_check_of_a_clean_catalogue_says_so_and_exits_0():
    result = run("check", CATALOGUE)
    assert result.exit_code == 0
    assert result.stdout == "Checked 300 records in 1 file: 0 with problems (0 errors, 0 warnings).\n"


def test_check_lists_the_record_its_001_title_and_problems_and_exits_1():
    result = run("check", BROKEN / "invalid-xml-char.mrc")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "invalid-xml-char.mrc: record 3 (byte 1816), 001 VN-TV-000043, “Hồ\\x01 Lắk”"
    assert lines[1] == "  error    245 $a: holds U+0001, U+000B, which XML 1.0 forbids: 'Hồ\\x01 Lắk\\x0b :'"
    assert "Checked 10 records in 1 file: 1 with problems (2 errors, 0 warnings)." in result.stdout
    assert result.stdout.endswith("  invalid-xml-char              2\n")


def test_check_json_is_one_document_with_a_summary_and_the_records_with_problems():
    result = run("check", "--json", BROKEN / "truncated.mrc", BROKEN / "wrong-length.mrc")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["summary"] == {"files": 2, "records": 25, "records_with_problems": 2, "errors": 1,
                              "warnings": 1, "by_code": {"leader-length": 1, "unreadable": 1}}
    first, second = doc["records"]
    assert first == {"file": "truncated.mrc", "position": 5, "location": "byte 4464", "identifier": None,
                     "title": None, "problems": [],
                     "error": "the file ends in the middle of this record (no record terminator)"}
    assert second["identifier"] == "VN-TV-000008" and second["position"] == 8
    assert second["problems"][0]["code"] == "leader-length"
    assert set(second["problems"][0]) == {"code", "message", "severity", "tag", "subfield"}


def test_check_jsonl_is_one_line_per_record_then_the_summary():
    result = run("check", "--jsonl", BROKEN / "nfd.xml")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [rec["position"] for rec in lines[:-1]] == [1, 2, 3, 4, 5, 6]
    assert lines[-1]["summary"]["by_code"] == {"not-nfc": 8}


def test_check_finds_legacy_mojibake_in_unicode_marcxml(tmp_path):
    rec = next(read_file(CATALOGUE)).record
    rec["245"]["a"] = legacy.encode("Hà Nội nghìn năm văn hiến", "tcvn3").decode("cp1252")
    path = tmp_path / "moji.xml"
    path.write_bytes(b"<collection xmlns='http://www.loc.gov/MARC21/slim'>" + record_to_marcxml(rec, namespace=False)
                     + b"</collection>")
    result = run("check", path)
    assert result.exit_code == 1
    assert "245 $a: looks like TCVN3 mojibake (confidence" in result.stdout
    assert "→ 'Hà Nội nghìn năm văn hiến'" in result.stdout


def test_check_reports_a_legacy_encoded_iso2709_file(tmp_path, small):
    old = pymarc.Record(to_unicode=False, leader="00000nam  2200000 i 4500")
    old.add_field(pymarc.Field("001", data="OLD-1"), pymarc.Field("008", data=" " * 35 + "vie  "))
    old.add_field(pymarc.Field("245", ["1", "0"], [pymarc.Subfield(
        "a", legacy.encode("Lịch sử Việt Nam thời kỳ cận đại", "vni").decode("latin-1"))]))
    path = tmp_path / "vni.mrc"
    path.write_bytes(old.as_marc())
    result = run("check", path)
    assert result.exit_code == 1
    assert "on reading: source encoding detected: VNI (confidence" in result.stdout
    assert "“Lịch sử Việt Nam thời kỳ cận đại”" in result.stdout


@pytest.mark.parametrize("args", [
    ["check", "--json", "--jsonl", CATALOGUE],
    ["check", "--format", "mods", CATALOGUE],
    ["check", "no-such-file.mrc"],
    ["check", "--source-encoding", "koi8", CATALOGUE],
])
def test_check_usage_errors_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2
    assert "Error:" in result.stderr


# ------------------------------------------------------- check, Dublin Core

MOJIBAKE = legacy.encode("Hà Nội nghìn năm văn hiến", "tcvn3").decode("cp1252")  # 'Hµ Néi ngh×n …'


def dc_file(tmp_path, *records: str, name: str = "records.xml"):
    """A file of oai_dc records; each record is the XML of its children."""
    body = "".join(f"  <oai_dc:dc>{r}</oai_dc:dc>\n" for r in records)
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<records xmlns:oai_dc="{OAI_DC_NS}" '
                    f'xmlns:dc="{DC_NS}">\n{body}</records>\n', encoding="utf-8")
    return path


def dc(**elements: str) -> str:
    return "".join(f"<dc:{e}>{v}</dc:{e}>" for e, v in elements.items())


def problems(path, *args: str) -> list[list[dict]]:
    """The problems ``check --json`` lists, per record with problems."""
    result = run("check", "--json", *args, path)
    assert result.exit_code in (0, 1), result.output
    return [rec["problems"] for rec in json.loads(result.stdout)["records"]]


def test_check_of_the_sample_dc_file_is_clean():
    result = run("check", SAMPLES / "vietnamese-dc.xml")
    assert result.exit_code == 0
    assert result.stdout == "Checked 30 records in 1 file: 0 with problems (0 errors, 0 warnings).\n"


def test_check_dc_names_records_without_identifier_or_title():
    result = run("check", BROKEN / "dc-broken.xml")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "dc-broken.xml: record 3 (line 21), “Ghi âm: Kể khan Đam San”",
        "  error    no dc:identifier: import rejects a record it cannot name",
        "dc-broken.xml: record 5 (line 37), dc:identifier dc-b005",
        "  error    no dc:title",
        "  warning  dc:title: empty element",
        "Checked 6 records in 1 file: 2 with problems (2 errors, 1 warning).",
        "  missing-field                 2",
        "  empty-field                   1",
    ]


def test_check_dc_jsonl_has_the_marc_shape():
    result = run("check", "--jsonl", BROKEN / "dc-broken.xml")
    assert result.exit_code == 1
    first, second, summary = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {"file": "dc-broken.xml", "position": 3, "location": "line 21", "identifier": None,
                     "title": "Ghi âm: Kể khan Đam San", "error": None,
                     "problems": [{"code": "missing-field", "severity": "error", "tag": None,
                                   "subfield": None,
                                   "message": "no dc:identifier: import rejects a record it cannot name"}]}
    assert second["identifier"] == "dc-b005" and second["title"] is None
    assert summary["summary"]["by_code"] == {"empty-field": 1, "missing-field": 2}


def test_check_dc_finds_nfd_and_tone_before_circumflex(tmp_path):
    nfd = unicodedata.normalize("NFD", "Hà Nội")
    typed = "Tie\u0301\u0302ng Vie\u0323\u0302t"  # ế and ệ with the tone typed first
    path = dc_file(tmp_path, dc(identifier="d1", title=nfd, subject=typed))
    result = run("check", path)
    assert result.exit_code == 1
    assert f"  warning  dc:title: NFD (decomposed), not NFC: {nfd!r}" in result.stdout
    assert ("  warning  dc:subject: not NFC, and Vietnamese marks are out of order "
            "(plain NFC would not repair it)") in result.stdout


def test_check_dc_finds_legacy_mojibake_and_mixed_encodings(tmp_path):
    vni = legacy.encode("Văn học dân gian Việt Nam", "vni").decode("cp1252")
    path = dc_file(tmp_path, dc(identifier="d1", title=MOJIBAKE, subject=vni))
    result = run("check", path)
    assert result.exit_code == 1
    assert "dc:title: looks like TCVN3 mojibake (confidence" in result.stdout
    assert "→ 'Hà Nội nghìn năm văn hiến'" in result.stdout
    assert "dc:subject: looks like VNI mojibake" in result.stdout
    assert "elements in different legacy encodings: TCVN3 (dc:title), VNI (dc:subject)" in result.stdout
    # --min-confidence is the detector's threshold, as for MARC.
    assert run("check", "--min-confidence", "1", path).exit_code == 0


def test_check_dc_finds_characters_xml_forbids(tmp_path):
    path = dc_file(tmp_path, dc(identifier="d1", title="Lăng &#x1;tẩm"), dc(identifier="d2", title="Sạch"))
    assert problems(path) == [[
        {"code": "invalid-xml-char", "severity": "warning", "tag": None, "subfield": None,
         "message": "on reading: characters XML 1.0 forbids (control characters) replaced with U+FFFD"},
        {"code": "replacement-char", "severity": "error", "tag": "dc:title", "subfield": None,
         "message": "holds U+FFFD: characters were lost before or while reading: 'Lăng \ufffdtẩm'"},
    ]]


@pytest.mark.parametrize("value, message", [
    ("01/05/2015", "'01/05/2015' is not a W3CDTF date: write a year (2015), a month (2015-05) "
                   "or a day (2015-05-01)"),
    ("[c2015]", "'[c2015]' is not a W3CDTF date: write a year (2015), a month (2015-05) "
                "or a day (2015-05-01)"),
    ("2015-02-30", "'2015-02-30' is not a real date (day is out of range for month)"),
    ("2015-05-01T10:20", "'2015-05-01T10:20' is not a W3CDTF date: write a year (2015), a month "
                         "(2015-05) or a day (2015-05-01)"),
])
def test_check_dc_date_must_be_w3cdtf(tmp_path, value, message):
    path = dc_file(tmp_path, dc(identifier="d1", title="Sách", date=value))
    assert problems(path) == [[{"code": "bad-date", "severity": "warning", "tag": "dc:date",
                                "subfield": None, "message": message}]]


@pytest.mark.parametrize("value", ["2015", "2015-05", "2015-05-01", "2015-05-01T10:20:30+07:00",
                                   "2015-05-01T10:20:30.5Z", "1998/2000"])
def test_check_dc_accepts_w3cdtf_dates_and_intervals(tmp_path, value):
    path = dc_file(tmp_path, dc(identifier="d1", title="Sách", date=value))
    assert run("check", path).exit_code == 0


@pytest.mark.parametrize("value, message", [
    ("vn", "'vn' is a country code, not an ISO 639 language code: write 'vi'"),
    ("Tiếng Việt", "'Tiếng Việt' is a language name, not an ISO 639 language code: write 'vie'"),
    ("vi_VN", "'vi_VN' is a locale name, not a language tag: write 'vi-VN'"),
    ("vie; eng", "'vie; eng' holds several languages: give each its own dc:language"),
    ("xx", "'xx' is not an ISO 639 language code (such as 'vi' or 'vie')"),
])
def test_check_dc_language_must_be_iso639(tmp_path, value, message):
    path = dc_file(tmp_path, dc(identifier="d1", title="Sách", language=value))
    assert problems(path) == [[{"code": "bad-language", "severity": "warning", "tag": "dc:language",
                                "subfield": None, "message": message}]]


@pytest.mark.parametrize("value", ["vi", "vie", "vi-VN", "en", "fre", "zh-Hans"])
def test_check_dc_accepts_iso639_codes(tmp_path, value):
    path = dc_file(tmp_path, dc(identifier="d1", title="Sách", language=value))
    assert run("check", path).exit_code == 0


def test_check_dc_checks_isbn_and_issn_in_identifiers(tmp_path):
    path = dc_file(tmp_path, "<dc:identifier>d1</dc:identifier><dc:title>Sách</dc:title>"
                   "<dc:identifier>URN:ISBN:9786048142971</dc:identifier>"
                   "<dc:identifier>URN:ISBN:9786048142972</dc:identifier>"
                   "<dc:identifier>ISSN 0317-8472</dc:identifier>")
    assert [(p["code"], p["message"]) for p in problems(path)[0]] == [
        ("bad-isbn", "'URN:ISBN:9786048142972' is not a valid ISBN (check digit or length)"),
        ("bad-issn", "'ISSN 0317-8472' is not a valid ISSN (check digit)"),
    ]


def test_check_dc_reports_elements_import_cannot_take(tmp_path):
    path = dc_file(tmp_path,
                   dc(identifier="d1", title="Sách", titel="Sách khác") + "<title>Không có namespace</title>",
                   "<identifier>d2</identifier><title>Sách</title>")
    result = run("check", "--json", path)
    assert result.exit_code == 1
    first, second = json.loads(result.stdout)["records"]
    assert [(p["code"], p["severity"], p["tag"], p["message"]) for p in first["problems"]] == [
        ("undefined-element", "warning", None,
         f"<title> is not in the Dublin Core namespace {DC_NS}: import ignores it"),
        ("undefined-element", "error", "dc:titel",
         "not one of the 15 Dublin Core 1.1 elements: import and convert reject the record"),
    ]
    assert second["error"] == ("no Dublin Core elements in this record (<identifier>, <title> are not "
                               f"in the Dublin Core namespace {DC_NS})")
    # What the checker says is what import does.
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        report = import_files(store, [path], IdentifierRule("thuvien.example.vn"))
    finally:
        store.close()
    assert [p.where for p in report.rejected] == ["record 1 (line 3)", "record 2 (line 4)"]


def test_check_reads_simple_dc_records(tmp_path):
    path = tmp_path / "simple.xml"
    path.write_text(f'<records xmlns:dc="{DC_NS}"><record><dc:identifier>s1</dc:identifier>'
                    "<dc:title>Địa chí Đắk Lắk</dc:title><dc:date>năm 2001</dc:date></record>"
                    "<record><dc:identifier>s2</dc:identifier><dc:title>Sạch</dc:title></record></records>",
                    encoding="utf-8")
    reports = list(check_file(path))
    assert [(r.position, r.identifier, r.title) for r in reports] == [
        (1, "s1", "Địa chí Đắk Lắk"), (2, "s2", "Sạch")]
    assert [f.code for f in reports[0].findings] == ["bad-date"] and reports[1].ok


def test_check_reads_an_oai_pmh_list_records_response(tmp_path):
    source = dc_file(tmp_path, dc(identifier="d1", title="Sạch", date="2001"),
                     dc(identifier="d2", title=MOJIBAKE, date="2002"), name="source.xml")
    store = open_store(f"sqlite:///{tmp_path / 'provider.db'}")
    try:
        assert not import_files(store, [source], IdentifierRule("thuvien.example.vn")).rejected
        response = Provider(store).handle([("verb", "ListRecords"), ("metadataPrefix", "oai_dc")])
    finally:
        store.close()
    path = tmp_path / "ListRecords.xml"
    path.write_bytes(response)
    for args in ((), ("--format", "dc")):
        result = run("check", "--json", *args, path)
        assert result.exit_code == 1
        doc = json.loads(result.stdout)
        assert doc["summary"]["records"] == 2
        [record] = doc["records"]
        assert record["identifier"] == "d2"
        assert [p["code"] for p in record["problems"]] == ["legacy-encoding"]


def test_check_file_and_lint_dc_as_python():
    reports = list(check_file(BROKEN / "dc-broken.xml", fmt="dc"))
    assert [r.position for r in reports if not r.ok] == [3, 5]
    assert [str(f) for f in lint_dc([("title", "Sách"), ("identifier", "x"), ("language", "jp")])] == [
        "dc:language: 'jp' is a country code, not an ISO 639 language code: write 'ja'"]


def test_check_an_xml_file_that_is_neither_marc_nor_dc_is_a_usage_error(tmp_path):
    path = tmp_path / "page.xml"
    path.write_text("<html><body>không phải biểu ghi</body></html>", encoding="utf-8")
    result = run("check", path)
    assert result.exit_code == 2
    assert "page.xml is XML but neither MARCXML nor Dublin Core" in result.stderr


# ---------------------------------------------------------------- convert


def test_convert_to_marcxml_validates(small, tmp_path):
    out = tmp_path / "out.xml"
    result = run("convert", small, "--to", "marcxml", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"Converted {N} of {N} records to marcxml." in result.stderr
    assert not (tmp_path / "out.xml.part").exists()
    doc = etree.parse(str(out))
    assert len(doc.getroot()) == N
    schema("MARC21slim.xsd").validate(doc)


def test_convert_to_mods_validates(small, tmp_path):
    out = tmp_path / "out.xml"
    assert run("convert", small, "--to", "mods", "-o", out).exit_code == 0
    doc = etree.parse(str(out))
    assert etree.QName(doc.getroot()).localname == "modsCollection" and len(doc.getroot()) == N
    schema("mods-3-7.xsd").validate(doc)


def test_convert_to_oai_dc_writes_valid_dc_records(small, tmp_path):
    out = tmp_path / "out.xml"
    assert run("convert", small, "--to", "oai_dc", "-o", out).exit_code == 0
    root = etree.parse(str(out)).getroot()
    assert len(root) == N
    dc = schema("oai_dc.xsd")
    for element in root:
        dc.validate(etree.ElementTree(element))
    # ... and our own DC reader reads the file back.
    assert sum(1 for r in read_file(out) if r.record is not None) == N


def test_convert_to_marc_utf8_and_marc8_round_trip(small, tmp_path):
    originals = [r.record for r in read_file(small)]
    utf8 = run("convert", small, "--to", "marc")
    assert utf8.exit_code == 0
    assert utf8.stdout_bytes == small.read_bytes()  # UTF-8 in, UTF-8 out: the same bytes
    marc8 = tmp_path / "m8.mrc"
    assert run("convert", small, "--to", "marc", "--marc8", "-o", marc8).exit_code == 0
    back = [r.record for r in read_iso2709(io.BytesIO(marc8.read_bytes()))]
    assert marc8.read_bytes()[9:10] == b" "  # leader/09: MARC-8
    assert not marc8.read_bytes().replace(b"\x1d", b"").replace(b"\x1e", b"").replace(b"\x1f", b"").isascii()
    assert [[f.value() for f in r.fields] for r in back] == [[f.value() for f in r.fields] for r in originals]


def test_convert_to_json_is_marc_in_json(small):
    result = run("convert", small, "--to", "json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert len(records) == N
    first = records[0]
    assert first["leader"].startswith("01474nam a22")
    assert {"001": "VN-TV-000001"} in first["fields"]
    title = next(f["245"] for f in first["fields"] if "245" in f)
    assert title["ind1"] == "1" and title["subfields"][0]["a"].startswith("Thực trạng bệnh sốt rét")


def test_convert_skips_a_broken_record_names_it_and_writes_the_rest():
    result = run("convert", BROKEN / "truncated.mrc", "--to", "marcxml")
    assert result.exit_code == 1
    assert ("truncated.mrc: record 5 (byte 4464): the file ends in the middle of this record "
            "(no record terminator) — skipped") in result.stderr
    assert "Converted 4 of 5 records to marcxml; 1 skipped." in result.stderr
    root = etree.fromstring(result.stdout_bytes)
    assert len(root) == 4


def test_convert_a_legacy_file_with_source_encoding(tmp_path):
    old = pymarc.Record(to_unicode=False, leader="00000nam  2200000 i 4500")
    old.add_field(pymarc.Field("001", data="OLD-1"))
    old.add_field(pymarc.Field("245", ["1", "0"], [pymarc.Subfield(
        "a", legacy.encode("Truyện Kiều", "tcvn3").decode("latin-1"))]))
    path = tmp_path / "tcvn3.mrc"
    path.write_bytes(old.as_marc())
    result = run("convert", path, "--to", "json", "--source-encoding", "tcvn3")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["fields"][1]["245"]["subfields"] == [{"a": "Truyện Kiều"}]


def test_convert_marc8_only_with_marc(small):
    result = run("convert", small, "--to", "mods", "--marc8")
    assert result.exit_code == 2
    assert "--marc8 only applies to --to marc" in result.stderr


def _title_a(marc_in_json: str) -> str:
    title = next(f["245"] for f in json.loads(marc_in_json)[0]["fields"] if "245" in f)
    return title["subfields"][0]["a"]


def _mojibake_marcxml(tmp_path):
    rec = next(read_file(CATALOGUE)).record
    rec["245"]["a"] = MOJIBAKE + " /"
    path = tmp_path / "moji.xml"
    path.write_bytes(b"<collection xmlns='http://www.loc.gov/MARC21/slim'>"
                     + record_to_marcxml(rec, namespace=False) + b"</collection>")
    return path


def test_convert_repair_mojibake_repairs_marc_and_lists_each_repair(tmp_path):
    path = _mojibake_marcxml(tmp_path)
    as_is = run("convert", path, "--to", "json")
    assert as_is.exit_code == 0
    assert _title_a(as_is.stdout) == MOJIBAKE + " /"
    result = run("convert", path, "--to", "json", "--repair-mojibake")
    assert result.exit_code == 0
    assert _title_a(result.stdout) == "Hà Nội nghìn năm văn hiến /"
    assert "moji.xml: record 1 (line 1): 245 $a: repaired TCVN3 mojibake (confidence" in result.stderr
    assert "Converted 1 of 1 record to json." in result.stderr


def test_convert_repair_mojibake_honours_min_confidence(tmp_path):
    path = _mojibake_marcxml(tmp_path)
    result = run("convert", path, "--to", "json", "--repair-mojibake", "--min-confidence", "1")
    assert result.exit_code == 0
    assert _title_a(result.stdout) == MOJIBAKE + " /"
    assert "repaired" not in result.stderr


def test_convert_repair_mojibake_repairs_dublin_core_too(tmp_path):
    path = dc_file(tmp_path, dc(identifier="d1", title=MOJIBAKE, language="vie"))
    out = tmp_path / "out.xml"
    result = run("convert", path, "--to", "oai_dc", "--repair-mojibake", "-o", out)
    assert result.exit_code == 0
    assert "records.xml: record 1 (line 3): dc:title: repaired TCVN3 mojibake" in result.stderr
    titles = [t.text for t in etree.parse(str(out)).iter(f"{{{DC_NS}}}title")]
    assert titles == ["Hà Nội nghìn năm văn hiến"]


def test_convert_stream_and_repair_dc_mojibake_as_python(tmp_path):
    path = dc_file(tmp_path, dc(identifier="d1", title=MOJIBAKE))
    out = io.BytesIO()
    with open(path, "rb") as src:
        report = convert_stream(src, out, "oai_dc", repair_mojibake=0.8)
    assert report.written == 1 and len(report.repaired) == 1
    assert "Hà Nội nghìn năm văn hiến".encode() in out.getvalue()
    pairs = [("title", MOJIBAKE), ("identifier", "d1")]
    assert len(repair_dc_mojibake(pairs, 0.999)) == 0 and pairs[0][1] == MOJIBAKE
