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
from collections.abc import Iterable, Iterator, Mapping
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
    "PlanTooComplex",
    "PlanTooSlow",
    "MAX_DEPTH",
    "MAX_LEAVES",
    "all_of",
    "any_of",
    "FacetSpec",
    "LIBRARY_INDEX",
    "ScanTerm",
    "SearchPage",
    "SortSpec",
    "Term",
    "index_entries",
    "record_entries",
    "provider_of_sets",
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


LIBRARY_INDEX = "local.library"
"""The index of the library a record came from: its provider set (``source:<name>``),
filled by the store as it writes (keys only), so that searches and facets can
narrow to one library of a union."""


def record_entries(record: Record, modified: str) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """:func:`index_entries` of a record (``Record.entries`` when computed ahead)
    and its ``rec.lastModificationDate``, which only the store knows (keys only:
    its text is empty, and a store writes no full-text row for an empty text)."""
    entries = record.entries
    for e in index_entries(record.index) if entries is None else entries:
        if e[0] not in ("rec.lastModificationDate", LIBRARY_INDEX):
            yield e
    yield from _modified_entries(modified)
    provider = provider_of_sets(record.sets)
    if provider:
        yield from _library_entries(provider)


def provider_of_sets(sets: Iterable[str]) -> str:
    """The provider a harvested record came from (its ``source:<name>`` set, the
    first in order), or ``""``."""
    for spec in sets:
        if spec.startswith("source:"):
            return spec[len("source:"):].split(":", 1)[0]
    return ""


@lru_cache(maxsize=1024)
def _library_entries(provider: str) -> tuple[tuple[str, str, list[tuple[str, str]]], ...]:
    return tuple((name, "", keys) for name, _, keys in index_entries({LIBRARY_INDEX: [provider]}))


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


class PlanTooComplex(Exception):
    """A plan beyond what every store can run (:data:`MAX_LEAVES`, :data:`MAX_DEPTH`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PlanTooSlow(Exception):
    """A search that ran past its time budget (``SQLStore.time_budget``); the store
    stopped it and is ready for the next one."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the search took longer than its time budget of {seconds:g} s")
        self.seconds = seconds


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

# ----------------------------------------------------------------------------- shape

#: The most leaves (phrases, key matches…) a plan may have, and the deepest nesting
#: of And/Or/AndNot once chains are balanced. The compilers turn each level into a
#: nested subquery (or a parenthesized full-text group) and SQLite's parsers have
#: fixed stacks: before balancing, 16 ANDed words overflowed SQLite 3.40's SQL
#: parser and ~100 ORed ones its FTS5 parser (issue 17); balanced, a sorted query
#: of alternately nested booleans overflowed at depth 11 at worst (measured over
#: words, masked words, dates, ranges, on one index or on any). A balanced chain of
#: MAX_LEAVES leaves is 10 levels deep.
MAX_LEAVES = 1000
MAX_DEPTH = 10


