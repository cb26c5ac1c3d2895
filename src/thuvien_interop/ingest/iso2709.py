"""A permissive, streaming ISO 2709 (MARC21 transmission format) reader.

Records are cut at the record terminator (0x1D), not at the length the leader
claims, so a wrong length loses one record at most — usually none: the reader
repairs what is safe to repair and reports it.

    >>> for result in read_iso2709(open("catalogue.mrc", "rb")):   # doctest: +SKIP
    ...     print(result.where, result.error or result.record.title)

Old Vietnamese exports hold 8-bit TCVN3, VNI, VISCII, VPS or Windows-1258
bytes under a leader that says MARC-8. By default a record whose leader/09
says MARC-8 but whose bytes cannot be MARC-8 and read surely as one of those
is decoded as that, and a warning says so; ``source_encoding`` names the
encoding (``"marc-8"`` forces MARC-8), or ``"auto"`` detects it per file (from
the first records) and per field, and says so in the record warnings:

    >>> results = read_iso2709(open("old.mrc", "rb"), source_encoding="auto")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from functools import cache
from itertools import accumulate, chain, compress, islice, repeat
from operator import floordiv, mod
from typing import BinaryIO

import pymarc

from ..crosswalk import legacy
from ..crosswalk.marc8 import (
    decode_marc8,
    decode_marc_bytes,
    detect_leader_lie,
    implausible_bytes,
    plausible_marc8,
)
from ..crosswalk.marcview import IsoFields, LazyRecord
from ..crosswalk.text import (
    clean_xml_text,
    has_forbidden_xml_chars,
    is_plain_nfc,
    is_vietnamese_syllable,
    normalize,
)
from ..wording import Note, say
from .result import ReadResult

RECORD_END = 0x1D
FIELD_END = 0x1E
SUBFIELD = 0x1F
_CHUNK = 1 << 20
SOURCE_ENCODINGS = ("auto", "utf-8", "marc-8", *legacy.ENCODINGS)
"""Values of ``source_encoding`` (None: trust leader/09, the default)."""
_SAMPLE_RECORDS = 20


def _records(stream: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (byte offset, raw record, terminated) cut at record terminators."""
    buf = b""
    offset = 0
    # read1: what is there, up to a chunk (a pipe's records are read as they come,
    # not once a whole chunk has arrived); a file's chunk is one read all the same.
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(_CHUNK)
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


def read_iso2709(stream: BinaryIO, source_encoding: str | None = None, *,
                 normalize_text: bool = True) -> Iterator[ReadResult]:
    """Read every record of an ISO 2709 stream; never stop at a broken one.

    ``source_encoding`` (one of :data:`SOURCE_ENCODINGS`) overrides leader/09;
    ``normalize_text=False`` keeps decoded UTF-8 text as it is (not NFC'd,
    forbidden XML characters kept), for a checker that must see it."""
    if source_encoding is not None and source_encoding not in SOURCE_ENCODINGS:
        raise ValueError(say("read.source-encoding", value=repr(source_encoding),
                             choices=", ".join(SOURCE_ENCODINGS)))
    records: Iterator[tuple[int, bytes, bool]] = _records(stream)
    decoder = _FieldDecoder(source_encoding, normalize_text)
    if source_encoding == "auto":
        head = list(islice(records, _SAMPLE_RECORDS))
        decoder.detect_file(raw for _, raw, _ in head)
        records = chain(head, records)
    position = 0
    # The light path reads well-formed UTF-8 records (the same values, no warnings
    # to give); it declines anything else, which the full parser below reads.
    fast = source_encoding is None
    for offset, raw, terminated in records:
        # Some exports put a newline between records; it is not part of them.
        stripped = raw.lstrip(b"\r\n\x00 \x1a")
        offset += len(raw) - len(stripped)
        raw = stripped
        if not raw or raw == b"\x1d":
            continue
        position += 1
        result = ReadResult(position, f"byte {offset}")
        if not terminated:
            result.error = Note("read.truncated")
            yield result
            continue
        if position == 1 and decoder.file_note:
            result.warnings.append(decoder.file_note)
        try:
            record = _parse_light(raw, decoder) if fast else None
            result.record = record if record is not None else _parse(raw, result.warnings, decoder)
        except ValueError as exc:
            result.error = str(exc)
        yield result


