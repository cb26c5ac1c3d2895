"""Importing files we do not control: every good record loads, every bad one is named."""

from __future__ import annotations

import shutil
import unicodedata

import pymarc
import pytest
from click.testing import CliRunner
from conftest import DATA, SAMPLES
from lxml import etree

from thuvien_interop.cli import main
from thuvien_interop.crosswalk.marcxml import parse_marcxml_record, record_to_marcxml
from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.model import ListQuery

BROKEN = DATA / "broken"
RULE = IdentifierRule("thuvien-interop.vn")


def load(store, name, **kw):
    return import_files(store, [BROKEN / name], RULE, **kw)


def titles(store):
    out = []
    for item in store.list(ListQuery("marc21"), None, 10_000):
        rec = parse_marcxml_record(item.metadata)
        out.append(rec["245"]["a"])
    return out


def test_wrong_record_length_in_the_middle_is_repaired_and_every_record_loads(store):
    report = load(store, "wrong-length.mrc")
    assert report.read == 20
    assert report.written.added == 20 and not report.rejected
    assert any(p.where.startswith("record 8 ") and "leader says" in p.reason for p in report.repaired)


def test_lengths_counted_in_characters_are_repaired(store):
    report = load(store, "char-lengths.mrc")
    assert report.written.added == 10 and not report.rejected
    notes = [p for p in report.repaired if "counted in characters" in p.reason]
    assert [p.where.split(" (")[0] for p in notes] == ["record 4"]
    # The repaired record keeps its Vietnamese text intact.
    assert all("\ufffd" not in t for t in titles(store))


def test_bad_directory_rejects_that_record_only(store):
    report = load(store, "bad-directory.mrc")
    assert report.written.added == 9
    assert len(report.rejected) == 1
    assert report.rejected[0].where.startswith("record 6 ")
    assert "directory" in report.rejected[0].reason


def test_forbidden_xml_characters_are_replaced_and_the_output_is_well_formed(store):
    report = load(store, "invalid-xml-char.mrc")
    assert report.written.added == 10 and not report.rejected
    assert any(p.where.startswith("record 3 ") and "XML" in p.reason for p in report.repaired)
    for item in store.list(ListQuery("oai_dc"), None, 100):
        etree.fromstring(item.metadata)  # raises if ill-formed


def test_truncated_file_names_the_cut_record(store):
    report = load(store, "truncated.mrc")
    assert report.written.added == 4
    assert len(report.rejected) == 1
    assert report.rejected[0].where.startswith("record 5 ")
    assert "ends in the middle" in report.rejected[0].reason


def test_marc8_records_become_unicode_nfc(store):
    report = load(store, "marc8.mrc")
    assert report.written.added == 5 and not report.rejected
    expected = (BROKEN / "marc8-expected.txt").read_text(encoding="utf-8").split("\n")
    got = titles(store)
    for title in filter(None, expected):
        assert any(title.strip(" /:") in t for t in got), (title, got)
    assert all(unicodedata.is_normalized("NFC", t) for t in got)


def test_leader_that_says_marc8_over_utf8_bytes_is_not_trusted(store):
    report = load(store, "leader-lies.mrc")
    assert report.written.added == 3 and not report.rejected
    assert report.repaired, "the lie must be reported"
    got = " ".join(titles(store))
    assert any(ch in got for ch in "ắằẳẵặấầẩẫậếềểễệốồổỗộớờởỡợứừửữựđ")


def test_broken_marcxml_record_in_the_middle(store):
    report = load(store, "broken-record.xml")
    assert report.written.added == 9
    assert [p.where.split(" (")[0] for p in report.rejected] == ["record 5"]


def test_marcxml_with_forbidden_character_references_is_repaired(store):
    report = load(store, "invalid-char.xml")
    assert not report.rejected
    assert report.written.added >= 2
    assert any("XML 1.0" in p.reason for p in report.repaired)


def test_nfd_text_is_stored_nfc(store):
    report = load(store, "nfd.xml")
    assert not report.rejected
    got = titles(store)
    assert all(unicodedata.is_normalized("NFC", t) for t in got)
    assert any("ế" in t for t in got), got


def test_dublin_core_without_identifier_is_rejected_with_reason(store):
    report = load(store, "dc-broken.xml")
    assert report.written.added == 5
    assert [p.where.split(" (")[0] for p in report.rejected] == ["record 3"]
    assert "identifier" in report.rejected[0].reason
    # DC records are exposed as oai_dc (and as MARC through the crosswalk).
    assert store.count(ListQuery("oai_dc")) == 5


def test_reimport_updates_in_place_and_keeps_datestamps_of_unchanged_records(store, tmp_path):
    src = tmp_path / "cat.mrc"
    shutil.copy(BROKEN / "wrong-length.mrc", src)
    first = import_files(store, [src], RULE)
    assert first.written.added == 20
    stamps = {i.header.identifier: i.header.datestamp for i in store.list(ListQuery(), None, 100)}
    again = import_files(store, [src], RULE)
    assert again.written.unchanged == 20 and again.written.added == 0
    assert stamps == {i.header.identifier: i.header.datestamp for i in store.list(ListQuery(), None, 100)}
    # Change one record's title: one update, the others untouched, no duplicate.
    records = [r.record for r in read_file(src)]
    records[0]["245"]["a"] = "Tiêu đề đã sửa"
    xml = tmp_path / "changed.xml"
    xml.write_bytes(b'<collection xmlns="http://www.loc.gov/MARC21/slim">'
                    + b"".join(record_to_marcxml(r, namespace=False) for r in records) + b"</collection>")
    third = import_files(store, [xml], RULE)
    assert third.written.updated == 1 and third.written.unchanged == 19
    assert store.info().record_count == 20


