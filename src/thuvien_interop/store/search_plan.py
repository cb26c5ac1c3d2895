"""The search contract between the SRU engine and every store backend.

The SRU layer translates a CQL tree into a small *plan* over index terms (this
module's dataclasses); each backend executes the plan in its own query language
(SQLite: FTS5 plus a table of keys; PostgreSQL: tsvector plus a B-tree table).
Nothing here knows XML or SQL.

Two kinds of entries are kept per record and index (see :func:`index_entries`):

* **text**: the index's values as folded words, one token stream per
  (record, index), values separated by :data:`VALUE_SEPARATOR` so that a phrase
  never runs from one value into the next. Phrases, words, truncation and
  proximity match here.
* **keys**: each whole value folded to a *key* (:func:`key_of`: its words
  joined by one space), with its display form. Exact match (``==``), ranges,
  anchored terms, ``sortBy`` and ``scan`` use the keys.

    >>> key_of("  Hà Nội, xưa  và nay. ")
    'ha noi xua va nay'
    >>> plan = Plan(And(Phrase("dc.title", (Term("ha"), Term("noi"))),
    ...                 KeyMatch("dc.date", "ge", "2000")))
    >>> plan.sort
    ()
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, TypeAlias

from ..crosswalk.text import fold, normalize

if TYPE_CHECKING:
    from ..model import Record

__all__ = [
    "VALUE_SEPARATOR",
    "AllRecords",
    "And",
    "AndNot",
    "KeyMatch",
    "KeyRange",
    "Near",
    "Or",
    "Phrase",
    "Plan",
    "PlanNode",
    "PlanTooBroad",
    "ScanTerm",
    "SearchPage",
    "SortSpec",
    "Term",
    "index_entries",
    "record_entries",
    "key_of",
    "words",
]

#: A private-use character: a token of its own for full-text tokenizers that keep
#: letters, digits and private use (SQLite unicode61, PostgreSQL simple), which no
#: query can contain (queries are stripped of it), so phrases cannot cross values.
VALUE_SEPARATOR = "\ue000"
_WORD = re.compile(r"[^\W_]+")
_PRIVATE = re.compile("[\ue000-\uf8ff]")


#: Database indexes have a size limit per entry (PostgreSQL's btree: 2704 bytes;
#: a tsvector lexeme: 2047 bytes): a word, and a whole-value key, are cut to
#: these many characters — on the index side and the query side alike, so long
#: values still match on their beginning instead of failing the whole batch.
WORD_MAX = 100
KEY_MAX = 400


def words(text: str) -> list[str]:
    """The folded words of a text: what is indexed and what a query term matches.

    >>> words("Nguyễn Du (1765-1820)")
    ['nguyen', 'du', '1765', '1820']
    """
    return list(_words(text))


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    # Catalogues repeat values endlessly (languages, types, publishers, places,
    # subject headings): the common ones are folded once, not once per record;
    # a small cache, so that memory stays flat over millions of records.
    return tuple(w[:WORD_MAX] for w in _WORD.findall(_PRIVATE.sub(" ", fold(normalize(text)))))


def _key(ws: list[str] | tuple[str, ...]) -> str:
    key = " ".join(ws)
    if len(key) > KEY_MAX:
        key = key[:KEY_MAX].rsplit(" ", 1)[0] if " " in key[:KEY_MAX] else key[:KEY_MAX]
    return key


def key_of(text: str) -> str:
    """The key of a whole value: its folded words joined by one space (cut at
    :data:`KEY_MAX` characters, on a word boundary)."""
    return _key(words(text))


SORT_KEY = "/sortKey"
"""Suffix of an index that only orders (``dc.title/sortKey``: the title proper):
keys for ``sortBy``, no full text, so that no search finds a record by it."""


def index_entries(index: Mapping[str, list[str]]) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """What a backend stores for one record: ``(index, text, [(key, display), …])``.

    ``text`` is the words of every value, values separated by
    :data:`VALUE_SEPARATOR` (empty for a :data:`SORT_KEY` index: a store
    writes no full-text row for it); keys are distinct, empty ones dropped.
    """
    for name, values in index.items():
        texts: list[str] = []
        keys: dict[str, str] = {}
        for value in values:
            ws = _words(value)
            if not ws:
                continue
            texts.append(" ".join(ws))
            keys.setdefault(_key(ws), value.strip()[:2 * KEY_MAX])
        if texts:
            text = "" if name.endswith(SORT_KEY) else f" {VALUE_SEPARATOR} ".join(texts)
            yield name, text, list(keys.items())


def record_entries(record: Record, modified: str) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """:func:`index_entries` of a record (``Record.entries`` when computed ahead)
    and its ``rec.lastModificationDate``, which only the store knows (keys only:
    its text is empty, and a store writes no full-text row for an empty text)."""
    entries = record.entries
    for e in index_entries(record.index) if entries is None else entries:
        if e[0] != "rec.lastModificationDate":
            yield e
    yield from _modified_entries(modified)


@lru_cache(maxsize=64)  # a batch of records shares one datestamp
def _modified_entries(modified: str) -> tuple[tuple[str, str, list[tuple[str, str]]], ...]:
    # Keys only (ranges, sortBy, scan): in the full text, a search of any index for
    # "2026" would match every record changed in 2026. Stores skip an empty text.
    return tuple((name, "", keys)
                 for name, _, keys in index_entries({"rec.lastModificationDate": [modified]}))


# ----------------------------------------------------------------------------- plan


class PlanTooBroad(Exception):
    """A masked term stands for too many words (or has no literal part) to run."""

    def __init__(self, term: str) -> None:
        super().__init__(f"the masked term '{term}' matches too many words")
        self.term = term



@dataclass(frozen=True, slots=True)
class Term:
    """One word position of a phrase.

    ``kind`` ``word`` (exact folded word), ``prefix`` (the word starts with
    ``text``: right truncation) or ``glob`` (``text`` is a pattern where ``*``
    is any run of characters and ``?`` one character, ``\\`` escaping them).
    """

    text: str
    kind: Literal["word", "prefix", "glob"] = "word"


@dataclass(frozen=True, slots=True)
class Phrase:
    """Records whose ``index`` text holds these terms adjacent and in order
    (one term: the word anywhere). ``index`` None means any index (server choice)."""

    index: str | None
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Near:
    """Two phrases in the same index text of a record with at most
    ``max_between`` words between them, in either order."""

    index: str | None
    left: Phrase
    right: Phrase
    max_between: int


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """Records with a key of ``index`` that compares with ``value``.

    ``op``: ``eq``, ``lt``, ``le``, ``gt``, ``ge`` (ordinary string order on keys)
    or ``glob`` (``value`` a pattern as in :class:`Term`).
    """

    index: str
    op: Literal["eq", "lt", "le", "gt", "ge", "glob"]
    value: str


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Records with one key of ``index`` between ``low`` and ``high`` (CQL
    ``within``): unlike ``And`` of two :class:`KeyMatch`, the same key must
    satisfy both ends."""

    index: str
    low: str
    high: str
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True, slots=True)
class AllRecords:
    """Every live record (``cql.allRecords``)."""