# A byte outside ASCII as a subfield code, or as a field's first or second byte
# (an indicator): the full parser says what it made of them. Each pattern opens
# with a literal, which the regex engine finds fast.
_ODD_CODE = re.compile(rb"\x1f[\x80-\xff]")
_ODD_INDICATOR = re.compile(rb"\x1e[^\x1e]?[\x80-\xff]")
# Deleting every byte XML 1.0 allows in text (and the MARC delimiters) leaves
# those it forbids, which text.clean_xml_text would replace.
_XML_ALLOWED_BYTES = bytes(range(0x1d, 0x100)) + b"\t\n\r"


class _Directory:
    """What checking a directory of ``n`` entries against its fields takes,
    made once per ``n``: a struct that cuts the entries into tag, length, first
    digit of the start and its last four digits in one C call."""

    __slots__ = ("unpack", "zeros")

    def __init__(self, n: int) -> None:
        self.unpack = struct.Struct("3s4s1s4s" * n).unpack
        self.zeros = (b"0",) * n


_DIRECTORIES: dict[int, _Directory] = {}
# Digits of lengths and starts looked up (formatting them cost a third of
# reading a record): 10,000 joins at start-up, under a millisecond. Tags as
# text made once each (a file has few).
_DIGITS = [b"%d" % i for i in range(10)]
_TWO = [a + b for a in _DIGITS for b in _DIGITS]
_FOUR = [a + b for a in _TWO for b in _TWO]  # _FOUR[i] is b"%04d" % i, 0 <= i < 10,000
_tag_text = cache(bytes.decode)
_TEN_THOUSAND = 10_000


def _parse_light(raw: bytes, decoder: _FieldDecoder) -> LazyRecord | None:
    """The record as :func:`_parse` reads it, when it has nothing to repair or
    report: lengths, base address and directory right, leader/09 "a" (or blank
    over ASCII bytes), valid UTF-8, every field with its indicators. Else None.

    Its fields' values are the same strings :func:`_parse` makes, split and
    (where the record needs it) normalized when a crosswalk first reads them."""
    n_raw = len(raw)
    leader_bytes = raw[:24]
    if n_raw < 26 or not leader_bytes.isascii() or not leader_bytes[:5].isdigit() \
            or int(leader_bytes[:5]) != n_raw:
        return None
    dir_end = raw.find(b"\x1e", 24)
    base = leader_bytes[12:17]
    if dir_end < 0 or not base.isdigit() or int(base) != dir_end + 1:
        return None
    directory = raw[24:dir_end]
    data = raw[dir_end + 1:-1]
    pieces = data.split(b"\x1e")
    n = len(pieces) - 1
    if pieces.pop() != b"" or not n or n * 12 != len(directory) or not directory.isascii():
        return None
    # Each field's length with its terminator (C-level maps, no Python loop).
    lengths = list(map(_plus_one, map(len, pieces)))
    if min(lengths) < 3:
        return None  # a data field without indicators (or so short a control field: let _parse judge)
    # The directory must be, byte for byte, the one these fields make: each tag
    # (printable ASCII) with its length and its start, the fields end to end
    # in directory order. The entries cut by one struct call, each column
    # compared with the digits of the lengths and starts (looked up, not
    # formatted: formatting cost a third of reading a record).
    shape = _DIRECTORIES.get(n)
    if shape is None:
        shape = _DIRECTORIES[n] = _Directory(n)
    columns = shape.unpack(directory)
    starts = list(accumulate(lengths, initial=0))
    starts.pop()
    try:
        if columns[1::4] != tuple(map(_FOUR.__getitem__, lengths)):
            return None
    except IndexError:
        return None  # a field of 10,000 bytes or more: a directory cannot say so
    if n_raw < _TEN_THOUSAND:
        if columns[2::4] != shape.zeros or columns[3::4] != tuple(map(_FOUR.__getitem__, starts)):
            return None
    elif (columns[2::4] != tuple(map(_DIGITS.__getitem__, map(floordiv, starts, repeat(_TEN_THOUSAND, n))))
          or columns[3::4] != tuple(map(_FOUR.__getitem__, map(mod, starts, repeat(_TEN_THOUSAND, n))))):
        return None
    tag_bytes = columns[0::4]
    tags = list(map(_tag_text, tag_bytes))
    if not directory.isdigit() and not "".join(tags).isprintable():
        return None
    normalize_text = decoder.normalize
    if normalize_text and (data.translate(None, _XML_ALLOWED_BYTES)
                           or b"\x1f" in b"".join(compress(pieces, map("010".__gt__, tags)))):
        # _parse replaces the control characters XML forbids, and says so (a
        # delimiter in a control field is one).
        return None
    if data.isascii():
        if leader_bytes[9] not in b"a ":
            return None
        text = None  # decoded when a crosswalk first reads a field
        clean = None
    else:
        if leader_bytes[9] != 0x61 or not pieces[0][:2].isascii() or _ODD_CODE.search(data) \
                or _ODD_INDICATOR.search(data):
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if normalize_text and ("\ufffe" in text or "\uffff" in text):
            return None
        # One look at the whole record's text says whether any value needs normalizing.
        clean = None if not normalize_text or is_plain_nfc(text) else normalize
    leader = leader_bytes.decode("ascii")
    iso = IsoFields(tags, tag_bytes, pieces, data, text, clean,
                    normalize_text and clean is None)
    return LazyRecord.from_iso(leader[:9] + "a" + leader[10:], iso)


