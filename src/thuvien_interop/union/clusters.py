"""Incremental clustering: each write updates only the clusters it touches.

Two records *agree* when they share a key and :func:`.match.compare` accepts them.
The records and their agreements form a graph; its connected parts are kept as
*parts* (an internal number each). A part's *cluster* holds, of each provider,
its record with the smallest identifier; a provider's other records in the part
(a library that catalogued one edition twice, or a chain that reached a second
record of one library) stay *alone*, each its own cluster. A cluster's id is its
smallest record identifier (which is always in it); a record alone is its own
cluster. All of this is a function of the records alone: any order of the same
writes gives the same clusters.

No edge is stored. Writing a record compares it with the candidates its keys
find, one part at a time: the first member of a part that agrees joins the
whole part (in a part of 500 libraries' copies of one textbook, that is usually
the first one tried), so a write costs the parts it touches, not their size
squared. Deleting or changing a record re-checks its old part (does it fall
apart without it?) by comparing its remaining members the same way. ``why``
recomputes the decisions from the keys, so it is always answerable.

The state is reached only through :class:`ClusterIndex`; :class:`MemoryIndex`
keeps it in dictionaries, the SQL stores in three tables
(:class:`thuvien_interop.store.sql.ClusterTables`, opened by :func:`open_index`),
written by the pipeline in each batch's own transaction (:func:`write_hook`).

    >>> from thuvien_interop.union.facts import Facts
    >>> index = MemoryIndex()
    >>> c = Clusterer(index)
    >>> _ = c.put(Facts("oai:a:1", "a", (("isbn:9786041234567", "020"),), "book", 2020))
    >>> _ = c.put(Facts("oai:b:1", "b", (("isbn:9786041234567", "020"),), "book", 2020))
    >>> sorted(index.members("oai:a:1"))
    ['oai:a:1', 'oai:b:1']
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pymarc

from ..model import ClusterCounts, Record
from .facts import Facts, facts_from_marc, facts_from_record, provider_of
from .match import Decision, MatchConfig, agrees, compare

__all__ = ["ClusterChange", "ClusterCounts", "ClusterIndex", "Clusterer", "MemoryIndex", "Why",
           "configure", "facts_json", "open_index", "rebuild", "stored_config", "write_hook"]


class ClusterIndex(Protocol):
    """Where clustering keeps its state.

    The reading half is what pages and commands use: :meth:`facts`,
    :meth:`records_with_key`, :meth:`cluster_of`, :meth:`clusters_of`,
    :meth:`members`, :meth:`counts`, :meth:`largest`, :meth:`iter_clusters`. The
    writing half is what :class:`Clusterer` uses; each method is one statement or
    two over the store's tables.
    """

    # -- reading ------------------------------------------------------------------
    def facts(self, record: str) -> Facts | None: ...
    def records_with_key(self, key: str, limit: int) -> list[str]:
        """Up to ``limit`` records with ``key``, in identifier order."""
    def cluster_of(self, record: str) -> str | None:
        """The id of the record's cluster (itself when alone); ``None`` for a record
        clustering does not know (deleted, or never clustered)."""
    def clusters_of(self, records: Iterable[str]) -> dict[str, str]:
        """:meth:`cluster_of` of many records at once (those it knows)."""
    def members(self, cluster: str) -> set[str]:
        """The records of a cluster (empty for an id that is no cluster)."""
    def counts(self) -> ClusterCounts: ...
    def largest(self, limit: int) -> list[tuple[str, int]]:
        """``(cluster, size)`` of the largest clusters, largest first, then by id."""
    def iter_clusters(self, min_size: int = 2) -> Iterator[tuple[str, list[str]]]:
        """Every cluster of at least ``min_size`` records with its members (sorted),
        in cluster id order."""

    # -- writing (for the Clusterer) ----------------------------------------------
    def facts_many(self, records: Iterable[str]) -> dict[str, Facts]: ...
    def put_facts(self, facts: Facts) -> None:
        """Store a record's facts and keys (replacing what it had; its part is kept)."""
    def remove_facts(self, record: str) -> None:
        """Forget a record: its facts, its keys, its place in its part."""
    def candidates(self, keys: Iterable[str], limit: int) -> dict[str, list[str]]:
        """For each key, its records in identifier order: all of them, or the
        first ``limit + 1`` when it has more than ``limit`` (too common). (An index
        may list fewer: see :meth:`unlisted`.)"""
    def unlisted(self, part: int, keys: Iterable[str], listed: Iterable[str]) -> list[str]:
        """The records of ``part`` with one of ``keys`` that :meth:`candidates` did
        not list (beside ``listed``), in identifier order: none, unless the index
        lists only the first of a key's many records in one part."""
    def parts_of(self, records: Iterable[str]) -> dict[str, int]: ...
    def providers_of(self, records: Iterable[str]) -> dict[str, str]:
        """Record → its provider, of these records (those the index knows)."""
    def part_members(self, part: int) -> dict[str, tuple[str, bool]]:
        """Record → (provider, alone) of every record of a part."""
    def part_head(self, part: int) -> str | None: ...
    def part_sizes(self, parts: Iterable[int]) -> dict[int, int]: ...
    def of_providers(self, part: int, providers: Iterable[str]) -> dict[str, list[str]]:
        """Provider → its records in the part, for these providers."""
    def place(self, part: int | None, records: Mapping[str, bool]) -> int:
        """Put records (with their *alone* flag) in a part (``None``: a new one);
        the part's number."""
    def merge(self, into: int, parts: Iterable[int]) -> None:
        """Move every record of ``parts`` into part ``into``; the parts are gone."""
    def settle(self, part: int) -> str | None:
        """Recompute a part's head and size from its records (forget it when it
        has none); the head."""


