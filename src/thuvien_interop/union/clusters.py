"""Incremental clustering: each write updates only the clusters it touches.

The records and the agreements between them form a graph: an *edge* joins two
records that share a key and agree (:func:`.match.compare`). A *cluster* is a
connected part of that graph, cut where it would hold two records of one
provider. Writing a record recomputes its edges (against the candidates its keys
find) and then re-clusters only the connected parts that contain it, its old
neighbours and its new ones — everything else is untouched. Within a part the
clusters are a function of the part alone (records taken in identifier order; a
record joins the clusters of its neighbours that hold none of its providers, those
it has most neighbours in first), so
any order of the same writes gives the same clusters, and a changed record that
was a bridge leaves its cluster split. A cluster's id is its smallest record
identifier; a record alone is its own cluster.

The store is reached only through :class:`ClusterIndex`, whose methods are each
one small statement over four tables (see the protocol's docstring);
:class:`MemoryIndex` is the same in dictionaries.

    >>> from thuvien_interop.union.facts import Facts
    >>> index = MemoryIndex()
    >>> c = Clusterer(index)
    >>> _ = c.put(Facts("oai:a:1", "a", (("isbn:9786041234567", "020"),), "book", 2020))
    >>> _ = c.put(Facts("oai:b:1", "b", (("isbn:9786041234567", "020"),), "book", 2020))
    >>> sorted(index.members("oai:a:1"))
    ['oai:a:1', 'oai:b:1']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..model import Record
from .facts import Facts, facts_from_record
from .match import Decision, MatchConfig, compare

__all__ = ["ClusterChange", "ClusterIndex", "Clusterer", "MemoryIndex", "Why"]


class ClusterIndex(Protocol):
    """Where clustering keeps its state. A SQL store implements it over four tables,
    written in the transaction of the record's own write::

        union_record(record PRIMARY KEY, provider, facts JSON)
        union_key(key, record)          -- index (key, record); one row a key of a record
        union_edge(a, b)                -- both directions; primary key (a, b)
        union_cluster(record PRIMARY KEY, cluster)   -- index (cluster)

    Every method is one statement (``records_with_key``: ``SELECT record FROM
    union_key WHERE key = ? ORDER BY record LIMIT ?``; ``set_neighbours``: a
    DELETE and an INSERT of the record's rows in both directions …).
    """

    def facts(self, record: str) -> Facts | None: ...
    def put_facts(self, facts: Facts) -> None:
        """Store a record's facts and its keys (replacing what it had)."""
    def remove_facts(self, record: str) -> None:
        """Forget a record: its facts, keys and edges (not its cluster row)."""
    def records_with_key(self, key: str, limit: int) -> list[str]:
        """Up to ``limit`` records with ``key``, in identifier order."""
    def neighbours(self, record: str) -> set[str]: ...
    def set_neighbours(self, record: str, others: Iterable[str]) -> None:
        """Replace a record's edges (both directions)."""
    def cluster_of(self, record: str) -> str | None: ...
    def set_clusters(self, assignment: Mapping[str, str | None]) -> None:
        """Record → cluster id (``None``: the record has none any more)."""
    def members(self, cluster: str) -> set[str]: ...


class MemoryIndex:
    """:class:`ClusterIndex` in dictionaries (tests, and one process's scratch)."""

    def __init__(self) -> None:
        self._facts: dict[str, Facts] = {}
        self._keys: dict[str, set[str]] = {}
        self._edges: dict[str, set[str]] = {}
        self._cluster: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}

    def facts(self, record: str) -> Facts | None:
        return self._facts.get(record)

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
        self.set_neighbours(record, ())
        self._edges.pop(record, None)

    def records_with_key(self, key: str, limit: int) -> list[str]:
        return sorted(self._keys.get(key, ()))[:limit]

    def neighbours(self, record: str) -> set[str]:
        return set(self._edges.get(record, ()))

    def set_neighbours(self, record: str, others: Iterable[str]) -> None:
        for other in self._edges.pop(record, set()):
            self._edges.get(other, set()).discard(record)
        new = set(others)
        if new:
            self._edges[record] = new
            for other in new:
                self._edges.setdefault(other, set()).add(record)

    def cluster_of(self, record: str) -> str | None:
        return self._cluster.get(record)

    def set_clusters(self, assignment: Mapping[str, str | None]) -> None:
        for record, cluster in assignment.items():
            old = self._cluster.pop(record, None)
            if old is not None:
                self._members[old].discard(record)
                if not self._members[old]:
                    del self._members[old]
            if cluster is not None:
                self._cluster[record] = cluster
                self._members.setdefault(cluster, set()).add(record)

    def members(self, cluster: str) -> set[str]:
        return set(self._members.get(cluster, ()))

    # What the tests look at (not part of the protocol).
    def clusters(self) -> list[frozenset[str]]:
        """Every cluster as a set of record ids, sorted."""
        return sorted((frozenset(m) for m in self._members.values()), key=sorted)

    def is_empty(self) -> bool:
        return not (self._facts or self._keys or self._edges or self._cluster or self._members)


