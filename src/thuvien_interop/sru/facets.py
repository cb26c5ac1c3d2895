"""Facets: how many of a search's records have each value of an index, for the
readers' page and for SRU 2.0's ``facetedResults`` alike.

Counted by the store over the whole result (:meth:`Searchable.facets`), never
over a page. The facets a reader narrows by are :data:`FACETS`: library,
province, kind of library, document type, year (decades), language and subject.
Province and kind of library are not stored with the records: they are the
library's (``[provider.library]`` of the harvest configuration, see
:class:`LibraryGroups`), so their counts are the sums of their libraries', and a
search on ``local.province`` is a search on the libraries of that province —
exact, since a record comes from one library, and right again the moment the
configuration changes, with no re-indexing.

    >>> groups = LibraryGroups({"buonho": {"local.province": "Đắk Lắk", "local.libraryKind": "school"}})
    >>> groups.libraries("local.province", "dak lak")
    ('buonho',)
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..store.search_plan import LIBRARY_INDEX, FacetSpec, Plan, ScanTerm, key_of
from .diagnostics import Diagnostic

__all__ = ["FACETS", "Facet", "FacetRequest", "FacetTerm", "GROUPED", "LibraryGroups", "count",
           "narrowing", "parse_facet_parameters"]

#: The indexes whose values are a library's, not a record's.
GROUPED: tuple[str, ...] = ("local.province", "local.libraryKind")


@dataclass(frozen=True, slots=True)
class Facet:
    """A facet readers narrow by: an index, its labels (vi, en), and for a date
    index the width of its buckets in leading characters (3: decades)."""

    index: str
    labels: tuple[str, str]
    prefix: int | None = None


FACETS: tuple[Facet, ...] = (
    Facet(LIBRARY_INDEX, ("Thư viện", "Library")),
    Facet("local.province", ("Tỉnh, thành phố", "Province")),
    Facet("local.libraryKind", ("Loại thư viện", "Kind of library")),
    Facet("dc.type", ("Loại tài liệu", "Document type")),
    Facet("dc.date", ("Năm xuất bản", "Year"), prefix=3),
    Facet("dc.language", ("Ngôn ngữ", "Language")),
    Facet("dc.subject", ("Chủ đề", "Subject")),
)
_BY_INDEX = {f.index: f for f in FACETS}


@dataclass(frozen=True, slots=True)
class FacetTerm:
    """One value of a facet: ``value`` (what a query names), how it reads, its
    count, and the CQL clause that narrows a search to it."""

    value: str
    display: str
    count: int
    clause: str
    estimated: bool = False
    """``count`` is estimated from a sample of the result (see :func:`count`)."""


@dataclass(slots=True)
class LibraryGroups:
    """Each library's province and kind (provider name → {index: value}), and
    the libraries a value stands for."""

    of: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def libraries(self, index: str, key: str, *, glob: bool = False) -> tuple[str, ...]:
        """The providers whose ``index`` value has the folded ``key`` (a glob
        pattern of ``*`` and ``?`` with ``glob``), in name order."""
        out = []
        for name, values in self.of.items():
            value = key_of(values.get(index, ""))
            if value and (fnmatch.fnmatchcase(value, key) if glob else value == key):
                out.append(name)
        return tuple(sorted(out))

    def display(self, index: str, key: str) -> str:
        return next((v[index] for v in self.of.values() if key_of(v.get(index, "")) == key), key)

    def __bool__(self) -> bool:
        return bool(self.of)


@dataclass(frozen=True, slots=True)
class FacetRequest:
    """What to count: an index, how many terms from which position, in which order."""

    index: str
    limit: int
    start: int = 1
    by_key: bool = False


def _quote(value: str) -> str:
    return '"' + re.sub(r'([\\"*?^])', r"\\\1", value) + '"'


def clause_for(index: str, term: ScanTerm, prefix: int | None = None) -> str:
    """The CQL that narrows a search to one facet term."""
    return narrowing(index, term.key if prefix else term.display)


def narrowing(index: str, value: str) -> str:
    """The CQL clause for one facet value, as :attr:`FacetTerm.value` names it
    (a date facet's value is its bucket: "199" is 1990-1999)."""
    facet = _BY_INDEX.get(index)
    if facet is not None and facet.prefix and value.isdigit() and len(value) == facet.prefix:
        return f'{index} within "{value.ljust(4, "0")} {value.ljust(4, "9")}"'
    return f"{index} = {_quote(value)}"


def count(repository, plan: Plan, requests: Sequence[FacetRequest],
          groups: LibraryGroups | None = None, *, works: bool = False,
          sample: int | None = None) -> dict[str, list[FacetTerm]]:
    """The terms of each requested facet among the records ``plan`` matches
    (a grouped index counts each library's records under its group); with
    ``works``, among its works (the records of one cluster counted once); past
    ``sample`` matching records, estimated from a sample of about that many."""
    groups = groups or LibraryGroups()
    specs: dict[str, FacetSpec] = {}
    grouped: dict[str, dict[str, str]] = {}
    for r in requests:
        if r.index in GROUPED:
            if not groups:
                continue
            grouped[r.index] = {key_of(name): key_of(values.get(r.index, ""))
                                for name, values in groups.of.items()}
        want = r.start - 1 + r.limit
        old = specs.get(r.index)
        facet = _BY_INDEX.get(r.index)
        specs[r.index] = FacetSpec(r.index, max(want, old.limit if old else 0),
                                   facet.prefix if facet else None, r.by_key)
    found = repository.facets(plan, list(specs.values()), works=works, groups=grouped,
                              sample=sample) if specs else {}
    estimated = bool(getattr(found, "estimated", False))
    out: dict[str, list[FacetTerm]] = {}
    for r in requests:
        terms = found.get(r.index, [])
        if r.index in GROUPED:
            terms = [ScanTerm(t.key, groups.display(r.index, t.key), t.count) for t in terms]
        if r.by_key:
            terms = sorted(terms, key=lambda t: t.key)
        prefix = _BY_INDEX[r.index].prefix if r.index in _BY_INDEX else None
        display = _decade if prefix else (lambda t: t.display)
        out[r.index] = [FacetTerm(t.key if prefix else t.display, display(t), t.count,
                                  clause_for(r.index, t, prefix), estimated)
                        for t in terms[r.start - 1:r.start - 1 + r.limit]]
    return out


def _decade(t: ScanTerm) -> str:
    return f"{t.key}0–{t.key}9" if len(t.key) == 3 else t.key


# -- SRU 2.0 facet parameters ------------------------------------------------------------

#: SRU 2.0 (searchRetrieve part 3, "Faceted results") request parameters we answer.
FACET_PARAMETERS = ("facetLimit", "facetStart", "facetSort")
MAX_FACET_TERMS = 1000


def _pairs(name: str, value: str) -> list[tuple[str, str | None]]:
    """``"10:dc.subject,5:dc.date"`` → [("10", "dc.subject"), ("5", "dc.date")];
    a value without an index applies to every facet (None)."""
    out: list[tuple[str, str | None]] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            raise Diagnostic(6, name, f"{name} has an empty entry: write e.g. {name}=10:dc.subject")
        head, sep, index = part.partition(":")
        out.append((head.strip(), index.strip() if sep else None))
    return out


def parse_facet_parameters(args: Mapping[str, str], known: set[str]) -> list[FacetRequest]:
    """The facets an SRU 2.0 request asks for (none without ``facetLimit``):
    ``facetLimit=count[:index],…`` (a count alone: every facet of :data:`FACETS`),
    ``facetStart=position[:index],…``, ``facetSort=alphanumeric|recordCount[:index],…``.
    ``known``: the index names that can be counted. Diagnostic 6 for a bad value,
    16 for an unknown index."""
    if "facetLimit" not in args:
        for name in ("facetStart", "facetSort"):
            if name in args:
                raise Diagnostic(6, name, f"{name} needs facetLimit (e.g. facetLimit=10:dc.subject)")
        return []

    def index_of(name: str, index: str | None) -> str | None:
        if index is not None and index not in known:
            raise Diagnostic(16, index, f"{name}: there is no index '{index}' to count")
        return index

    limits: dict[str | None, int] = {}
    for head, index in _pairs("facetLimit", args["facetLimit"]):
        if not head.isdigit() or int(head) > MAX_FACET_TERMS:
            raise Diagnostic(6, "facetLimit", f"facetLimit takes whole numbers up to {MAX_FACET_TERMS}, "
                             f"each with an index: e.g. 10:dc.subject (got '{head}')")
        limits[index_of("facetLimit", index)] = int(head)
    starts: dict[str | None, int] = {}
    for head, index in _pairs("facetStart", args.get("facetStart", "1")):
        if not head.isdigit() or int(head) < 1:
            raise Diagnostic(6, "facetStart", f"facetStart takes positions from 1 (got '{head}')")
        starts[index_of("facetStart", index)] = int(head)
    sorts: dict[str | None, bool] = {}
    for head, index in _pairs("facetSort", args.get("facetSort", "recordCount")):
        if head not in ("alphanumeric", "recordCount"):
            raise Diagnostic(6, "facetSort", f"facetSort is alphanumeric or recordCount (got '{head}')")
        sorts[index_of("facetSort", index)] = head == "alphanumeric"
    indexes = [i for i in limits if i is not None]
    if None in limits:
        indexes += [f.index for f in FACETS if f.index not in indexes and f.index in known]
    out = []
    for index in indexes:
        limit = limits.get(index, limits.get(None, 0))
        if limit:
            out.append(FacetRequest(index, limit, starts.get(index, starts.get(None, 1)),
                                    sorts.get(index, sorts.get(None, False))))
    return out


def label(index: str, lang: int) -> str | None:
    """A facet's label in Vietnamese (0) or English (1), if it is one of :data:`FACETS`."""
    facet = _BY_INDEX.get(index)
    return facet.labels[lang] if facet else None
