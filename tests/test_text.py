"""Tests for crosswalk.text: normalize, fold, XML hygiene, the syllable model."""

from __future__ import annotations

import unicodedata

import pytest

from thuvien_interop.crosswalk.legacy import vietnamese_letters
from thuvien_interop.crosswalk.text import (
    clean_xml_text,
    fold,
    has_forbidden_xml_chars,
    is_vietnamese_syllable,
    normalize,
)

HANOI_FORMS = [
    "Hà Nội",
    "HÀ NỘI",
    "Ha Noi",
    unicodedata.normalize("NFD", "Hà Nội"),
    "Ha\u0300 No\u0323\u0302i",  # dot below before circumflex
    "Ha\u0300 No\u0302\u0323i",
    "  ha   noi\t",
]


def test_ascii_is_returned_unchanged() -> None:
    text = "Plain ASCII title"
    assert normalize(text) is text


def test_nfc_text_without_problems_takes_the_fast_path() -> None:
    text = "Thư viện Quốc gia Việt Nam"
    assert normalize(text) is text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e\u0301\u0302", "ế"),  # tone typed before circumflex
        ("E\u0300\u0302", "Ề"),
        ("a\u0309\u0306", "ẳ"),  # tone before breve
        ("o\u0303\u0302", "ỗ"),
        ("a\u0302\u0323", "ậ"),
        ("a\u0323\u0302", "ậ"),
        ("o\u0301\u031b", "ớ"),  # horn after tone: canonical order already fixes it
        ("é\u0302", "ế"),  # precomposed é followed by circumflex
        (unicodedata.normalize("NFD", "Nguyễn Thị Minh Khai"), "Nguyễn Thị Minh Khai"),
    ],
)
def test_mark_order(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_stray_mark_after_space_is_reattached_when_unambiguous() -> None:
    assert normalize("Ha \u0300Noi") == "Hà Noi"
    assert normalize("Ho \u0323c") == "Họ c"  # "Họ" is a syllable, "ạc"-style reading of "c" is not
    assert normalize("Vie \u0323\u0302t") == "Vie \u0323\u0302t"  # "Việ" is no syllable
    assert normalize("Ha \u0300Anh") == "Ha \u0300Anh"  # could be "Hà Anh" or "Ha Ành": left alone
    assert normalize("Thanh \u0301Noi") == "Thanh \u0301Noi"  # previous word ends in a consonant


def test_lookalikes() -> None:
    assert normalize("\u01a3\u01a1\u0301c") == "ước"
    assert normalize("\u01a2\u01a0\u0301C") == "ƯỚC"
    assert normalize("\u00d0ại học") == "Đại học"
    assert normalize("\u00f0i \u00f0\u00e2u") == "đi đâu"
    assert normalize("Guðrún Ðórðardóttir") == "Guðrún Ðórðardóttir"  # Icelandic stays


def test_zero_width_removed_nbsp_kept() -> None:
    assert normalize("Hà\u200b Nội\ufeff") == "Hà Nội"
    assert normalize("\ufeffHà\u00a0Nội") == "Hà\u00a0Nội"


def test_normalize_is_idempotent_and_nfc() -> None:
    for raw in [*HANOI_FORMS, "Ha \u0300Noi", "e\u0301\u0302", "Ἀθῆναι", "Ǆ"]:
        once = normalize(raw)
        assert normalize(once) == once
        assert unicodedata.is_normalized("NFC", once)


def test_every_vietnamese_letter_survives() -> None:
    for letter in vietnamese_letters():
        assert normalize(letter) == letter
        assert normalize(unicodedata.normalize("NFD", letter)) == letter


def test_fold_gives_one_key() -> None:
    assert {fold(form) for form in HANOI_FORMS} == {"ha noi"}
    assert fold("ĐẠI HỌC Đà Nẵng") == "dai hoc da nang"
    assert fold("e\u0301\u0302") == "e"


def test_fold_other_scripts_and_specials() -> None:
    assert fold("Straße") == "strasse"
    assert fold("Łódź") == "lodz"
    assert fold("Ἀθῆναι") == "αθηναι"
    assert fold("Йошкар-Ола") == "иошкар-ола"
    assert fold("한국어") == "한국어"  # Hangul is not decomposed into jamo
    assert fold("ƣớc") == "uoc"


def test_fold_table_matches_nfd_reference() -> None:
    def reference(text: str) -> str:
        stripped = "".join(c for c in unicodedata.normalize("NFD", text)
                           if not unicodedata.combining(c))
        return " ".join(stripped.casefold().replace("đ", "d").split())

    for letter in vietnamese_letters():
        assert fold(letter) == reference(letter)


def test_xml_hygiene() -> None:
    assert has_forbidden_xml_chars("a\x00b")
    assert not has_forbidden_xml_chars("a\tb\n\u00a0")
    assert clean_xml_text("a\x0bb\ufffe") == "a\ufffdb\ufffd"
    assert clean_xml_text("Hà Nội") == "Hà Nội"


@pytest.mark.parametrize("word", ["người", "nghiêng", "quyền", "khuya", "giữ", "gì", "Việt",
                                  "các", "oanh", "uống", "thuở", "ĐẠI", "xoong", "Nguyễn"])
def test_syllable_model_accepts(word: str) -> None:
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize("word", ["Néi", "Hµ", "cac", "viÖn", "hoáa", "thảt", "xyz", "Müller"])
def test_syllable_model_rejects(word: str) -> None:
    assert not is_vietnamese_syllable(word)