@dataclass(slots=True)
class ClusterChange:
    """What one write did to the clusters: ``before``/``after`` cluster of every
    record whose cluster changed."""

    moved: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def __iadd__(self, other: ClusterChange) -> ClusterChange:
        for record, (before, after) in other.moved.items():
            first = self.moved.get(record, (before, after))[0]
            self.moved[record] = (first, after)
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

    def lines(self) -> list[str]:
        out = [f"{self.record}: cluster {self.cluster or '(none)'} of {len(self.members)} record(s)"]
        for d in self.decisions:
            line = d.explain()
            other = d.b
            if d.accepted and other not in self.members:
                line += " — but not in the same cluster: a record of the same provider was there first"
            out.append("  " + line)
        out += [f"  key {k} is shared by too many records to find candidates" for k in self.too_common]
        if not self.decisions:
            out.append("  no candidate shares a key with it")
        return out


class Clusterer:
    """Keeps the clusters of an index up to date as records are written."""

    def __init__(self, index: ClusterIndex, config: MatchConfig | None = None) -> None:
        self.index = index
        self.config = config or MatchConfig()

    # -- writing ------------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> ClusterChange:
        """Update the clusters for records on their way into the store (a deletion,
        or a record without a MARC form, leaves its cluster)."""
        change = ClusterChange()
        for record in records:
            facts = facts_from_record(record)
            change += self.put(facts) if facts is not None else self.remove(record.identifier)
        return change

    def put(self, facts: Facts) -> ClusterChange:
        """Add or change one record."""
        old = self.index.neighbours(facts.id)
        self.index.put_facts(facts)
        new = {d.b for d in self._decisions(facts) if d.accepted}
        self.index.set_neighbours(facts.id, new)
        return self._recluster(old | new | {facts.id})

    def remove(self, record: str) -> ClusterChange:
        """Delete one record: its cluster loses it (and splits if it was a bridge)."""
        old = self.index.neighbours(record)
        before = self.index.cluster_of(record)
        self.index.remove_facts(record)
        change = self._recluster(old)
        if before is not None:
            self.index.set_clusters({record: None})
            change.moved[record] = (before, None)
        return change

    # -- reading ------------------------------------------------------------------

    def why(self, record: str) -> Why:
        """The explanation ``thuvien-interop clusters --why`` prints."""
        facts = self.index.facts(record)
        cluster = self.index.cluster_of(record)
        members = sorted(self.index.members(cluster)) if cluster else []
        if facts is None:
            return Why(record, cluster, members, [], [])
        decisions = sorted(self._decisions(facts), key=lambda d: (not d.accepted, d.b))
        return Why(record, cluster, members, decisions, self._too_common(facts))

    def _candidate_keys(self, facts: Facts) -> Iterator[tuple[str, list[str]]]:
        limit = self.config.max_key_records
        for key in sorted(facts.key_set):
            if self.config.usable(key):
                yield key, self.index.records_with_key(key, limit + 1)

    def _too_common(self, facts: Facts) -> list[str]:
        return [k for k, ids in self._candidate_keys(facts) if len(ids) > self.config.max_key_records]

    def _decisions(self, facts: Facts) -> list[Decision]:
        if not self.config.enabled:
            return []
        seen: set[str] = {facts.id}
        out: list[Decision] = []
        for _key, ids in self._candidate_keys(facts):
            if len(ids) > self.config.max_key_records:
                continue
            for other in ids:
                if other in seen:
                    continue
                seen.add(other)
                theirs = self.index.facts(other)
                decision = compare(facts, theirs, self.config) if theirs is not None else None
                if decision is not None:
                    out.append(decision)
        return out

    # -- the clusters of the touched parts ----------------------------------------

    def _component(self, start: str, done: set[str]) -> list[str]:
        stack, part = [start], {start}
        while stack:
            for n in self.index.neighbours(stack.pop()):
                if n not in part:
                    part.add(n)
                    stack.append(n)
        done |= part
        return sorted(part)

    def _recluster(self, seeds: set[str]) -> ClusterChange:
        change = ClusterChange()
        done: set[str] = set()
        assignment: dict[str, str | None] = {}
        for seed in sorted(seeds):
            if seed in done or self.index.facts(seed) is None:
                continue
            for cluster in self._partition(self._component(seed, done)):
                head = min(cluster)
                for record in cluster:
                    before = self.index.cluster_of(record)
                    if before != head:
                        assignment[record] = head
                        change.moved[record] = (before, head)
        if assignment:
            self.index.set_clusters(assignment)
        return change

    def _partition(self, part: list[str]) -> list[set[str]]:
        """The clusters of one connected part, a function of the part alone."""
        providers = {r: self.index.facts(r).provider for r in part}  # type: ignore[union-attr]
        owner: dict[str, int] = {}
        clusters: list[tuple[set[str], set[str]] | None] = []
        for record in part:                                          # identifier order
            members, held = {record}, {providers[record]}
            # The clusters it has most neighbours in first, then the oldest head.
            links: dict[int, int] = {}
            for n in self.index.neighbours(record):
                if n in owner:
                    links[owner[n]] = links.get(owner[n], 0) + 1
            for i in sorted(links, key=lambda i: (-links[i], min(clusters[i][0]))):  # type: ignore[index]
                other = clusters[i]
                if other is not None and not (other[1] & held):
                    members |= other[0]
                    held |= other[1]
                    clusters[i] = None
            clusters.append((members, held))
            for m in members:
                owner[m] = len(clusters) - 1
        return [c[0] for c in clusters if c is not None]
