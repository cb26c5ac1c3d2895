"""Checks on the bundled sample data and on the deliberately broken test files."""

from __future__ import annotations

import importlib.util
import re
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import pymarc
import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "thuvien_interop" / "data" / "samples"
MRC = SAMPLES / "vietnamese-catalogue.mrc"
MARCXML = SAMPLES / "vietnamese-catalogue.xml"
DC = SAMPLES / "vietnamese-dc.xml"
BROKEN = Path(__file__).resolve().parent / "data" / "broken"
BROKEN_FILES = [
    "wrong-length.mrc",
    "char-lengths.mrc",
    "bad-directory.mrc",
    "invalid-xml-char.mrc",
    "marc8.mrc",
    "marc8-expected.txt",
    "leader-lies.mrc",
    "broken-record.xml",
    "invalid-char.xml",
    "nfd.xml",
    "nfd-expected.txt",
    "dc-broken.xml",
    "truncated.mrc",
]
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
VIETNAMESE = set(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ"
)


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True)


def read_marc(path: Path) -> list[pymarc.Record]:
    records = []
    with path.open("rb") as handle:
        reader = pymarc.MARCReader(handle, to_unicode=True, force_utf8=True)
        for record in reader:
            assert record is not None, f"{path.name}: {reader.current_exception!r}"
            records.append(record)
    return records


@pytest.fixture(scope="module")
def records() -> list[pymarc.Record]:
    return read_marc(MRC)


def texts(record: pymarc.Record) -> list[str]:
    out = []
    for field in record.fields:
        if field.control_field:
            out.append(field.data)
        else:
            out.extend(sub.value for sub in field.subfields)
    return out


def isbn13_ok(value: str) -> bool:
    digits = value.replace("-", "")
    if len(digits) != 13 or not digits.isdigit():
        return False
    return sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10 == 0


def issn_ok(value: str) -> bool:
    m = re.fullmatch(r"(\d{4})-(\d{3})([\dX])", value)
    if not m:
        return False
    digits = m.group(1) + m.group(2)
    total = sum(int(d) * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return m.group(3) == ("X" if check == 10 else str(check))


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


# -- bundled samples ----------------------------------------------------------


def test_sample_files_exist() -> None:
    for path in (MRC, MARCXML, DC):
        assert path.is_file() and path.stat().st_size > 0, path


def test_catalogue_parses_and_is_big_enough(records: list[pymarc.Record]) -> None:
    assert len(records) >= 250
    ids = [r["001"].data for r in records]
    assert len(set(ids)) == len(ids)


def test_material_mix(records: list[pymarc.Record]) -> None:
    kinds = {r.leader[6:8] for r in records}
    assert {"am", "as", "em"} <= kinds
    assert any(r.leader[6] in "jm" for r in records)
    assert sum(1 for r in records if r.get("502")) >= 10
    assert any(r.get("260") for r in records) and any(r.get("264") for r in records)


def test_every_record_has_core_fields(records: list[pymarc.Record]) -> None:
    for record in records:
        rid = record["001"].data if record.get("001") else "?"
        assert record.leader[9] == "a", rid
        assert record.get("001") and record["001"].data.startswith("VN-TV-"), rid
        assert record.get("245") and record["245"].get("a"), rid
        assert record.get("852") and record["852"].get("a"), rid
        f008 = record["008"].data
        assert len(f008) == 40 and f008[15:18] == "vm ", rid
        assert f008[35:38] == record["041"]["a"], rid


def test_text_is_nfc_vietnamese(records: list[pymarc.Record]) -> None:
    for record in records:
        values = texts(record)
        for value in values:
            assert unicodedata.is_normalized("NFC", value), (record["001"].data, value)
        assert VIETNAMESE & set("".join(values)), record["001"].data


def test_isbn_and_issn_check_digits(records: list[pymarc.Record]) -> None:
    isbns = [f["a"] for r in records for f in r.get_fields("020")]
    issns = [f["a"] for r in records for f in r.get_fields("022")]
    assert len(isbns) > 100 and issns
    for isbn in isbns:
        assert isbn.startswith("978604") and isbn13_ok(isbn), isbn
    for value in issns:
        assert issn_ok(value), value


def test_marcxml_holds_same_records(records: list[pymarc.Record]) -> None:
    xml_records = pymarc.parse_xml_to_array(str(MARCXML))
    assert [(r["001"].data, r["245"]["a"]) for r in xml_records] == [
        (r["001"].data, r["245"]["a"]) for r in records
    ]
    assert [str(r.leader) for r in xml_records] == [str(r.leader) for r in records]


def test_dublin_core_file() -> None:
    root = etree.parse(str(DC), safe_parser()).getroot()
    assert root.tag == "records"
    dcs = root.findall(f"{{{OAI_DC_NS}}}dc")
    assert 25 <= len(dcs) <= 40
    for dc in dcs:
        first = dc[0]
        assert first.tag == f"{{{DC_NS}}}identifier"
        assert re.fullmatch(r"dc-\d{4}", first.text or "")
        title = dc.findtext(f"{{{DC_NS}}}title")
        assert title and unicodedata.is_normalized("NFC", title)
    assert any(VIETNAMESE & set(dc.findtext(f"{{{DC_NS}}}title") or "") for dc in dcs)


def test_sample_generator_is_deterministic(tmp_path: Path) -> None:
    load_tool("make_samples").write_outputs(tmp_path)
    for path in (MRC, MARCXML, DC):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


# -- broken files -------------------------------------------------------------


def test_broken_files_exist_and_are_documented() -> None:
    readme = (BROKEN / "README.md").read_text(encoding="utf-8")
    for name in BROKEN_FILES:
        assert (BROKEN / name).is_file(), name
        assert f"`{name}`" in readme, name


def test_broken_generator_is_deterministic(tmp_path: Path) -> None:
    written = load_tool("make_broken").write_outputs(tmp_path)
    assert sorted(written) == sorted(BROKEN_FILES)
    for name in written:
        assert (tmp_path / name).read_bytes() == (BROKEN / name).read_bytes(), name


def test_marc8_file_decodes_to_expected_titles() -> None:
    expected = (BROKEN / "marc8-expected.txt").read_text(encoding="utf-8").splitlines()
    with (BROKEN / "marc8.mrc").open("rb") as handle:
        decoded = [r for r in pymarc.MARCReader(handle, to_unicode=True)]
    assert len(decoded) == len(expected) == 5
    for record, title in zip(decoded, expected, strict=True):
        assert unicodedata.normalize("NFC", record["245"]["a"]) == title


def test_broken_xml_files_are_really_broken() -> None:
    for name in ("broken-record.xml", "invalid-char.xml"):
        with pytest.raises(etree.XMLSyntaxError):
            etree.parse(str(BROKEN / name), safe_parser())
    for name in ("nfd.xml", "dc-broken.xml"):
        etree.parse(str(BROKEN / name), safe_parser())


def test_truncated_and_wrong_length() -> None:
    data = (BROKEN / "truncated.mrc").read_bytes()
    assert data.count(b"\x1d") == 4 and not data.endswith(b"\x1d")
    chunks = (BROKEN / "wrong-length.mrc").read_bytes().split(b"\x1d")[:-1]
    assert len(chunks) == 20
    for n, chunk in enumerate(chunks, start=1):
        declared = int(chunk[:5])
        assert declared == len(chunk) + 1 + (100 if n == 8 else 0), n
