"""Legacy Vietnamese 8-bit encodings: decode, encode, detect, repair.

Python ships ``cp1258`` but no codec for the encodings most old Vietnamese
catalogues were typed in:

* ``tcvn3`` – TCVN 5712:1993 (the "ABC" fonts, .VnTime). Decoded with the
  full VN1 table, a superset of VN3: lower case and Ă Â Ê Ô Ơ Ư Đ sit in
  0xA1–0xFF, the toned capitals in 0x80–0x9F, 0xB0–0xB4 and twelve C0 slots.
  Text typed in the separate capital fonts (.VnTimeH) reuses the lower-case
  codes; that cannot be told apart and decodes as lower case.
* ``vni`` – VNI-Windows: a vowel is an ASCII letter followed by one byte for
  its marks ("Haø Noäi" is "Hà Nội"); i-with-tone, ỵ, đ, ơ and ư are single bytes.
* ``viscii`` – RFC 1456 (six C0 slots hold rare capitals).
* ``vps`` – the Vietnamese Professionals Society's 8-bit code (VPSKeys): the
  Latin-1 letters stay where Latin-1 has them, the other Vietnamese letters
  fill its free slots and fourteen C0 slots.
* ``viqr`` – RFC 1456's "Vietnamese Quoted-Readable": 7-bit ASCII, each mark a
  character after its vowel ("Vie^.t Nam" is "Việt Nam", "dd" is "đ"); a
  backslash keeps the next character literal.
* ``windows-1258`` – Python's ``cp1258`` plus NFC (it uses combining tones).

A ``str`` argument means the bytes were already mis-decoded as cp1252 or
latin-1 (legacy text pasted into a UTF-8 database); it is mapped back to
bytes first. Characters that cannot have come from such a mis-decoding are
kept as they are.

    >>> decode("Hµ Néi", "tcvn3"), decode("Haø Noäi", "vni")
    ('Hà Nội', 'Hà Nội')
    >>> decode(encode("Tiếng Việt", "viscii"), "viscii"), decode(b"Tie^'ng Vie^.t", "viqr")
    ('Tiếng Việt', 'Tiếng Việt')
    >>> detect("Thư viện Quốc gia Việt Nam".encode("utf-8")).encoding
    'utf-8'
    >>> repair("Th\\xad viÖn Quèc gia ViÖt Nam")[:2]
    ('Thư viện Quốc gia Việt Nam', 'tcvn3')
"""

from __future__ import annotations

import codecs
import math
import re
import unicodedata
from dataclasses import dataclass, field

from .text import QUALITY_MARKS, TONE_MARKS, is_vietnamese_syllable, normalize

__all__ = ["ENCODINGS", "Detection", "decode", "detect", "encode", "repair", "vietnamese_letters"]

ENCODINGS = ("tcvn3", "vni", "viscii", "vps", "viqr", "windows-1258")

_ALIASES = {
    "tcvn3": "tcvn3", "tcvn": "tcvn3", "abc": "tcvn3", "vn3": "tcvn3", "tcvn5712": "tcvn3",
    "tcvn-5712": "tcvn3", "tcvn5712-1": "tcvn3", "vni": "vni", "vni-windows": "vni",
    "vni-win": "vni", "viscii": "viscii", "vps": "vps", "x-viet-vps": "vps", "viqr": "viqr",
    "windows-1258": "windows-1258",
    "cp1258": "windows-1258", "windows1258": "windows-1258",
}


def _canonical(encoding: str) -> str:
    try:
        return _ALIASES[encoding.lower().replace("_", "-")]
    except KeyError:
        raise LookupError(f"unknown legacy Vietnamese encoding: {encoding!r}") from None


# --------------------------------------------------------------------------
# Tables (transcribed from TCVN 5712:1993 VN1 and RFC 1456), 0x80–0xFF.
# --------------------------------------------------------------------------

_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"
    "éẹềểễếệìỉỄẾỒĩíịò"
    "Ổỏõóọồổỗốộờởỡớợù"
    "ỖủũúụừửữứựỳỷỹýỵỐ"
)
_TCVN3_C0 = {0x01: "Ú", 0x02: "Ụ", 0x04: "Ừ", 0x05: "Ử", 0x06: "Ữ", 0x11: "Ứ",
             0x12: "Ự", 0x13: "Ỳ", 0x14: "Ỷ", 0x15: "Ỹ", 0x16: "Ý", 0x17: "Ỵ"}

