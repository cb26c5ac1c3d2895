"""Spreadsheet catalogues as a school librarian meets them (issue 13): check reads
them, import flags bad ISBNs, the usual headings are known, Vietnamese names are
in direct order, and a note about the headings is about the file."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_spreadsheet import write_csv

from thuvien_interop.cli import main
from thuvien_interop.crosswalk.marcxml import parse_marcxml_record
from thuvien_interop.ingest.detect import read_file


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_check_reads_a_spreadsheet_and_reports_by_row_what_import_would(tmp_path):
    path = write_csv(tmp_path / "danh-muc.csv")
    result = run("check", path)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "danh-muc.csv: record 4 (row 4), 001 isbn9786046912345, “Truyện Kiều”" in out
    assert ("warning  on reading: ISBN '978-604-69-1234-5' is not a valid ISBN (check digit or "
            "length)") in out
    assert "danh-muc.csv: record 5 (row 5)\n  error    unreadable: no title" in out
    assert out.splitlines()[-3:] == [
        "Checked 4 records in 1 file: 2 with problems (1 error, 1 warning).",
        "  bad-isbn                      1",
        "  unreadable                    1"]


def test_check_json_of_a_spreadsheet_has_the_row_and_the_code(tmp_path):
    path = write_csv(tmp_path / "danh-muc.csv")
    doc = json.loads(run("check", "--json", path).stdout)
    assert doc["summary"]["by_code"] == {"bad-isbn": 1, "unreadable": 1}
    assert [r["location"] for r in doc["records"]] == ["row 4", "row 5"]


def test_import_of_a_spreadsheet_flags_a_bad_isbn_check_digit(tmp_path):
    path = write_csv(tmp_path / "danh-muc.csv")
    result = run("import", path, "--store", f"sqlite:///{tmp_path / 's.db'}", "-q")
    assert ("danh-muc.csv: record 4 (row 4): ISBN '978-604-69-1234-5' is not a valid ISBN "
            "(check digit or length): kept in 020 $a") in result.output
    assert "Read 4 records: 3 loaded" in result.output


def test_check_of_converts_own_marcxml_finds_no_leader_error(tmp_path):
    sheet = write_csv(tmp_path / "danh-muc.csv")
    xml = tmp_path / "danh-muc.xml"
    run("convert", sheet, "--to", "marcxml", "-o", xml)
    assert b"<leader>     nam a22     7i 4500</leader>" in xml.read_bytes()
    result = run("check", xml)
    assert "leader" not in result.stdout
    assert "leader-value" not in result.stdout


def test_stt_and_so_dkcb_headings_are_known_and_an_unknown_heading_is_about_the_file(tmp_path):
    path = tmp_path / "so-dang-ky.csv"
    path.write_text("STT,Nhan đề,Tác giả,Số ĐKCB,Người nhập\n"
                    "1,Dế Mèn phiêu lưu ký,Tô Hoài,TN.0001; TN.0002,Lan\n"
                    "2,Số đỏ,Vũ Trọng Phụng,TN.0003,Lan\n", encoding="utf-8")
    first = next(read_file(path)).record
    assert [f["p"] for f in first.get_fields("852")] == ["TN.0001", "TN.0002"]
    result = run("import", path, "--store", f"sqlite:///{tmp_path / 's.db'}", "-q")
    assert result.exit_code == 0, result.output
    assert "STT" not in result.output
    assert ("  so-dang-ky.csv: the headings (row 1) name columns the mapping (spreadsheet-vi) "
            "does not know, ignored in every row: Người nhập\n") in result.output
    assert "row 2" not in result.output


def test_names_from_a_vietnamese_sheet_are_in_direct_order(tmp_path):
    path = tmp_path / "tac-gia.csv"
    path.write_text("Nhan đề,Tác giả\nToán 6,Hà Huy Khoái; Nguyễn Huy Đoan\n"
                    "English Grammar in Use,\"Murphy, Raymond\"\n", encoding="utf-8")
    db = tmp_path / "s.db"
    run("import", path, "--store", f"sqlite:///{db}", "-q")
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{db}")
    try:
        from thuvien_interop.model import ListQuery

        records = [parse_marcxml_record(i.metadata) for i in store.list(ListQuery("marc21"), None, 10)]
    finally:
        store.close()
    toan = next(r for r in records if r["245"]["a"] == "Toán 6")
    assert (toan["100"].indicator1, toan["700"].indicator1) == ("0", "0")
    murphy = next(r for r in records if r["245"]["a"] == "English Grammar in Use")
    assert murphy["100"].indicator1 == "1"  # written inverted, with its comma
