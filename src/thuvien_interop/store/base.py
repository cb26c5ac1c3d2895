"""The store's contract: what every backend does, whatever database it sits on.

Backends know nothing of XML protocols: they keep bytes and keys. Every backend
passes the same test suite (``tests/test_store.py``), so a feature exists on all
of them or on none.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from ..model import (
    Item,
    ListQuery,
    Record,
    RepositoryInfo,
    Set,
    WriteSummary,
    expand_set_specs,
)
from .search_plan import FacetSpec, Plan, ScanTerm, SearchPage

Key = tuple[int, int]
"""A keyset position: (datestamp, change sequence). Lists are read after a key."""

#: Records a store writes in one transaction (the pipeline's batch, a worker's
#: chunk and a sync's page of the source, too), on SQLite and PostgreSQL alike. A
#: commit writes out every page it changed, and a batch's search keys fall all over
#: the search_keys b-tree: writing into a 100,000-record SQLite store, a batch of
#: 500 wrote ~0.5 MB a record, one of 2,000 ~0.18 MB with a quarter less CPU
#: (issue 16; ``python bench/import_files.py --batch 500,2000`` measures both).
WRITE_BATCH = 2000


class StoreError(Exception):
    """A store could not be opened or used; the message says why, for a person.

    ``written``: when a run of writes (an import, a sync) stopped on this error,
    what its batches committed before it (set by the pipeline; ``None``
    otherwise)."""

    written: WriteSummary | None = None


class StoreUnavailable(StoreError):
    """The store's database cannot be reached just now (a server restarted, down,
    failed over, a connection killed): worth trying again later. What was being
    done was not done (a write was rolled back)."""


#: How long a write waits, in all, for a store that went away to come back
#: (seconds; see :func:`retry_unavailable`).
RECONNECT_PATIENCE = 300.0

_log = logging.getLogger("thuvien_interop.store")
_T = TypeVar("_T")


def retry_unavailable(fn: Callable[[], _T], *, what: str = "writing",
                      patience: float = RECONNECT_PATIENCE,
                      sleep: Callable[[float], None] = time.sleep) -> _T:
    """``fn()``, done again while it raises :class:`StoreUnavailable`, after 1, 2,
    4 … 30 seconds, until ``patience`` seconds have passed (then the last
    failure is raised). ``fn`` must be safe to repeat: a store operation that
    failed this way was rolled back. Each wait is a warning in the log, in words.

    How the harvester, ``import`` and ``sync`` survive a database restart: the
    batch in hand is written again once the store is back, and the run goes on
    from its last commit."""
    deadline = time.monotonic() + patience
    pause = 1.0
    while True:
        try:
            return fn()
        except StoreUnavailable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            wait = min(pause, left)
            _log.warning("%s: %s; trying again in %.0f s", what, exc, wait)
            sleep(wait)
            pause = min(pause * 2, 30.0)


@runtime_checkable
class Catalogue(Protocol):
    """What the OAI-PMH provider reads: a catalogue of records and sets.

    Listing is keyset-paginated on ``(datestamp, seq)``: ``seq`` grows on every
    change, so a record changed during a harvest moves to the end of the list and
    is harvested again, never lost.
    """

    def info(self) -> RepositoryInfo:
        """Earliest datestamp and counts."""
        ...

    def prefixes(self, identifier: str | None = None) -> list[str] | None:
        """Metadata prefixes stored for one record (``None`` if it does not exist),
        or for the repository as a whole."""
        ...

    def sets(self, after: str | None, limit: int) -> list[Set]:
        """Sets in spec order, after ``after``: the defined sets some record (live
        or deleted) is in."""
        ...

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        """One page of items in key order after ``after``; with ``metadata`` the
        stored bytes of ``q.prefix`` come along."""
        ...

    def count(self, q: ListQuery) -> int:
        """How many items ``list`` would return in all."""
        ...

    def get(self, identifier: str, prefix: str | None = None) -> Item | None:
        """One record's header (and the stored bytes of ``prefix``)."""
        ...

    def canonical(self, identifier: str) -> tuple[str, bytes] | None:
        """(canonical format, canonical bytes) of a live record."""
        ...

    def stored_records(self, identifiers: Iterable[str]) -> dict[str, Record]:
        """The live records of these identifiers as stored — canonical form and
        sets, no rendered formats — read together (a cluster's page reads its
        members so)."""
        ...


