# ruff: noqa: F811 - the store suite's fixtures (backend, repo), imported, are parameters here
"""Clusters kept by the store (SQLite file and PostgreSQL), written by the pipeline
inside each batch's own transaction: formed, split and re-formed as records arrive,
change and are deleted; the same clusters from concurrent writers as from one
after the other; a single library's store clusters nothing."""

from __future__ import annotations

import threading

import pytest
from test_store import backend, repo  # noqa: F401 - fixtures: every backend
from union_fixtures import F, Ind, S, book

from thuvien_interop.pipeline import Incoming, Pipeline
from thuvien_interop.union.clusters import (
    Clusterer,
    MemoryIndex,
    configure,
    open_index,
    stored_config,
)
from thuvien_interop.union.facts import facts_from_marc
from thuvien_interop.union.holdings import Library, cluster_holdings, record_holdings

ISBN = "978-604-123456-7"


def item(provider: str, n: str, marc=None, *, deleted: bool = False) -> Incoming:
    ident = f"oai:{provider}:{n}"
    return Incoming(f"record {n}", ident, marc, deleted=deleted, sets=(f"source:{provider}",),
                    origin=f"source:{provider}")


def harvest(store, provider: str, records: dict[str, object], *, deleted: tuple[str, ...] = (),
            processes: int = 1) -> None:
    with Pipeline(store, processes=processes, batch=25 if processes > 1 else 500) as p:
        p.feed(provider, [item(provider, n, m) for n, m in records.items()]
               + [item(provider, n, deleted=True) for n in deleted])


def clusters(store) -> list[list[str]]:
    """The clusters of two or more records; checking on the way that the works the
    readers' search counts are these clusters."""
    stored = {row[0] for row in store._conn().execute("SELECT identifier FROM records").fetchall()}
    kept = (sorted(r for r in m if r in stored) for _, m in open_index(store).iter_clusters(1))
    assert works(store) == sorted(m for m in kept if m)
    return [m for _, m in open_index(store).iter_clusters()]


def works(store) -> list[list[str]]:
    """The stored records grouped by their work as the readers' search finds it
    (union_work's, else each its own), those clustering knows."""
    known = {r for _, m in open_index(store).iter_clusters(1) for r in m}
    rows = store._conn().execute("SELECT r.identifier, w.work FROM records r "
                                 "LEFT JOIN union_work w ON w.id = r.id").fetchall()
    by_work: dict[object, list[str]] = {}
    for identifier, work in rows:
        if identifier in known:
            by_work.setdefault(work if work is not None else identifier, []).append(identifier)
    return sorted(sorted(g) for g in by_work.values())


def ctrl():
    return [F("035", Ind(" ", " "), [S("a", "(NLV)000777")])]


def test_harvested_copies_of_one_edition_are_one_cluster_and_editions_stay_apart(repo):
    harvest(repo, "a", {"1": book("Tiếng Việt 1", isbn=[ISBN]), "2": book("Toán 6", part="Tập 1"),
                        "3": book("Toán 6", part="Tập 2")})
    harvest(repo, "b", {"1": book("TIENG VIET 1", isbn=["6041234567"]),
                        "2": book("Toán 6", part="Tập 1"),
                        "3": book("Toán 6", part="Tập 1", edition="Tái bản lần thứ 2")})
    harvest(repo, "c", {"1": book("Tiếng Việt 1"), "2": book("Tiếng Việt 1", subtitle="Sách giáo viên")})
    index = open_index(repo)
    assert clusters(repo) == [["oai:a:1", "oai:b:1", "oai:c:1"], ["oai:a:2", "oai:b:2"]]
    assert index.cluster_of("oai:b:1") == "oai:a:1" and index.cluster_of("oai:b:3") == "oai:b:3"
    assert index.clusters_of(["oai:c:1", "oai:a:3", "oai:x:9"]) == {"oai:c:1": "oai:a:1",
                                                                   "oai:a:3": "oai:a:3"}
    counts = index.counts()
    assert (counts.records, counts.clusters, counts.clustered, counts.providers) == (8, 2, 5, 3)
    assert index.largest(5) == [("oai:a:1", 3), ("oai:a:2", 2)]
    assert index.facts("oai:b:1").title == "TIENG VIET 1"