def _chain(node: PlanNode, kind: type) -> list[PlanNode]:
    """The operands of a chain of ``kind`` (And or Or), left to right, however the
    chain is nested (an explicit stack: a chain may be thousands of nodes deep)."""
    out: list[PlanNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is kind:
            stack.append(n.right)  # type: ignore[union-attr]
            stack.append(n.left)  # type: ignore[union-attr]
        else:
            out.append(n)
    return out


def _balanced(kind: type, items: list[tuple[PlanNode, int]]) -> tuple[PlanNode, int]:
    """(node, depth) pairs joined by ``kind`` into one balanced tree, and its depth.
    Halving keeps the depth at log2(len(items)); recursion is that deep only."""
    if len(items) == 1:
        return items[0]
    mid = len(items) // 2
    (left, dl), (right, dr) = _balanced(kind, items[:mid]), _balanced(kind, items[mid:])
    return kind(left, right), 1 + max(dl, dr)


def all_of(nodes: Iterable[PlanNode]) -> PlanNode:
    """The records every node matches: nested Ands flattened into one balanced tree,
    so that a long chain stays shallow for the compilers.

        >>> a, b, c = (Phrase(None, (Term(w),)) for w in "abc")
        >>> all_of([And(a, b), c]) == And(a, And(b, c))
        True
    """
    flat = [(leaf, 0) for n in nodes for leaf in _chain(n, And)]
    if not flat:
        raise ValueError("all_of needs at least one node")
    return _balanced(And, flat)[0]


def any_of(nodes: Iterable[PlanNode]) -> PlanNode:
    """The records any node matches, as :func:`all_of` builds an And."""
    flat = [(leaf, 0) for n in nodes for leaf in _chain(n, Or)]
    if not flat:
        raise ValueError("any_of needs at least one node")
    return _balanced(Or, flat)[0]


def _parts(node: PlanNode) -> list[PlanNode] | None:
    """The operands a node is rebuilt from (None for a leaf): an And or Or chain's,
    or for ``a not b not (c or d)`` the base ``a`` then ``b``, ``c``, ``d``."""
    if isinstance(node, And | Or):
        return _chain(node, type(node))
    if isinstance(node, AndNot):
        subtract: list[PlanNode] = []
        while isinstance(node, AndNot):
            subtract.append(node.right)
            node = node.left
        return [node, *(x for sub in reversed(subtract) for x in _chain(sub, Or))]
    return None


def _shaped(root: PlanNode) -> PlanNode:
    """``root`` with every And/Or chain balanced and ``a not b not c`` as
    ``a not (b or c)``; PlanTooComplex beyond MAX_LEAVES or MAX_DEPTH. Iterative
    (post-order over an explicit stack): a plan built by hand may be a chain
    thousands of nodes deep."""
    done: list[tuple[PlanNode, int]] = []  # shaped operands, in order, with depths
    leaves = 0
    stack: list[tuple[PlanNode, list[PlanNode] | None]] = [(root, None)]
    while stack:
        node, parts = stack.pop()
        if parts is None:
            parts = _parts(node)
            if parts is None:
                leaves += 1
                if leaves > MAX_LEAVES:
                    raise PlanTooComplex(f"the query has more than {MAX_LEAVES} search terms")
                done.append((node, 0))
                continue
            stack.append((node, parts))
            stack.extend((p, None) for p in reversed(parts))
            continue
        items = done[-len(parts):]
        del done[-len(parts):]
        if len(items) > 2:
            # a and a is a, a or a is a: a generated query repeats itself often, and
            # every operand costs the stores a subquery. (Shaped, so hashing is shallow.)
            items = [items[0], *dict.fromkeys(items[1:])] if isinstance(node, AndNot) \
                else list(dict.fromkeys(items))
        if isinstance(node, AndNot):
            right, dr = _balanced(Or, items[1:])
            shaped: tuple[PlanNode, int] = (AndNot(items[0][0], right), 1 + max(items[0][1], dr))
        else:
            shaped = _balanced(type(node), items)
        if shaped[1] > MAX_DEPTH:
            raise PlanTooComplex(f"the query nests its booleans more than {MAX_DEPTH} deep")
        done.append(shaped)
    return done[0][0]


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

    def __post_init__(self) -> None:
        # Every plan a store receives is shaped and within the limits (PlanTooComplex
        # otherwise): And/Or chains balanced, however the plan was built.
        object.__setattr__(self, "root", _shaped(self.root))


@dataclass(slots=True)
class SearchPage:
    """``total`` matching records (exact) and the ``items`` of the page asked for
    (:class:`~thuvien_interop.model.Item`, with the stored bytes of the prefix)."""

    total: int
    items: list  # list[Item]


@dataclass(frozen=True, slots=True)
class FacetSpec:
    """One facet to count over a result: the keys of ``index``, the ``limit``
    commonest first (ties by key; ``by_key``: in key order); with ``prefix``
    set, keys are counted by their first ``prefix`` characters (a date index
    by ``3``: decades, "199" for 1990-1999), and only keys starting with a digit."""

    index: str
    limit: int = 10
    prefix: int | None = None
    by_key: bool = False


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
