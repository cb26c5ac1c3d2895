"""Importing old Vietnamese exports: TCVN3, VNI, VISCII, Windows-1258 and MARC-8
bytes, and legacy mojibake already stored as Unicode, all become correct NFC."""

from __future__ import annotations

import unicodedata

import pymarc
import pytest
from click.testing import CliRunner
from conftest import SAMPLES

from thuvien_interop.cli import main
from thuvien_interop.crosswalk import legacy
from thuvien_interop.crosswalk.marc8 import encode_marc8
from thuvien_interop.crosswalk.marcxml import parse_marcxml_record, record_to_marcxml
from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.model import ListQuery

RULE = IdentifierRule("thuvien-interop.vn")
N = 25


@pytest.fixture(scope="module")
def originals() -> list[pymarc.Record]:
    results = read_file(SAMPLES / "vietnamese-catalogue.mrc")
    return [next(results).record for _ in range(N)]


def encoder(encoding: str):
    if encoding == "marc-8":
        return encode_marc8
    return lambda text: legacy.encode(text, encoding)


def legacy_iso2709(records, encode) -> bytes:
    """ISO 2709 as an old system wrote it: 8-bit text, leader/09 blank ("MARC-8")."""
    out = bytearray()
    for rec in records:
        leader = str(rec.leader)
        # to_unicode=False: pymarc then writes each str as ISO 8859-1, i.e. our bytes unchanged.
        copy = pymarc.Record(to_unicode=False, leader=leader[:9] + " " + leader[10:])
        for f in rec.fields:
            if f.is_control_field():
                copy.add_field(pymarc.Field(f.tag, data=f.data))
            else:
                copy.add_field(pymarc.Field(f.tag, f.indicators, [
                    pymarc.Subfield(s.code, encode(s.value).decode("latin-1")) for s in f.subfields]))
        out += copy.as_marc()
    return bytes(out)


def values(record: pymarc.Record) -> list[str]:
    return [f.value() for f in record.fields]


def stored(store) -> dict[str, pymarc.Record]:
    out = {}
    for item in store.list(ListQuery("marc21"), None, 10_000):
        rec = parse_marcxml_record(item.metadata)
        out[rec["001"].data] = rec
    return out


def assert_same_text(store, originals):
    got = stored(store)
    assert len(got) == len(originals)
    for rec in originals:
        back = got[rec["001"].data]
        assert values(back) == values(rec), rec["001"].data
        for text in values(back):
            assert unicodedata.is_normalized("NFC", text)


LEGACY = ["tcvn3", "vni", "viscii", "vps", "windows-1258"]


@pytest.mark.parametrize("encoding", LEGACY)
def test_named_legacy_encoding_imports_as_nfc_vietnamese(store, tmp_path, originals, encoding):
    path = tmp_path / f"{encoding}.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder(encoding)))
    report = import_files(store, [path], RULE, source_encoding=encoding)
    assert report.written.added == N and not report.rejected
    assert_same_text(store, originals)


@pytest.mark.parametrize("encoding", LEGACY + ["marc-8"])
def test_auto_detects_each_encoding_and_says_how_sure_it_is(store, tmp_path, originals, encoding):
    path = tmp_path / f"{encoding}.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder(encoding)))
    report = import_files(store, [path], RULE, source_encoding="auto")
    assert report.written.added == N and not report.rejected
    assert_same_text(store, originals)
    notes = [p for p in report.repaired if "source encoding detected" in p.reason]
    assert len(notes) == 1 and notes[0].where.startswith("record 1 ")
    assert f"{encoding.upper()} (confidence " in notes[0].reason


def test_marc8_file_imports_without_any_option(store, tmp_path, originals):
    path = tmp_path / "marc8.mrc"
    path.write_bytes(legacy_iso2709(originals, encode_marc8))
    report = import_files(store, [path], RULE)
    assert report.written.added == N and not report.repaired
    assert_same_text(store, originals)


@pytest.mark.parametrize("encoding", LEGACY)
def test_without_the_option_a_legacy_file_under_a_marc8_leader_is_read_as_what_it_is(
        store, tmp_path, originals, encoding):
    path = tmp_path / f"{encoding}.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder(encoding)))
    report = import_files(store, [path], RULE)
    assert report.written.added == N and not report.rejected
    assert_same_text(store, originals)
    [note] = [p for p in report.repaired if "leader/09 says MARC-8" in p.reason]
    assert note.where.startswith("record 1 ")
    assert f"cannot be MARC-8: read as {encoding.upper()} (confidence 1.00)" in note.reason


