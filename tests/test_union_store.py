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
    return [m for _, m in open_index(store).iter_clusters()]


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


def test_random_batches_of_adds_changes_and_deletes_end_as_the_final_records_added_fresh(repo):
    import random

    from test_union_clusters import _population
    from union_fixtures import facts as facts_of

    from thuvien_interop.model import Record
    from thuvien_interop.union.clusters import write_hook

    population = _population()
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
                changed = facts_of(f.id, f.provider, title=f.title or "x", year=1990)
                alive[f.id] = changed
                batch[f.id] = Record(f.id, facts=changed.to_json())
        repo.update_clusters(list(batch.values()), hook)
        fresh = MemoryIndex()
        c = Clusterer(fresh)
        for f in sorted(alive.values(), key=lambda f: f.id):
            c.put(f)
        assert clusters(repo) == [m for _, m in fresh.iter_clusters()]
        assert {r: open_index(repo).cluster_of(r) for r in alive} == {r: fresh.cluster_of(r) for r in alive}
    counts = open_index(repo).counts()
    assert counts.records == len(alive)
