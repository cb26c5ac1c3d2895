"""The MARC quality checker: each rule on a record made to break it, and the
sample and broken files as a librarian would check them."""

from __future__ import annotations

import pymarc
import pytest
from conftest import DATA, SAMPLES

from thuvien_interop.cli.check import check_file
from thuvien_interop.crosswalk import legacy
from thuvien_interop.crosswalk.lint import lint_record, repair_mojibake
from thuvien_interop.ingest import read_file

BROKEN = DATA / "broken"
GOOD_LEADER = "00000nam a2200000 i 4500"


def record(*fields: pymarc.Field, leader: str = GOOD_LEADER) -> pymarc.Record:
    r = pymarc.Record()
    r.leader = leader  # set after: pymarc's constructor rewrites leader/10-11 and 20-23
    r.add_field(pymarc.Field("001", data="VN-1"), pymarc.Field("008", data="240826s2024    vm a     b    000 0 vie d"))
    r.add_field(*fields)
    return r


def field(tag: str, ind: str = "  ", *subfields: str) -> pymarc.Field:
    return pymarc.Field(tag, [ind[0], ind[1]], [pymarc.Subfield(s[0], s[1:]) for s in subfields])


TITLE = field("245", "10", "aHà Nội xưa và nay /", "cNguyễn Văn A.")


def codes(rec: pymarc.Record) -> list[str]:
    return [f.code for f in lint_record(rec)]


def messages(rec: pymarc.Record) -> list[str]:
    return [str(f) for f in lint_record(rec)]


def test_a_clean_record_has_no_findings():
    assert lint_record(record(TITLE, field("020", "  ", "a9780306406157"))) == []


def test_the_sample_catalogue_is_clean():
    for result in read_file(SAMPLES / "vietnamese-catalogue.mrc"):
        assert lint_record(result.record, result.warnings) == [], result.where


@pytest.mark.parametrize(("pos", "value", "expected"), [
    (5, "x", "leader/05 record status is 'x'"),
    (6, "z", "leader/06 type of record is 'z'"),
    (7, "q", "leader/07 bibliographic level is 'q'"),
    (9, "b", "leader/09 character coding scheme is 'b'"),
    (17, "9", "leader/17 encoding level is '9'"),
    (18, "x", "leader/18 descriptive cataloging form is 'x'"),
])
def test_invalid_leader_positions_are_named(pos, value, expected):
    leader = GOOD_LEADER[:pos] + value + GOOD_LEADER[pos + 1:]
    found = messages(record(TITLE, leader=leader))
    assert any(m.startswith(expected) for m in found), found


def test_leader_fixed_parts_and_length():
    assert any("leader/10-11" in m for m in messages(record(TITLE, leader=GOOD_LEADER[:10] + "33" + GOOD_LEADER[12:])))
    assert any("leader/20-23" in m for m in messages(record(TITLE, leader=GOOD_LEADER[:20] + "0000")))
    short = lint_record(record(TITLE, leader=GOOD_LEADER[:20]))
    assert short[0].code == "leader-length" and "20 characters" in short[0].message


def test_missing_001_008_245_and_short_008():
    r = pymarc.Record(leader=GOOD_LEADER)
    r.add_field(pymarc.Field("008", data="x" * 39))
    assert messages(r) == ["no 245 (title statement)", "001: no 001 (control number)",
                           "008: 008 is 39 characters long, not 40"]


@pytest.mark.parametrize(("bad", "expected"), [
    (field("245", "20", "aX"), "245: indicator 1 is '2'; 245 allows '0', '1'"),
    (field("245", "1x", "aX"), "245: indicator 2 is 'x'"),
    (field("100", "2 ", "aX"), "100: indicator 1 is '2'"),
    (field("700", "4 ", "aX"), "700: indicator 1 is '4'"),
    (field("650", " 9", "aX"), "650: indicator 2 is '9'"),
    (field("856", "59", "uhttp://x"), "856: indicator 1 is '5'"),
])
def test_invalid_indicators(bad, expected):
    rec = record(bad) if bad.tag == "245" else record(TITLE, bad)
    assert any(m.startswith(expected) for m in messages(rec)), messages(rec)


def test_subfield_codes_undefined_invalid_and_empty():
    rec = record(field("245", "10", "aTitle", "zwhat", "A upper", "b"))
    found = {(f.code, f.subfield) for f in lint_record(rec)}
    assert ("undefined-subfield", "z") in found
    assert ("invalid-subfield-code", "A") in found
    assert ("empty-subfield", "b") in found