_VISCII_HIGH = (
    "ẠẮẰẶẤẦẨẬẼẸẾỀỂỄỆỐ"
    "ỒỔỖỘỢỚỜỞỊỎỌỈỦŨỤỲ"
    "Õắằặấầẩậẽẹếềểễệố"
    "ồổỗỠƠộờởịỰỨỪỬơớƯ"
    "ÀÁÂÃẢĂẳẵÈÉÊẺÌÍĨỳ"
    "ĐứÒÓÔạỷừửÙÚỹỵÝỡư"
    "àáâãảăữẫèéêẻìíĩỉ"
    "đựòóôõỏọụùúũủýợỮ"
)
_VISCII_C0 = {0x02: "Ẳ", 0x05: "Ẵ", 0x06: "Ẫ", 0x14: "Ỷ", 0x19: "Ỹ", 0x1E: "Ỵ"}


# VPS, from its published code chart. Five slots the chart leaves to Latin-1
# (0xDF ß, 0xE7 ç, 0xEE î, 0xF6 ö, 0xFC ü) keep those letters.
_VPS_HIGH = (
    "ÀẢÃẤẦẨọỗĂếềểệẮẰẲ"
    "Ế\u2018\u2019ỀỂỄỐỒỔỖýỷỵỚỜỞ"
    "\u00a0ắằẳẵặỠớÙờởỡŨỨợỪ"
    "ổỬỲỸÍÌộỈĨÓửữÒỎÕự"
    "ầÁÂấẩẫậđẻÉÊẹỉễịỹ"
    "ƯỦồốÔỏơÈừứÚũưÝẺß"
    "àáâãảạăçèéêẽìíîĩ"
    "ẴĐòóôõöƠụùúủüỶẼỳ"
)
_VPS_C0 = {0x02: "Ạ", 0x03: "Ậ", 0x04: "Ặ", 0x05: "Ẹ", 0x06: "Ệ", 0x10: "Ị", 0x11: "Ọ",
           0x12: "Ộ", 0x13: "Ợ", 0x14: "Ụ", 0x15: "Ự", 0x19: "Ỵ", 0x1C: "Ẫ", 0x1D: "Ữ"}


def _charmap(high: str, c0: dict[int, str]) -> str:
    assert len(high) == 128
    low = [chr(i) for i in range(128)]
    for code, char in c0.items():
        low[code] = char
    return "".join(low) + high


_TCVN3_DECODE = _charmap(_TCVN3_HIGH, _TCVN3_C0)
_VISCII_DECODE = _charmap(_VISCII_HIGH, _VISCII_C0)
_VPS_DECODE = _charmap(_VPS_HIGH, _VPS_C0)
_TCVN3_ENCODE = codecs.charmap_build(_TCVN3_DECODE)
_VISCII_ENCODE = codecs.charmap_build(_VISCII_DECODE)
_VPS_ENCODE = codecs.charmap_build(_VPS_DECODE)
_CHARMAPS = {"tcvn3": (_TCVN3_DECODE, _TCVN3_ENCODE), "viscii": (_VISCII_DECODE, _VISCII_ENCODE),
             "vps": (_VPS_DECODE, _VPS_ENCODE)}

# VNI-Windows. Lower-case bytes; capitals are 0x20 lower (ù→Ù, â→Â, ñ→Ñ …).
_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT = "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"
_TONES = ("", _ACUTE, _GRAVE, _HOOK, _TILDE, _DOT)
_VNI_PLAIN = dict(zip(_TONES, (None, 0xF9, 0xF8, 0xFB, 0xF5, 0xEF), strict=True))
_VNI_CIRCUMFLEX = dict(zip(_TONES, (0xE2, 0xE1, 0xE0, 0xE5, 0xE3, 0xE4), strict=True))
_VNI_BREVE = dict(zip(_TONES, (0xEA, 0xE9, 0xE8, 0xFA, 0xFC, 0xEB), strict=True))
_VNI_I = dict(zip(_TONES, (None, 0xED, 0xEC, 0xE6, 0xF3, 0xF2), strict=True))
_VNI_SINGLE = {"đ": 0xF1, "ơ": 0xF4, "ư": 0xF6, "ỵ": 0xEE}


def vietnamese_letters() -> list[str]:
    """The 134 letters of Vietnamese beyond ASCII, lower then upper case (NFC).

        >>> len(vietnamese_letters()), "ự" in vietnamese_letters()
        (134, True)
    """
    lower = ["đ"]
    for base in ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"):
        for tone in _TONES:
            letter = unicodedata.normalize("NFC", base + tone)
            if not letter.isascii():
                lower.append(letter)
    return lower + [c.upper() for c in lower]