@runtime_checkable
class Writable(Protocol):
    """What the write path uses: records, sets and search entries go in."""

    def write(self, records: Iterable[Record], *, now: int | None = None,
              replace: bool = False, clusters: Any = None) -> WriteSummary:
        """Upsert or delete; one transaction per batch, in which everything is
        decided (so that concurrent writers leave what sequential ones leave):

        * ``clusters`` (a union's, :func:`thuvien_interop.union.clusters.write_hook`)
          is called in each batch's transaction with the cluster tables and the
          records the batch wrote;

        * a record whose identifier is held by another ``origin`` is refused
          (``WriteSummary.collisions``);
        * a live record of a richer canonical format (:func:`~thuvien_interop.model.richness`)
          is kept over a poorer one of the same origin unless ``replace``
          (``WriteSummary.kept``); a deletion always applies;
        * an unchanged record (same :func:`checksum`, same sets) keeps its datestamp;
        * a record repeated in one call is applied in order, as if written once
          after the other, and counted so.
        """
        ...

    def put_sets(self, sets: Iterable[Set]) -> None:
        """Define sets (name and description); memberships come with records."""
        ...

    def refresh_statistics(self, written: int) -> bool:
        """Told at the end of a run that wrote ``written`` records: after a large
        load, refresh the query planner's statistics (whether it did)."""
        ...

    def rename_origin(self, old: str, new: str) -> int:
        """Give the records of origin ``old`` the origin ``new`` (a source renamed);
        their datestamps stay (nothing a harvester sees changed). Returns how many."""
        ...

    def set_memberships(self, changes: Iterable[tuple[str, tuple[str, ...]]], *,
                        now: int | None = None) -> int:
        """Replace the set memberships of existing records, given as (identifier,
        its setSpecs without ancestors); only records whose membership changed get
        a new datestamp (selective harvesters see exactly those). Returns how many."""
        ...

    def reindex(self, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
        """Replace the search entries of existing records, given as (identifier,
        ``Record.index``), leaving the records and their datestamps alone; return
        how many were reindexed (after an index profile changed)."""
        ...


@dataclass(slots=True)
class WorkPage:
    """A page of works (:meth:`~thuvien_interop.store.sql.SQLStore.search_works`):
    ``total`` matching works (a cluster of records counts once), the ``items`` of
    the page (each work's first matching record) and the ``sizes`` of their
    clusters (records, one a library; 1 for a record alone)."""

    total: int
    items: list  # list[Item]
    sizes: list[int]


@runtime_checkable
class Searchable(Protocol):
    """What the SRU engine uses."""

    def search(self, plan: Plan, start: int, limit: int, *,
               prefix: str | None = None) -> SearchPage:
        """Run a search plan (:mod:`~thuvien_interop.store.search_plan`, built by the
        SRU layer from CQL); return the exact number of live matching records and
        the ``limit`` items from 1-based position ``start``, each with the stored
        bytes of ``prefix``.

        The contract every backend keeps:

        * what is indexed is ``Record.index`` (index name → values) plus
          ``rec.lastModificationDate`` from the datestamp (ISO 8601 UTC; as keys
          only, never in the full text), written in the same transaction as the
          record; a deleted record is in no index;
        * words and keys come from :func:`~thuvien_interop.store.search_plan.words`
          and :func:`~thuvien_interop.store.search_plan.key_of` (folded: case,
          diacritics, đ→d), so "Ha Noi", "HÀ NỘI" and NFD "Hà Nội" are one key;
        * a :class:`Phrase` matches adjacent words inside one value of the index
          (never across two values), and ``index=None`` means any one index;
          :class:`And`/:class:`AndNot` of phrases are per record, not per index;
        * :class:`Near` counts the words between the two phrases within one
          index's text (a value boundary counts as one word);
        * ``glob`` terms and keys: ``*`` any run, ``?`` one character, ``\\``
          escapes; a term standing for too many words raises
          :class:`~thuvien_interop.store.search_plan.PlanTooBroad`;
        * order: ``plan.sort`` keys, else relevance (best first), ties by the
          order records were first written; a backend may give up relevance for
          very large results (SQLite: more than ``RANK_LIMIT`` matching index
          rows; PostgreSQL: more than its ``RANK_LIMIT`` records) and use that
          write order alone; the same query on the same data
          always gives the same order.
        """
        ...

    def scan(self, index: str, start: str, position: int, count: int) -> list[ScanTerm]:
        """The keys of an index in order, with their display form and how many live
        records have each: up to ``count`` terms placed so that the first key
        ``>= start`` is at 1-based ``position`` (when enough keys come before it).
        ``start`` is a key (:func:`~thuvien_interop.store.search_plan.key_of`)."""
        ...

    def facets(self, plan: Plan, specs: Sequence[FacetSpec]) -> dict[str, list[ScanTerm]]:
        """For each facet of ``specs`` (by index name), the keys of that index among
        the live records ``plan`` matches and how many of them have each: the
        commonest first (ties by key), or in key order with ``by_key``; at most
        ``limit``; ``prefix`` counts records by their keys' first characters
        (digits only: a date index's decades). Besides the profile's indexes, the
        store keeps ``local.library`` (:data:`~.search_plan.LIBRARY_INDEX`): the
        provider of a harvested record."""
        ...


def time_budget(store: object, seconds: float | None) -> AbstractContextManager[None]:
    """``store.time_budget(seconds)`` (:meth:`.sql.SQLStore.time_budget`: the
    searches inside the block raise :class:`~.search_plan.PlanTooSlow` past
    ``seconds``), or no bound for a searchable store that offers none."""
    bound = getattr(store, "time_budget", None)
    return bound(seconds) if bound is not None else nullcontext()


@runtime_checkable
class Leases(Protocol):
    """Leases, so that several harvester processes or nodes share a provider list."""

    def lease(self, name: str, holder: str, seconds: int, *, now: int | None = None) -> bool:
        """Take or renew the lease on ``name`` for ``seconds``; False if another
        holder's lease has not expired."""
        ...

    def claim(self, names: Sequence[str], holder: str, seconds: int, *,
              now: int | None = None) -> str | None:
        """Lease the first of ``names`` (in the order given) that nobody holds, or None."""
        ...

    def release(self, name: str, holder: str) -> bool:
        """Give a lease back early; False if ``holder`` does not hold it."""
        ...

    def lease_holder(self, name: str, *, now: int | None = None) -> str | None:
        """Who holds an unexpired lease on ``name`` (None if nobody)."""
        ...


@runtime_checkable
class Settings(Protocol):
    """Small named values kept with the store (token secret, harvest state)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def setdefault_meta(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is already there, atomically;
        return the value that is there now. Workers starting at the same moment
        over a new store agree on one value (the token secret, for one)."""
        ...


@runtime_checkable
class Repository(Catalogue, Writable, Searchable, Leases, Settings, Protocol):
    """Every capability at once: what the SQL stores are."""

    def close(self) -> None: ...


def checksum(record: Record) -> bytes:
    """What decides whether a re-imported record "really changed": its content,
    ``about_key`` standing for ``about`` when given. Sets are not in it: stores
    compare them as their own column, so that sets evaluated again
    (``set_memberships``) do not make the next import find every record changed."""
    about = record.about if record.about_key is None else record.about_key
    return _digest(record, None, about)


def checksum_v1(record: Record) -> bytes:
    """The checksum stores kept before sets were compared on their own (with the
    sets and the whole ``about``): rows written then still compare unchanged."""
    return _digest(record, "\n".join(expand_set_specs(record.sets)), record.about)


def _digest(record: Record, sets: str | None, about: bytes | None) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(record.canonical_format.encode())
    h.update(b"\0D" if record.deleted else b"\0L")
    h.update(record.canonical)
    if sets is not None:
        h.update(b"\0S" + sets.encode())
    h.update(b"\0A" + (about or b""))
    for prefix in sorted(record.rendered):
        h.update(b"\0P" + prefix.encode() + b"\0" + record.rendered[prefix])
    return h.digest()
