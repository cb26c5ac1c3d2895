"""MARC-8 ⇄ Unicode, and the leader/09 sanity check.

MARC-8 is ISO 2022-like: G0 (0x21–0x7E) starts as ASCII, G1 (0xA1–0xFE) as
ANSEL (Extended Latin); escape sequences switch either register to Greek,
Cyrillic (basic in G0, extended in G1), Hebrew, Arabic (basic/extended),
EACC (CJK, three bytes per character) or – the MARC-only "technique 1" – the
Greek-symbol, subscript and superscript sets. Combining marks *precede*
their base in MARC-8 and follow it in Unicode; the result is then NFC'd
(with :func:`thuvien_interop.crosswalk.text.normalize`, which also fixes a
tone typed before the circumflex, a frequent Vietnamese cataloguing habit).

Character data comes from pymarc's ``marc8_mapping`` tables (our dependency),
checked against the Library of Congress code tables, with these corrections:

* ANSEL is designated as ``ESC ) ! E`` / ``ESC ( ! E`` (LoC: the final is the
  two bytes "!E"); the bare "E" form is accepted too.
* Ligature and double-tilde halves (0xEB/0xEC, 0xFA/0xFB) map to the single
  spanning marks U+0361 / U+0360 placed after the first character, the LoC
  preferred mapping since MARBI 2004-08 (pymarc gives the U+FE20–FE23 halves).
  On export both forms are accepted.
* NSB/NSE (0x88/0x89) map to U+0098/U+009C, ZWJ/ZWNJ (0x8D/0x8E) to U+200D/U+200C.

MARC-8 is closed: there is no capital sharp s (ẞ) and no Vietnamese letter
with a precomposed tone – those are built from ANSEL marks (acute 0xE2,
grave 0xE1, hook 0xE0, tilde 0xE4, dot below 0xF2, circumflex 0xE3, breve
0xE6) over a base, with ơ ư Ơ Ư đ Đ precomposed at 0xBC 0xBD 0xAC 0xAD 0xB3 0xA3.
On export, characters outside the repertoire become ``&#xXXXX;`` numeric
character references (the MARC 21 lossless technique).

    >>> decode_marc8(b"H\\xe1a N\\xf2\\xe3oi")
    'Hà Nội'
    >>> encode_marc8("Hà Nội")
    b'H\\xe1a N\\xf2\\xe3oi'
    >>> decode_marc8(b"\\x1b(N\\x70\\x52\\x49\\x57\\x45\\x54\\x1b(B")
    'Привет'
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pymarc import marc8_mapping as _pymarc_tables

from ..wording import Note
from .text import normalize

__all__ = ["decode_marc8", "decode_marc_bytes", "detect_leader_lie", "encode_marc8",
           "implausible_bytes", "plausible_marc8"]

ESC = 0x1B
ASCII, ANSEL = 0x42, 0x45
EACC = 0x31
GREEK_SYMBOLS, SUBSCRIPT, SUPERSCRIPT = 0x67, 0x62, 0x70
_TECHNIQUE_1 = frozenset({GREEK_SYMBOLS, SUBSCRIPT, SUPERSCRIPT})
_RETURN_TO_ASCII = 0x73  # ESC s

SET_NAMES = {
    ASCII: "ASCII", ANSEL: "ANSEL (Extended Latin)", 0x4E: "Basic Cyrillic",
    0x51: "Extended Cyrillic", 0x53: "Basic Greek", 0x32: "Basic Hebrew",
    0x33: "Basic Arabic", 0x34: "Extended Arabic", GREEK_SYMBOLS: "Greek symbols",
    SUBSCRIPT: "Subscripts", SUPERSCRIPT: "Superscripts", EACC: "EACC (CJK)",
}
# Where each set normally lives when we write it, in order of preference.
_HOME_REGISTER = {ASCII: 0, ANSEL: 1, 0x4E: 0, 0x51: 1, 0x53: 0, 0x32: 0, 0x33: 0,
                  0x34: 1, GREEK_SYMBOLS: 0, SUBSCRIPT: 0, SUPERSCRIPT: 0, EACC: 0}

_C1 = {0x88: "\u0098", 0x89: "\u009c", 0x8D: "\u200d", 0x8E: "\u200c"}
_LIGATURE_FIRST = {"\ufe20": "\u0361", "\ufe22": "\u0360"}  # first half → spanning mark
_LIGATURE_SECOND = {"\ufe21", "\ufe23"}  # dropped: the spanning mark already covers it
_SPANNING = {"\u0361": ("\ufe20", "\ufe21"), "\u0360": ("\ufe22", "\ufe23")}

_NCR = re.compile(r"&#x([0-9A-Fa-f]{4,6});")
Entry = tuple[str, bool]  # (character, is combining)


def _single_byte_tables() -> dict[int, dict[int, Entry]]:
    tables: dict[int, dict[int, Entry]] = {}
    for final, table in _pymarc_tables.CODESETS.items():
        if final == EACC:
            continue
        tables[final] = {code & 0x7F: (chr(uni), bool(comb)) for code, (uni, comb) in table.items()
                         if 0x21 <= code & 0x7F <= 0x7E}
    return tables


_TABLES = _single_byte_tables()


@lru_cache(maxsize=1)
def _eacc() -> dict[int, Entry]:
    # Built when a record first uses EACC (East Asian text), not at import: its
    # 16,000 entries were a tenth of the start-up of a command that reads MARC.
    table = {code: (chr(uni), bool(comb)) for code, (uni, comb) in _pymarc_tables.CODESETS[EACC].items()}
    for code, uni in _pymarc_tables.ODD_MAP.items():
        table.setdefault(code, (chr(uni), False))
    return table


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _parse_escape(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """Parse the escape at ``pos``: (position after it, register 0/1, final) or None."""
    end = len(data)
    j = pos + 1
    if j >= end:
        return None
    byte = data[j]
    if byte in _TECHNIQUE_1:
        return j + 1, 0, byte
    if byte == _RETURN_TO_ASCII:
        return j + 1, 0, ASCII
    register = 0
    if byte == 0x24:  # "$": multibyte set
        j += 1
        if j < end and data[j] in (0x28, 0x2C):
            j += 1
        elif j < end and data[j] in (0x29, 0x2D):
            register, j = 1, j + 1
    elif byte in (0x28, 0x2C):
        j += 1
    elif byte in (0x29, 0x2D):
        register, j = 1, j + 1
    else:
        return None
    if j < end and data[j] == 0x21:  # "!E" for ANSEL
        j += 1
    if j >= end:
        return None
    return j + 1, register, data[j]


def decode_marc8(data: bytes, warnings: list[str] | None = None) -> str:
    """Decode MARC-8 field data to NFC Unicode.

    Undecodable bytes become U+FFFD; a message for each goes to ``warnings``
    when a list is given. Every call starts in the default state (G0 ASCII,
    G1 ANSEL), as each MARC field does. ``&#xXXXX;`` references (the lossless
    export of characters outside MARC-8) are turned back into characters.

        >>> decode_marc8(b"\\xe2\\xe3eXa\\xb3\\xe2\\xbco")  # tone typed before circumflex
        'ếXađớo'
        >>> decode_marc8(b"\\x1b(S\\x61\\x62\\x1b(B")
        'αβ'
    """
    if data.isascii() and ESC not in data and b"&#x" not in data:
        return data.decode("ascii")
    notes: list[str] = [] if warnings is None else warnings
    out: list[str] = []
    marks: list[str] = []
    g0, g1 = ASCII, ANSEL
    pos, end = 0, len(data)

    def put(char: str) -> None:
        out.append(char)
        if marks:
            out.extend(marks)
            marks.clear()

    while pos < end:
        byte = data[pos]
        if byte == ESC:
            parsed = _parse_escape(data, pos)
            if parsed is None or (parsed[2] not in _TABLES and parsed[2] != EACC):
                notes.append(Note("read.marc8-escape", pos=pos, sequence=repr(data[pos:pos + 4])))
                put("\ufffd")
                pos += 1 if parsed is None else parsed[0] - pos
                continue
            pos, register, final = parsed
            if register == 0:
                g0 = final
            else:
                g1 = final
            continue
        if byte <= 0x20 or byte == 0x7F:
            put(chr(byte))
            pos += 1
            continue
        if 0x80 <= byte < 0xA0:
            if byte in _C1:
                put(_C1[byte])
            else:
                notes.append(Note("read.marc8-control", pos=pos, byte=f"{byte:02X}"))
                put("\ufffd")
            pos += 1
            continue
        charset = g0 if byte < 0x80 else g1
        entry: Entry | None
        if charset == EACC:
            chunk = data[pos:pos + 3]
            pos += 3
            if len(chunk) < 3:
                entry = None
            else:
                entry = _eacc().get(((chunk[0] & 0x7F) << 16) | ((chunk[1] & 0x7F) << 8)
                                  | (chunk[2] & 0x7F))
        else:
            entry = _TABLES[charset].get(byte & 0x7F)
            pos += 1
        if entry is None:
            notes.append(Note("read.marc8-no-character", pos=pos - 1, byte=f"{byte:02X}",
                              set=SET_NAMES[charset]))
            put("\ufffd")
            continue
        char, combining = entry
        if char in _LIGATURE_SECOND:
            continue
        if combining:
            marks.append(_LIGATURE_FIRST.get(char, char))
        else:
            put(char)
    if marks:
        notes.append(Note("read.marc8-lone-mark"))
        out.extend(marks)
    text = "".join(out)
    if "&#x" in text:
        text = _NCR.sub(lambda m: chr(int(m.group(1), 16)), text)
    return normalize(text)


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------

Code = tuple[int, int, bool]  # (set final, 7-bit code or 24-bit EACC code, combining)


@lru_cache(maxsize=1)
def _reverse() -> dict[str, list[Code]]:
    rev: dict[str, list[Code]] = {}
    for final in _HOME_REGISTER:
        if final == EACC:
            continue
        for code, (char, combining) in sorted(_TABLES[final].items()):
            rev.setdefault(char, []).append((final, code, combining))
    for code, (char, combining) in sorted(_eacc().items()):
        if code in _pymarc_tables.ODD_MAP:
            continue
        rev.setdefault(char, []).append((EACC, code, combining))
    return rev


def _split(char: str) -> tuple[str, list[str]] | None:
    """A representable base plus marks for ``char``, decomposing only as far as needed."""
    if char in _reverse():
        return char, []
    decomposition = unicodedata.decomposition(char)
    if not decomposition or decomposition.startswith("<"):
        return None
    parts = [chr(int(h, 16)) for h in decomposition.split()]
    head = _split(parts[0])
    if head is None:
        return None
    return head[0], head[1] + parts[1:]


def _ncr(text: str) -> bytes:
    return "".join(f"&#x{ord(c):04X};" for c in text).encode("ascii")


class _Writer:
    """Tracks G0/G1 and emits designations only when needed."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.g0, self.g1 = ASCII, ANSEL

    def _choose(self, options: list[Code], prefer: int | None) -> Code:
        for option in options:
            if option[0] == prefer:
                return option
        for option in options:
            if option[0] in (self.g0, self.g1):
                return option
        return options[0]

    def _designate(self, final: int) -> None:
        if final in (self.g0, self.g1):
            return
        register = _HOME_REGISTER[final]
        if final in _TECHNIQUE_1:
            self.out += bytes([ESC, final])
        elif final == ASCII and self.g0 in _TECHNIQUE_1:
            self.out += bytes([ESC, _RETURN_TO_ASCII])
        elif final == EACC:
            self.out += b"\x1b$1"
        else:
            intermediate = b"!" if final == ANSEL else b""
            self.out += bytes([ESC, 0x28 + register]) + intermediate + bytes([final])
        if register == 0:
            self.g0 = final
        else:
            self.g1 = final

    def put(self, options: list[Code], prefer: int | None = None) -> int:
        final, code, _ = self._choose(options, prefer)
        self._designate(final)
        if final == EACC:
            self.out += bytes([code >> 16, (code >> 8) & 0x7F, code & 0x7F])
        else:
            self.out.append(code | (0x80 if final == self.g1 and final != self.g0 else 0))
        return final

    def finish(self) -> bytes:
        self._designate(ASCII)
        self._designate(ANSEL)
        return bytes(self.out)