def _vni_bytes(letter: str) -> bytes:
    """VNI-Windows bytes for one lower-case Vietnamese letter."""
    if letter in _VNI_SINGLE:
        return bytes([_VNI_SINGLE[letter]])
    decomposed = unicodedata.normalize("NFD", letter)
    tone = next((c for c in decomposed if c in TONE_MARKS), "")
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    if base == "i":
        return bytes([_VNI_I[tone]])
    if base in ("ơ", "ư"):
        lead, table = _VNI_SINGLE[base], _VNI_PLAIN
    elif base in ("â", "ê", "ô"):
        lead, table = ord(unicodedata.normalize("NFD", base)[0]), _VNI_CIRCUMFLEX
    elif base == "ă":
        lead, table = ord("a"), _VNI_BREVE
    else:
        lead, table = ord(base), _VNI_PLAIN
    mark = table[tone]
    return bytes([lead]) if mark is None else bytes([lead, mark])


def _build_vni() -> tuple[dict[str, bytes], dict[str, str]]:
    encode_map: dict[str, bytes] = {}
    decode_map: dict[str, str] = {}
    for letter in vietnamese_letters()[:67]:
        low = _vni_bytes(letter)
        up = bytes(b - 0x20 if b >= 0xC0 else ord(chr(b).upper()) for b in low)
        encode_map[letter] = low
        encode_map[letter.upper()] = up
        decode_map[low.decode("latin-1")] = letter
        decode_map[up.decode("latin-1")] = letter.upper()
        if len(low) == 2:  # tolerate mixed-case mark bytes; the base letter decides
            decode_map[low[:1].decode("latin-1") + up[1:].decode("latin-1")] = letter
            decode_map[up[:1].decode("latin-1") + low[1:].decode("latin-1")] = letter.upper()
    return encode_map, decode_map


_VNI_ENCODE, _VNI_DECODE = _build_vni()
_VNI_MARK_CHARS = "".join(sorted({k[1] for k in _VNI_DECODE if len(k) == 2}))
_VNI_SINGLE_CHARS = "".join(sorted(k for k in _VNI_DECODE if len(k) == 1))
_VNI_RE = re.compile(f"[aAeEoOuUyYôÔöÖ][{_VNI_MARK_CHARS}]|[{_VNI_SINGLE_CHARS}]")


def _vni_sub(match: re.Match[str]) -> str:
    chunk = match.group()
    found = _VNI_DECODE.get(chunk)
    if found is not None:
        return found
    # A base letter followed by a mark byte that does not fit it ("uâ").
    return _VNI_DECODE.get(chunk[0], chunk[0]) + chunk[1]


# --------------------------------------------------------------------------
# VIQR (RFC 1456): marks typed after the vowel, in the order quality then tone
# --------------------------------------------------------------------------

_VIQR_QUALITY = {"(": "\u0306", "^": "\u0302", "+": "\u031b"}
_VIQR_TONE = {"'": _ACUTE, "`": _GRAVE, "?": _HOOK, "~": _TILDE, ".": _DOT}
_VIQR_MARK = {**_VIQR_QUALITY, **_VIQR_TONE}
_VIQR_CHAR = {mark: char for char, mark in _VIQR_MARK.items()}
# Which vowels take which quality mark: ă â ê ô ơ ư.
_VIQR_TAKES = {"(": "aA", "^": "aAeEoO", "+": "oOuU"}
_VIQR_WORD = re.compile(r"\\.|[dD][dD]|[A-Za-z][A-Za-z(^+'`?~.\\]*")
_VIQR_HINT = re.compile(r"[aeiouyAEIOUY][(^+]|[aeiouyAEIOUY][(^+]?['`?~.][A-Za-z]|[dD][dD][aeiouyAEIOUY]")
_VOWEL_LETTERS = frozenset("aeiouyAEIOUY")