def test_identifier_from_another_field(store, tmp_path):
    rec = pymarc.Record()
    rec.add_field(pymarc.Field("035", indicators=[" ", " "], subfields=[pymarc.Subfield("a", "(VN-TV)123 45")]))
    rec.add_field(pymarc.Field("245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", "Truyện Kiều")]))
    path = tmp_path / "one.xml"
    path.write_bytes(record_to_marcxml(rec))  # one <record>, not a collection
    no_001 = import_files(store, [path], RULE)
    assert "no identifier" in no_001.rejected[0].reason and "Truyện Kiều" in no_001.rejected[0].reason
    report = import_files(store, [path], IdentifierRule("thuvien-interop.vn", "035$a"))
    assert report.written.added == 1
    (item,) = store.list(ListQuery(), None, 10)
    assert item.header.identifier == "oai:thuvien-interop.vn:(VN-TV)123%2045"


def test_cli_import_prints_a_summary_naming_the_rejected_record(tmp_path):
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(main, ["import", str(BROKEN / "bad-directory.mrc"),
                                       "--store", f"sqlite:///{db}", "-q"])
    assert result.exit_code == 1, result.output
    assert "9 loaded" in result.output and "1 rejected" in result.output
    assert "bad-directory.mrc: record 6" in result.output


def test_cli_import_of_the_sample_catalogue(tmp_path):
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(main, ["import", str(SAMPLES / "vietnamese-catalogue.mrc"),
                                       "--store", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert " 0 rejected" in result.output


def test_unknown_format_is_a_clear_error(tmp_path):
    bad = tmp_path / "report.pdf"
    bad.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    result = CliRunner().invoke(main, ["import", str(bad), "--store", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0
    assert "cannot tell the format" in result.output


@pytest.mark.parametrize("name", ["vietnamese-catalogue.mrc", "vietnamese-catalogue.xml"])
def test_sample_files_read_without_problems(name):
    results = list(read_file(SAMPLES / name))
    assert len(results) >= 250
    assert not [r for r in results if r.error or r.warnings]


def test_cli_import_of_a_spreadsheet_with_a_column_mapping_of_its_own(tmp_path):
    mapping = tmp_path / "truong-thpt.toml"
    mapping.write_text('[profile]\nname = "thpt"\n\n[columns]\n"Mã" = "001"\n"Tên" = "245$a"\n'
                       '"Người viết" = "100$a"\n', encoding="utf-8")
    csv = tmp_path / "sach.csv"
    csv.write_text("Mã,Tên,Người viết\nS1,Tuổi thơ dữ dội,Phùng Quán\n,\nS3,Dế Mèn phiêu lưu ký,Tô Hoài\n",
                   encoding="utf-8")
    db = tmp_path / "csv.db"
    result = CliRunner().invoke(main, ["import", str(csv), "--columns", str(mapping),
                                       "--store", f"sqlite:///{db}", "-q"])
    assert "2 loaded" in result.output, result.output
    from thuvien_interop.store import open_store

    s = open_store(f"sqlite:///{db}")
    item = s.get("oai:thuvien-interop.vn:S3", "oai_dc")
    assert item is not None and "Dế Mèn phiêu lưu ký".encode() in item.metadata
    s.close()


def test_a_repeated_identifier_in_one_file_is_named_and_loaded_once(store, tmp_path):
    records = [r.record for r in read_file(BROKEN / "wrong-length.mrc")][:3]
    records[2]["001"].data = records[0]["001"].value()
    path = tmp_path / "dup.xml"
    path.write_bytes(b'<collection xmlns="http://www.loc.gov/MARC21/slim">'
                     + b"".join(record_to_marcxml(r, namespace=False) for r in records) + b"</collection>")
    report = import_files(store, [path], RULE)
    assert store.info().record_count == 2
    (note,) = [p for p in report.repaired if "same identifier" in p.reason]
    assert note.where.startswith("record 3 ") and "as record 1" in note.reason


def test_an_absurdly_long_identifier_is_rejected_not_fatal(store, tmp_path):
    records = [r.record for r in read_file(BROKEN / "wrong-length.mrc")][:3]
    records[1]["001"].data = "x" * 3000
    path = tmp_path / "long.xml"
    path.write_bytes(b'<collection xmlns="http://www.loc.gov/MARC21/slim">'
                     + b"".join(record_to_marcxml(r, namespace=False) for r in records) + b"</collection>")
    report = import_files(store, [path], RULE)
    assert report.written.added == 2
    assert [p.where.split(" (")[0] for p in report.rejected] == ["record 2"]