_plus_one = (1).__add__


def _parse(raw: bytes, warnings: list[str], decoder: _FieldDecoder) -> pymarc.Record:
    if len(raw) < 26:
        raise ValueError(Note("read.too-short", n=len(raw)))
    leader = raw[:24].decode("ascii", errors="replace")
    declared = leader[:5]
    if not declared.isdigit():
        warnings.append(Note("read.length-not-a-number", value=declared))
    elif int(declared) != len(raw):
        warnings.append(Note("read.length-wrong", declared=int(declared), actual=len(raw)))
    dir_end = raw.find(b"\x1e", 24)
    if dir_end < 0:
        raise ValueError(Note("read.no-directory-end"))
    base = leader[12:17]
    if not base.isdigit() or int(base) != dir_end + 1:
        warnings.append(Note("read.base-address", value=base, byte=dir_end + 1))
    directory = raw[24:dir_end]
    if len(directory) % 12:
        raise ValueError(Note("read.directory-length", n=len(directory)))
    entries: list[tuple[str, int, int]] = []
    for i in range(0, len(directory), 12):
        entry = directory[i:i + 12]
        tag = entry[:3].decode("ascii", errors="replace")
        length, start = entry[3:7], entry[7:12]
        if not (length.isdigit() and start.isdigit()) or not tag.isprintable():
            raise ValueError(Note("read.directory-entry", n=i // 12 + 1,
                                  entry=entry.decode("latin-1")))
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
            raise ValueError(Note("read.directory-count", listed=len(entries), held=len(pieces)))
        warnings.append(Note("read.counted-in-characters"))
        chunks = [(tag, piece) for (tag, _, _), piece in zip(entries, pieces, strict=True)]
    leader09 = _effective_leader09(leader[9], b"".join(body for _, body in chunks), warnings)
    record = pymarc.Record(leader=pymarc.Leader(leader[:9] + "a" + leader[10:]))
    decoded_note: set[str] = set()
    dirty = False
    decoder.start_record(chunks, decoded_note, leader09)
    for tag, body in chunks:
        if tag < "010" and tag.isdigit():
            text = decoder.decode(body, leader09, decoded_note, decoder.choose(body, tag, decoded_note))
            if decoder.normalize and has_forbidden_xml_chars(text):
                dirty = True
                text = clean_xml_text(text)
            record.add_field(pymarc.Field(tag=tag, data=text))
            continue
        if len(body) < 2:
            warnings.append(Note("read.no-indicators", tag=tag))
            body = b"  " + body
        ind = body[:2].decode("ascii", errors="replace")
        subfields = []
        parts = body[2:].split(b"\x1f")[1:]
        # One choice per field: a subfield alone ("tác giả.") is too short to judge.
        chosen = decoder.choose(b" ".join(p[1:] for p in parts), tag, decoded_note)
        for n, part in enumerate(parts):
            if not part:
                continue
            if part[0] < 128:
                code, value_bytes = chr(part[0]), part[1:]
            else:
                # Not a code but text: the code was lost and the byte is the first of a
                # letter (0xC3 of UTF-8 "É"). Keep the text whole (pymarc's permissive
                # reader does too), as $a when it opens the field.
                code, value_bytes = ("a" if n == 0 else "?"), part
            value = decoder.decode(value_bytes, leader09, decoded_note, chosen)
            if value_bytes is part:
                warnings.append(Note("read.subfield-code", tag=tag, byte=f"{part[0]:02X}",
                                     text=value[:40], code=code))
            if decoder.normalize and has_forbidden_xml_chars(value):
                dirty = True
                value = clean_xml_text(value)
            subfields.append(pymarc.Subfield(code=code, value=value))
        record.add_field(pymarc.Field(tag=tag, indicators=pymarc.Indicators(ind[0], ind[1]),
                                      subfields=subfields))
    warnings.extend(sorted(decoded_note))
    if dirty:
        warnings.append(Note("read.control-characters"))
    return record