def _viqr_word(chunk: str, final: bool) -> str:
    """One run of letters and marks, decoded; with ``final`` a last ``.``/``?`` is a
    mark only if the word then is a syllable (else it ends the sentence)."""
    out: list[str] = []
    i, n = 0, len(chunk)
    while i < n:
        char = chunk[i]
        if char == "\\" and i + 1 < n:
            out.append(chunk[i + 1])
            i += 2
            continue
        if char in "dD" and i + 1 < n and chunk[i + 1] in "dD":
            out.append("Đ" if char == "D" else "đ")
            i += 2
            continue
        out.append(char)
        i += 1
        if char not in _VOWEL_LETTERS:
            continue
        if i < n and chunk[i] in _VIQR_QUALITY and char in _VIQR_TAKES[chunk[i]]:
            out.append(_VIQR_QUALITY[chunk[i]])
            i += 1
        if i < n and chunk[i] in _VIQR_TONE:
            out.append(_VIQR_TONE[chunk[i]])
            i += 1
    word = unicodedata.normalize("NFC", "".join(out))
    if final and chunk[-1] in ".?" and len(chunk) > 1 and chunk[-2] != "\\" \
            and not is_vietnamese_syllable(word):
        # "Ha` No^.i." ends a sentence, "a(?" is ẳ: the mark is punctuation only
        # when the word is a syllable without it and not with it.
        shorter = _viqr_word(chunk[:-1], False)
        if is_vietnamese_syllable(shorter):
            return shorter + chunk[-1]
    return word


def _decode_viqr(text: str) -> str:
    return _VIQR_WORD.sub(lambda m: _viqr_word(m.group(), True) if len(m.group()) > 1
                          or m.group().isalpha() else m.group()[-1], text)


def _encode_viqr(text: str) -> str:
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char in "đĐ":
            out.append("dd" if char == "đ" else "DD")
            continue
        parts = unicodedata.normalize("NFD", char)
        base, marks = parts[0], parts[1:]
        if char in _VIQR_MARK or char == "\\":
            # A literal mark after a letter would read as a mark: escape it.
            if char == "\\" or (out and out[-1][-1:].isalpha()) or (out and out[-1][-1:] in _VIQR_MARK):
                out.append("\\" + char)
                continue
        if base.isascii() and marks and all(m in _VIQR_CHAR for m in marks):
            quality = "".join(_VIQR_CHAR[m] for m in marks if m in QUALITY_MARKS)
            tone = "".join(_VIQR_CHAR[m] for m in marks if m in TONE_MARKS)
            out.append(base + quality + tone)
        else:
            out.append(char)
    return "".join(out)


# --------------------------------------------------------------------------
# Mis-decoded str ⇄ bytes
# --------------------------------------------------------------------------

_CP1252_ONLY = {}
for _byte in range(0x80, 0xA0):
    try:
        _CP1252_ONLY[ord(bytes([_byte]).decode("cp1252"))] = chr(_byte)
    except UnicodeDecodeError:
        pass
del _byte
_MOJIBAKE_RUN = re.compile("[\x00-\xff" + "".join(map(chr, _CP1252_ONLY)) + "]+")


def _as_bytes(text: str) -> bytes | None:
    """Undo a cp1252/latin-1 mis-decoding; None if ``text`` cannot come from one."""
    try:
        return text.translate(_CP1252_ONLY).encode("latin-1")
    except UnicodeEncodeError:
        return None


# --------------------------------------------------------------------------
# decode / encode
# --------------------------------------------------------------------------


def _decode_bytes(data: bytes, encoding: str) -> str:
    if encoding in _CHARMAPS:
        text = codecs.charmap_decode(data, "strict", _CHARMAPS[encoding][0])[0]
    elif encoding == "viqr":
        text = _decode_viqr(data.decode("latin-1"))
    elif encoding == "vni":
        text = _VNI_RE.sub(_vni_sub, data.decode("latin-1"))
    else:
        text = data.decode("cp1258", errors="replace")
    return normalize(text)


def decode(data: bytes | str, encoding: str) -> str:
    """Decode legacy Vietnamese ``data`` (bytes, or a cp1252/latin-1 mis-decoded str).

        >>> decode(b"Vi\\xd6t Nam", "tcvn3"), decode("Vieät Nam", "vni")
        ('Việt Nam', 'Việt Nam')
    """
    enc = _canonical(encoding)
    if isinstance(data, bytes):
        return _decode_bytes(data, enc)
    return normalize(_MOJIBAKE_RUN.sub(
        lambda m: _decode_bytes(_as_bytes(m.group()) or b"", enc), data))


