"""The light read path (issue 16): ISO 2709 and MARCXML records read as light
field views give, for every target format, the very bytes the full parser and
pymarc fields gave; a malformed record is still reported with its position and
reason while the others convert."""

from __future__ import annotations

import io

import pymarc
import pytest
from conftest import DATA, SAMPLES
from test_import_legacy import encoder, legacy_iso2709

from thuvien_interop.cli.convert import TARGETS, convert_stream
from thuvien_interop.crosswalk.dc import marc_to_dc, marc_to_oai_dc
from thuvien_interop.crosswalk.marcview import LazyRecord, LightField, fields_of, iso_of
from thuvien_interop.crosswalk.marcxml import element_to_record, record_to_marcxml
from thuvien_interop.crosswalk.mods import marc_to_mods
from thuvien_interop.ingest import iso2709
from thuvien_interop.ingest.detect import read_stream
from thuvien_interop.ingest.marcxml import read_marcxml
from thuvien_interop.ingest.xmlsplit import SAFE_PARSER

LOC = DATA / "loc-200.mrc"  # the first 200 records of the LoC file bench/ measures with
BROKEN = DATA / "broken"


def _full_parser_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The path as it was before the light reader: every record through _parse.
    monkeypatch.setattr(iso2709, "_parse_light", lambda raw, decoder: None)


def _convert(data: bytes, to: str, **options) -> tuple[bytes, list[str], list[str]]:
    out = io.BytesIO()
    report = convert_stream(io.BytesIO(data), out, to, fmt="iso2709", **options)
    return out.getvalue(), [str(p) for p in report.skipped], [str(p) for p in report.repaired]


def _mixed_bad_file() -> bytes:
    """Good LoC records with one of each malformation between them."""
    good = [r + b"\x1d" for r in LOC.read_bytes().split(b"\x1d")[:12]]
    ok = good[0]
    bad_directory = ok[:24 + 15] + b"A" + ok[24 + 16:]  # a length digit is a letter
    start = ok.find(b"\x1e", 24) + 1
    sub = ok.find(b"\x1f", start)
    bad_code = ok[:sub + 1] + b"\xc3" + ok[sub + 2:]  # a subfield code that is not ASCII
    wrong_length = b"99999" + ok[5:]  # the leader's length is wrong
    wrong_base = ok[:12] + b"00001" + ok[17:]
    no_indicators = _one_field_record(b"245", b"x")  # a data field one byte long
    control_chars = _one_field_record(b"245", b"10\x1faA\x01B")
    not_utf8 = _one_field_record(b"245", b"10\x1faH\xe0 N\xf4i")  # leader says UTF-8, Latin-1 bytes
    truncated = ok[:200]
    return b"".join([good[1], bad_directory, good[2], bad_code, good[3], wrong_length, good[4],
                     wrong_base, good[5], no_indicators, good[6], control_chars, good[7], not_utf8,
                     good[8], truncated])


def _record(fields: list[tuple[bytes, bytes]], leader: bytes = b"nam a22", tail: bytes = b"   4500") -> bytes:
    """One ISO 2709 record of ``fields`` (tag, body), its directory and lengths right."""
    directory, data = b"", b""
    for t, b in fields:
        directory += t + b"%04d%05d" % (len(b) + 1, len(data))
        data += b + b"\x1e"
    base = 24 + len(directory) + 1
    return b"%05d%s%05d%s" % (base + len(data) + 1, leader, base, tail) + directory + b"\x1e" + data + b"\x1d"


def _one_field_record(tag: bytes, body: bytes, leader09: bytes = b"a") -> bytes:
    return _record([(b"001", b"X-1"), (tag, body)], leader=b"nam " + leader09 + b"22")


_CONTROL = [(b"001", b"VN-1"), (b"005", b"20240101000000.0"), (b"008", b"240101s2024    vm            000 0 vie d")]
_TITLE = (b"245", "10\x1faTruyện Kiều /\x1fcNguyễn Du.".encode())


