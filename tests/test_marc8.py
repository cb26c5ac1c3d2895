"""Tests for crosswalk.marc8: MARC-8 ⇄ Unicode and leader/09 checks."""

from __future__ import annotations

import pytest

from thuvien_interop.crosswalk.legacy import vietnamese_letters
from thuvien_interop.crosswalk.marc8 import (
    decode_marc8,
    decode_marc_bytes,
    detect_leader_lie,
    encode_marc8,
)

# ANSEL: hook above E0, grave E1, acute E2, circumflex E3, tilde E4, breve E6,
# dot below F2; ơ BC, ư BD, Ơ AC, Ư AD, đ B3, Đ A3.
VIETNAMESE_MARC8 = [
    (b"H\xe1a N\xf2\xe3oi", "Hà Nội"),
    (b"\xa3\xf2ai h\xf2oc", "Đại học"),
    (b"Th\xbd vi\xf2\xe3en Qu\xe3\xe2oc gia Vi\xf2\xe3et Nam", "Thư viện Quốc gia Việt Nam"),
    (b"Nguy\xe3\xe4en Tr\xe4ai", "Nguyễn Trãi"),
    (b"\xb3\xbd\xe1\xbcng", "đường"),
    (b"\xad\xe2\xacc", "ƯỚc"),
    (b"\xe6\xe0a", "ẳ"),
    (b"\xe0o", "ỏ"),
    # tone typed before the circumflex, a common cataloguing habit
    (b"ti\xe2\xe3eng", "tiếng"),
]


@pytest.mark.parametrize(("raw", "text"), VIETNAMESE_MARC8)
def test_vietnamese_ansel(raw: bytes, text: str) -> None:
    warnings: list[str] = []
    assert decode_marc8(raw, warnings) == text
    assert warnings == []


def test_latin_round_trip() -> None:
    text = " ".join(vietnamese_letters()) + " Łódź Ærøskøbing Þórr Œuvre ß € © ℗ ° ±"
    data = encode_marc8(text)
    assert data.isascii() is False
    assert decode_marc8(data) == text


def test_vietnamese_export_bytes() -> None:
    assert encode_marc8("Hà Nội") == b"H\xe1a N\xf2\xe3oi"
    assert encode_marc8("Đường") == b"\xa3\xbd\xe1\xbcng"


def test_greek() -> None:
    assert decode_marc8(b"\x1b(Sabd\x1b(B") == "αβγ"
    text = "Ἀθῆναι ἡ πόλις"
    assert decode_marc8(encode_marc8(text)) == text
    assert encode_marc8("αβγ").startswith(b"\x1b(S")


def test_cyrillic_basic_and_extended() -> None:
    assert decode_marc8(b"\x1b(NpRIWET\x1b(B, world") == "Привет, world"
    for text in ("Москва 1980", "Ђорђе Љубљана ґ Ѣ"):
        data = encode_marc8(text)
        assert decode_marc8(data) == text
    assert b"\x1b)Q" in encode_marc8("Ђ")


def test_hebrew_arabic_cjk_sub_superscript() -> None:
    for text in ("שָׁלוֹם", "مرحبا", "人民 中文", "H₂O x²", "x⁽ⁿ⁾"[:2]):
        assert decode_marc8(encode_marc8(text)) == text
    assert decode_marc8(b"\x1b$1!0d\x1b(B") == "人"
    assert decode_marc8(b"H\x1bb2\x1bsO") == "H₂O"
    assert decode_marc8(b"\x1bga\x1bs") == "α"


def test_ansel_designation_with_bang() -> None:
    # LoC: ANSEL's final is the two bytes "!E"; both forms are read.
    assert decode_marc8(b"\x1b)Q\xc1\x1b)!E\xb3") == "ђđ"
    assert decode_marc8(b"\x1b)Q\xc1\x1b)E\xb3") == "ђđ"
    assert encode_marc8("ђđ").endswith(b"\x1b)!E\xb3")


def test_ligature_maps_to_spanning_mark() -> None:
    assert decode_marc8(b"\xebt\xecs") == "t\u0361s"
    assert encode_marc8("t\u0361s") == b"\xebt\xecs"
    assert encode_marc8("t\ufe20s\ufe21") == b"\xebt\xecs"
    assert decode_marc8(b"\xfan\xfbg") == "n\u0360g"