def _encode_cp1258(text: str, errors: str) -> bytes:
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", char)
        tone = "".join(c for c in decomposed if c in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
        out += (base + tone).encode("cp1258", errors=errors)
    return bytes(out)


def encode(text: str, encoding: str, errors: str = "strict") -> bytes:
    """Encode ``text`` in a legacy Vietnamese encoding (mainly for tests and exports).

    ``errors`` is "strict" (raise ``UnicodeEncodeError``) or "replace" (``?``).

        >>> encode("Hà Nội", "tcvn3"), encode("Hà Nội", "vni")
        (b'H\\xb5 N\\xe9i', b'Ha\\xf8 No\\xe4i')
    """
    enc = _canonical(encoding)
    text = normalize(text)
    if enc in _CHARMAPS:
        return codecs.charmap_encode(text, errors, _CHARMAPS[enc][1])[0]
    if enc == "viqr":
        return _encode_viqr(text).encode("ascii", errors=errors)
    if enc == "windows-1258":
        return _encode_cp1258(text, errors)
    out = bytearray()
    for pos, char in enumerate(text):
        if char.isascii():
            out.append(ord(char))
        elif char in _VNI_ENCODE:
            out += _VNI_ENCODE[char]
        elif errors == "replace":
            out.append(ord("?"))
        else:
            raise UnicodeEncodeError("vni", text, pos, pos + 1, "not a VNI character")
    return bytes(out)


# --------------------------------------------------------------------------
# detect / repair
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """Best guess at an encoding.

    ``encoding`` is one of "utf-8", "tcvn3", "vni", "viscii", "vps", "viqr",
    "windows-1258", "ascii", "unknown" (no candidate reads as Vietnamese: the
    text is in another language, or in an encoding not known here), or – for
    ``str`` input only – "unicode" (the text is already right). ``confidence``
    is in 0..1; ``scores`` holds each candidate's posterior probability from the
    syllable model ("none" is the hypothesis that no decoding is Vietnamese);
    ``text`` is the decoding (for "unknown", the likeliest one).
    """

    encoding: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    text: str = ""


_SPLIT = re.compile(r"[\s!-/:-@\[-`{-~]+")
_PLAIN_ASCII = re.compile(rb"[\t\n\r\x0c\x20-\x7e]*")


def _word_counts(text: str) -> tuple[int, int]:
    """(Vietnamese-syllable, other) counts over the words holding non-ASCII."""
    good = total = 0
    for token in _SPLIT.split(text):
        if not token or token.isascii():
            continue
        total += 1
        if token.isalpha() and is_vietnamese_syllable(token):
            good += 1
    return good, total - good


def _ascii_detection(length: int) -> Detection:
    # ASCII decodes the same in every candidate; the label tells little.
    confidence = round(min(0.9, length / 100), 3)
    return Detection("ascii", confidence, {"ascii": 1.0})


# Likelihood model: in the right decoding of Vietnamese a non-ASCII word is a
# Vietnamese syllable with probability ~0.95; in a wrong decoding, or in text
# that is not Vietnamese at all, with ~0.2 (the syllable checker's spelling,
# tone-placement and case rules turn most wrong decodings away). "none" — no
# candidate is Vietnamese — is a hypothesis of its own, so that Cyrillic or
# French bytes are not called TCVN3 because one decoding did least badly.
_RIGHT, _WRONG = 0.95, 0.2
_GOOD_RATIO = math.log(_RIGHT / _WRONG)
_BAD_RATIO = math.log((1 - _RIGHT) / (1 - _WRONG))
_NONE = "none"


def _judge(candidates: dict[str, str], prior: dict[str, float]) -> Detection:
    """Posterior over candidates and "none"; confidence is the winner's posterior,
    damped for few words."""
    logs: dict[str, float] = {_NONE: 0.0}
    words: dict[str, int] = {}
    for name, text in candidates.items():
        good, bad = _word_counts(text)
        logs[name] = good * _GOOD_RATIO + bad * _BAD_RATIO + math.log(prior.get(name, 1.0))
        words[name] = good + bad
    top = max(logs.values())
    weights = {name: math.exp(value - top) for name, value in logs.items()}
    total = sum(weights.values())
    scores = {name: weight / total for name, weight in weights.items()}
    likeliest = max(candidates, key=lambda n: scores[n])
    damping = 1 - 0.5 ** (max(words.values(), default=0) + 1)
    rounded = {n: round(v, 3) for n, v in scores.items()}
    if scores[_NONE] > scores[likeliest]:
        if "utf-8" in candidates:
            # Valid UTF-8 with multibyte sequences, in another language than Vietnamese.
            sure = 1 - sum(v for n, v in scores.items() if n not in (_NONE, "utf-8"))
            return Detection("utf-8", round(sure * damping, 3), rounded, candidates["utf-8"])
        return Detection("unknown", round(scores[_NONE] * damping, 3), rounded,
                         candidates[likeliest])
    # Candidates that decode to the same text are not rivals.
    posterior = sum(v for n, v in scores.items()
                    if n != _NONE and candidates[n] == candidates[likeliest])
    confidence = posterior * (1 - 0.5 ** (words[likeliest] + 1))
    return Detection(likeliest, round(confidence, 3), rounded, candidates[likeliest])


def _viqr_detection(text: str, length: int) -> Detection:
    """Plain ASCII: VIQR if its marks make Vietnamese syllables, else "ascii"."""
    if _VIQR_HINT.search(text) is None:
        return _ascii_detection(length)
    found = _judge({"viqr": normalize(_decode_viqr(text))}, {})
    if found.encoding == "viqr":
        return found
    return _ascii_detection(length)


def detect(data: bytes | str) -> Detection:
    """Guess the encoding of ``data`` by how Vietnamese each decoding reads.

    For bytes the candidates are utf-8, tcvn3, vni, viscii, vps and windows-1258
    (and viqr for plain ASCII). For a str they are the text as it stands
    ("unicode") and the text mapped back through cp1252/latin-1 then decoded with
    each candidate. Valid UTF-8 with multibyte sequences gets a strong prior. Each
    candidate is scored by how many of its non-ASCII words are Vietnamese
    syllables (a likelihood ratio per word, see
    :func:`~thuvien_interop.crosswalk.text.is_vietnamese_syllable`), beside the
    hypothesis that none of them is Vietnamese; the scores are normalised to a
    posterior, and the confidence is the winner's posterior damped by
    ``1 - 0.5**(words+1)`` so that one or two words never give certainty. Text
    no candidate reads as Vietnamese is "unknown" (valid UTF-8 stays "utf-8").
    Pure ASCII gives "ascii" with a confidence that grows with length (0.2 for
    20 characters), since every candidate decodes it the same way — unless its
    VIQR marks make Vietnamese syllables.

        >>> d = detect("Lịch sử Việt Nam thời kỳ cận đại".encode())
        >>> d.encoding, d.confidence >= 0.9
        ('utf-8', True)
        >>> detect(b"Ha Noi").confidence < 0.2
        True
        >>> detect("Война и мир, Москва, Художественная литература".encode("cp1251")).encoding
        'unknown'
        >>> detect(b"Li.ch su+? Vie^.t Nam tho+`i ky` ca^.n dda.i").encoding
        'viqr'
    """
    if isinstance(data, str):
        raw = _as_bytes(data)
        if raw is None:
            return Detection("unicode", 1.0, {"unicode": 1.0}, normalize(data))
        if _PLAIN_ASCII.fullmatch(raw):
            return _viqr_detection(data, len(raw))
        candidates = {"unicode": normalize(data)}
        prior = {"unicode": 3.0}
    else:
        raw = data
        if _PLAIN_ASCII.fullmatch(raw):
            return _viqr_detection(raw.decode("ascii"), len(raw))
        candidates, prior = {}, {}
    try:
        as_utf8 = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # valid UTF-8 with multibyte sequences is rare by accident
        candidates["utf-8"] = normalize(as_utf8)
        prior["utf-8"] = 1000.0 if isinstance(data, bytes) else 100.0
    for enc in ENCODINGS:
        if enc != "viqr":  # 7-bit: what it would change, the others leave as it is
            candidates[enc] = _decode_bytes(raw, enc)
    found = _judge(candidates, prior)
    if isinstance(data, str) and found.encoding == "unknown":
        # Text that no decoding makes Vietnamese is best left as it stands.
        return Detection("unicode", found.confidence, found.scores, normalize(data))
    return found


def repair(text: str, min_confidence: float = 0.5) -> tuple[str, str | None, float]:
    """Repair legacy-encoding mojibake in one ``str`` field.

    Returns ``(text, encoding, confidence)``; ``encoding`` is None when the
    text was left alone (already right, ASCII, or no guess reached
    ``min_confidence``). "utf-8" means UTF-8 bytes that were read as cp1252.

        >>> repair("Haø Noäi laø thuû ñoâ")[:2]
        ('Hà Nội là thủ đô', 'vni')
        >>> repair("Hà Nội")[:2]
        ('Hà Nội', None)
    """
    found = detect(text)
    if found.encoding in ("unicode", "ascii", "unknown") or found.confidence < min_confidence:
        return text, None, found.confidence
    return found.text, found.encoding, found.confidence