def test_a_changed_bridge_splits_its_cluster_and_a_deletion_too_and_both_reform(repo):
    harvest(repo, "a", {"1": book("Alpha", isbn=[ISBN])})
    harvest(repo, "c", {"1": book("Gamma", extra=ctrl())})
    harvest(repo, "b", {"1": book("Beta", isbn=[ISBN], extra=ctrl())})
    assert clusters(repo) == [["oai:a:1", "oai:b:1", "oai:c:1"]]
    harvest(repo, "b", {"1": book("Beta", year=1999, isbn=[ISBN], extra=ctrl())})   # changed
    assert clusters(repo) == []
    harvest(repo, "b", {"1": book("Beta", isbn=[ISBN], extra=ctrl())})              # changed back
    assert clusters(repo) == [["oai:a:1", "oai:b:1", "oai:c:1"]]
    harvest(repo, "b", {}, deleted=("1",))
    assert clusters(repo) == [] and open_index(repo).cluster_of("oai:b:1") is None
    assert open_index(repo).cluster_of("oai:c:1") == "oai:c:1"
    harvest(repo, "b", {"1": book("Beta", isbn=[ISBN], extra=ctrl())})              # back again
    assert clusters(repo) == [["oai:a:1", "oai:b:1", "oai:c:1"]]


def test_a_record_written_again_with_its_facts_keeps_its_cluster_and_a_changed_key_reclusters(repo):
    # A sync that changes a record's holdings (852) writes it again with the facts
    # it has: clustering leaves it where it is, without writing its rows again; one
    # that changes a key (or a checked value) moves it, on the same path.
    def copy(isbn: str, shelf: str, year: int = 2020):
        return book("Beta", year=year, isbn=[isbn], extra=[F("852", Ind(" ", " "), [S("h", shelf)])])

    harvest(repo, "a", {"1": book("Alpha", isbn=[ISBN])})
    harvest(repo, "b", {"1": copy(ISBN, "K1"), "2": copy("978-604-0-00000-2", "K1")})
    assert clusters(repo) == [["oai:a:1", "oai:b:1"]]
    facts_row = "SELECT facts, part FROM union_record WHERE record = 'oai:b:1'"
    before = repo._conn().execute(facts_row).fetchone()
    writes = []
    tables = type(open_index(repo))
    real = tables.apply
    tables.apply = lambda self, *a, **k: (writes.append((a, k)), real(self, *a, **k))[1]
    try:
        harvest(repo, "b", {"1": copy(ISBN, "K2")})                         # holdings only
        assert repo.get("oai:b:1", "marc21").metadata.count(b"K2") == 1
        assert clusters(repo) == [["oai:a:1", "oai:b:1"]]
        assert tuple(repo._conn().execute(facts_row).fetchone()) == tuple(before)
        assert writes and not any(writes[-1][0][:3])                       # no row removed, written, moved
        harvest(repo, "b", {"1": copy("978-604-0-00000-2", "K2")})          # its ISBN changed
        assert clusters(repo) == [] and open_index(repo).cluster_of("oai:b:1") == "oai:b:1"
        harvest(repo, "b", {"1": copy(ISBN, "K3", year=2021)})              # a checked value changed
        assert clusters(repo) == []
        harvest(repo, "b", {"1": copy(ISBN, "K4")})                         # back
        assert clusters(repo) == [["oai:a:1", "oai:b:1"]]
    finally:
        tables.apply = real


def test_the_store_keeps_what_the_in_memory_index_keeps_in_any_order(repo):
    marcs = {}
    for p in "abcde":
        marcs[(p, "tv1")] = book("Tiếng Việt 1", isbn=[ISBN] if p in "ace" else None)
        marcs[(p, "gv")] = book("Tiếng Việt 1", subtitle="Sách giáo viên")
    marcs[("a", "tv1b")] = book("TIENG VIET 1", isbn=["6041234567"])       # a's second copy
    marcs[("c", "beta")] = book("Beta", isbn=["9786049876547"], extra=ctrl())
    marcs[("b", "alpha")] = book("Alpha", isbn=["9786049876547"])
    marcs[("b", "gamma")] = book("Gamma", extra=ctrl())
    marcs[("d", "gamma")] = book("Gamma", extra=ctrl())
    for p in reversed("abcde"):
        harvest(repo, p, {n: m for (q, n), m in marcs.items() if q == p})
    memory = MemoryIndex()
    c = Clusterer(memory)
    for (p, n), m in sorted(marcs.items()):
        c.put(facts_from_marc(m, f"oai:{p}:{n}", provider=p))
    assert clusters(repo) == [m for _, m in memory.iter_clusters()]
    assert open_index(repo).cluster_of("oai:a:tv1b") == "oai:a:tv1b"
    why = Clusterer(open_index(repo)).why("oai:a:tv1b").lines()
    assert "alone: oai:a:tv1, a record of the same provider" in why[1]
    # every record deleted: nothing is left
    for p in "abcde":
        harvest(repo, p, {}, deleted=tuple(n for (q, n) in marcs if q == p))
    assert open_index(repo).counts().records == 0 and clusters(repo) == []


