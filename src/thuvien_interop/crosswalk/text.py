"""Text hygiene: the one place that normalizes and folds text.

Everything stored is Unicode NFC; search keys are folded so that "Ha Noi",
"HÀ NỘI" and an NFD "Hà Nội" give one key.

    >>> fold("Hà Nội")
    'ha noi'
    >>> fold("ĐẠI HỌC")
    'dai hoc'
"""

from __future__ import annotations

import re
import unicodedata

# XML 1.0 §2.2 Char: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def normalize(text: str) -> str:
    """Return ``text`` as clean Unicode NFC."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text)


def has_forbidden_xml_chars(text: str) -> bool:
    """True if ``text`` holds a character XML 1.0 forbids."""
    return _XML_FORBIDDEN.search(text) is not None


def clean_xml_text(text: str) -> str:
    """Replace characters XML 1.0 forbids with U+FFFD, so the evidence stays visible."""
    return _XML_FORBIDDEN.sub("\ufffd", text)


_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ı": "i", "ł": "l", "Ł": "l",
                             "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss"})


def fold(text: str) -> str:
    """A search key: lower case, no diacritics, đ→d, whitespace collapsed."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_EXTRA))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().translate(_FOLD_EXTRA).split())