class MemoryIndex:
    """:class:`ClusterIndex` in dictionaries (tests, and one process's scratch)."""

    def __init__(self) -> None:
        self._facts: dict[str, Facts] = {}
        self._keys: dict[str, set[str]] = {}
        self._part: dict[str, int] = {}
        self._alone: dict[str, bool] = {}
        self._parts: dict[int, set[str]] = {}
        self._heads: dict[int, tuple[str, int]] = {}   # part → (head, size)
        self._by_head: dict[str, int] = {}
        self._numbers = itertools.count(1)

    # -- reading ------------------------------------------------------------------
    def facts(self, record: str) -> Facts | None:
        return self._facts.get(record)

    def records_with_key(self, key: str, limit: int) -> list[str]:
        return sorted(self._keys.get(key, ()))[:limit]

    def cluster_of(self, record: str) -> str | None:
        part = self._part.get(record)
        if part is None:
            return None
        if self._alone.get(record):
            return record
        return self._heads[part][0]

    def clusters_of(self, records: Iterable[str]) -> dict[str, str]:
        return {r: c for r in records if (c := self.cluster_of(r)) is not None}

    def members(self, cluster: str) -> set[str]:
        part = self._by_head.get(cluster)
        if part is not None:
            return {r for r in self._parts[part] if not self._alone[r]}
        return {cluster} if self._alone.get(cluster) else set()

    def counts(self) -> ClusterCounts:
        big = [size for _, size in self._heads.values() if size > 1]
        return ClusterCounts(len(self._facts), len(big), sum(big),
                             len({f.provider for f in self._facts.values()}))

    def largest(self, limit: int) -> list[tuple[str, int]]:
        return sorted(((h, s) for h, s in self._heads.values() if s > 1),
                      key=lambda hs: (-hs[1], hs[0]))[:limit]

    def iter_clusters(self, min_size: int = 2) -> Iterator[tuple[str, list[str]]]:
        for head, size in sorted(self._heads.values()):
            if size >= min_size:
                yield head, sorted(self.members(head))
        if min_size <= 1:
            for r in sorted(r for r, alone in self._alone.items() if alone):
                yield r, [r]

    # -- writing ------------------------------------------------------------------
    def facts_many(self, records: Iterable[str]) -> dict[str, Facts]:
        return {r: f for r in records if (f := self._facts.get(r)) is not None}

    def put_facts(self, facts: Facts) -> None:
        self._drop_keys(facts.id)
        self._facts[facts.id] = facts
        for key in facts.key_set:
            self._keys.setdefault(key, set()).add(facts.id)

    def _drop_keys(self, record: str) -> None:
        old = self._facts.get(record)
        for key in old.key_set if old else ():
            ids = self._keys.get(key, set())
            ids.discard(record)
            if not ids:
                self._keys.pop(key, None)

    def remove_facts(self, record: str) -> None:
        self._drop_keys(record)
        self._facts.pop(record, None)
        part = self._part.pop(record, None)
        self._alone.pop(record, None)
        if part is not None:
            self._parts[part].discard(record)

    def candidates(self, keys: Iterable[str], limit: int) -> dict[str, list[str]]:
        return {k: sorted(self._keys[k])[:limit + 1] for k in keys if k in self._keys}

    def unlisted(self, part: int, keys: Iterable[str], listed: Iterable[str]) -> list[str]:
        return []

    def parts_of(self, records: Iterable[str]) -> dict[str, int]:
        return {r: p for r in records if (p := self._part.get(r)) is not None}

    def providers_of(self, records: Iterable[str]) -> dict[str, str]:
        return {r: f.provider for r in records if (f := self._facts.get(r)) is not None}

    def part_members(self, part: int) -> dict[str, tuple[str, bool]]:
        return {r: (self._facts[r].provider, self._alone[r]) for r in self._parts.get(part, ())}

    def part_head(self, part: int) -> str | None:
        got = self._heads.get(part)
        return got[0] if got else None

    def part_sizes(self, parts: Iterable[int]) -> dict[int, int]:
        return {p: self._heads[p][1] for p in parts if p in self._heads}

    def of_providers(self, part: int, providers: Iterable[str]) -> dict[str, list[str]]:
        wanted = set(providers)
        out: dict[str, list[str]] = {}
        for r in sorted(self._parts.get(part, ())):
            if (p := self._facts[r].provider) in wanted:
                out.setdefault(p, []).append(r)
        return out

    def place(self, part: int | None, records: Mapping[str, bool]) -> int:
        if part is None:
            part = next(self._numbers)
            self._parts[part] = set()
        for r, alone in records.items():
            old = self._part.get(r)
            if old is not None and old != part:
                self._parts[old].discard(r)
            self._part[r] = part
            self._alone[r] = alone
            self._parts[part].add(r)
        return part

    def merge(self, into: int, parts: Iterable[int]) -> None:
        for p in parts:
            for r in self._parts.pop(p, set()):
                self._part[r] = into
                self._parts[into].add(r)
            self._forget_head(p)

    def _forget_head(self, part: int) -> None:
        old = self._heads.pop(part, None)
        if old is not None and self._by_head.get(old[0]) == part:
            del self._by_head[old[0]]

    def settle(self, part: int) -> str | None:
        self._forget_head(part)
        main = [r for r in self._parts.get(part, ()) if not self._alone[r]]
        if not main:
            self._parts.pop(part, None)
            return None
        head = min(main)
        self._heads[part] = (head, len(main))
        self._by_head[head] = part
        return head

    # What the tests look at (not part of the protocol).
    def clusters(self) -> list[frozenset[str]]:
        """Every cluster as a set of record ids, sorted."""
        return sorted((frozenset(m) for _, m in self.iter_clusters(1)), key=sorted)

    def is_empty(self) -> bool:
        return not (self._facts or self._keys or self._part or self._parts or self._heads)


