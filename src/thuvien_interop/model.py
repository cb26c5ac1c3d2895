"""The vocabulary every layer shares: plain dataclasses, no I/O.

Datestamps are integers, UTC seconds since the epoch; they are formatted only at
the edge (see :mod:`thuvien_interop.dates`).

    >>> from thuvien_interop.model import Record
    >>> r = Record("oai:demo:1", canonical=b"<record/>", canonical_format="marc21")
    >>> r.deleted
    False
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The longest identifier a store accepts: database indexes limit the size of an
#: entry, and no real identifier comes near this.
MAX_IDENTIFIER = 1000


#: How much of a record each canonical format keeps, richest first: a stored record
#: is not replaced by one of the same origin in a poorer format (MARC21 over Dublin
#: Core, which loses 001, holdings and most of the structure).
CANONICAL_RANK: dict[str, int] = {"marc21": 2, "oai_dc": 1}


def richness(canonical_format: str) -> int:
    """The rank of a canonical format (:data:`CANONICAL_RANK`; 0 for any other)."""
    return CANONICAL_RANK.get(canonical_format, 0)


@dataclass(frozen=True, slots=True)
class MetadataFormat:
    """An OAI-PMH metadata format: its prefix, schema location and namespace."""

    prefix: str
    schema: str
    namespace: str


@dataclass(frozen=True, slots=True)
class Set:
    """A set: ``spec`` is colon-separated (``province:daklak:buonho``).

    ``description`` is plain text; the provider wraps it in an oai_dc setDescription.
    """

    spec: str
    name: str
    description: str | None = None

    @property
    def ancestors(self) -> list[str]:
        """``a:b:c`` → ``["a", "a:b"]``."""
        parts = self.spec.split(":")
        return [":".join(parts[:i]) for i in range(1, len(parts))]


def expand_set_specs(specs: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Every spec with its ancestors, sorted and without duplicates.

    A record in ``a:b:c`` is also in ``a:b`` and ``a`` (OAI-PMH 2.0 §2.7.2).
    """
    out: set[str] = set()
    for spec in specs:
        parts = spec.split(":")
        for i in range(1, len(parts) + 1):
            out.add(":".join(parts[:i]))
    return tuple(sorted(out))


@dataclass(slots=True)
class Header:
    """What the store knows of a record without its metadata. ``origin``: where the
    record comes from in this store (see :attr:`Record.origin`; ``None`` for the
    library's own records, and from a store that does not know).
    """

    identifier: str
    datestamp: int
    sets: tuple[str, ...] = ()
    deleted: bool = False
    origin: str | None = None


@dataclass(slots=True)
class Item:
    """A header with the stored bytes of one format (``None`` for deleted records
    and for listings of headers only). ``key`` is the keyset position."""

    header: Header
    key: tuple[int, int]
    metadata: bytes | None = None
    about: bytes | None = None


@dataclass(slots=True)
class Record:
    """A record on its way into a store.

    ``canonical`` is the record as the library keeps it: MARCXML for MARC21
    (``canonical_format="marc21"``) or an ``oai_dc:dc`` element
    (``canonical_format="oai_dc"``). ``rendered`` holds the XML of every exposed
    format, rendered once, keyed by metadata prefix. The store gives the record
    its datestamp: the moment it last changed *in this repository* (OAI-PMH §2.7.1),
    so an incremental harvester never misses a change. ``about`` is an optional OAI-PMH ``about``
    payload (provenance of harvested records).
    """

    identifier: str
    canonical: bytes = b""
    canonical_format: str = "marc21"
    sets: tuple[str, ...] = ()
    deleted: bool = False
    rendered: dict[str, bytes] = field(default_factory=dict)
    about: bytes | None = None
    index: dict[str, list[str]] = field(default_factory=dict)
    """Search keys by index name (``dc.title`` → terms), filled by the indexer."""
    entries: list[tuple[str, str, list[tuple[str, str]]]] | None = None
    """``index`` as the store keeps it (``search_plan.index_entries``), when it was
    computed ahead (by the harvester's worker processes); the store then uses it
    instead of ``index``. ``None``: the store computes it from ``index``."""
    origin: str | None = None
    """Where the record comes from in this store: a harvested provider's set spec
    (``source:xyz``) or a synced source's key; ``None`` for the library's own records.
    The store refuses, inside its write transaction, a record whose identifier is held
    by another origin (an identifier collision, reported in WriteSummary.collisions)."""
    about_key: bytes | None = None
    """What of ``about`` decides whether the record changed (default: all of it). The
    harvester gives its provenance without the harvest date, so that an unchanged record
    harvested again keeps its first harvest date (the stored row is left alone)."""
    facts: str | None = None
    """What clustering reads of the record (:class:`thuvien_interop.union.facts.Facts`
    as JSON), computed ahead by the pipeline; ``""``: nothing to cluster (no
    provider); ``None``: not computed (clustering reads the record itself)."""


@dataclass(frozen=True, slots=True)
class ClusterCounts:
    """How many records a union clusters and how they group."""

    records: int
    """Records clustering knows (with their facts)."""
    clusters: int
    """Clusters of two records or more."""
    clustered: int
    """Records in those clusters."""
    providers: int
    """Providers the records come from."""


@dataclass(slots=True)
class WriteSummary:
    """What a batch of writes did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    collisions: list[tuple[str, str | None]] = field(default_factory=list)
    """(identifier, origin that holds it) of records refused as identifier collisions."""
    kept: list[str] = field(default_factory=list)
    """Identifiers whose richer stored record was kept over a poorer one (MARC over DC)."""

    def __iadd__(self, other: WriteSummary) -> WriteSummary:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.collisions.extend(other.collisions)
        self.kept.extend(other.kept)
        return self


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The selective-harvesting arguments of a list request."""

    prefix: str | None = None
    from_: int | None = None
    until: int | None = None
    set: str | None = None


@dataclass(frozen=True, slots=True)
class RepositoryInfo:
    """What a store knows of itself."""

    earliest_datestamp: int | None
    record_count: int
    deleted_count: int