def test_non_repeatable_fields_and_subfields_repeated():
    rec = record(TITLE, TITLE, field("100", "1 ", "aA"), field("110", "2 ", "aB"),
                 field("250", "  ", "aIn lần 2"), field("250", "  ", "aIn lần 3"), field("040", "  ", "aX", "aY"))
    found = messages(rec)
    assert "245: 245 appears 2 times; it is not repeatable" in found
    assert "100: more than one main entry (1XX): 100, 110" in found
    assert not any(m.startswith("250: 250 appears") for m in found)  # repeatable since 2016
    assert "040 $a: $a appears 2 times; it is not repeatable" in found


def test_isbn_and_issn_check_digits():
    ok = record(TITLE, field("020", "  ", "a0-306-40615-2 (bìa mềm)"), field("022", "  ", "a0317-8471"))
    assert codes(ok) == []
    bad = record(TITLE, field("020", "  ", "a9780306406158"), field("022", "  ", "a0317-8472"),
                 field("020", "  ", "z9780306406158"))
    assert codes(bad) == ["bad-isbn", "bad-issn"]


def test_invalid_xml_characters_and_non_nfc_text():
    rec = record(field("245", "10", "aHồ\x01 Lắk\x0b :"), field("500", "  ", "aHa\u0300 No\u0323\u0302i"))
    found = messages(rec)
    assert "245 $a: holds U+0001, U+000B, which XML 1.0 forbids: 'Hồ\\x01 Lắk\\x0b :'" in found
    assert any(m.startswith("500 $a: NFD (decomposed), not NFC") for m in found)
    wrong_order = record(field("245", "10", "aTie\u0301\u0302ng Việt"))
    assert any("marks are out of order" in m for m in messages(wrong_order))


def test_tcvn3_mojibake_is_named_with_its_confidence_and_repair():
    rec = record(field("245", "10", "aHµ Néi ngh×n n¨m v¨n hiÕn"))
    [finding] = lint_record(rec)
    assert finding.code == "legacy-encoding" and finding.tag == "245" and finding.subfield == "a"
    assert str(finding).startswith("245 $a: looks like TCVN3 mojibake (confidence 0.")
    assert str(finding).endswith("'Hµ Néi ngh×n n¨m v¨n hiÕn' → 'Hà Nội nghìn năm văn hiến'")


def test_mixed_legacy_encodings_in_one_record():
    vni = legacy.encode("Lịch sử Việt Nam thời kỳ cận đại", "vni").decode("cp1252")
    rec = record(field("245", "10", "aHµ Néi ngh×n n¨m v¨n hiÕn"), field("500", "  ", "a" + vni))
    found = lint_record(rec)
    assert found[-1].code == "mixed-encodings"
    assert "TCVN3 (245 $a)" in found[-1].message and "VNI (500 $a)" in found[-1].message


def test_repair_mojibake_changes_only_what_it_is_sure_of():
    rec = record(field("245", "10", "aHµ Néi ngh×n n¨m v¨n hiÕn"), field("500", "  ", "aTô Hoài"))
    notes = repair_mojibake(rec)
    assert rec["245"]["a"] == "Hà Nội nghìn năm văn hiến" and rec["500"]["a"] == "Tô Hoài"
    assert len(notes) == 1 and notes[0].startswith("245 $a: repaired TCVN3 mojibake")


def test_reader_notes_become_findings_once_per_kind():
    [first, *_] = list(read_file(BROKEN / "leader-lies.mrc"))
    found = lint_record(first.record, first.warnings)
    assert [f.code for f in found] == ["leader-09-lie"]
    assert "leader/09 says MARC-8 but the data is valid UTF-8" in found[0].message


def test_broken_files_as_check_reads_them():
    reports = {r.position: r for r in check_file(BROKEN / "invalid-xml-char.mrc")}
    assert [p for p, r in reports.items() if not r.ok] == [3]
    assert {(f.code, f.tag) for f in reports[3].findings} == {("invalid-xml-char", "245"), ("invalid-xml-char", "500")}
    assert reports[3].identifier == "VN-TV-000043"

    nfd = list(check_file(BROKEN / "nfd.xml"))
    assert all(r.findings and all(f.code == "not-nfc" for f in r.findings) for r in nfd)
    assert "out of order" in nfd[5].findings[0].message

    truncated = list(check_file(BROKEN / "truncated.mrc"))
    assert [r.position for r in truncated if r.error] == [5]
