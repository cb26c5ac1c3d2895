"""``thuvien-interop check`` and ``convert`` as a user runs them: what they print,
what they write, and their exit status."""

from __future__ import annotations

import io
import json

import pymarc
import pytest
from click.testing import CliRunner
from conftest import DATA, SAMPLES, schema
from lxml import etree

from thuvien_interop.cli import main
from thuvien_interop.crosswalk import legacy
from thuvien_interop.crosswalk.marcxml import record_to_marcxml
from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.iso2709 import read_iso2709

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
    ["check", BROKEN / "dc-broken.xml"],
    ["check", "--json", "--jsonl", CATALOGUE],
    ["check", "no-such-file.mrc"],
    ["check", "--source-encoding", "koi8", CATALOGUE],
])
def test_check_usage_errors_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2
    assert "Error:" in result.stderr


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