def _awkward_records() -> bytes:
    """Well-formed records (the light reader takes each) with what the MARCXML
    writer from bytes must hand back to the per-value writer, or escape, or copy."""
    long_value = "Nguyễn Du ".encode() * 1200  # a record of more than 10,000 bytes
    bodies = [
        [(b"245", b"10\x1faA & B <c> d\"e\x1fcX>Y.")],              # escaped, in values
        [(b"001", b"VN-<1>&"), _TITLE],                              # escaped, in a control field
        [(b"245", b"10xyz\x1faJunk before the first code")],         # skipped by the light field
        [(b"001", b"VN\x1fa1"), _TITLE],                             # a delimiter in a control field
        [(b"245", b"A0\x1faUpper-case indicator")],
        [(b"245", b"1#\x1faIndicator #")],
        [(b"245", b"10\x1fAUpper-case code\x1fbb")],
        [(b"245", b"10\x1f&Code &")],
        [(b"245", b"10\x1fa\x1fb\x1fcEmpty values\x1f")],         # and a delimiter without code
        [(b"245", b"10\x1fa\x1f\x1fbTwo delimiters")],
        [(b"245", b"10"), (b"500", b"  \x1faA field of indicators only before")],
        [_TITLE, (b"001", b"VN-late"), (b"500", b"  \x1faA control field after a data field")],
        [(b"ABC", b"10\x1faA letter tag"), _TITLE],
        [(b"00A", b"10\x1faA control-looking letter tag"), _TITLE],
        [(b"245", "10\x1faHa\u0300 No\u0323\u0302i".encode())],     # not NFC: normalized
        [(b"245", b"10\x1faTab\tnew line\nreturn\r kept")],
        [(b"500", b"  \x1fa" + long_value), _TITLE],
    ]
    records = [_record(_CONTROL + fields) for fields in bodies]
    records += [_record(fields) for fields in bodies[:3]]  # no control field at all
    records.append(_record(_CONTROL + [_TITLE], leader=b"n<m a22"))  # a leader to escape
    records.append(_record(_CONTROL + [_TITLE], leader=b"nam a22", tail=b"  &4500"))
    return b"".join(records)


def _inputs() -> dict[str, bytes]:
    originals = [r.record for r in read_stream(io.BytesIO((SAMPLES / "vietnamese-catalogue.mrc")
                                                          .read_bytes()), "iso2709")][:40]
    files = {
        "loc": LOC.read_bytes(),
        "sample": (SAMPLES / "vietnamese-catalogue.mrc").read_bytes(),
        "mixed-bad": _mixed_bad_file(),
        "tcvn3": legacy_iso2709(originals, encoder("tcvn3")),
        "vni": legacy_iso2709(originals, encoder("vni")),
        "marc-8 written": legacy_iso2709(originals, encoder("marc-8")),
        "awkward": _awkward_records(),
    }
    files.update({p.name: p.read_bytes() for p in sorted(BROKEN.glob("*.mrc"))})
    return files


INPUTS = _inputs()


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_target_is_byte_identical_to_the_full_parser(monkeypatch, name, to):
    data = INPUTS[name]
    light = _convert(data, to)
    light_marc8 = _convert(data, to, marc8=True) if to == "marc" else None
    _full_parser_only(monkeypatch)
    full = _convert(data, to)
    assert light == full
    if light_marc8 is not None:
        assert light_marc8 == _convert(data, to, marc8=True)


def test_the_light_path_reads_the_well_formed_records_and_only_those():
    results = list(iso2709.read_iso2709(io.BytesIO(INPUTS["mixed-bad"])))
    light = [r.position for r in results if type(r.record) is LazyRecord]
    assert light == [1, 3, 5, 7, 9, 11, 13, 15]  # the good LoC records between the bad ones
    assert all(type(r.record) is LazyRecord for r in iso2709.read_iso2709(io.BytesIO(INPUTS["loc"])))


