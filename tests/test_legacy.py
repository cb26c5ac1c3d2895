"""Tests for crosswalk.legacy: TCVN3, VNI, VISCII, VPS, VIQR, windows-1258."""

from __future__ import annotations

import pytest

from thuvien_interop.crosswalk.legacy import (
    ENCODINGS,
    Detection,
    decode,
    detect,
    encode,
    repair,
    vietnamese_letters,
)

# Every tone on every vowel, ă â ê ô ơ ư đ in both cases, inside ordinary prose.
PARAGRAPH = (
    "Thư viện Quốc gia Việt Nam lưu giữ nhiều tài liệu quý hiếm về lịch sử, "
    "văn hoá và khoa học. ĐẠI HỌC QUỐC GIA HÀ NỘI, Đà Nẵng, Ơn Ưng. "
    + " ".join(vietnamese_letters())
)

SENTENCES = [
    "Thư viện Quốc gia Việt Nam lưu giữ nhiều tài liệu quý hiếm",
    "Lịch sử Việt Nam từ thời dựng nước đến nay",
    "Tuyển tập truyện ngắn của Nguyễn Huy Thiệp",
    "Giáo trình kinh tế học đại cương",
    "Nguyễn Trãi toàn tập",
    "ĐẠI HỌC QUỐC GIA HÀ NỘI",
]


def mojibake(data: bytes) -> str:
    """What a UTF-8 database shows after reading legacy bytes as cp1252 (latin-1 for holes)."""
    out = []
    for byte in data:
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


def test_letter_inventory() -> None:
    letters = vietnamese_letters()
    assert len(letters) == len(set(letters)) == 134
    assert {"ă", "â", "ê", "ô", "ơ", "ư", "đ", "Ă", "Â", "Ê", "Ô", "Ơ", "Ư", "Đ"} <= set(letters)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_round_trip_bytes(encoding: str) -> None:
    assert decode(encode(PARAGRAPH, encoding), encoding) == PARAGRAPH


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_round_trip_misdecoded_str(encoding: str) -> None:
    assert decode(mojibake(encode(PARAGRAPH, encoding)), encoding) == PARAGRAPH
    assert decode(encode(PARAGRAPH, encoding).decode("latin-1"), encoding) == PARAGRAPH


def test_known_mojibake() -> None:
    assert decode("Hµ Néi", "tcvn3") == "Hà Nội"
    assert decode("Haø Noäi", "vni") == "Hà Nội"
    assert decode("Ñaïi hoïc Quoác gia", "vni") == "Đại học Quốc gia"
    assert decode("ÑAÏI HOÏC", "vni") == "ĐẠI HỌC"
    assert decode("ÑaÏi", "vni") == "Đại"  # mixed-case mark byte: the base decides
    assert encode("Hà Nội", "tcvn3") == b"H\xb5 N\xe9i"
    assert encode("Hà Nội", "vni") == b"Ha\xf8 No\xe4i"


def test_str_keeps_characters_that_cannot_be_mojibake() -> None:
    assert decode("Hµ Néi → ★", "tcvn3") == "Hà Nội → ★"


def test_aliases_and_unknown() -> None:
    assert decode(b"H\xb5", "ABC") == decode(b"H\xb5", "TCVN3") == "Hà"
    assert decode("Ha\xcc", "cp1258") == "Hà"
    with pytest.raises(LookupError):
        decode(b"x", "klingon")
    with pytest.raises(UnicodeEncodeError):
        encode("漢", "vni")
    assert encode("漢", "vni", errors="replace") == b"?"


@pytest.mark.parametrize("sentence", SENTENCES)
@pytest.mark.parametrize("encoding", ("utf-8", *ENCODINGS))
def test_detect_real_sentences(sentence: str, encoding: str) -> None:
    data = sentence.encode() if encoding == "utf-8" else encode(sentence, encoding)
    found = detect(data)
    assert isinstance(found, Detection)
    assert found.encoding == encoding
    assert found.confidence >= 0.9
    assert found.text == sentence
    # VIQR is 7-bit: it is a candidate for plain ASCII only.
    assert set(ENCODINGS) - {"viqr"} <= set(found.scores) or encoding == "viqr"
    assert abs(sum(found.scores.values()) - 1) < 0.01


@pytest.mark.parametrize("sentence", SENTENCES)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_repair_mojibake(sentence: str, encoding: str) -> None:
    text, found, confidence = repair(mojibake(encode(sentence, encoding)))
    assert (text, found) == (sentence, encoding)
    assert confidence >= 0.9


def test_repair_double_encoded_utf8() -> None:
    sentence = SENTENCES[0]
    assert repair(mojibake(sentence.encode()))[:2] == (sentence, "utf-8")


def test_ascii_is_ambiguous() -> None:
    short = detect(b"Ha Noi")
    assert short.encoding == "ascii" and short.confidence < 0.2
    assert detect("Ha Noi").confidence < 0.2
    assert detect(b"x" * 500).confidence <= 0.9


def test_correct_text_is_left_alone() -> None:
    for text in ("Hà Nội", "Hà Nam", "Café au lait", "Müller", "Thư viện", "plain"):
        assert repair(text)[:2] == (text, None)
    assert detect("Thư viện").encoding == "unicode"


def test_short_legacy_text_reports_lower_confidence() -> None:
    assert detect(encode("Hà Nội", "viscii")).confidence < 0.9