class BatchIndex(MemoryIndex):
    """A batch's view of a store's cluster tables: what the batch can touch is read
    in a few statements (:meth:`prefetch`: its records, the records its keys
    find, and the head and size of their parts), clustering runs in memory, and
    :meth:`flush` writes what changed in a few more. Whatever was not read ahead
    is read when asked for.

    A part's records are read whole only when a write needs them all (a record
    leaves it and it may split; it is merged into a larger one). A record joining
    a part — the common write, a library's copy of an edition others hold — reads
    the part's head and size and its records of the same provider, and settles it
    from those: the write costs the same in a cluster of 500 copies as of 2.
    ``inner`` is a :class:`~thuvien_interop.store.sql.ClusterTables` (its bulk
    methods ``rows``, ``key_rows``, ``heads``, ``max_part`` and ``apply``)."""

    #: A key more records than this share, all in one part, lists only its first.
    FEW = 16

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self._limit = MatchConfig().max_key_records
        self._known: set[str] = set()          # records whose row (or its absence) was read
        self._stored: set[str] = set()         # ... of which the store has a row
        self._loaded_keys: set[str] = set()
        self._common: set[str] = set()
        self._loaded_parts: set[int] = set()   # parts whose every record is read
        self._headed: set[int] = set()         # parts whose stored head and size are read
        self._stored_head: dict[int, tuple[str, int]] = {}
        self._stored_main: dict[int, set[str]] = {}   # part → its records read that the store has in its cluster
        self._read_providers: set[tuple[int, str]] = set()
        self._dirty_facts: set[str] = set()
        self._dirty_place: set[str] = set()
        self._dirty_parts: set[int] = set()
        self._providers: dict[str, str] = {}
        self._texts: dict[str, str] = {}
        self._unparsed: dict[str, str] = {}    # facts read, parsed when asked for
        self._single: set[str] = set()         # keys of which only the first record is listed
        self._next_part: Iterator[int] | None = None   # (read when the batch makes its first part)

    # -- reading ahead -------------------------------------------------------------
    def unchanged(self, texts: Mapping[str, str]) -> set[str]:
        """Of these records (record → its facts as JSON), those the store keeps
        with these very facts (read in one statement, which later reads reuse)."""
        self._read_records(list(texts), with_facts=True)
        return {r for r, text in texts.items() if self._unparsed.get(r) == text}

    def prefetch(self, puts: list[Facts], gone: list[str], limit: int,
                 texts: Mapping[str, str] | None = None) -> None:
        """Read what writing ``puts`` and removing ``gone`` can touch (``texts``:
        the facts of ``puts`` as JSON, when known: written as they are)."""
        self._texts = dict(texts or {})
        self._limit = limit
        ids = [f.id for f in puts] + list(gone)
        self._read_records(ids, with_facts=True)
        keys = {k for f in puts for k in f.key_set}
        keys |= {k for f in self.facts_many(ids).values() for k in f.key_set}
        self._read_keys(keys, limit)
        found = {r for k in keys & self._loaded_keys for r in self._keys.get(k, ())}
        # The facts of the candidates too, unless they are many (a textbook 500
        # libraries hold): then only those compared are read (one per part, mostly).
        self._read_records(found, with_facts=len(found) <= 10 * max(1, len(ids)))
        parts = {self._part[r] for r in found | set(ids) if r in self._part}
        self._read_heads(parts)
        # What a record joining one of these parts asks: its provider's records there.
        self._read_of_providers(parts, {f.provider for f in puts})

    def _read_of_providers(self, parts: Iterable[int], providers: Iterable[str]) -> None:
        parts = sorted(p for p in parts if p not in self._loaded_parts)
        unread = sorted({pv for pv in providers for p in parts if (p, pv) not in self._read_providers})
        if not unread:
            return
        for row in self.inner.rows(parts=parts, providers=unread):
            if row[0] not in self._known:
                self._take(*row)
        self._read_providers.update((p, pv) for p in parts for pv in unread)

    def _read_records(self, records: Iterable[str], *, with_facts: bool) -> None:
        wanted = [r for r in records if r not in self._known]
        if not wanted:
            return
        for record, provider, part, alone, facts in self.inner.rows(records=wanted, facts=with_facts):
            self._take(record, provider, part, alone, facts)
        self._known.update(wanted)

    def _take(self, record: str, provider: str, part: int, alone: bool, facts: str | None) -> None:
        self._stored.add(record)
        self._known.add(record)
        if facts is not None and record not in self._facts:
            self._unparsed[record] = facts
        self._providers[record] = provider
        if part:
            self._part[record] = part
            self._alone[record] = bool(alone)
            self._parts.setdefault(part, set()).add(record)
            if not alone:
                self._stored_main.setdefault(part, set()).add(record)

    def _read_keys(self, keys: Iterable[str], limit: int) -> None:
        wanted = [k for k in keys if k not in self._loaded_keys and k not in self._common]
        if not wanted:
            return
        rows, common, single = self.inner.key_rows(wanted, limit, self.FEW)
        for key, record in rows:
            self._keys.setdefault(key, set()).add(record)
        # A key that many records of one part share (a textbook's ISBN in 500 libraries'
        # copies) lists its first only: a record that agrees with it joins the part,
        # and the others are read only when it does not (unlisted).
        for key, record in single.items():
            self._keys.setdefault(key, set()).add(record)
        self._single |= set(single)
        self._common |= common
        self._loaded_keys.update(k for k in wanted if k not in common)

    def _read_heads(self, parts: Iterable[int]) -> None:
        """The stored head and size of these parts (not their records)."""
        wanted = [p for p in parts if p and p not in self._headed]
        if not wanted:
            return
        for part, head, size in self.inner.heads(wanted):
            self._stored_head[part] = (head, size)
            self._heads[part] = (head, size)
            self._by_head[head] = part
        self._headed.update(wanted)

    def _load_parts(self, parts: Iterable[int]) -> None:
        """Every record of these parts."""
        wanted = [p for p in parts if p and p not in self._loaded_parts]
        if not wanted:
            return
        self._read_heads(wanted)
        for row in self.inner.rows(parts=wanted, facts=False):
            if row[0] not in self._known:
                self._take(*row)
        self._loaded_parts.update(wanted)

    # -- the index, with what was not read ahead read now --------------------------
    def facts(self, record: str) -> Facts | None:
        got = self._facts.get(record)
        if got is not None or (record in self._known and record not in self._unparsed
                               and (record not in self._stored or record in self._dirty_facts)):
            return got
        return self.facts_many([record]).get(record)

    def facts_many(self, records: Iterable[str]) -> dict[str, Facts]:
        records = list(records)
        self._read_records(records, with_facts=True)
        for r in records:
            if (text := self._unparsed.pop(r, None)) is not None and r not in self._facts:
                self._facts[r] = Facts.from_json(text)
        # (Records read without their facts: a part's, a common key's.)
        missing = [r for r in records if r not in self._facts and r in self._stored
                   and r not in self._dirty_facts]
        if missing:
            for r, f in self.inner.facts_many(missing).items():
                self._facts[r] = f
        return super().facts_many(records)

    def candidates(self, keys: Iterable[str], limit: int) -> dict[str, list[str]]:
        keys = list(keys)
        out = super().candidates([k for k in keys if k in self._loaded_keys], limit)
        other = [k for k in keys if k not in self._loaded_keys]
        if other:
            out.update(self.inner.candidates(other, limit))
        return out

    def unlisted(self, part: int, keys: Iterable[str], listed: Iterable[str]) -> list[str]:
        if not self._single:
            return []
        keys = [k for k in keys if k in self._single]
        if not keys:
            return []
        self._list_all(keys)
        stored = sorted({r for k in keys for r in self._keys.get(k, ())} - set(listed))
        self._read_records(stored, with_facts=False)
        return [r for r in stored if self._part.get(r) == part]

    def _drop_keys(self, record: str) -> None:
        # A record leaving a key that lists only its first: the key's every record
        # is listed first (they stay findable by it).
        old = self._facts.get(record)
        self._list_all(old.key_set & self._single if old else set())
        super()._drop_keys(record)

    def _list_all(self, keys: Iterable[str]) -> None:
        """List every stored record of these keys (beside the batch's own, listed by
        their facts)."""
        for key in sorted(keys):
            self._single.discard(key)
            found = self.inner.records_with_key(key, self._limit + 1)
            self._keys.setdefault(key, set()).update(r for r in found if r not in self._dirty_facts)

    def cluster_of(self, record: str) -> str | None:
        self._read_records([record], with_facts=False)
        self._read_heads([p] if (p := self._part.get(record)) else [])
        return super().cluster_of(record)

    def members(self, cluster: str) -> set[str]:
        self._read_records([cluster], with_facts=False)
        part = self._by_head.get(cluster, self._part.get(cluster))
        self._load_parts([part] if part else [])
        return super().members(cluster)

    def parts_of(self, records: Iterable[str]) -> dict[str, int]:
        records = list(records)
        self._read_records(records, with_facts=False)
        self._read_heads({self._part[r] for r in records if r in self._part})
        return super().parts_of(records)

    def providers_of(self, records: Iterable[str]) -> dict[str, str]:
        records = list(records)
        self._read_records(records, with_facts=False)
        return {r: p for r in records if (p := self._providers.get(r)) is not None}

    def part_members(self, part: int) -> dict[str, tuple[str, bool]]:
        self._load_parts([part])
        return {r: (self._providers[r], self._alone[r]) for r in self._parts.get(part, ())}

    def part_head(self, part: int) -> str | None:
        self._read_heads([part])
        return super().part_head(part)

    def part_sizes(self, parts: Iterable[int]) -> dict[int, int]:
        parts = list(parts)
        self._read_heads(parts)
        return super().part_sizes(parts)

    def of_providers(self, part: int, providers: Iterable[str]) -> dict[str, list[str]]:
        wanted = set(providers)
        self._read_of_providers([part], wanted)
        out: dict[str, list[str]] = {}
        for r in sorted(self._parts.get(part, ())):
            if self._providers[r] in wanted:
                out.setdefault(self._providers[r], []).append(r)
        return out

    def put_facts(self, facts: Facts) -> None:
        self.facts(facts.id)   # (what it had: its keys are dropped)
        super().put_facts(facts)
        self._providers[facts.id] = facts.provider
        self._dirty_facts.add(facts.id)

    def remove_facts(self, record: str) -> None:
        self.facts_many([record])
        part = self._part.get(record)
        super().remove_facts(record)
        self._providers.pop(record, None)
        self._dirty_facts.add(record)
        if part is not None:
            self._dirty_parts.add(part)

    def place(self, part: int | None, records: Mapping[str, bool]) -> int:
        old = {p for r in records if (p := self._part.get(r)) is not None}
        self._read_heads(old)
        self._dirty_parts |= old
        if part is None:
            # A new part: the store has none of its records.
            if self._next_part is None:
                self._next_part = itertools.count(self.inner.max_part() + 1)
            part = next(self._next_part)
            self._parts[part] = set()
            self._loaded_parts.add(part)
            self._headed.add(part)
        else:
            self._read_heads([part])
            self._parts.setdefault(part, set())
        part = super().place(part, records)
        self._dirty_place.update(records)
        self._dirty_parts.add(part)
        return part

    def merge(self, into: int, parts: Iterable[int]) -> None:
        parts = list(parts)
        # The parts merged away are read whole (their records move); the one they
        # join need not be.
        self._load_parts(parts)
        self._read_heads([into])
        self._parts.setdefault(into, set())
        for p in parts:
            self._dirty_place.update(self._parts.get(p, ()))
        super().merge(into, parts)
        self._dirty_parts.update([into, *parts])

    def settle(self, part: int) -> str | None:
        self._read_heads([part])
        self._dirty_parts.add(part)
        if part in self._loaded_parts:
            return super().settle(part)
        # From the stored head and size, and the records read: those that left the
        # cluster (or are now alone) and those that came in.
        head, size = self._stored_head.get(part, (None, 0))
        main = {r for r in self._parts.get(part, ()) if not self._alone[r]}
        was = self._stored_main.get(part, set())
        size += len(main - was) - len(was - main)
        heads = set(main)
        if head is not None and (head not in self._stored or head in main):
            heads.add(head)
        elif size > len(main):
            # The head left and a record not read may be the next one.
            self._load_parts([part])
            return super().settle(part)
        self._forget_head(part)
        if not size or not heads:
            self._parts.pop(part, None)
            return None
        head = min(heads)
        self._heads[part] = (head, size)
        self._by_head[head] = part
        return head

    # -- writing back -------------------------------------------------------------
    def flush(self) -> None:
        """Write what the batch changed into the store's tables."""
        removed = sorted(r for r in self._dirty_facts if r not in self._facts and r in self._stored)
        upserts = [(r, f.provider, self._part.get(r, 0), self._alone.get(r, False),
                    self._texts.get(r) or f.to_json(), sorted(f.key_set)) for r in sorted(self._dirty_facts) if (f := self._facts.get(r))]
        updates = [(self._part[r], self._alone[r], r) for r in sorted(self._dirty_place - self._dirty_facts)
                   if r in self._part]
        clusters = [(p, *self._heads[p]) for p in sorted(self._dirty_parts) if p in self._heads]
        gone = sorted(p for p in self._dirty_parts if p not in self._heads)
        self.inner.apply(removed, upserts, updates, clusters, gone,
                         stored=[u[0] for u in upserts if u[0] in self._stored])