def test_malformed_records_are_reported_with_position_and_reason_while_the_rest_convert():
    out, skipped, repaired = _convert(INPUTS["mixed-bad"], "oai_dc")
    assert skipped == [
        "record 2 (byte 720): bad directory: entry 2 '003A00400013' is not tag+length+start",
        "record 16 (byte 7951): the file ends in the middle of this record (no record terminator)"]
    for where, reason in [
            ("record 4 (byte 1912)", "field 010: subfield code byte 0xC3 is not a letter or digit"),
            ("record 6 (byte 3180)", "leader says the record is 99999 bytes but it is 720"),
            ("record 8 (byte 4383)", "leader base address '00001' is wrong"),
            ("record 10 (byte 5811)", "field 245 has no indicators; kept with blanks"),
            ("record 12 (byte 6498)", "characters XML 1.0 forbids (control characters) replaced"),
            ("record 14 (byte 7272)", "leader/09 says UTF-8 but the data is not valid UTF-8")]:
        assert any(r.startswith(f"{where}: {reason}") for r in repaired), (where, repaired)
    assert out.count(b"<oai_dc:dc ") == 14


@pytest.mark.parametrize("name", ["sample", "loc", "tcvn3"])
def test_check_mode_reads_the_same_unnormalized_text(monkeypatch, name):
    def read(data: bytes) -> list[tuple]:
        return [(r.position, r.error, r.warnings, r.record and [
            (f.tag, f.data, f.indicators, [tuple(s) for s in f.subfields]) for f in r.record.fields])
            for r in iso2709.read_iso2709(io.BytesIO(data), normalize_text=False)]

    light = read(INPUTS[name])
    _full_parser_only(monkeypatch)
    assert light == read(INPUTS[name])


def test_marcxml_from_the_bytes_is_the_per_value_writers_and_is_taken():
    from thuvien_interop.crosswalk import marcxml

    results = list(iso2709.read_iso2709(io.BytesIO(INPUTS["loc"] + INPUTS["sample"] + INPUTS["awkward"])))
    taken = 0
    for result in results:
        record = result.record
        iso = iso_of(record)
        if iso is None:
            continue  # read by the full parser: plain pymarc fields
        direct = record_to_marcxml(record)
        assert direct == record_to_marcxml(_plain_copy(record)), result.where
        leader = str(record.leader)
        taken += iso is not None and iso.plain and \
            marcxml._iso_marcxml(leader[:9] + "a" + leader[10:], iso, True) is not None
    # The LoC records, nearly all of the sample's and a few awkward ones go straight from their bytes.
    assert taken >= 200 + 5 and taken < len(results)


def test_an_edited_lazy_record_writes_its_edits_not_its_bytes():
    record = next(iso2709.read_iso2709(io.BytesIO(INPUTS["loc"]))).record
    record.leader = pymarc.Leader("00000nzm a2200000   4500")
    assert b"<leader>00000nzm a2200000   4500</leader>" in record_to_marcxml(record)
    record["245"]["a"] = "Sách & mới /"
    xml = record_to_marcxml(record)
    assert b'<subfield code="a">S\xc3\xa1ch &amp; m\xe1\xbb\x9bi /</subfield>' in xml
    plain = pymarc.Record()
    plain.leader, plain.fields = record.leader, list(record.fields)
    assert xml == record_to_marcxml(plain)


def test_a_lazy_record_is_a_pymarc_record_to_its_users():
    record = next(iso2709.read_iso2709(io.BytesIO(INPUTS["loc"]))).record
    assert type(record) is LazyRecord and isinstance(record, pymarc.Record)
    assert isinstance(fields_of(record)[0], LightField)
    title = record["245"]["a"]
    assert title and isinstance(record.fields[0], pymarc.Field)
    # From then on its pymarc fields are the record: an edit reaches every crosswalk.
    record["245"]["a"] = "Sách mới /"
    assert fields_of(record) is record.fields
    assert dict(marc_to_dc(record))["title"].startswith("Sách mới / drugs considered")
    assert "<title>Sách mới</title>" in marc_to_mods(record).decode()
    record.fields = [f for f in record.fields if f.tag != "245"]
    assert "title" not in dict(marc_to_dc(record))


def _plain_copy(record: pymarc.Record) -> pymarc.Record:
    copy = pymarc.Record()
    copy.leader = pymarc.Leader(str(record.leader))
    copy.fields = [f.to_pymarc() for f in fields_of(record)]
    return copy