@dataclass(frozen=True, slots=True)
class And:
    left: PlanNode
    right: PlanNode


@dataclass(frozen=True, slots=True)
class Or:
    left: PlanNode
    right: PlanNode


@dataclass(frozen=True, slots=True)
class AndNot:
    """``left`` without the records of ``right`` (CQL ``not``)."""

    left: PlanNode
    right: PlanNode


PlanNode: TypeAlias = Phrase | Near | KeyMatch | KeyRange | AllRecords | And | Or | AndNot


@dataclass(frozen=True, slots=True)
class SortSpec:
    """Order by the smallest key of ``index`` (the largest when descending);
    records without one go last (``missing="high"``), first (``low``) or
    are left out (``omit``)."""

    index: str
    descending: bool = False
    missing: Literal["high", "low", "omit"] = "high"


@dataclass(frozen=True, slots=True)
class Plan:
    """A query a backend can run. With no ``sort`` the order is relevance
    (full-text score, best first; a backend may skip scoring for very large
    results), ties broken by record age, oldest first; the order is the same
    on every call for the same data."""

    root: PlanNode
    sort: tuple[SortSpec, ...] = ()


@dataclass(slots=True)
class SearchPage:
    """``total`` matching records (exact) and the ``items`` of the page asked for
    (:class:`~thuvien_interop.model.Item`, with the stored bytes of the prefix)."""

    total: int
    items: list  # list[Item]


@dataclass(frozen=True, slots=True)
class ScanTerm:
    """One entry of an index's term list: its key, a display form, and how many
    live records have it."""

    key: str
    display: str
    count: int


def iter_terms(pattern: str) -> Iterator[tuple[str, str]]:
    """Split a glob pattern into ``("literal", text)``, ``("many", "")``, ``("one", "")``."""
    buf: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            buf.append(pattern[i + 1])
            i += 2
            continue
        if c in "*?":
            if buf:
                yield "literal", "".join(buf)
                buf = []
            yield ("many" if c == "*" else "one"), ""
        else:
            buf.append(c)
        i += 1
    if buf:
        yield "literal", "".join(buf)