def test_two_providers_harvested_at_once_give_the_clusters_one_after_the_other_gives(backend):
    def population() -> dict[str, object]:
        out = {str(i): book(f"Sách số {i}", isbn=None if i % 3 else [_isbn(i)]) for i in range(60)}
        return out | {"x": book("Tiếng Việt 1", isbn=[ISBN])}

    sequential = backend.open()
    for p in "ab":
        harvest(sequential, p, population())
    expected = clusters(sequential)
    assert len(expected) == 61
    concurrent = backend.another("concurrent")
    threads = [threading.Thread(target=harvest, args=(concurrent, p, population())) for p in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clusters(concurrent) == expected


def test_worker_processes_cluster_as_one_process_does(backend):
    def population() -> dict[str, object]:
        return {str(i): book(f"Sách số {i}", isbn=None if i % 3 else [_isbn(i)]) for i in range(60)}

    one = backend.open()
    for p in "ab":
        harvest(one, p, population())
    two = backend.another("two")
    for p in "ab":
        harvest(two, p, population(), processes=2)
    assert clusters(two) == clusters(one) and len(clusters(one)) == 60



def _isbn(i: int) -> str:
    body = f"978604{i:06d}"
    check = (10 - sum(int(c) * (1 if k % 2 == 0 else 3) for k, c in enumerate(body)) % 10) % 10
    return body + str(check)


def test_a_single_librarys_store_clusters_nothing(repo):
    with Pipeline(repo) as p:
        p.feed("catalogue.mrc", [Incoming(f"record {i}", f"oai:lib:{i}", book("Tiếng Việt 1", isbn=[ISBN]))
                                 for i in range(3)])
    index = open_index(repo)
    assert index.counts().records == 0
    assert index.cluster_of("oai:lib:1") is None


def test_clustering_turned_off_in_the_stores_settings_writes_no_cluster_rows(repo):
    assert configure(repo, {"enabled": False}) is True
    assert configure(repo, {"enabled": False}) is False
    assert stored_config(repo).enabled is False
    harvest(repo, "a", {"1": book("Tiếng Việt 1", isbn=[ISBN])})
    harvest(repo, "b", {"1": book("Tiếng Việt 1", isbn=[ISBN])})
    assert open_index(repo).counts().records == 0
    with pytest.raises(ValueError, match="unknown key"):
        configure(repo, {"enabeld": True})


def test_a_failed_batch_leaves_no_cluster_rows(repo):
    harvest(repo, "a", {"1": book("Tiếng Việt 1", isbn=[ISBN])})

    def failing(open_tables, records):
        Clusterer(open_tables(type(open_index(repo).facts("oai:a:1")))).write(records)
        raise RuntimeError("the disk is full")

    from thuvien_interop.formats import default_registry
    from thuvien_interop.pipeline import build_record
    from thuvien_interop.union.clusters import facts_json

    marc = book("Tiếng Việt 1", isbn=[ISBN])
    r = build_record(marc, "oai:b:1", default_registry(), ("source:b",))
    r.origin = "source:b"
    r.facts = facts_json(marc, r)
    with pytest.raises(RuntimeError):
        repo.write([r], clusters=failing)
    assert clusters(repo) == [] and open_index(repo).facts("oai:b:1") is None
    assert repo.get("oai:b:1") is None


def test_holdings_of_every_provider_of_a_cluster(repo):
    def held(branch: str) -> list:
        return [F("852", Ind(" ", " "), [S("a", "TV"), S("b", branch), S("h", "895.922 T306")])]

    harvest(repo, "a", {"1": book("Tiếng Việt 1", isbn=[ISBN], extra=held("Kho mượn"))})
    harvest(repo, "b", {"1": book("Tiếng Việt 1", isbn=["6041234567"], extra=held("Kho đọc"))})
    harvest(repo, "c", {"1": book("Tiếng Việt 1")})
    index = open_index(repo)
    libraries = {"a": Library("a", "Thư viện A", "Đắk Lắk", "school"),
                 "b": Library("b", "Thư viện B", "Hà Nội", "public"),
                 "c": Library("c", "Thư viện C", "Đắk Lắk", "school")}
    from thuvien_interop.model import Record

    groups = []
    for member in sorted(index.members(index.cluster_of("oai:c:1"))):
        item_ = repo.get(member, "marc21")
        groups.append(record_holdings(Record(member, item_.metadata, "marc21", item_.header.sets),
                                      libraries))
    rows = cluster_holdings(groups, province="Hà Nội")
    assert [(h.library.label, h.branch) for h in rows] == [
        ("Thư viện B", "Kho đọc"), ("Thư viện A", "Kho mượn"), ("Thư viện C", "")]


# -- thuvien-interop clusters ---------------------------------------------------------

def _cli(*args: str):
    from click.testing import CliRunner

    from thuvien_interop.cli import main

    return CliRunner().invoke(main, list(args))


def _union(tmp_path):
    from thuvien_interop.store import open_store

    url = f"sqlite:///{tmp_path / 'union.db'}"
    store = open_store(url)
    harvest(store, "a", {"1": book("Tiếng Việt 1", isbn=[ISBN]), "2": book("Toán 6")})
    harvest(store, "b", {"1": book("TIENG VIET 1", isbn=["6041234567"]), "2": book("Toán 6")})
    harvest(store, "c", {"1": book("Tiếng Việt 1", subtitle="Sách giáo viên"), "2": book("Toán 6")})
    store.close()
    return url


def test_clusters_command_counts_lists_the_largest_and_prints_json_lines(tmp_path):
    import json

    url = _union(tmp_path)
    r = _cli("clusters", "--store", url)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == ("6 records of 3 providers clustered: 2 clusters of two or "
                                        "more records hold 5 records.")
    assert "  oai:a:2  3 records  Toán 6 (2020)" in r.output
    r = _cli("clusters", "--store", url, "--json")
    assert [json.loads(line) for line in r.output.splitlines()] == [
        {"cluster": "oai:a:1", "members": ["oai:a:1", "oai:b:1"]},
        {"cluster": "oai:a:2", "members": ["oai:a:2", "oai:b:2", "oai:c:2"]}]


def test_clusters_why_names_the_key_and_the_checks(tmp_path):
    import json

    url = _union(tmp_path)
    r = _cli("clusters", "--store", url, "--why", "oai:c:1")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == "oai:c:1: cluster oai:c:1 of 1 record(s)"
    assert "stays apart from oai:a:1: key ta:tieng viet 1|" in r.output
    assert "role FAILED: teacher ≠ pupil/none" in r.output
    r = _cli("clusters", "--store", url, "--why", "oai:b:1", "--json")
    got = json.loads(r.output)
    assert got["cluster"] == "oai:a:1" and got["decisions"][0]["key"] == "isbn:9786041234567"
    r = _cli("clusters", "--store", url, "--why", "oai:zz:9")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "oai:zz:9 is not clustered" in r.output


def test_clusters_build_after_the_settings_change_and_a_bad_setting_is_one_line(tmp_path):
    url = _union(tmp_path)
    cfg = tmp_path / "thuvien.toml"
    cfg.write_text('[union]\nkeys = ["isbn"]\n', encoding="utf-8")
    r = _cli("clusters", "--store", url, "--config", str(cfg), "--build", "--json")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == '{"cluster": "oai:a:1", "members": ["oai:a:1", "oai:b:1"]}'
    cfg.write_text('[union]\nyear_tolerence = 1\n', encoding="utf-8")
    r = _cli("clusters", "--store", url, "--config", str(cfg))
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "unknown key 'year_tolerence' in [union]; did you mean 'year_tolerance'?" in r.output
    cfg.write_text('[union]\nkeys = ["isbn", "titel"]\n', encoding="utf-8")
    r = _cli("clusters", "--store", url, "--config", str(cfg))
    assert r.exit_code == 2 and "[union] keys" in r.output


ROUNDS = 15


def _textbooks() -> list:
    """Many libraries' copies of one textbook (some twice), its teacher's book and a
    second volume: large clusters, whose heads leave and come back."""
    from union_fixtures import facts as facts_of

    out = []
    for k in range(12):
        p = f"s{k:02d}"
        out.append(facts_of(f"oai:{p}:1", p, title="Toán 6", isbn=[ISBN]))
        if k % 3 == 0:
            out.append(facts_of(f"oai:{p}:0", p, title="TOÁN 6", isbn=[ISBN]))
        if k % 2 == 0:
            out.append(facts_of(f"oai:{p}:gv", p, title="Toán 6", subtitle="Sách giáo viên"))
        if k % 4 == 1:
            out.append(facts_of(f"oai:{p}:t2", p, title="Toán 6", part="Tập 2"))
    return out


def _one_isbn() -> list:
    """Copies of one edition found by its ISBN alone (each library titles it its own
    way), some libraries with two: the first candidate is often the writer's own
    library's, which cannot join, and the next ones must be found."""
    from union_fixtures import facts as facts_of

    out = []
    for k in range(10):
        p = f"s{k:02d}"
        out.append(facts_of(f"oai:{p}:1", p, title=f"Toán 6 ({k})", isbn=[ISBN]))
        if k % 3 == 0:
            out.append(facts_of(f"oai:{p}:0", p, title=f"Toán sáu [{k}]", isbn=[ISBN]))
    return out


@pytest.mark.parametrize("few", [16, 2])
@pytest.mark.parametrize("population", ["mixed", "textbooks", "one isbn"])
def test_random_batches_of_adds_changes_and_deletes_end_as_the_final_records_added_fresh(repo, population,
                                                                                          few, monkeypatch):
    """(``few``: past how many records of one part a key lists only its first.)"""
    import random

    from thuvien_interop.union.clusters import BatchIndex

    monkeypatch.setattr(BatchIndex, "FEW", few)

    from test_union_clusters import _population
    from union_fixtures import facts as facts_of

    from thuvien_interop.model import Record
    from thuvien_interop.union.clusters import write_hook

    kind = population
    population = {"mixed": _population, "textbooks": _textbooks, "one isbn": _one_isbn}[kind]()
    rng = random.Random(15)
    hook = write_hook(repo)
    alive: dict[str, object] = {}
    for _round in range(ROUNDS):
        batch: dict[str, Record] = {}
        for _ in range(rng.randint(1, 8)):
            f = rng.choice(population)
            roll = rng.random()
            if roll < 0.55:
                alive[f.id] = f
                batch[f.id] = Record(f.id, facts=f.to_json())
            elif roll < 0.8 and alive:
                gone = rng.choice(sorted(alive))
                del alive[gone]
                batch[gone] = Record(gone, deleted=True, facts="")
            else:
                changed = (facts_of(f.id, f.provider, title=f"{f.title} (sửa)", isbn=[ISBN])
                           if kind == "one isbn"     # changed, and still a copy of the edition
                           else facts_of(f.id, f.provider, title=f.title or "x", year=1990))
                alive[f.id] = changed
                batch[f.id] = Record(f.id, facts=changed.to_json())
        repo.update_clusters(list(batch.values()), hook)
        fresh = MemoryIndex()
        c = Clusterer(fresh)
        for f in sorted(alive.values(), key=lambda f: f.id):
            c.put(f)
        assert clusters(repo) == [m for _, m in fresh.iter_clusters()]
        assert {r: open_index(repo).cluster_of(r) for r in alive} == {r: fresh.cluster_of(r) for r in alive}
        # The sizes the store keeps (settled from heads and sizes, not always from
        # every member) are the clusters' own.
        assert open_index(repo).largest(1000) == fresh.largest(1000)
    counts = open_index(repo).counts()
    assert counts.records == len(alive)


def test_a_copy_changed_in_a_large_cluster_found_by_one_key_stays_in_it(repo, monkeypatch):
    """A key many records of one part share lists only its first record; the first
    changed (or its library's own first copy tried) still finds the others."""
    from union_fixtures import facts as facts_of

    from thuvien_interop.model import Record
    from thuvien_interop.union.clusters import BatchIndex, write_hook

    monkeypatch.setattr(BatchIndex, "FEW", 2)
    hook = write_hook(repo)
    repo.update_clusters([Record(f.id, facts=f.to_json()) for f in _one_isbn()], hook)
    first = sorted(f.id for f in _one_isbn())[0]
    assert first == "oai:s00:0" and len(clusters(repo)[0]) == 10
    changed = facts_of(first, "s00", title="Toán sáu (sửa)", isbn=[ISBN])
    repo.update_clusters([Record(first, facts=changed.to_json())], hook)
    assert first in clusters(repo)[0] and len(clusters(repo)[0]) == 10
    # Another copy of that library: the first candidate (its own) cannot take it, the
    # next ones are read, and it is alone beside the cluster, for its library's first.
    late = facts_of("oai:s00:2", "s00", title="Toán 6", isbn=[ISBN])
    repo.update_clusters([Record(late.id, facts=late.to_json())], hook)
    assert Clusterer(open_index(repo)).why("oai:s00:2").alone_for == "oai:s00:0"