def _fields_by_directory(data: bytes, entries: list[tuple[str, int, int]]) -> list[tuple[str, bytes]] | None:
    out = []
    for tag, length, start in entries:
        end = start + length
        if length < 1 or end > len(data) or data[end - 1] != FIELD_END:
            return None
        out.append((tag, data[start:end - 1]))
    return out


def _effective_leader09(claim: str, data: bytes, warnings: list[str]) -> str:
    """Leader/09 as the record's bytes show it: decided once per record, so a lying
    leader is reported once, not once per field."""
    if claim not in (" ", "a"):
        warnings.append(Note("read.leader09-value", value=repr(claim)))
        claim = "a"
    lie = detect_leader_lie(data, claim)
    if lie:
        warnings.append(lie)
        return "a" if claim == " " else " "
    return claim


def _decode(body: bytes, leader09: str, notes: set[str], normalize_text: bool = True) -> str:
    if leader09 == "a" or body.isascii():
        try:
            text = body.decode("utf-8")
            return normalize(text) if normalize_text else text
        except UnicodeDecodeError:
            pass
    text, warnings = decode_marc_bytes(body, leader09)
    notes.update(warnings)
    return normalize(text)


def _vietnamese_ratio(text: str) -> tuple[float, int]:
    """(share of Vietnamese syllables, count) among the words holding non-ASCII."""
    words = [w for w in text.split() if not w.isascii()]
    letters = ["".join(c for c in w if c.isalpha()) for w in words]
    good = sum(1 for w in letters if w and is_vietnamese_syllable(w))
    return (good / len(words) if words else 0.0), len(words)