def test_source_encoding_marc8_still_forces_marc8(store, tmp_path, originals):
    path = tmp_path / "tcvn3.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder("tcvn3")))
    report = import_files(store, [path], RULE, source_encoding="marc-8")
    got = stored(store)
    assert any(values(got[r["001"].data]) != values(r) for r in originals)
    assert not any("TCVN3" in p.reason for p in report.repaired)


def test_auto_notices_a_record_in_another_encoding_than_the_file(store, tmp_path, originals):
    # Old catalogues were typed over years on machines with different fonts:
    # record 6 is VNI in a file whose first records say TCVN3.
    odd = originals[5]
    path = tmp_path / "mixed.mrc"
    path.write_bytes(legacy_iso2709(originals[:5], encoder("tcvn3")) + legacy_iso2709([odd], encoder("vni")))
    report = import_files(store, [path], RULE, source_encoding="auto")
    assert not report.rejected
    assert any("record looks like VNI" in p.reason and "not the file's TCVN3" in p.reason
               and p.where.startswith("record 6 ") for p in report.repaired)
    assert values(stored(store)[odd["001"].data]) == values(odd)


def mojibake(text: str, encoding: str) -> str:
    """Legacy bytes pasted into a UTF-8 system that took them for Windows-1252."""
    out = []
    for b in legacy.encode(text, encoding):
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return "".join(out)


def test_repair_mojibake_fixes_unicode_text_that_was_legacy_and_lists_each_repair(store, tmp_path, originals):
    rec = originals[0]
    broken = parse_marcxml_record(record_to_marcxml(rec))
    title = broken["245"]["a"]
    broken["245"]["a"] = mojibake(title, "tcvn3")
    broken["500"]["a"] = mojibake(broken["500"]["a"], "vni")
    path = tmp_path / "mojibake.xml"
    path.write_bytes(b"<collection xmlns='http://www.loc.gov/MARC21/slim'>" + record_to_marcxml(broken,
                     namespace=False) + b"</collection>")

    plain = import_files(store, [path], RULE)
    assert stored(store)[rec["001"].data]["245"]["a"] != title

    report = import_files(store, [path], RULE, repair_mojibake=0.8)
    assert report.written.updated == 1
    reasons = [p.reason for p in report.repaired]
    assert any(r.startswith("245 $a: repaired TCVN3 mojibake (confidence") for r in reasons)
    assert any(r.startswith("500 $a: repaired VNI mojibake") for r in reasons)
    assert values(stored(store)[rec["001"].data]) == values(rec)
    assert plain.written.added == 1


def test_repair_mojibake_fixes_dublin_core_records_too(store, tmp_path):
    title = "Lịch sử Thư viện Quốc gia Việt Nam"
    path = tmp_path / "dc-mojibake.xml"
    path.write_text(
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{mojibake(title, 'tcvn3')}</dc:title><dc:identifier>DC-1</dc:identifier>"
        "<dc:date>2015</dc:date></oai_dc:dc>", encoding="utf-8")
    report = import_files(store, [path], RULE, repair_mojibake=0.8)
    assert report.written.added == 1
    assert any(p.reason.startswith("dc:title: repaired TCVN3 mojibake") for p in report.repaired)
    item = store.get(f"oai:{RULE.repository_id}:DC-1", "oai_dc")
    assert title.encode() in item.metadata


def test_cli_import_source_encoding_auto_shows_the_detection_in_the_summary(tmp_path, originals):
    path = tmp_path / "old-viscii.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder("viscii")))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(main, ["import", str(path), "--store", db, "-q", "--source-encoding", "auto"])
    assert result.exit_code == 0, result.output
    assert f"Read {N} records: {N} loaded" in result.output
    assert "old-viscii.mrc: record 1 (byte 0): source encoding detected: VISCII (confidence 1.00" in result.output


def test_cli_import_rejects_an_unknown_source_encoding(tmp_path):
    result = CliRunner().invoke(main, ["import", str(SAMPLES / "vietnamese-catalogue.mrc"),
                                       "--store", f"sqlite:///{tmp_path / 'x.db'}", "--source-encoding", "koi8"])
    assert result.exit_code == 2
    assert "koi8" in result.output
