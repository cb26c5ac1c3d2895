"""Cluster keys: the numbers and the title + author key that bring two records
together as *candidates* for one cluster (whether they join is :mod:`.match`'s call).

A key is a short string with a kind before the colon:

* ``isbn:9786040000001`` — every ISBN as ISBN-13 (an ISBN-10 becomes its 978 form),
  hyphens and spaces gone, the check digit verified; a qualifier such as
  ``(tập 1)`` is split off (:func:`split_isbn`);
* ``issn:0317-8471`` — check digit verified;
* ``ismn:…``, ``ean:…``, ``upc:…``, ``isrc:…``, ``std:<source>:…`` — 024 by its first
  indicator;
* ``lccn:…`` (010), ``nbn:<source>:…`` (015), ``ctrl:(org)number`` (035);
* ``ta:<title>|<author>`` — the folded title (245 $a, leading article skipped by the
  non-filing indicator) and main author, folded the way search folds
  (:func:`thuvien_interop.store.search_plan.key_of`), so "Tiếng Việt 1" and
  "TIENG VIET 1" give one key.

    >>> split_isbn("978-604-0-00000-2 (tập 1)")
    ('9786040000002', 'tập 1')
    >>> isbn13("0-306-40615-2")
    '9780306406157'
    >>> title_author_key("Tiếng Việt 1", None) == title_author_key("TIENG VIET 1 /", None)
    True
"""

from __future__ import annotations

import re

from ..crosswalk.dc2marc import isbn_valid, issn_valid
from ..store.search_plan import key_of

__all__ = ["control_number", "isbn13", "issn", "lccn", "split_isbn", "standard_number_key",
           "title_author_key"]

# The number at the start of a 020 $a ("978-604-0-00000-2 (tập 1) : 25000đ"): digits,
# X, hyphens and spaces; what follows is the qualifier and price.
_ISBN_HEAD = re.compile(r"^\s*(?:isbn[:\s]*)?([0-9][0-9\- ]{8,18}[0-9Xx])(?![0-9Xx])", re.IGNORECASE)
_QUALIFIER = re.compile(r"\(([^()]*)\)")
_ISSN = re.compile(r"(\d{4})\s*-?\s*(\d{3}[\dXx])")


def isbn13(text: str) -> str | None:
    """The ISBN-13 of an ISBN-10 or -13 (hyphens and spaces allowed), or ``None``
    when it is not one (wrong length or check digit).

        >>> isbn13("978-0-306-40615-7"), isbn13("0306406153")
        ('9780306406157', None)
    """
    digits = text.replace("-", "").replace(" ", "").upper()
    if not isbn_valid(digits):
        return None
    if len(digits) == 13:
        return digits
    body = "978" + digits[:9]
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    return body + str(check)


def split_isbn(value: str) -> tuple[str | None, str]:
    """``(ISBN-13 or None, qualifier)`` of one ISBN subfield as catalogued.

    The qualifier is what stands in parentheses after the number ("tập 1",
    "bìa mềm", "trọn bộ"), without the price or other trailing text.

        >>> split_isbn("8935236400015 (Trọn bộ) : 120000đ")
        ('8935236400015', 'Trọn bộ')
        >>> split_isbn("978604000000X")
        (None, '')
    """
    m = _ISBN_HEAD.match(value)
    if m is None:
        return None, ""
    rest = value[m.end():]
    q = _QUALIFIER.search(rest)
    return isbn13(m.group(1)), (q.group(1).strip() if q else "")


def issn(text: str) -> str | None:
    """``NNNN-NNNC`` of an ISSN whose check digit is right, else ``None``.

        >>> issn("ISSN 0317 8471"), issn("0317-8472")
        ('0317-8471', None)
    """
    m = _ISSN.search(text)
    if m is None:
        return None
    value = f"{m.group(1)}-{m.group(2).upper()}"
    return value if issn_valid(value) else None


def lccn(text: str) -> str | None:
    """An LCCN normalised as the LC does (spaces out, the part after a hyphen
    zero-padded to six digits, anything after a slash dropped).

        >>> lccn("n 78-890351"), lccn(" 85-2 ")
        ('n78890351', '85000002')
    """
    value = text.split("/")[0].replace(" ", "").lower()
    if "-" in value:
        head, _, tail = value.partition("-")
        if tail.isdigit():
            value = head + tail.zfill(6)
    return value or None


_CTRL = re.compile(r"^\s*\(([^)]*)\)\s*(.+?)\s*$")
_OCLC_PREFIX = re.compile(r"^(?:ocm|ocn|on)")


def control_number(text: str) -> str | None:
    """A 035 system control number as ``(org)number``, folded; ``None`` without the
    organisation (a bare number says nothing outside its own system).

        >>> control_number("(OCoLC)ocm00012345"), control_number("12345")
        ('(ocolc)12345', None)
    """
    m = _CTRL.match(text)
    if m is None:
        return None
    org = m.group(1).strip().lower()
    number = m.group(2).strip().lower().replace(" ", "")
    if org == "ocolc":
        number = _OCLC_PREFIX.sub("", number).lstrip("0")
    if not org or not number:
        return None
    return f"({org}){number}"


# 024 first indicator → kind (MARC 21 Bibliographic 024).
_STD_KINDS = {"0": "isrc", "1": "upc", "2": "ismn", "3": "ean", "4": "sici"}


def standard_number_key(value: str, ind1: str, source: str = "") -> str | None:
    """The key of a 024 $a; an EAN that is an ISBN (978/979) is the ISBN key.

        >>> standard_number_key("9790001234560", "2")
        'ismn:9790001234560'
        >>> standard_number_key("978-0-306-40615-7", "3")
        'isbn:9780306406157'
    """
    digits = re.sub(r"[\s\-]", "", value).lower()
    if not digits:
        return None
    kind = _STD_KINDS.get(ind1)
    if kind == "ean" and digits[:3] in ("978", "979"):
        number = isbn13(digits)
        return f"isbn:{number}" if number else None
    if kind is None:
        src = key_of(source).replace(" ", "")
        if not src:
            return None
        kind = f"std:{src}"
    return f"{kind}:{digits}"


def title_author_key(title: str, author: str | None) -> str | None:
    """``ta:<title>|<author>`` folded as search folds; the author's words are sorted,
    so "Nguyễn Du" and "Du, Nguyễn" meet. ``None`` without a title.

        >>> title_author_key("Truyện Kiều", "Nguyễn Du")
        'ta:truyen kieu|du nguyen'
    """
    t = key_of(title)
    if not t:
        return None
    a = " ".join(sorted(key_of(author).split())) if author else ""
    return f"ta:{t}|{a}"
