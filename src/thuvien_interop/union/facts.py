"""What clustering needs to know of one record, read once from its MARC.

:class:`Facts` holds the record's cluster keys (with where each came from) and the
values the agreement checks compare: format, year, edition, volume/part, pages,
series number and whether it is a teacher's book or a workbook. It is small, plain
and serialisable (:meth:`Facts.to_dict`), so a store can keep it beside the record
and compare a new record with its candidates without reading their MARC again.

    >>> import pymarc
    >>> r = pymarc.Record(leader="00000nam a22000007a 4500")
    >>> r.add_field(pymarc.Field("245", pymarc.Indicators("1", "0"),
    ...             [pymarc.Subfield("a", "Tiếng Việt 1 :"), pymarc.Subfield("b", "Sách giáo viên")]))
    >>> f = facts_from_marc(r, "oai:a:1", provider="a")
    >>> f.role, f.format, f.keys[0][0]
    ('teacher', 'book', 'ta:tieng viet 1|')
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pymarc
from lxml import etree

from ..crosswalk.dc import parse_dc
from ..crosswalk.dc2marc import dc_to_marc
from ..crosswalk.marcview import fields_of
from ..crosswalk.marcxml import parse_marcxml_record
from ..crosswalk.text import fold, normalize
from ..model import Header, Record
from ..xml import safe_parser
from . import keys as K

__all__ = ["Facts", "facts_from_marc", "facts_from_record", "provider_of", "record_marc"]

SOURCE_SET = "source:"


@dataclass(frozen=True, slots=True)
class Facts:
    """One record as clustering sees it.

    ``keys`` are ``(key, origin)`` pairs: the key and the field it was read from
    ("020 $a 978-604-…"), for explanations. ``None`` in a checked value means the
    record does not say.
    """

    id: str
    provider: str = ""
    keys: tuple[tuple[str, str], ...] = ()
    format: str = "unknown"
    year: int | None = None
    edition: int | str | None = None
    volume: str | None = None
    pages: int | None = None
    series_number: str | None = None
    role: str | None = None
    """``teacher`` (sách giáo viên), ``workbook`` (sách bài tập), ``None`` (the pupil's book or no qualifier)."""
    title: str = ""
    author: str = ""
    rejected: tuple[str, ...] = field(default=(), compare=False)
    """Numbers that made no key, and why ("020 $a 978-604-0-0000-1: check digit")."""
    key_set: frozenset[str] = field(init=False, repr=False, compare=False)
    """The keys alone (computed once: clustering asks for them at every step)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_set", frozenset(k for k, _ in self.keys))

    def origin(self, key: str) -> str:
        return next((o for k, o in self.keys if k == key), key)

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if name in _FIELDS}

    def to_json(self) -> str:
        """The facts as a JSON array, field by field (what a store keeps; 15x faster
        than ``json.dumps(to_dict())``)."""
        return json.dumps([getattr(self, name) for name in _FIELDS], ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Facts:
        values = json.loads(text)
        values[2] = tuple(tuple(k) for k in values[2])
        values[-1] = tuple(values[-1])
        return cls(*values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        d = dict(data)
        d["keys"] = tuple(tuple(k) for k in d.get("keys", ()))
        d["rejected"] = tuple(d.get("rejected", ()))
        return cls(**d)


_FIELDS = tuple(f.name for f in fields(Facts) if f.init)


def provider_of(record: Record | Header) -> str:
    """The provider a union record (or its header) came from: its ``source:<name>``
    set (the harvester puts every record in it), or ``""`` in a single library's store."""
    for spec in record.sets:
        if spec.startswith(SOURCE_SET):
            return spec[len(SOURCE_SET):].split(":", 1)[0]
    return ""


def record_marc(record: Record) -> pymarc.Record | None:
    """The MARC form of a stored record (MARCXML as it is, Dublin Core crosswalked)."""
    if record.deleted or not record.canonical:
        return None
    if record.canonical_format == "marc21":
        return parse_marcxml_record(record.canonical)
    if record.canonical_format == "oai_dc":
        elem = etree.fromstring(record.canonical, safe_parser())
        return dc_to_marc(parse_dc(elem))
    return None


def facts_from_record(record: Record) -> Facts | None:
    """Facts of a record on its way into a store; ``None`` for a deletion."""
    marc = record_marc(record)
    if marc is None:
        return None
    return facts_from_marc(marc, record.identifier, provider=provider_of(record))


# -- reading the values ------------------------------------------------------------

def _subs(f: pymarc.Field, codes: str) -> list[str]:
    return [normalize(v) for c, v in f.subfields if c in codes and v]


def _fields(r: pymarc.Record, *tags: str) -> list[pymarc.Field]:
    return [f for f in fields_of(r) if f.tag in tags]


def _control(r: pymarc.Record, tag: str) -> str:
    f = next((f for f in fields_of(r) if f.tag == tag and f.control_field), None)
    return (f.data or "") if f is not None else ""


# Leader/06 (type of record) → kind; books and serials split on leader/07.
_TYPES = {"a": "book", "t": "manuscript", "c": "score", "d": "score", "e": "map", "f": "map",
          "g": "video", "i": "sound", "j": "music", "k": "picture", "m": "software",
          "o": "kit", "p": "mixed", "r": "object"}


def _format(r: pymarc.Record) -> str:
    leader = str(r.leader or "")
    kind = _TYPES.get(leader[6:7], "unknown")
    if kind == "book":
        if leader[7:8] in ("s", "i"):
            kind = "serial"
        elif leader[7:8] in ("a", "b"):
            kind = "article"
    f008 = _control(r, "008")
    if kind in ("book", "serial") and f008[23:24] in ("o", "q", "s"):
        kind = "e" + kind   # ebook, eserial: 008/23 form of item: online / electronic
    return kind


_YEAR = re.compile(r"(?<!\d)(1[4-9]\d\d|20\d\d)(?!\d)")


def _year(r: pymarc.Record) -> int | None:
    f008 = _control(r, "008")
    if len(f008) >= 11 and f008[7:11].isdigit() and f008[6:7] not in ("b", "n", "|"):
        return int(f008[7:11])
    for f in _fields(r, "264", "260"):
        for v in _subs(f, "c"):
            m = _YEAR.search(v)
            if m:
                return int(m.group(1))
    return None


# Vietnamese number words (ordinals "thứ hai", volumes "tập một").
_NUMBER_WORDS = {"mot": 1, "nhat": 1, "hai": 2, "nhi": 2, "ba": 3, "tu": 4, "bon": 4, "nam": 5,
                 "sau": 6, "bay": 7, "tam": 8, "chin": 9, "muoi": 10,
                 "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
# Words that name a part ("v. 2", "t. 1", "Tập"): never numbers themselves.
_DESIGNATORS = frozenset({"tap", "t", "quyen", "q", "phan", "vol", "v", "volume", "part", "pt",
                          "so", "no", "book", "bk", "lan", "thu", "ed", "edition", "tai", "ban",
                          "xuat", "in"})
_ROMAN = re.compile(r"^(?=[ivxl]+$)(l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50}


def _roman(word: str) -> int | None:
    if not word or _ROMAN.match(word) is None:
        return None
    total, prev = 0, 0
    for c in reversed(word):
        v = _ROMAN_VALUES[c]
        total = total - v if v < prev else total + v
        prev = max(prev, v)
    return total


def _numbers(text: str) -> list[int]:
    """The numbers a statement holds: digits, Roman numerals, Vietnamese words."""
    out: list[int] = []
    for word in re.findall(r"[a-z0-9]+", fold(text)):
        if word in _DESIGNATORS:
            continue
        m = re.match(r"^(\d+)(?:st|nd|rd|th|e)?$", word)
        if m:
            out.append(int(m.group(1)))
        elif (n := _roman(word)) is not None:
            out.append(n)
        elif word in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[word])
    return out


def _edition(r: pymarc.Record) -> int | str | None:
    """250 $a as a number: "Tái bản lần thứ 2" is the third edition (the first
    re-issue is the second), "Xuất bản lần thứ 2" and "2nd ed." the second; a
    printing ("In lần thứ 3") is no edition. Text without a number stays folded."""
    for f in _fields(r, "250"):
        text = " ".join(_subs(f, "ab"))
        folded = fold(text)
        if not folded or re.match(r"^in lan\b", folded):
            continue
        nums = _numbers(text)
        if nums:
            return nums[0] + 1 if "tai ban" in folded else nums[0]
        if "tai ban" in folded:
            return 2
        return " ".join(re.findall(r"[a-z0-9]+", folded)) or None
    return None


_VOLUME_WORDS = re.compile(r"\b(tap|t|quyen|q|phan|vol|v|volume|part|pt|so|no|book|bk)\b")  # a qualifier naming a part


def _volume_text(values: list[str]) -> str | None:
    parts: list[str] = []
    for v in values:
        nums = _numbers(v)
        if nums:
            parts.append(".".join(str(n) for n in nums))
        else:
            words = re.findall(r"[a-z0-9]+", fold(v))
            if words:
                parts.append(" ".join(words))
    return "/".join(parts) or None


# A part written into the title proper: "Tiếng Việt 1. T.1", "Toán 6, tập hai".
_TITLE_PART = re.compile(r"[\s,.;:]+(?:tap|quyen|phan|t|q|vol)\.?\s*(\d+|[ivx]+|mot|hai|ba|bon)\s*$")


def _title_part(title: str) -> tuple[str, str | None]:
    """``(title without its trailing part, the part)`` of a 245 $a."""
    folded = fold(title)
    m = _TITLE_PART.search(folded)
    if m is None or len(folded) != len(title):
        return title, None
    return title[:m.start()].rstrip(" ,.;:"), m.group(1)


def _volume(r: pymarc.Record, qualifiers: list[str]) -> str | None:
    for f in _fields(r, "245"):
        found = _volume_text(_subs(f, "np"))
        if found:
            return found
        part = _title_part(" ".join(_subs(f, "a")).strip(" /:;=.,"))[1]
        if part:
            return _volume_text([part])
    # No part in the title: an ISBN qualifier such as "(tập 2)" says which volume
    # this record is, when it is the only one that names a volume.
    named = [q for q in qualifiers if _VOLUME_WORDS.search(fold(q)) and _numbers(q)]
    if len(named) == 1:
        return _volume_text([named[0]])
    return None


_PAGES = re.compile(r"(\d+)\s*(?:tr\b|trang|p\b|pp\b|pages|s\b|tờ|to\b)", re.IGNORECASE)


def _pages(r: pymarc.Record) -> int | None:
    for f in _fields(r, "300"):
        found = [int(m.group(1)) for v in _subs(f, "a") for m in _PAGES.finditer(fold(v))]
        if found:
            return max(found)
    return None


_ROLES = (("teacher", ("sach giao vien", "sgv", "teacher s", "teachers", "giao an")),
          ("workbook", ("sach bai tap", "vo bai tap", "workbook")))


def _role(r: pymarc.Record) -> str | None:
    texts = [fold(" ".join(_subs(f, "abnp"))) for f in _fields(r, "245")]
    texts += [fold(" ".join(_subs(f, "a"))) for f in _fields(r, "250")]
    text = " " + " ".join(re.sub(r"[^a-z0-9]+", " ", t) for t in texts) + " "
    for role, phrases in _ROLES:
        if any(f" {p} " in text for p in phrases):
            return role
    return None


def _title(r: pymarc.Record) -> str:
    f = next(iter(_fields(r, "245")), None)
    if f is None:
        return ""
    title = _title_part(" ".join(_subs(f, "a")).strip(" /:;=.,"))[0]
    skip = int(f.indicator2) if f.indicator2 and f.indicator2.isdigit() else 0
    return title[skip:] if skip < len(title) else title


def _author(r: pymarc.Record) -> str:
    for f in _fields(r, "100", "110", "111"):
        name = " ".join(_subs(f, "a")).strip(" ,.")
        if name:
            return name
    return ""


def facts_from_marc(r: pymarc.Record, identifier: str, *, provider: str = "") -> Facts:
    """Read :class:`Facts` from a MARC record."""
    found: list[tuple[str, str]] = []
    rejected: list[str] = []
    qualifiers: list[str] = []

    def add(key: str | None, origin: str) -> None:
        if key is None:
            rejected.append(origin)
        elif all(k != key for k, _ in found):
            found.append((key, origin))

    for f in _fields(r, "020"):
        for value in _subs(f, "a"):
            number, qualifier = K.split_isbn(value)
            qualifiers += [qualifier] if qualifier else []
            qualifiers += _subs(f, "q")
            add(f"isbn:{number}" if number else None, f"020 $a {value}")
    for f in _fields(r, "022"):
        for value in _subs(f, "a"):
            number = K.issn(value)
            add(f"issn:{number}" if number else None, f"022 $a {value}")
    for f in _fields(r, "024"):
        source = " ".join(_subs(f, "2"))
        for value in _subs(f, "a"):
            add(K.standard_number_key(value, f.indicator1 or " ", source), f"024 $a {value}")
    for f in _fields(r, "010"):
        for value in _subs(f, "a"):
            number = K.lccn(value)
            add(f"lccn:{number}" if number else None, f"010 $a {value}")
    for f in _fields(r, "015"):
        source = K.key_of(" ".join(_subs(f, "2"))).replace(" ", "") or "nbn"
        for value in _subs(f, "a"):
            number = K.key_of(value).replace(" ", "")
            add(f"nbn:{source}:{number}" if number else None, f"015 $a {value}")
    for f in _fields(r, "035"):
        for value in _subs(f, "a"):
            number = K.control_number(value)
            if number is not None:   # a 035 without its organisation is local: no key, no complaint
                add(f"ctrl:{number}", f"035 $a {value}")
    title, author = _title(r), _author(r)
    ta = K.title_author_key(title, author or None)
    if ta is not None:
        found.append((ta, f"245 $a {title}" + (f" + {author}" if author else "")))
    series = [v for f in _fields(r, "490", "830", "440") for v in _subs(f, "v")]
    return Facts(id=identifier, provider=provider, keys=tuple(found), format=_format(r),
                 year=_year(r), edition=_edition(r), volume=_volume(r, qualifiers),
                 pages=_pages(r), series_number=_volume_text(series[:1]) if series else None,
                 role=_role(r), title=title, author=author, rejected=tuple(rejected))