def _clusters(text: str) -> list[str]:
    clusters: list[str] = []
    for char in text:
        if clusters and unicodedata.combining(char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def encode_marc8(text: str) -> bytes:
    """Encode ``text`` as MARC-8 field data, ending in the default state.

    Latin uses ASCII + ANSEL (marks written before their base, in Unicode
    order); Greek, Cyrillic, Hebrew, Arabic, CJK, sub/superscripts go through
    escape sequences. Anything outside MARC-8 is written as ``&#xXXXX;``.

        >>> encode_marc8("Đường")
        b'\\xa3\\xbd\\xe1\\xbcng'
        >>> encode_marc8("ẞ")
        b'&#x1E9E;'
    """
    rev = _reverse()
    writer = _Writer()
    second_half: str | None = None
    # Second halves are written automatically after a first half.
    text = normalize(text).replace("\ufe21", "").replace("\ufe23", "")
    for cluster in _clusters(text):
        if cluster <= " ":  # space and controls are the same in every G0 set
            writer.out += cluster.encode("ascii")
            continue
        split = _split(cluster[0])
        if split is None and unicodedata.combining(cluster[0]):
            split = ("", [cluster[0]])  # a mark with no base
        if split is None:
            writer.out += _ncr(cluster)
            continue
        base, marks = split[0], split[1] + list(cluster[1:])
        marks = [_SPANNING.get(m, (m,))[0] for m in marks]
        if not all(m in rev for m in marks):
            writer.out += _ncr(cluster)
            continue
        if second_half is not None and base:
            writer.put(rev[second_half], ANSEL)
            second_half = None
        base_set = None
        if base:
            options = rev[base]
            base_set = next((o[0] for o in options if o[0] in (writer.g0, writer.g1)),
                            options[0][0])
        for mark in marks:
            writer.put(rev[mark], base_set)
            if mark in ("\ufe20", "\ufe22"):
                second_half = "\ufe21" if mark == "\ufe20" else "\ufe23"
        if base:
            writer.put(rev[base])
    return writer.finish()


# --------------------------------------------------------------------------
# Leader/09
# --------------------------------------------------------------------------


def _looks_like_ansel(data: bytes) -> bool:
    """ANSEL's tell: a combining mark (0xE0–0xFE) directly before an ASCII letter,
    or ANSEL special letters (0xA1–0xC8) between ASCII letters."""
    for i in range(len(data) - 1):
        byte, nxt = data[i], data[i + 1]
        if 0xE0 <= byte <= 0xFE and (0x41 <= nxt <= 0x5A or 0x61 <= nxt <= 0x7A):
            return True
        if 0xA1 <= byte <= 0xC8 and i and chr(data[i - 1]).isalpha() and chr(nxt).isalpha():
            return True
    return False


def implausible_bytes(data: bytes) -> tuple[int, int]:
    """(bytes MARC-8 cannot mean, bytes outside ASCII) in field data read as MARC-8.

    MARC-8 puts a combining mark (0xE0–0xFE) *before* its letter, so a mark
    before a space, a digit, punctuation or the end of the data cannot be
    MARC-8; nor can a byte ANSEL leaves undefined (0xC9–0xDF are mostly holes,
    0x80–0x9F controls but four). Legacy Vietnamese 8-bit text, whose toned
    vowels end most words, fails at once; real MARC-8 almost never does.
    Data with escape sequences is left to the decoder (0, 0).

        >>> implausible_bytes(b"H\\xe1a N\\xf2\\xe3oi")         # MARC-8 "Hà Nội"
        (0, 3)
        >>> implausible_bytes(b"H\\xe0 N\\xb5i")                # VISCII "Hà Nội"
        (1, 2)
    """
    if data.isascii() or ESC in data:
        return 0, 0
    return (len(_IMPLAUSIBLE.findall(data)),
            len(data) - len(data.translate(None, _HIGH_BYTES)))


def _implausible_pattern() -> re.Pattern[bytes]:
    """What :func:`implausible_bytes` counts, as one pattern (a scan in C, about
    twice as fast as a loop in Python over a Vietnamese field): a byte ANSEL leaves
    undefined, or a combining mark followed by neither a letter nor another byte
    outside ASCII (so also by the end of the data)."""
    ansel = _TABLES[ANSEL]
    undefined = [b for b in range(0x80, 0x100) if (b not in _C1 if b < 0xA0
                                                   else ansel.get(b & 0x7F) is None)]
    marks = [b for b in range(0xA0, 0x100) if (e := ansel.get(b & 0x7F)) is not None and e[1]]

    def one_of(values: list[int]) -> bytes:
        return b"[" + b"".join(re.escape(bytes([v])) for v in values) + b"]"

    return re.compile(one_of(undefined) + b"|" + one_of(marks) + rb"(?![A-Za-z\x80-\xff])")


_IMPLAUSIBLE = _implausible_pattern()
_HIGH_BYTES = bytes(range(0x80, 0x100))


def plausible_marc8(data: bytes) -> bool:
    """True unless a tenth or more of ``data``'s bytes outside ASCII cannot be MARC-8
    (see :func:`implausible_bytes`); a stray byte in a real MARC-8 record is not
    enough to doubt it.

        >>> plausible_marc8(b"H\\xe1a N\\xf2\\xe3oi"), plausible_marc8(b"H\\xe0 N\\xb5i")
        (True, False)
    """
    bad, high = implausible_bytes(data)
    return bad == 0 or bad * 10 < high


def detect_leader_lie(raw_record_bytes: bytes, leader09: str) -> str | None:
    """Say what is wrong if leader/09 misdescribes the encoding of ``raw_record_bytes``.

    leader/09 " " (MARC-8) is a lie when the data is valid UTF-8 holding
    multibyte sequences and no MARC-8 escapes; "a" (UTF-8) is a lie when the
    data is not valid UTF-8 and looks like ANSEL. Otherwise None.

        >>> detect_leader_lie("Hà Nội".encode(), " ") is not None
        True
        >>> detect_leader_lie(b"H\\xe1a N\\xf2\\xe3oi", "a") is not None
        True
        >>> detect_leader_lie(b"H\\xe1a N\\xf2\\xe3oi", " ") is None
        True
    """
    if raw_record_bytes.isascii():
        return None
    claim = leader09 or " "
    if claim == " ":
        if ESC in raw_record_bytes:
            return None
        try:
            raw_record_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return None
        high = sum(1 for b in raw_record_bytes if b >= 0xC0)
        return Note("read.lie-utf8", n=high)
    if claim == "a":
        try:
            raw_record_bytes.decode("utf-8")
        except UnicodeDecodeError as error:
            if ESC in raw_record_bytes or _looks_like_ansel(raw_record_bytes):
                return Note("read.lie-marc8", n=error.start)
    return None


def decode_marc_bytes(data: bytes, leader09: str) -> tuple[str, list[str]]:
    """Decode field data by leader/09, overriding a lying leader; returns (text, warnings).

        >>> decode_marc_bytes("Hà Nội".encode(), " ")[0]
        'Hà Nội'
        >>> text, warnings = decode_marc_bytes(b"ok \\xff", "a")
        >>> text, len(warnings)
        ('ok \\ufffd', 1)
    """
    warnings: list[str] = []
    claim = leader09 or " "
    if claim not in (" ", "a"):
        warnings.append(Note("read.leader09-value", value=repr(claim)))
        claim = "a"
    lie = detect_leader_lie(data, claim)
    if lie:
        warnings.append(lie)
        claim = "a" if claim == " " else " "
    if claim == " ":
        return decode_marc8(data, warnings), warnings
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        warnings.append(Note("read.invalid-utf8", n=error.start))
        text = data.decode("utf-8", errors="replace")
    return normalize(text), warnings