@dataclass(slots=True)
class ClusterChange:
    """What one write did to the clusters: ``before``/``after`` cluster of every
    record it moved, and the clusters whose id changed (``renamed``: old → new;
    their other members moved with them)."""

    moved: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    renamed: dict[str, str | None] = field(default_factory=dict)

    def __iadd__(self, other: ClusterChange) -> ClusterChange:
        for record, (before, after) in other.moved.items():
            first = self.moved.get(record, (before, after))[0]
            if first == after:
                self.moved.pop(record, None)
            else:
                self.moved[record] = (first, after)
        self.renamed.update(other.renamed)
        return self


@dataclass(slots=True)
class Why:
    """Why a record is in its cluster: its cluster, its members, and the decision
    on every candidate its keys found (joined or not)."""

    record: str
    cluster: str | None
    members: list[str]
    decisions: list[Decision]
    too_common: list[str]
    """Keys the record has that too many records share to find candidates."""
    alone_for: str | None = None
    """When the record is alone: its provider's record that is in the cluster instead."""

    def lines(self) -> list[str]:
        out = [f"{self.record}: cluster {self.cluster or '(none)'} of {len(self.members)} record(s)"]
        if self.alone_for is not None:
            out.append(f"  alone: {self.alone_for}, a record of the same provider, is in the "
                       "cluster its agreements lead to (one record per provider: the smallest "
                       "identifier)")
        for d in self.decisions:
            line = d.explain()
            if d.accepted and d.b not in self.members and self.cluster is not None:
                line += " — but not in the same cluster: a record of the same provider is there"
            out.append("  " + line)
        out += [f"  key {k} is shared by too many records to find candidates" for k in self.too_common]
        if not self.decisions:
            out.append("  no candidate shares a key with it")
        return out

    def to_dict(self) -> dict:
        return {"record": self.record, "cluster": self.cluster, "members": self.members,
                "alone_for": self.alone_for, "too_common": self.too_common,
                "decisions": [{"with": d.b, "key": d.key, "accepted": d.accepted,
                               "origin": list(d.origin),
                               "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                                          for c in d.checks]} for d in self.decisions]}


def open_index(store: object) -> ClusterIndex | None:
    """The clusters a store keeps (read them; the pipeline writes them), or ``None``
    for a store that cannot keep any (a live source adapter).

        >>> from thuvien_interop.store.sqlite import SQLiteRepository
        >>> index = open_index(SQLiteRepository(":memory:"))
        >>> index.counts().clusters, index.cluster_of("oai:x:1")
        (0, None)
    """
    tables = getattr(store, "cluster_tables", None)
    return tables(Facts) if tables is not None else None


#: The store meta key holding the ``[union]`` settings the store's writers use.
CONFIG_META = "union_settings"


def stored_config(store: object) -> MatchConfig:
    """The clustering settings a store's writers use: those last given with
    :func:`configure` (a settings file's ``[union]`` section), else the defaults."""
    get = getattr(store, "get_meta", None)
    text = get(CONFIG_META) if get is not None else None
    return MatchConfig.from_dict(json.loads(text)) if text else MatchConfig()


def configure(store: object, settings: Mapping[str, object]) -> bool:
    """Keep a ``[union]`` settings table in the store, so that every process and
    machine writing it clusters alike; True when it changed. (Clusters already
    formed are redone as their records are written again, or by
    ``thuvien-interop clusters --build``.)"""
    MatchConfig.from_dict(dict(settings))  # raises ValueError for a wrong one
    text = json.dumps(dict(sorted(settings.items())), ensure_ascii=False)
    if store.get_meta(CONFIG_META) == text:  # type: ignore[attr-defined]
        return False
    store.set_meta(CONFIG_META, text)  # type: ignore[attr-defined]
    return True


def clusters_kept(store: object) -> bool:
    """Whether writing ``store`` updates clusters (it keeps them, and clustering is on)."""
    return getattr(store, "cluster_tables", None) is not None and stored_config(store).enabled


def write_hook(store: object) -> Callable[[Callable[[object], ClusterIndex], list[Record]], object] | None:
    """What the pipeline gives the store's ``write(clusters=…)``: the clusters of
    each batch updated inside its transaction; ``None`` when the store keeps no
    clusters or clustering is off."""
    if getattr(store, "cluster_tables", None) is None:
        return None
    config = stored_config(store)  # (read once a batch: clusters_kept would read it twice)
    if not config.enabled:
        return None

    def hook(open_tables: Callable[[object], ClusterIndex], records: list[Record]) -> object:
        index = BatchIndex(open_tables(Facts))
        change = Clusterer(index, config).write(records)
        index.flush()
        return change

    return hook


def rebuild(store: Any, batch: int = 500) -> int:
    """Forget a store's clusters and cluster every stored record again from its
    MARC, a batch a transaction (``thuvien-interop clusters --build``); how many
    records are clustered."""
    from ..model import ListQuery

    hook = write_hook(store)
    store.update_clusters([], lambda _open, _records: None, forget=True)
    if hook is None:
        return 0
    chunk: list[Record] = []
    for item in store.iter(ListQuery(prefix="marc21")):
        if item.header.deleted or item.metadata is None:
            continue
        chunk.append(Record(item.header.identifier, item.metadata, "marc21", item.header.sets))
        if len(chunk) >= batch:
            store.update_clusters(chunk, hook)
            chunk = []
    if chunk:
        store.update_clusters(chunk, hook)
    index = open_index(store)
    return index.counts().records if index is not None else 0


def facts_json(source: object, record: Record) -> str:
    """``Record.facts`` for a record the pipeline built from ``source`` (a pymarc
    record, or anything else: then read from the built record): ``""`` when it
    has no provider (a single library's own record, not clustered)."""
    provider = provider_of(record)
    if not provider or record.deleted:
        return ""
    if isinstance(source, pymarc.Record):
        return facts_from_marc(source, record.identifier, provider=provider).to_json()
    facts = facts_from_record(record)
    return facts.to_json() if facts is not None else ""


class Clusterer:
    """Keeps the clusters of an index up to date as records are written."""

    def __init__(self, index: ClusterIndex, config: MatchConfig | None = None) -> None:
        self.index = index
        self.config = config or MatchConfig()
        self._texts: dict[str, str] = {}

    # -- writing ------------------------------------------------------------------
    def write(self, records: Iterable[Record]) -> ClusterChange:
        """Update the clusters for records on their way into the store: a deletion,
        a record without a MARC form, and a record of no provider (a single
        library's own) leave their cluster — or, never clustered, cost nothing.
        ``Record.facts`` is used when the pipeline computed it."""
        change = ClusterChange()
        gone: list[str] = []
        puts: list[Facts] = []
        records = list(records)
        # A record written again with the facts it has (a sync or a re-harvest that
        # changed its holdings, not what clustering reads) stays where it is.
        unchanged = getattr(self.index, "unchanged", None)
        given = {r.identifier: r.facts for r in records if r.facts}
        same = unchanged(given) if unchanged is not None and given else set()
        for record in records:
            if record.identifier in same:
                continue
            if record.facts is not None:
                facts = Facts.from_json(record.facts) if record.facts else None
                if facts is not None:
                    self._texts[facts.id] = record.facts
            else:
                facts = facts_from_record(record)
                facts = facts if facts is not None and facts.provider else None
            if facts is None:
                gone.append(record.identifier)
            else:
                puts.append(facts)
        prefetch = getattr(self.index, "prefetch", None)
        if prefetch is not None:
            prefetch(puts, gone, self.config.max_key_records, self._texts)
        for facts in puts:
            change += self.put(facts)
        # Only what clustering knows is removed (one look-up for the lot).
        for identifier in sorted(self.index.facts_many(gone)):
            change += self.remove(identifier)
        return change

    def put(self, facts: Facts) -> ClusterChange:
        """Add or change one record."""
        change = ClusterChange()
        old = self.index.facts(facts.id)
        if old is not None:
            if old == facts:
                return change
            change += self.remove(facts.id)
        self.index.put_facts(facts)
        joined = sorted(self._joined_parts(facts))
        if not joined:
            part = self.index.place(None, {facts.id: False})
            change.moved[facts.id] = (change.moved.get(facts.id, (None,))[0], self.index.settle(part))
            return change
        sizes = self.index.part_sizes(joined)
        into = max(joined, key=lambda p: (sizes.get(p, 0), -p))
        others = [p for p in joined if p != into]
        head = self.index.part_head(into)
        # What moves in: the other parts' records (their clusters before), and this one.
        before: dict[str, str | None] = {}
        providers = {facts.provider}
        for p in others:
            their_head = self.index.part_head(p)
            for r, (provider, alone) in self.index.part_members(p).items():
                before[r] = r if alone else their_head
                providers.add(provider)
        if others:
            self.index.merge(into, others)
        self.index.place(into, {facts.id: False})
        # One record per provider: of each provider that may now have two, the smallest.
        flags: dict[str, bool] = {facts.id: False}
        for _provider, records in self.index.of_providers(into, providers).items():
            for i, r in enumerate(sorted(records)):
                flags[r] = i > 0
        members_before = {r: self.index.cluster_of(r) for r in flags
                          if r not in before and r != facts.id}
        if len(flags) > 1 or flags[facts.id]:
            # (The record alone in its provider's place needs no second placing.)
            self.index.place(into, flags)
        new_head = self.index.settle(into)
        for p in others:
            self.index.settle(p)
        if new_head != head and head is not None:
            change.renamed[head] = new_head
        was = change.moved.get(facts.id, (None,))[0]
        for r in set(before) | set(flags) | {facts.id}:
            after = r if flags.get(r) else new_head
            first = was if r == facts.id else before.get(r, members_before.get(r))
            if first != after:
                change.moved[r] = (first, after)
        return change

    def remove(self, record: str) -> ClusterChange:
        """Delete one record: its cluster loses it (and splits if it was a bridge)."""
        change = ClusterChange()
        part = self.index.parts_of([record]).get(record)
        before = self.index.cluster_of(record)
        self.index.remove_facts(record)
        if before is not None:
            change.moved[record] = (before, None)
        if part is None:
            return change
        head = self.index.part_head(part)
        members = self.index.part_members(part)
        if not members:
            self.index.settle(part)
            return change
        old = {r: (r if alone else head) for r, (_p, alone) in members.items()}
        pieces = self._pieces(list(members))
        pieces.sort(key=lambda piece: (-len(piece), min(piece)))
        placed: list[tuple[int, dict[str, bool]]] = []
        for i, piece in enumerate(pieces):
            flags: dict[str, bool] = {}
            seen: set[str] = set()
            for r in sorted(piece):
                provider = members[r][0]
                flags[r] = provider in seen
                seen.add(provider)
            placed.append((self.index.place(part if i == 0 else None, flags), flags))
        heads: dict[str, str | None] = {}
        for target, flags in placed:
            new_head = self.index.settle(target)
            for r, alone in flags.items():
                heads[r] = r if alone else new_head
        for r, after in heads.items():
            if old[r] != after:
                change.moved[r] = (old[r], after)
        return change

    # -- reading ------------------------------------------------------------------
    def why(self, record: str) -> Why:
        """The explanation ``thuvien-interop clusters --why`` prints."""
        facts = self.index.facts(record)
        cluster = self.index.cluster_of(record)
        members = sorted(self.index.members(cluster)) if cluster else []
        if facts is None:
            return Why(record, cluster, members, [], [])
        found = self.index.candidates(self._usable(facts), self.config.max_key_records)
        too_common = sorted(k for k, ids in found.items() if len(ids) > self.config.max_key_records)
        others = sorted({r for k, ids in found.items() if k not in too_common for r in ids} - {record})
        theirs = self.index.facts_many(others)
        decisions = [d for o in others if o in theirs and (d := compare(facts, theirs[o], self.config))]
        decisions.sort(key=lambda d: (not d.accepted, d.b))
        alone_for = None
        if cluster == record and len(members) == 1:
            part = self.index.parts_of([record]).get(record)
            if part is not None:
                mine = self.index.of_providers(part, [facts.provider]).get(facts.provider, [])
                alone_for = next((r for r in sorted(mine) if r != record and r < record), None)
        return Why(record, cluster, members, decisions, too_common, alone_for)

    # -- agreements ---------------------------------------------------------------
    def _usable(self, facts: Facts) -> list[str]:
        return sorted(k for k in facts.key_set if self.config.usable(k))

    def _agree(self, a: Facts, b: Facts) -> bool:
        return agrees(a, b, self.config)

    def _joined_parts(self, facts: Facts) -> set[int]:
        """The parts of the records this one agrees with."""
        if not self.config.enabled:
            return set()
        limit = self.config.max_key_records
        usable = self._usable(facts)
        found: set[str] = set()
        for ids in self.index.candidates(usable, limit).values():
            if len(ids) <= limit:
                found.update(ids)
        found.discard(facts.id)
        if not found:
            return set()
        by_part: dict[int, list[str]] = {}
        for r, p in self.index.parts_of(found).items():
            by_part.setdefault(p, []).append(r)
        # A record of the same provider never agrees (one record per provider): not
        # read, not compared (in a harvest of one library, no candidate is). (Its
        # part is still looked at: it may be what a key lists of the part.)
        mine = facts.provider
        providers = self.index.providers_of(found)
        for ids in by_part.values():
            ids.sort()
        theirs = {p: [r for r in ids if providers.get(r) != mine] for p, ids in by_part.items()}
        # The first candidate of each part first: in a part of copies of one
        # edition it agrees, and the part's other members need not be read.
        first = self.index.facts_many(ids[0] for ids in theirs.values() if ids)
        joined: set[int] = set()
        for p, ids in by_part.items():
            listed = theirs[p]
            f = first.get(listed[0]) if listed else None
            if f is not None and self._agree(facts, f):
                joined.add(p)
                continue
            more = self.index.unlisted(p, usable, ids)
            if more:
                more_providers = self.index.providers_of(more)
                more = [r for r in more if more_providers.get(r) != mine]
            others = listed[1:] + more
            if not others:
                continue
            rest = self.index.facts_many(others)
            if any(self._agree(facts, rest[r]) for r in others if r in rest):
                joined.add(p)
        return joined

    def _pieces(self, records: list[str]) -> list[set[str]]:
        """The connected parts of these records' agreements (among themselves)."""
        if len(records) == 1 or not self.config.enabled:
            return [{r} for r in records] if not self.config.enabled else [set(records)]
        facts = self.index.facts_many(records)
        limit = self.config.max_key_records
        by_key: dict[str, list[str]] = {}
        for r in sorted(facts):
            for k in self._usable(facts[r]):
                by_key.setdefault(k, []).append(r)
        shared = [k for k, ids in by_key.items() if len(ids) > 1]
        common = {k for k, ids in self.index.candidates(shared, limit).items() if len(ids) > limit}
        left = set(facts)
        pieces: list[set[str]] = []
        while left:
            start = min(left)
            left.discard(start)
            piece, stack = {start}, [start]
            while stack:
                r = stack.pop()
                for k in self._usable(facts[r]):
                    if k in common or k not in by_key:
                        continue
                    for o in by_key[k]:
                        if o in left and self._agree(facts[r], facts[o]):
                            left.discard(o)
                            piece.add(o)
                            stack.append(o)
            pieces.append(piece)
        return pieces
