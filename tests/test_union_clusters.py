"""Incremental clustering over the in-memory index: formed, split and re-formed as
records arrive, change and are deleted; the same clusters whatever the order."""

from __future__ import annotations

import doctest
import random

from union_fixtures import book, facts, union_record

from thuvien_interop.model import Record
from thuvien_interop.union import clusters as clusters_module
from thuvien_interop.union.clusters import Clusterer, MemoryIndex
from thuvien_interop.union.match import MatchConfig

ISBN = "978-604-123456-7"


def cl(index: MemoryIndex) -> list[list[str]]:
    return [sorted(c) for c in index.clusters() if len(c) > 1]


def test_clusters_doctest():
    assert doctest.testmod(clusters_module).failed == 0


def test_one_edition_from_three_providers_is_one_cluster_and_a_providers_second_copy_is_not():
    index = MemoryIndex()
    c = Clusterer(index)
    c.put(facts("oai:a:1", "a", title="Tiếng Việt 1", isbn=[ISBN]))
    c.put(facts("oai:b:1", "b", title="TIENG VIET 1", isbn=["6041234567"]))
    c.put(facts("oai:c:1", "c", title="Tiếng Việt 1"))           # no ISBN: title key, same year
    c.put(facts("oai:a:2", "a", title="Tiếng Việt 1", isbn=[ISBN]))   # provider a again
    assert cl(index) == [["oai:a:1", "oai:b:1", "oai:c:1"]]
    assert index.cluster_of("oai:a:2") == "oai:a:2"
    why = c.why("oai:a:2")
    assert any("a record of the same provider was there first" in line or "one record per provider"
               in line for line in why.lines())


def test_editions_volumes_and_the_teachers_book_form_their_own_clusters():
    index = MemoryIndex()
    c = Clusterer(index)
    for p in "abc":
        c.put(facts(f"oai:{p}:1", p, title="Toán 6", part="Tập 1"))
        c.put(facts(f"oai:{p}:2", p, title="Toán 6", part="Tập 2"))
        c.put(facts(f"oai:{p}:3", p, title="Toán 6", part="Tập 1", subtitle="Sách giáo viên"))
    c.put(facts("oai:d:1", "d", title="Toán 6", part="Tập 1", edition="Tái bản lần thứ 2"))
    assert cl(index) == [["oai:a:1", "oai:b:1", "oai:c:1"], ["oai:a:2", "oai:b:2", "oai:c:2"],
                         ["oai:a:3", "oai:b:3", "oai:c:3"]]
    assert index.cluster_of("oai:d:1") == "oai:d:1"


def _bridge() -> tuple[MemoryIndex, Clusterer]:
    # a and c share no key; b has a's ISBN and c's control number: b is the bridge.
    index = MemoryIndex()
    c = Clusterer(index)
    c.put(facts("oai:a:1", "a", title="Alpha", isbn=[ISBN]))
    c.put(facts("oai:c:1", "c", title="Gamma", extra=_ctrl()))
    c.put(facts("oai:b:1", "b", title="Beta", isbn=[ISBN], extra=_ctrl()))
    return index, c


def _ctrl():
    from union_fixtures import F, Ind, S
    return [F("035", Ind(" ", " "), [S("a", "(NLV)000777")])]


def test_a_changed_bridge_leaves_its_cluster_split_and_joins_again_when_changed_back():
    index, c = _bridge()
    assert cl(index) == [["oai:a:1", "oai:b:1", "oai:c:1"]]
    change = c.put(facts("oai:b:1", "b", title="Beta", year=1999, isbn=[ISBN], extra=_ctrl()))
    assert cl(index) == []
    assert change.moved["oai:c:1"] == ("oai:a:1", "oai:c:1")
    assert {index.cluster_of(r) for r in ("oai:a:1", "oai:b:1", "oai:c:1")} == {
        "oai:a:1", "oai:b:1", "oai:c:1"}
    c.put(facts("oai:b:1", "b", title="Beta", isbn=[ISBN], extra=_ctrl()))
    assert cl(index) == [["oai:a:1", "oai:b:1", "oai:c:1"]]


