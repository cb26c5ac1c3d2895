#!/usr/bin/env python3
"""Generate the deliberately broken MARC / MARCXML / Dublin Core files in tests/data/broken.

Deterministic: the good records come from ``make_samples.Generator`` (fixed seed) and
every corruption is applied at a fixed place.  ``tests/data/broken/README.md`` says what
each file contains; keep it in step with this script.

Usage::

    python tools/make_broken.py            # writes into tests/data/broken
    python tools/make_broken.py --out DIR
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from lxml import etree
from pymarc import Field, Indicators, Leader, Record, Subfield

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_samples import (  # noqa: E402
    BASE_URL,
    DC_NS,
    OAI_DC_NS,
    Generator,
    marcxml_bytes,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "broken"

FT = b"\x1e"  # field terminator
RT = b"\x1d"  # record terminator
SF = b"\x1f"  # subfield delimiter

# ---------------------------------------------------------------------------
# MARC-8 (only what Vietnamese needs)
# ---------------------------------------------------------------------------

# Unicode combining mark -> MARC-8 (ANSEL) combining character.  In MARC-8 the combining
# characters come *before* the base letter.
MARC8_COMBINING = {
    "\u0309": 0xE0,  # hook above (dấu hỏi)
    "\u0300": 0xE1,  # grave (dấu huyền)
    "\u0301": 0xE2,  # acute (dấu sắc)
    "\u0302": 0xE3,  # circumflex
    "\u0303": 0xE4,  # tilde (dấu ngã)
    "\u0306": 0xE6,  # breve
    "\u0323": 0xF2,  # dot below (dấu nặng)
}
# MARC-8 has no combining horn: ơ/ư are spacing letters of their own, as are đ/Đ.
MARC8_LETTERS = {"đ": 0xB3, "Đ": 0xA3, "ơ": 0xBC, "ư": 0xBD, "Ơ": 0xAC, "Ư": 0xAD}
HORN = "\u031b"


def marc8_encode(text: str) -> bytes:
    """Encode Vietnamese text in MARC-8 (ASCII + ANSEL).  Raises on anything else."""
    out = bytearray()
    decomposed = unicodedata.normalize("NFD", text)
    i = 0
    while i < len(decomposed):
        base = decomposed[i]
        i += 1
        marks = []
        while i < len(decomposed) and unicodedata.combining(decomposed[i]):
            marks.append(decomposed[i])
            i += 1
        if HORN in marks:
            marks.remove(HORN)
            base = {"o": "ơ", "u": "ư", "O": "Ơ", "U": "Ư"}[base]
        for mark in marks:
            out.append(MARC8_COMBINING[mark])
        if base in MARC8_LETTERS:
            out.append(MARC8_LETTERS[base])
        elif ord(base) < 0x7F:
            out.append(ord(base))
        else:
            raise ValueError(f"no MARC-8 encoding here for {base!r}")
    return bytes(out)


# (245 $a, 245 $b or None, author (100), year, publisher)
MARC8_RECORDS = [
    ("Truyện Kiều", None, "Nguyễn Du", "1972", "Văn học"),
    ("Những ngày thơ ấu", "hồi ký", "Nguyên Hồng", "1978", "Văn học"),
    ("Đất rừng phương Nam", "truyện", "Đoàn Giỏi", "1984", "Kim Đồng"),
    ("Vợ chồng A Phủ", None, "Tô Hoài", "1976", "Văn học"),
    ("Lịch sử Đắk Lắk", "những chặng đường", "Trương Thị Mỹ Hằng", "1989",
     "Sở Văn hóa Thông tin Đắk Lắk"),
]

# ---------------------------------------------------------------------------
# ISO 2709 assembly with a pluggable length measure
# ---------------------------------------------------------------------------


def field_bytes(field: Field, encode: Callable[[str], bytes]) -> bytes:
    if field.control_field:
        return field.data.encode("ascii") + FT
    out = (field.indicators.first + field.indicators.second).encode("ascii")
    for sub in field.subfields:
        out += SF + sub.code.encode("ascii") + encode(sub.value)
    return out + FT


def assemble(leader: str, fields: Sequence[tuple[str, bytes]],
             measure: Callable[[bytes], int] = len) -> bytes:
    """Build an ISO 2709 record.  ``measure`` gives the length of a chunk; the correct
    one is ``len`` (bytes).  Measuring decoded characters reproduces the old bug."""
    directory = b""
    offset = 0
    for tag, data in fields:
        size = measure(data)
        directory += f"{tag}{size:04d}{offset:05d}".encode("ascii")
        offset += size
    directory += FT
    base = 24 + len(directory)
    length = base + offset + 1
    head = f"{length:05d}{leader[5:12]}{base:05d}{leader[17:]}".encode("ascii")
    return head + directory + b"".join(data for _, data in fields) + RT


def utf8_iso2709(record: Record, measure: Callable[[bytes], int] = len) -> bytes:
    fields = [(f.tag, field_bytes(f, lambda s: s.encode("utf-8"))) for f in record.fields]
    return assemble(str(record.leader), fields, measure)


def serialize(record: Record) -> bytes:
    data = record.as_marc()
    record.leader = Leader(data[:24].decode("ascii"))
    return data


def char_count(data: bytes) -> int:
    return len(data.decode("utf-8"))


# ---------------------------------------------------------------------------
# Individual files
# ---------------------------------------------------------------------------


def good_records(n: int, start: int) -> list[Record]:
    records = Generator().build_catalogue()[start:start + n]
    for record in records:
        serialize(record)
    return records


def wrong_length(records: list[Record]) -> bytes:
    chunks = [serialize(r) for r in records]
    bad = chunks[7]
    length = int(bad[:5]) + 100
    chunks[7] = f"{length:05d}".encode("ascii") + bad[5:]
    return b"".join(chunks)


def char_lengths(records: list[Record]) -> bytes:
    chunks = [serialize(r) for r in records]
    chunks[3] = utf8_iso2709(records[3], measure=char_count)
    return b"".join(chunks)


def bad_directory(records: list[Record]) -> bytes:
    chunks = [serialize(r) for r in records]
    bad = bytearray(chunks[5])
    entry = 24 + 12 * 2  # third directory entry
    bad[entry + 3:entry + 12] = b"00A4O0I2Z"  # letters where the length/offset digits go
    chunks[5] = bytes(bad)
    return b"".join(chunks)


def invalid_xml_char(records: list[Record]) -> bytes:
    record = records[2]
    title = record["245"]
    value = title["a"].replace(" ", "\x01 ", 1)  # after the first word
    title["a"] = value[:-2] + "\x0b" + value[-2:]  # before the ISBD punctuation
    record.add_ordered_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=[
        Subfield("a", "Bản sao từ hệ thống cũ\x1b; dữ liệu chưa được hiệu đính.")]))
    return b"".join(serialize(r) for r in records)


def marc8_file() -> tuple[bytes, list[str]]:
    chunks, expected = [], []
    for n, (title, subtitle, author, year, publisher) in enumerate(MARC8_RECORDS, start=1):
        parts = [Subfield("a", title + (" :" if subtitle else " /"))]
        if subtitle:
            parts.append(Subfield("b", subtitle + " /"))
        parts.append(Subfield("c", author + "."))
        record = Record(leader="00000nam  2200000 a 4500", to_unicode=False)
        record.leader = Leader("00000nam  2200000 a 4500")
        record.add_field(
            Field(tag="001", data=f"VN-M8-{n:06d}"),
            Field(tag="003", data="VN-TVQG"),
            Field(tag="005", data="19950301000000.0"),
            Field(tag="008", data=f"950301s{year}    vm            000 0 vie d"),
            Field(tag="040", indicators=Indicators(" ", " "),
                  subfields=[Subfield("a", "VN-TVQG"), Subfield("b", "vie")]),
            Field(tag="100", indicators=Indicators("0", " "),
                  subfields=[Subfield("a", author + ".")]),
            Field(tag="245", indicators=Indicators("1", "0"), subfields=parts),
            Field(tag="260", indicators=Indicators(" ", " "),
                  subfields=[Subfield("a", "Hà Nội :"), Subfield("b", publisher + ","),
                             Subfield("c", year + ".")]),
            Field(tag="650", indicators=Indicators(" ", "7"),
                  subfields=[Subfield("a", "Văn học Việt Nam"), Subfield("2", "Bộ TK TVQG")]),
            Field(tag="852", indicators=Indicators(" ", " "),
                  subfields=[Subfield("a", "TVT-DLK"), Subfield("b", "KHO-DOC")]),
        )
        assert len(record["008"].data) == 40
        fields = [(f.tag, field_bytes(f, marc8_encode)) for f in record.fields]
        chunks.append(assemble(str(record.leader), fields))
        expected.append(parts[0].value)
    return b"".join(chunks), expected


def leader_lies(records: list[Record]) -> bytes:
    chunks = []
    for record in records:
        data = bytearray(serialize(record))
        data[9:10] = b" "
        chunks.append(bytes(data))
    return b"".join(chunks)


def broken_record_xml(records: list[Record]) -> bytes:
    record = records[4]
    record.add_ordered_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=[
        Subfield("a", "Dành cho trẻ em @@LT@@ 6 tuổi đọc cùng cha mẹ.")]))
    text = marcxml_bytes(records).decode("utf-8")
    # Find the 5th <record> and drop the end tag of its first 245 subfield.
    starts = [i for i in range(len(text)) if text.startswith("<record>", i)]
    begin, end = starts[4], starts[5]
    chunk = text[begin:end]
    tag245 = chunk.index('tag="245"')
    close = chunk.index("</subfield>", tag245)
    chunk = chunk[:close] + chunk[close + len("</subfield>"):]
    chunk = chunk.replace("@@LT@@", "<")
    return (text[:begin] + chunk + text[end:]).encode("utf-8")


def invalid_char_xml(records: list[Record]) -> bytes:
    records[1]["245"]["a"] = records[1]["245"]["a"].replace(" ", " @@CHARREF@@", 1)
    records[3].add_ordered_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=[
        Subfield("a", "Trang 12 bị mờ@@FF@@ cần kiểm tra lại bản gốc.")]))
    text = marcxml_bytes(records).decode("utf-8")
    text = text.replace("@@CHARREF@@", "&#x1;").replace("@@FF@@", "\x0c")
    return text.encode("utf-8")


def nfd_xml(records: list[Record]) -> tuple[bytes, list[str]]:
    expected = [r["245"]["a"] for r in records]
    # Record 6: tone mark typed before the circumflex / breve (old input methods).
    extra = Record(leader="00000nam a2200000 i 4500", force_utf8=True)
    extra.add_field(
        Field(tag="001", data="VN-NFD-000006"),
        Field(tag="003", data="VN-TVQG"),
        Field(tag="008", data="240101s2020    vm            000 0 vie d"),
        Field(tag="245", indicators=Indicators("0", "0"), subfields=[
            Subfield("a", "Tie\u0301\u0302ng Vie\u0323\u0302t thực hành cho người Đa\u0301\u0306k La\u0301\u0306k /"),
            Subfield("c", "Sở Giáo dục và Đào tạo Đa\u0301\u0306k La\u0301\u0306k.")]),
        Field(tag="650", indicators=Indicators(" ", "7"), subfields=[
            Subfield("a", "Tie\u0301\u0302ng Vie\u0323\u0302t"), Subfield("2", "Bộ TK TVQG")]),
        Field(tag="852", indicators=Indicators(" ", " "), subfields=[
            Subfield("a", "TVT-DLK"), Subfield("b", "KHO-DOC")]),
    )
    serialize(extra)
    expected.append("Tiếng Việt thực hành cho người Đắk Lắk /")
    text = marcxml_bytes(records).decode("utf-8")
    text = unicodedata.normalize("NFD", text)  # markup is ASCII, only the text changes
    extra_xml = marcxml_bytes([extra]).decode("utf-8")
    extra_record = extra_xml[extra_xml.index("<record>"):extra_xml.rindex("</record>") + 9]
    text = text.replace("</record>\n</collection>", "</record>\n  " + extra_record
                        + "\n</collection>")
    return text.encode("utf-8"), expected


def dc_broken() -> bytes:
    nsmap = {"oai_dc": OAI_DC_NS, "dc": DC_NS}
    root = etree.Element("records", nsmap=nsmap)
    items = [
        ("Ảnh: Nhà dài Ê Đê ở buôn Ako Dhông", "Bảo tàng tỉnh Đắk Lắk", "Nhà dài"),
        ("Hương ước làng Phú Lộc", "Thư viện tỉnh Đắk Lắk", "Hương ước"),
        ("Ghi âm: Kể khan Đam San", "Trần Thị Hồng Nhung", "Sử thi"),
        ("Gia phả họ Trần ở Buôn Ma Thuột", "Thư viện tỉnh Đắk Lắk", "Gia phả"),
        ("", "Lê Văn Hùng", "Cà phê"),
        ("Ảnh: Thác Dray Nur mùa nước lớn", "Bảo tàng tỉnh Đắk Lắk", "Thác nước"),
    ]
    for n, (title, creator, subject) in enumerate(items, start=1):
        dc = etree.SubElement(root, f"{{{OAI_DC_NS}}}dc")
        values = [("title", title), ("creator", creator), ("subject", subject),
                  ("type", "Text"), ("language", "vie")]
        if n != 3:
            values.insert(0, ("identifier", f"dc-b{n:03d}"))
            values.append(("identifier", f"{BASE_URL}/so-hoa/dc-b{n:03d}"))
        for name, text in values:
            el = etree.SubElement(dc, f"{{{DC_NS}}}{name}")
            el.text = text
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def truncated(records: list[Record]) -> bytes:
    chunks = [serialize(r) for r in records]
    last = chunks[4]
    return b"".join(chunks[:4]) + last[: len(last) // 2]


# ---------------------------------------------------------------------------


def write_outputs(out_dir: Path) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[str] = []

    def put(name: str, data: bytes) -> None:
        (out_dir / name).write_bytes(data)
        written.append(name)

    put("wrong-length.mrc", wrong_length(good_records(20, 0)))
    put("char-lengths.mrc", char_lengths(good_records(10, 20)))
    put("bad-directory.mrc", bad_directory(good_records(10, 30)))
    put("invalid-xml-char.mrc", invalid_xml_char(good_records(10, 40)))
    marc8, titles = marc8_file()
    put("marc8.mrc", marc8)
    put("marc8-expected.txt", ("\n".join(titles) + "\n").encode("utf-8"))
    put("leader-lies.mrc", leader_lies(good_records(3, 50)))
    put("broken-record.xml", broken_record_xml(good_records(10, 60)))
    put("invalid-char.xml", invalid_char_xml(good_records(6, 70)))
    nfd, nfd_titles = nfd_xml(good_records(5, 80))
    put("nfd.xml", nfd)
    put("nfd-expected.txt", ("\n".join(unicodedata.normalize("NFC", t) for t in nfd_titles)
                             + "\n").encode("utf-8"))
    put("dc-broken.xml", dc_broken())
    put("truncated.mrc", truncated(good_records(5, 90)))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    for name in write_outputs(args.out):
        print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