@pytest.mark.parametrize("path", [SAMPLES / "vietnamese-catalogue.xml", BROKEN / "nfd.xml",
                                  BROKEN / "broken-record.xml", BROKEN / "invalid-char.xml"])
def test_marcxml_records_crosswalk_as_their_pymarc_copies_do(path):
    results = list(read_marcxml(io.BytesIO(path.read_bytes())))
    records = [r.record for r in results if r.record is not None]
    assert records and all(type(r) is LazyRecord for r in records)
    for record in records:
        assert all(isinstance(f, LightField) for f in fields_of(record))
        plain = _plain_copy(record)
        assert marc_to_oai_dc(record) == marc_to_oai_dc(plain)
        assert marc_to_mods(record) == marc_to_mods(plain)
        assert record_to_marcxml(record) == record_to_marcxml(plain)


def test_marcxml_element_reads_as_pymarc_would_build_it():
    from lxml import etree

    elem = etree.fromstring(
        b'<record xmlns="http://www.loc.gov/MARC21/slim">'
        b'<controlfield tag="1">VN-1</controlfield>'
        b'<datafield tag="001" ind1="1" ind2="0"><subfield code="a">odd</subfield></datafield>'
        b'<controlfield tag="245">a control field under a data tag</controlfield>'
        b'<datafield tag="0650" ind1="" ind2="77"><subfield code="">x</subfield>'
        b'<subfield code="ab"/><!-- a comment --></datafield></record>', SAFE_PARSER)
    record = element_to_record(elem)
    expected = [pymarc.Field("1", data="VN-1"),
                pymarc.Field("001", pymarc.Indicators("1", "0"), [pymarc.Subfield("a", "odd")]),
                pymarc.Field("245", data="a control field under a data tag"),
                pymarc.Field("0650", pymarc.Indicators(" ", "7"),
                             [pymarc.Subfield("", "x"), pymarc.Subfield("ab", "")])]
    got = record.fields
    assert [(f.tag, f.data, f.indicators, f.subfields, f.control_field) for f in got] == \
        [(f.tag, f.data, f.indicators, f.subfields, f.control_field) for f in expected]
    assert str(record.leader) == "          22        4500"  # no <leader>: pymarc's blank one


def _stored(tmp_path, name: str, data: bytes) -> tuple[dict, list[str]]:
    from thuvien_interop.ingest.loader import IdentifierRule, import_files
    from thuvien_interop.model import ListQuery
    from thuvien_interop.store import open_store

    (tmp_path / name).mkdir()
    src = tmp_path / name / "catalogue.mrc"  # one name: the reports name the file
    src.write_bytes(data)
    store = open_store(f"sqlite:///{tmp_path / name / 'store.db'}")
    try:
        report = import_files(store, [src], IdentifierRule("loc.gov"))
        out = {prefix: [(i.header.identifier, i.metadata)
                        for i in store.list(ListQuery(prefix), None, 10_000)]
               for prefix in ("oai_dc", "marc21", "mods")}
        return out, [str(p) for p in report.rejected] + [str(p) for p in report.repaired]
    finally:
        store.close()


def test_import_stores_the_same_formats_and_index_as_the_full_parser(tmp_path, monkeypatch):
    data = INPUTS["loc"] + INPUTS["mixed-bad"]
    light = _stored(tmp_path, "light", data)
    _full_parser_only(monkeypatch)
    assert light == _stored(tmp_path, "full", data)
    assert len(light[0]["marc21"]) == 201  # the 200 LoC records, and X-1 of the short ones


@pytest.mark.parametrize("name", ["loc", "sample"])
def test_search_keys_and_union_facts_of_light_records_are_those_of_pymarc_records(name):
    from thuvien_interop.sru.indexing import index_source
    from thuvien_interop.union.facts import facts_from_marc

    for result in iso2709.read_iso2709(io.BytesIO(INPUTS[name])):
        record = result.record
        plain = _plain_copy(record)
        assert index_source(record) == index_source(plain)
        assert facts_from_marc(record, "oai:x:1") == facts_from_marc(plain, "oai:x:1")
        assert isinstance(fields_of(record)[0], LightField)  # nobody built pymarc fields