def test_control_characters() -> None:
    assert decode_marc8(b"\x88The\x89 book") == "\u0098The\u009c book"


def test_unrepresentable_becomes_ncr() -> None:
    assert encode_marc8("ẞ") == b"&#x1E9E;"
    assert encode_marc8("a ☃ Ǆ") == b"a &#x2603; &#x01C4;"  # no compatibility decomposition
    assert decode_marc8(b"&#x1E9E;") == "ẞ"


def test_undecodable_bytes_are_replaced_and_reported() -> None:
    warnings: list[str] = []
    assert decode_marc8(b"a\x80b\xffc", warnings) == "a\ufffdb\ufffdc"
    assert len(warnings) == 2
    warnings.clear()
    assert decode_marc8(b"a\x1b(Zb", warnings) == "a\ufffdb"
    assert "escape" in warnings[0]
    warnings.clear()
    assert decode_marc8(b"ab\xe2", warnings) == "ab\u0301"
    assert warnings


def test_leader_lies() -> None:
    utf8 = "Thư viện Quốc gia".encode()
    marc8 = b"Th\xbd vi\xf2\xe3en"
    assert detect_leader_lie(utf8, " ") is not None
    assert detect_leader_lie(utf8, "a") is None
    assert detect_leader_lie(marc8, "a") is not None
    assert detect_leader_lie(marc8, " ") is None
    assert detect_leader_lie(b"plain ascii", " ") is None
    assert detect_leader_lie(b"plain ascii", "a") is None
    assert detect_leader_lie(b"\x1b(Sabd\x1b(B", " ") is None


def test_decode_marc_bytes() -> None:
    text, warnings = decode_marc_bytes("Thư viện".encode(), " ")
    assert text == "Thư viện" and len(warnings) == 1 and "MARC-8" in warnings[0]
    text, warnings = decode_marc_bytes(b"Th\xbd vi\xf2\xe3en", "a")
    assert text == "Thư viện" and len(warnings) == 1
    assert decode_marc_bytes(b"Th\xbd vi\xf2\xe3en", " ") == ("Thư viện", [])
    text, warnings = decode_marc_bytes(b"ok \xff", "a")
    assert text == "ok \ufffd" and "U+FFFD" in warnings[0]
    text, warnings = decode_marc_bytes("Hà".encode(), "z")
    assert text == "Hà" and "leader/09" in warnings[0]


def _implausible_by_rule(data: bytes) -> tuple[int, int]:
    """implausible_bytes's rule, byte by byte as its docstring states it."""
    from thuvien_interop.crosswalk.marc8 import _C1, _TABLES, ANSEL, ESC

    if ESC in data:
        return 0, 0
    bad = high = 0
    for i, byte in enumerate(data):
        if byte < 0x80:
            continue
        high += 1
        entry = None if byte < 0xA0 else _TABLES[ANSEL].get(byte & 0x7F)
        if byte < 0xA0:
            bad += byte not in _C1
        elif entry is None:
            bad += 1
        elif entry[1]:  # a combining mark: a letter or another mark must follow
            nxt = data[i + 1] if i + 1 < len(data) else 0x20
            bad += nxt < 0x80 and not (0x41 <= nxt <= 0x5A or 0x61 <= nxt <= 0x7A)
    return bad, high


def test_implausible_bytes_counts_what_its_rule_says_on_random_data():
    import random

    from thuvien_interop.crosswalk.marc8 import implausible_bytes

    rnd = random.Random(13)
    # Bytes near the rule's edges: letters, a space, a dot, marks, holes, C1, ESC.
    edges = [0x20, 0x2E, 0x41, 0x5A, 0x61, 0x7A, 0x40, 0x5B, 0x7B, 0xE0, 0xE1, 0xF2, 0xFE,
             0xA1, 0xB5, 0xC8, 0xC9, 0xDF, 0x80, 0x88, 0x8D, 0x9F, 0xFF, 0x1B]
    for _ in range(20_000):
        pool = range(256) if rnd.random() < 0.5 else edges
        data = bytes(rnd.choice(pool) for _ in range(rnd.randint(0, 16)))
        assert implausible_bytes(data) == _implausible_by_rule(data), data