def test_deleting_the_bridge_splits_the_cluster():
    index, c = _bridge()
    change = c.remove("oai:b:1")
    assert cl(index) == [] and index.cluster_of("oai:b:1") is None
    assert change.moved["oai:b:1"] == ("oai:a:1", None)


def test_a_write_touches_only_its_own_clusters():
    class Watched(MemoryIndex):
        def __init__(self) -> None:
            super().__init__()
            self.read: set[str] = set()

        def facts_many(self, records):
            records = list(records)
            self.read.update(records)
            return super().facts_many(records)

        def part_members(self, part):
            got = super().part_members(part)
            self.read.update(got)
            return got

    index = Watched()
    c = Clusterer(index)
    c.put(facts("oai:a:9", "a", title="Địa lý"))
    c.put(facts("oai:b:9", "b", title="Dia ly"))
    index.read.clear()
    change = c.put(facts("oai:a:1", "a", title="Tiếng Việt 1", isbn=[ISBN]))
    change += c.put(facts("oai:b:1", "b", title="Tiếng Việt 1", isbn=[ISBN]))
    assert not index.read & {"oai:a:9", "oai:b:9"}
    assert set(change.moved) == {"oai:a:1", "oai:b:1"}
    assert cl(index) == [["oai:a:1", "oai:b:1"], ["oai:a:9", "oai:b:9"]]


def _population() -> list:
    """Records with every kind of trouble: chains, provider conflicts, volumes, editions."""
    out = []
    for p in "abcde":
        out.append(facts(f"oai:{p}:tv1", p, title="Tiếng Việt 1", isbn=[ISBN] if p in "ace" else None))
        out.append(facts(f"oai:{p}:tv1gv", p, title="Tiếng Việt 1", subtitle="Sách giáo viên"))
    out.append(facts("oai:a:tv1b", "a", title="TIENG VIET 1", isbn=["6041234567"]))   # a's second copy
    out.append(facts("oai:b:alpha", "b", title="Alpha", isbn=["9786049876547"]))
    out.append(facts("oai:c:beta", "c", title="Beta", isbn=["9786049876547"], extra=_ctrl()))
    out.append(facts("oai:b:gamma", "b", title="Gamma", extra=_ctrl()))              # b again, via c
    out.append(facts("oai:d:gamma", "d", title="Gamma", extra=_ctrl()))
    out.append(facts("oai:e:t2", "e", title="Toán 6", part="Tập 2"))
    out.append(facts("oai:d:t2", "d", title="Toán 6", part="Tập 2"))
    out.append(facts("oai:c:t1", "c", title="Toán 6", part="Tập 1"))
    return out


def test_any_order_of_the_same_adds_gives_the_same_clusters():
    population = _population()
    expected = None
    rng = random.Random(15)
    for _ in range(40):
        order = population[:]
        rng.shuffle(order)
        index = MemoryIndex()
        c = Clusterer(index)
        for f in order:
            c.put(f)
        got = index.clusters()
        if expected is None:
            expected = got
            # the pupil's books of a, c, e (ISBN) and b, d (title key) are one cluster,
            # a's second copy stays out; the teacher's books are their own cluster
            assert sorted(f"oai:{p}:tv1" for p in "abcde") in [sorted(x) for x in got]
            assert sorted(f"oai:{p}:tv1gv" for p in "abcde") in [sorted(x) for x in got]
        assert got == expected