def _guess(data: bytes) -> tuple[str, float]:
    """Best encoding for ``data`` among UTF-8, MARC-8 and the legacy ones, or
    "unknown" when none of them reads it as Vietnamese and it cannot be MARC-8.

    legacy.detect scores UTF-8 and the 8-bit encodings; MARC-8 is not among
    them: bytes it cannot mean rule it out, else its decoding is compared on the
    same footing, the share of words that are Vietnamese syllables (MARC-8 wins
    ties, it is what the leader says).
    """
    found = legacy.detect(data)
    if found.encoding in ("utf-8", "ascii"):
        return found.encoding, found.confidence
    if not plausible_marc8(data):
        return found.encoding, found.confidence
    marc8_ratio, words = _vietnamese_ratio(normalize(decode_marc8(data, [])))
    legacy_ratio, _ = _vietnamese_ratio(found.text)
    if found.encoding == "unknown" or marc8_ratio >= legacy_ratio:
        # Plausible MARC-8 of any language: sure as far as its bytes go.
        sure = marc8_ratio if found.encoding != "unknown" else max(marc8_ratio, found.confidence)
        return "marc-8", round(sure * (1 - 0.5 ** (words + 1)), 3)
    return found.encoding, found.confidence


def _non_ascii(chunks: list[tuple[str, bytes]]) -> bytes:
    """The values of a record's fields that hold bytes outside ASCII, subfield codes
    and indicators left out (they would glue a letter to the first word)."""
    pieces = []
    for tag, body in chunks:
        if tag < "010" and tag.isdigit():
            values = [body]
        else:
            values = [p[1:] for p in body[2:].split(b"\x1f")[1:]]
        pieces.extend(v for v in values if not v.isascii())
    return b" ".join(pieces)


