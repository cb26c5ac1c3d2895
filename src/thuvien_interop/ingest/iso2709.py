"""A permissive, streaming ISO 2709 (MARC21 transmission format) reader.

Records are cut at the record terminator (0x1D), not at the length the leader
claims, so a wrong length loses one record at most — usually none: the reader
repairs what is safe to repair and reports it.

    >>> for result in read_iso2709(open("catalogue.mrc", "rb")):   # doctest: +SKIP
    ...     print(result.where, result.error or result.record.title)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pymarc

from ..crosswalk.marc8 import decode_marc_bytes
from ..crosswalk.text import clean_xml_text, has_forbidden_xml_chars, normalize
from .result import ReadResult

RECORD_END = 0x1D
FIELD_END = 0x1E
SUBFIELD = 0x1F
_CHUNK = 1 << 20


def _records(stream: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (byte offset, raw record, terminated) cut at record terminators."""
    buf = b""
    offset = 0
    while True:
        data = stream.read(_CHUNK)
        if not data:
            break
        buf += data
        start = 0
        while True:
            end = buf.find(b"\x1d", start)
            if end < 0:
                break
            yield offset + start, buf[start:end + 1], True
            start = end + 1
        offset += start
        buf = buf[start:]
    if buf.strip(b"\r\n\x00 \x1a"):
        yield offset, buf, False


def read_iso2709(stream: BinaryIO) -> Iterator[ReadResult]:
    """Read every record of an ISO 2709 stream; never stop at a broken one."""
    position = 0
    for offset, raw, terminated in _records(stream):
        # Some exports put a newline between records; it is not part of them.
        stripped = raw.lstrip(b"\r\n\x00 \x1a")
        offset += len(raw) - len(stripped)
        raw = stripped
        if not raw or raw == b"\x1d":
            continue
        position += 1
        result = ReadResult(position, f"byte {offset}")
        if not terminated:
            result.error = "the file ends in the middle of this record (no record terminator)"
            yield result
            continue
        try:
            result.record = _parse(raw, result.warnings)
        except ValueError as exc:
            result.error = str(exc)
        yield result


def _parse(raw: bytes, warnings: list[str]) -> pymarc.Record:
    if len(raw) < 26:
        raise ValueError(f"too short to be a MARC record ({len(raw)} bytes)")
    leader = raw[:24].decode("ascii", errors="replace")
    declared = leader[:5]
    if not declared.isdigit():
        warnings.append(f"leader record length '{declared}' is not a number; used the record terminator")
    elif int(declared) != len(raw):
        warnings.append(
            f"leader says the record is {int(declared)} bytes but it is {len(raw)}; "
            "used the record terminator")
    dir_end = raw.find(b"\x1e", 24)
    if dir_end < 0:
        raise ValueError("no end of directory (field terminator) found")
    base = leader[12:17]
    if not base.isdigit() or int(base) != dir_end + 1:
        warnings.append(f"leader base address '{base}' is wrong; the directory ends at byte {dir_end + 1}")
    directory = raw[24:dir_end]
    if len(directory) % 12:
        raise ValueError(f"bad directory: its length {len(directory)} is not a multiple of 12")
    entries: list[tuple[str, int, int]] = []
    for i in range(0, len(directory), 12):
        entry = directory[i:i + 12]
        tag = entry[:3].decode("ascii", errors="replace")
        length, start = entry[3:7], entry[7:12]
        if not (length.isdigit() and start.isdigit()) or not tag.isprintable():
            raise ValueError(f"bad directory: entry {i // 12 + 1} '{entry.decode('latin-1')}' is not tag+length+start")
        entries.append((tag, int(length), int(start)))
    data = raw[dir_end + 1:]
    chunks = _fields_by_directory(data, entries)
    if chunks is None:
        # Lengths counted in characters instead of bytes (old exports of
        # Vietnamese text do this): the field terminators still delimit the
        # fields, in directory order. Safe when the counts agree.
        pieces = data.split(b"\x1e")
        if pieces and pieces[-1] in (b"\x1d", b""):
            pieces.pop()
        if len(pieces) != len(entries):
            raise ValueError(
                f"directory lists {len(entries)} fields but the data holds {len(pieces)}; "
                "cannot tell which data belongs to which tag")
        warnings.append("directory lengths/offsets do not match the data (counted in characters?); "
                        "fields re-split at field terminators")
        chunks = [(tag, piece) for (tag, _, _), piece in zip(entries, pieces, strict=True)]
    leader09 = leader[9]
    record = pymarc.Record(leader=pymarc.Leader(leader[:9] + "a" + leader[10:]))
    decoded_note: set[str] = set()
    dirty = False
    for tag, body in chunks:
        if tag < "010" and tag.isdigit():
            text = _decode(body, leader09, decoded_note)
            if has_forbidden_xml_chars(text):
                dirty = True
                text = clean_xml_text(text)
            record.add_field(pymarc.Field(tag=tag, data=text))
            continue
        if len(body) < 2:
            warnings.append(f"field {tag} has no indicators; kept with blanks")
            body = b"  " + body
        ind = body[:2].decode("ascii", errors="replace")
        subfields = []
        for part in body[2:].split(b"\x1f")[1:]:
            if not part:
                continue
            code = chr(part[0]) if part[0] < 128 else "?"
            value = _decode(part[1:], leader09, decoded_note)
            if has_forbidden_xml_chars(value):
                dirty = True
                value = clean_xml_text(value)
            subfields.append(pymarc.Subfield(code=code, value=value))
        record.add_field(pymarc.Field(tag=tag, indicators=pymarc.Indicators(ind[0], ind[1]),
                                      subfields=subfields))
    warnings.extend(sorted(decoded_note))
    if dirty:
        warnings.append("characters XML 1.0 forbids (control characters) replaced with U+FFFD")
    return record


def _fields_by_directory(data: bytes, entries: list[tuple[str, int, int]]) -> list[tuple[str, bytes]] | None:
    out = []
    for tag, length, start in entries:
        end = start + length
        if length < 1 or end > len(data) or data[end - 1] != FIELD_END:
            return None
        out.append((tag, data[start:end - 1]))
    return out


def _decode(body: bytes, leader09: str, notes: set[str]) -> str:
    if leader09 == "a" or body.isascii():
        try:
            return normalize(body.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    text, warnings = decode_marc_bytes(body, leader09)
    notes.update(warnings)
    return normalize(text)