def test_adds_changes_and_deletes_in_any_order_end_as_the_final_records_added_fresh():
    population = _population()
    rng = random.Random(12)
    for _ in range(15):
        index = MemoryIndex()
        c = Clusterer(index)
        alive = {}
        for _step in range(60):
            f = rng.choice(population)
            action = rng.random()
            if action < 0.6:
                c.put(f)
                alive[f.id] = f
            elif action < 0.8 and alive:
                gone = rng.choice(sorted(alive))
                c.remove(gone)
                del alive[gone]
            else:   # a change: the year moves, so the record leaves its cluster
                changed = facts(f.id, f.provider, title=f.title or "x", year=1990)
                c.put(changed)
                alive[f.id] = changed
        fresh = MemoryIndex()
        fc = Clusterer(fresh)
        for f in sorted(alive.values(), key=lambda f: f.id):
            fc.put(f)
        assert index.clusters() == fresh.clusters()


def test_deleting_everything_leaves_nothing():
    population = _population()
    index = MemoryIndex()
    c = Clusterer(index)
    for f in population:
        c.put(f)
    rng = random.Random(3)
    ids = [f.id for f in population]
    rng.shuffle(ids)
    for record in ids:
        c.remove(record)
    assert index.is_empty()


def test_why_names_the_key_and_every_check_of_joined_and_refused_candidates():
    index = MemoryIndex()
    c = Clusterer(index)
    c.put(facts("oai:a:1", "a", title="Tiếng Việt 1", isbn=[ISBN]))
    c.put(facts("oai:b:1", "b", title="Tiếng Việt 1", isbn=["6041234567"]))
    c.put(facts("oai:c:1", "c", title="Tiếng Việt 1", subtitle="Sách giáo viên"))
    lines = c.why("oai:b:1").lines()
    assert lines[0] == "oai:b:1: cluster oai:a:1 of 2 record(s)"
    joined = next(line for line in lines if "joins oai:a:1" in line)
    assert "key isbn:9786041234567 (020 $a 6041234567 / 020 $a 978-604-123456-7)" in joined
    assert "year ok" in joined and "role ok" in joined
    refused = next(line for line in lines if "stays apart from oai:c:1" in line)
    assert "role FAILED: pupil/none ≠ teacher" in refused


def test_a_key_shared_by_too_many_records_finds_no_candidates():
    index = MemoryIndex()
    c = Clusterer(index, MatchConfig(max_key_records=2))
    for p in "abc":
        c.put(facts(f"oai:{p}:1", p, title="Tiếng Việt 1"))
    assert cl(index) == [["oai:a:1", "oai:b:1"]]      # the third finds the key too common
    assert "is shared by too many records" in "\n".join(c.why("oai:c:1").lines())


def test_clustering_off_leaves_every_record_alone():
    index = MemoryIndex()
    c = Clusterer(index, MatchConfig(enabled=False))
    for p in "ab":
        c.put(facts(f"oai:{p}:1", p, title="Tiếng Việt 1", isbn=[ISBN]))
    assert cl(index) == []


def test_records_written_and_deleted_as_the_store_gets_them():
    index = MemoryIndex()
    c = Clusterer(index)
    c.write([union_record("oai:a:1", "a", book("Tiếng Việt 1", isbn=[ISBN])),
             union_record("oai:b:1", "b", book("Tiếng Việt 1", isbn=[ISBN]))])
    assert cl(index) == [["oai:a:1", "oai:b:1"]]
    c.write([Record("oai:a:1", deleted=True, sets=("source:a",))])
    assert cl(index) == [] and index.cluster_of("oai:a:1") is None


def test_the_quick_agreement_says_what_the_full_comparison_says():
    from itertools import permutations

    from thuvien_interop.union.match import agrees, compare

    population = _population() + [facts("oai:f:tv1", "f", title="Tiếng Việt 1", year=None),
                                  facts("oai:g:tv1", "g", title="Tiếng Việt 1", isbn=["9786049876547"])]
    config = MatchConfig()
    for a, b in permutations(population, 2):
        d = compare(a, b, config)
        assert agrees(a, b, config) == (d is not None and d.accepted), (a.id, b.id)