class _FieldDecoder:
    """How field bytes become text: by leader/09, by a named encoding, or detected."""

    def __init__(self, source_encoding: str | None, normalize_text: bool) -> None:
        self.encoding = source_encoding
        self.normalize = normalize_text
        self.file_encoding: str | None = None  # auto: what the sample said
        self.record_encoding: str | None = None  # auto: this record's, if it differs
        self.file_note: str = ""
        # By leader/09 (no source_encoding): the legacy encoding records that cannot
        # be MARC-8 were found in, once sure, for the shorter records after them.
        self.leader_legacy: str | None = None

    def detect_file(self, raws: Iterator[bytes]) -> None:
        pieces: list[bytes] = []
        ascii_pieces: list[bytes] = []
        for raw in raws:
            data = raw[raw.find(b"\x1e", 24) + 1:]
            for p in data.replace(b"\x1f", b"\x1e").split(b"\x1e"):
                (ascii_pieces if p.isascii() else pieces).append(p[1:] if p.isascii() else p)
        if not pieces:
            viqr = legacy.detect(ascii_text) if (ascii_text := b" ".join(ascii_pieces)) else None
            if viqr is not None and viqr.encoding == "viqr" and viqr.confidence >= 0.9:
                self.file_encoding = "viqr"
                self.file_note = Note("read.file-detected", encoding="VIQR",
                                      confidence=viqr.confidence, n=_SAMPLE_RECORDS)
                return
            self.file_note = Note("read.file-ascii")
            return
        encoding, confidence = _guess(b" ".join(p[1:] for p in pieces))
        if encoding == "unknown":
            self.file_note = Note("read.file-unknown", confidence=confidence, n=_SAMPLE_RECORDS)
            return
        self.file_encoding = encoding
        self.file_note = Note("read.file-detected", encoding=encoding.upper(),
                              confidence=confidence, n=_SAMPLE_RECORDS)

    def start_record(self, chunks: list[tuple[str, bytes]], notes: set[str],
                     leader09: str = " ") -> None:
        """Auto: a record typed elsewhere can be in another legacy encoding than
        the file; its fields together say so more surely than any one of them.
        By leader/09: a record that says MARC-8 but cannot be is read as the
        legacy encoding it surely is."""
        self.record_encoding = None
        if self.encoding is None:
            if leader09 == " ":
                self._not_marc8(chunks, notes)
            return
        if self.encoding != "auto" or self.file_encoding not in legacy.ENCODINGS:
            return
        data = b" ".join(p[1:] for _, body in chunks
                         for p in body.replace(b"\x1f", b"\x1e").split(b"\x1e") if not p.isascii())
        if not data:
            return
        found = legacy.detect(data)
        if found.encoding in legacy.ENCODINGS and found.encoding != self.file_encoding \
                and found.confidence >= 0.9:
            self.record_encoding = found.encoding
            notes.add(Note("read.record-looks-like", encoding=found.encoding.upper(),
                           confidence=found.confidence, file=self.file_encoding.upper()))

    def _not_marc8(self, chunks: list[tuple[str, bytes]], notes: set[str]) -> None:
        data = _non_ascii(chunks)
        if not data:
            return
        bad, high = implausible_bytes(data)
        if plausible_marc8(data):
            return
        found = legacy.detect(data)
        sure = found.encoding in legacy.ENCODINGS and found.confidence >= 0.9
        if not sure and self.leader_legacy is None:
            return  # not sure enough: MARC-8 as the leader says (its errors are noted)
        encoding = found.encoding if sure else self.leader_legacy
        self.record_encoding = encoding
        how = (say("read.read-as", encoding=encoding.upper(), confidence=found.confidence)
               if sure else say("read.read-as-before", encoding=encoding.upper()))
        why = say("read.not-marc8", bad=bad, high=high, how=how)
        if self.leader_legacy is None:
            self.leader_legacy = encoding
            notes.add(Note("read.not-marc8-first", why=why))
        elif encoding != self.leader_legacy:
            notes.add(Note("read.not-marc8-other", why=why, before=self.leader_legacy.upper()))

    def choose(self, data: bytes, tag: str, notes: set[str]) -> str | None:
        """The encoding to read one field's bytes with (``tag``'s); None: by leader/09."""
        enc = self.encoding
        if enc is None:
            return self.record_encoding
        if enc != "auto":
            return enc
        if self.file_encoding == "viqr":
            return "viqr"
        if data.isascii():
            return None
        file_enc = self.record_encoding or self.file_encoding
        if file_enc not in legacy.ENCODINGS:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:  # valid UTF-8 with multibyte sequences is rarely an accident;
                return None  # leader/09 still decides, so that a lying leader is reported
        # In a legacy file a short field can be valid UTF-8 by accident (VISCII
        # "Đồ" is D0 D2, a Cyrillic letter in UTF-8): let the syllable model judge.
        if file_enc in legacy.ENCODINGS:  # MARC-8 is out of the question here
            found = legacy.detect(data)
            encoding, confidence = found.encoding, found.confidence
        else:
            encoding, confidence = _guess(data)
        if encoding == "utf-8" and confidence >= 0.9 and file_enc:
            notes.add(Note("read.utf8-in-legacy", where=say("read.field", tag=tag),
                           confidence=confidence, file=file_enc.upper()))
            return "utf-8"
        if file_enc in legacy.ENCODINGS:
            # Old exports mix encodings; only a sure guess overrides the file's.
            if encoding != file_enc and encoding in legacy.ENCODINGS and confidence >= 0.9:
                notes.add(Note("read.field-looks-like", where=say("read.field", tag=tag),
                               encoding=encoding.upper(), confidence=confidence,
                               file=file_enc.upper()))
                return encoding
            return file_enc
        if encoding in legacy.ENCODINGS and confidence >= 0.8:
            notes.add(Note("read.field-decoded-as", where=say("read.field", tag=tag),
                           encoding=encoding.upper(), confidence=confidence))
            return encoding
        return "marc-8" if file_enc == "marc-8" else None

    def decode(self, body: bytes, leader09: str, notes: set[str], encoding: str | None) -> str:
        """Decode one value with the encoding :meth:`choose` gave for its field."""
        if encoding is None or (body.isascii() and encoding != "viqr"):
            return _decode(body, leader09, notes, self.normalize)
        if encoding == "utf-8":
            return _decode(body, "a", notes, self.normalize)
        if encoding == "marc-8":
            return normalize(decode_marc8(body))
        return legacy.decode(body, encoding)
