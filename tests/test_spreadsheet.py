"""Spreadsheet catalogues (CSV, XLSX) with Vietnamese headings → MARC21 records in a store."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
from click.testing import CliRunner

from thuvien_interop.cli import main
from thuvien_interop.crosswalk.marcxml import parse_marcxml_record
from thuvien_interop.ingest.detect import detect_format, read_file
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.ingest.spreadsheet import DEFAULT_COLUMNS, ColumnMapping, MappingError
from thuvien_interop.profiles import shipped_profile

HEADINGS = ["STT", "Nhan đề", "Tác giả", "Năm xuất bản", "Nhà xuất bản", "Nơi xuất bản", "ISBN",
            "Ký hiệu phân loại", "Số trang", "Khổ", "Chủ đề", "Ngôn ngữ", "Số đăng ký cá biệt"]
ROWS = [
    [1, "Truyện Kiều", "Nguyễn Du", 2015, "Văn học", "Hà Nội", "978-604-69-1234-5", "895.9221",
     "250 tr.", "21 cm", "Văn học Việt Nam; Thơ", "Tiếng Việt", "VV.001; VV.002"],
    [2, "", "Khuyết danh", 2010, "", "", "", "", "", "", "", "", ""],
    [3, "Toán 6. Tập 1", "Hà Huy Khoái; Nguyễn Huy Đoan", "2021", "Giáo dục Việt Nam", "Hà Nội", "",
     "510.71", "128 tr.", "27 cm", "Toán học", "", "SGK.015"],
    [None, None, None, None, None, None, None, None, None, None, None, None, None],
    [4, "English Grammar in Use", "Raymond Murphy", "2019", "Cambridge", "Cambridge", "", "428.2",
     "", "", "", "Anh", ""],
]


def write_csv(path, delimiter=";", encoding="utf-8-sig", title_line=True):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    if title_line:
        w.writerow(["DANH MỤC SÁCH THƯ VIỆN TRƯỜNG THCS CHU VĂN AN"])
        w.writerow([])
    w.writerow(HEADINGS)
    for r in ROWS:
        w.writerow(["" if c is None else c for c in r])
    text = buf.getvalue()
    path.write_bytes(to_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def to_cp1258(text: str) -> bytes:
    """What Windows writes: letters with circumflex/breve/horn precomposed, the tone
    mark as a separate combining character."""
    import unicodedata

    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            quality = "".join(c for c in parts[1:] if c in "\u0302\u0306\u031b")
            tones = "".join(c for c in parts[1:] if c not in quality)
            out += unicodedata.normalize("NFC", parts[0] + quality).encode("cp1258")
            out += tones.encode("cp1258")
    return bytes(out)


def write_xlsx(path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    info = book.active
    info.title = "Hướng dẫn"
    info.append(["Danh mục sách — xem trang sau"])
    sheet = book.create_sheet("Danh mục")
    sheet.append(["SỞ GIÁO DỤC VÀ ĐÀO TẠO ĐẮK LẮK"])
    sheet.append(HEADINGS)
    for r in ROWS:
        sheet.append(r)
    book.save(path)
    return path


def test_csv_rows_become_marc_records_and_bad_rows_are_named(tmp_path, store):
    path = write_csv(tmp_path / "danh-muc.csv")
    report = import_files(store, [path], IdentifierRule("truong-cva.edu.vn"))
    assert report.written.added == 3
    assert [str(p) for p in report.rejected] == [
        "danh-muc.csv: record 5 (row 5): no title: the title column (Nhan đề / 245$a) is empty"]
    item = store.get("oai:truong-cva.edu.vn:isbn9786046912345", "marc21")
    rec = parse_marcxml_record(item.metadata)
    assert rec["245"]["a"] == "Truyện Kiều"
    assert rec["264"]["a"] == "Hà Nội" and rec["264"]["b"] == "Văn học" and rec["264"]["c"] == "2015"
    assert rec["300"]["a"] == "250 tr." and rec["300"]["c"] == "21 cm"
    assert [f["a"] for f in rec.get_fields("650")] == ["Văn học Việt Nam", "Thơ"]
    assert [f["p"] for f in rec.get_fields("852")] == ["VV.001", "VV.002"]
    assert rec["008"].data[7:11] == "2015" and rec["008"].data[35:38] == "vie"
    assert rec["082"]["a"] == "895.9221"


def test_reimporting_the_same_sheet_changes_nothing(tmp_path, store):
    path = write_csv(tmp_path / "danh-muc.csv")
    import_files(store, [path], IdentifierRule("x.vn"))
    again = import_files(store, [path], IdentifierRule("x.vn"))
    assert (again.written.added, again.written.updated, again.written.unchanged) == (0, 0, 3)


def test_xlsx_finds_the_sheet_with_the_headings(tmp_path, store):
    path = write_xlsx(tmp_path / "danh-muc.xlsx")
    with open(path, "rb") as f:
        assert detect_format(f, str(path)) == "xlsx"
    results = list(read_file(path))
    assert [r.where for r in results] == ["record 3 (row 3)", "record 4 (row 4)", "record 5 (row 5)",
                                          "record 7 (row 7)"]
    kieu = results[0].record
    assert kieu["264"]["c"] == "2015"  # a number cell, without ".0"
    toan = results[2].record
    assert toan["100"]["a"] == "Hà Huy Khoái" and toan["700"]["a"] == "Nguyễn Huy Đoan"
    english = results[3].record
    assert english["008"].data[35:38] == "eng" and english["041"]["a"] == "eng"


def test_windows_1258_csv_and_comma_separators(tmp_path):
    # Excel on Vietnamese Windows writes "CSV" in code page 1258 (decomposed tones).
    path = write_csv(tmp_path / "cp1258.csv", delimiter=",", encoding="cp1258", title_line=False)
    titles = [r.record["245"]["a"] for r in read_file(path) if r.record]
    assert titles[0] == "Truyện Kiều"


def test_import_command_takes_csv_and_reports_rows(tmp_path):
    path = write_csv(tmp_path / "sach.csv")
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(main, ["import", str(path), "--store", db, "-q"])
    assert "3 loaded" in result.output
    assert "row 5" in result.output and "no title" in result.output
    assert result.exit_code == 1  # a row was not loaded: the librarian must see it
    forced = CliRunner().invoke(main, ["import", str(path), "--store", db, "-q", "--format", "csv"])
    assert "3 unchanged" in forced.output


def test_a_sheet_without_known_headings_says_what_it_expected(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    [result] = list(read_file(path))
    assert "no known column heading" in result.error and "Nhan đề" in result.error


def test_headings_match_without_case_or_accents(tmp_path):
    path = tmp_path / "khong-dau.csv"
    path.write_text("NHAN DE,tac gia,NAM XUAT BAN\nSố đỏ,Vũ Trọng Phụng,1936\n", encoding="utf-8")
    [result] = list(read_file(path))
    assert result.record["245"]["a"] == "Số đỏ" and result.record["264"]["c"] == "1936"


def test_shipped_profile_is_the_default_mapping():
    shipped = shipped_profile("spreadsheet-vi", "columns")
    data = tomllib.loads(shipped.read_text())
    assert data["columns"] == DEFAULT_COLUMNS
    with resources.as_file(shipped.resource) as path:
        mapping = ColumnMapping.load(path)
    assert str(mapping.target("nhan de")[1]) == "245$a"


def test_custom_mapping_and_its_errors(tmp_path):
    good = tmp_path / "m.toml"
    good.write_text('[columns]\n"Tên" = "245$a"\n"Mã" = "001"\n[record]\nlanguage = "eng"\n',
                    encoding="utf-8")
    sheet = tmp_path / "s.csv"
    sheet.write_text("Mã,Tên\nB-01,Hello\n", encoding="utf-8")
    from thuvien_interop.ingest.spreadsheet import read_csv

    with open(sheet, "rb") as f:
        [r] = list(read_csv(f, ColumnMapping.load(good)))
    assert r.record["001"].data == "B-01" and r.record["008"].data[35:38] == "eng"
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\n"Tên" = "24$a"\n', encoding="utf-8")
    with pytest.raises(MappingError, match="not a MARC target"):
        ColumnMapping.load(bad)
