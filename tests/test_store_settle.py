# ruff: noqa: F811 - the store suite's fixtures (backend, repo), imported, are parameters here
"""What a write decides inside its transaction (issue 12), on every backend: identifier
collisions between origins, the richer record kept, ``about_key``, sets compared on
their own and re-evaluated, a record repeated in one call; the same outcome under
concurrency (threads and processes) as one writer after the other; a failed batch
leaves no wrong memo behind; every search plan node runs on every backend.
"""

from __future__ import annotations

import multiprocessing as mp
import threading

import pytest
from test_store import (  # noqa: F401 - fixtures: every backend
    backend,
    found,
    idents,
    indexed,
    phrase,
    rec,
    repo,
)

from thuvien_interop import dates
from thuvien_interop.model import ListQuery, Record, Set, WriteSummary
from thuvien_interop.store import open_store
from thuvien_interop.store import search_plan as sp
from thuvien_interop.store.base import (
    Catalogue,
    Leases,
    Searchable,
    Settings,
    Writable,
    checksum_v1,
)


def of(origin: str | None, n: int | str, **kw) -> Record:
    r = rec(n, **kw)
    r.origin = origin
    return r


def dc(n: int | str, origin: str | None = None, v: str = "1") -> Record:
    return Record(f"oai:test:{n}", f"<oai_dc:dc v='{v}'/>".encode(), "oai_dc",
                  rendered={"oai_dc": f"<dc v='{v}'/>".encode()}, origin=origin)


def test_a_store_has_every_capability(repo):
    for capability in (Catalogue, Writable, Searchable, Leases, Settings):
        assert isinstance(repo, capability)


# -- identifier collisions ------------------------------------------------------------------
def test_an_identifier_held_by_another_origin_is_refused(repo):
    assert repo.write([of("source:a", 1), of("source:a", 2)], now=100).added == 2
    s = repo.write([of("source:b", 1, v="2"), of("source:b", 3)], now=200)
    assert (s.added, s.updated, s.collisions) == (1, 0, [("oai:test:1", "source:a")])
    assert b"v='1'" in repo.get("oai:test:1", "marc21").metadata
    # The library's own records (origin None) are an origin too, both ways.
    s = repo.write([of(None, 2), of(None, 4)], now=300)
    assert (s.added, s.collisions) == (1, [("oai:test:2", "source:a")])
    assert repo.write([of("source:a", 4)], now=400).collisions == [("oai:test:4", None)]
    # Nor can another origin delete a record.
    s = repo.write([of("source:b", 2, deleted=True)], now=500)
    assert (s.deleted, s.collisions) == (0, [("oai:test:2", "source:a")])
    assert not repo.get("oai:test:2").header.deleted


def test_a_header_says_where_its_record_comes_from(repo):
    repo.write([of(None, 1), of("source:a", 2, sets=("a",)), of("sync:koha:db", 3),
                of("sync:koha:db", 4, deleted=True)], now=100)
    listed = {i.header.identifier: i.header.origin for i in repo.list(ListQuery(), None, 10)}
    assert listed == {"oai:test:1": None, "oai:test:2": "source:a", "oai:test:3": "sync:koha:db",
                      "oai:test:4": "sync:koha:db"}
    assert repo.get("oai:test:3", "oai_dc").header.origin == "sync:koha:db"
    by_set = repo.list(ListQuery(prefix="oai_dc", set="a"), None, 10)
    assert [(i.header.identifier, i.header.origin) for i in by_set] == [("oai:test:2", "source:a")]


def test_an_older_store_gives_its_harvested_records_their_provider_as_origin(backend):
    repo = backend.open()
    repo.write([of("source:a", 1, sets=("source:a", "source:a:kho")), of(None, 2, sets=("hn",))],
               now=100)
    # The store as it was before origins: no such column, one schema version less.
    conn = repo._conn()  # noqa: SLF001
    conn.execute("ALTER TABLE records DROP COLUMN origin")
    conn.execute("DROP INDEX IF EXISTS records_seq")  # SQLite's later migration
    conn.execute("ALTER TABLE records DROP COLUMN header")  # and the later headers
    before = next(i for i, m in enumerate(backend.module.MIGRATIONS) if "ADD COLUMN origin" in m)
    repo.set_meta("schema_version", str(before))
    repo.close()
    again = backend.open()
    assert again.schema_version() == len(backend.module.MIGRATIONS)
    s = again.write([of(None, 1, v="2"), of("source:b", 2, v="2")], now=200)
    assert s.collisions == [("oai:test:1", "source:a"), ("oai:test:2", None)]
    assert again.write([of("source:a", 1, v="2", sets=("source:a",))], now=300).updated == 1


def test_a_collision_inside_one_write_is_decided_in_order(repo):
    s = repo.write([of("source:a", 1), of("source:b", 1, v="2"), of("source:a", 1, v="3")], now=100)
    assert (s.added, s.updated, s.collisions) == (1, 1, [("oai:test:1", "source:a")])
    assert b"v='3'" in repo.get("oai:test:1", "marc21").metadata


def _records_of(origin: str, n: int) -> list[Record]:
    return [Record(f"oai:shared:{i}", f"<record o='{origin}' i='{i}'/>".encode(), "marc21",
                   (origin,), rendered={"oai_dc": f"<dc o='{origin}'/>".encode()}, origin=origin)
            for i in range(n)]


SHARED = 60
CHUNK = 15  # several transactions each, interleaved between the providers


def _provide(url: str, origin: str, start: threading.Barrier | None) -> WriteSummary:
    store = open_store(url)
    try:
        if start is not None:
            start.wait()
        summary = WriteSummary()
        records = _records_of(origin, SHARED)
        for i in range(0, SHARED, CHUNK):
            summary += store.write(records[i:i + CHUNK])
        return summary
    finally:
        store.close()


def _provide_in_process(url: str, origin: str, start, results) -> None:
    results.put((origin, _provide(url, origin, start)))


def _harvest_at_once(backend, providers: int, how: str) -> dict[str, WriteSummary]:
    origins = [f"source:p{i}" for i in range(providers)]
    if how == "threads":
        start = threading.Barrier(providers)
        out: dict[str, WriteSummary] = {}
        threads = [threading.Thread(target=lambda o=o: out.__setitem__(o, _provide(backend.url, o, start)))
                   for o in origins]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(providers), ctx.Queue()
    procs = [ctx.Process(target=_provide_in_process, args=(backend.url, o, start, results))
             for o in origins]
    for p in procs:
        p.start()
    out = dict(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


@pytest.mark.parametrize("how", ["threads", "processes"])
@pytest.mark.parametrize("providers", [2, 4])
def test_providers_sharing_identifiers_at_once_leave_what_one_after_the_other_leaves(
        backend, providers, how):
    store = backend.open()
    summaries = _harvest_at_once(backend, providers, how)
    assert len(summaries) == providers
    holders: dict[str, str] = {}
    for i in range(SHARED):
        ident = f"oai:shared:{i}"
        item = store.get(ident, "oai_dc")
        holder = next(s for s in item.header.sets if s.startswith("source:"))
        assert item.header.sets == ("source", holder)
        assert item.metadata == f"<dc o='{holder}'/>".encode()  # never one origin's mixed in
        assert store.canonical(ident) == ("marc21", f"<record o='{holder}' i='{i}'/>".encode())
        holders[ident] = holder
    # Each identifier was written once, by its holder; every other provider was told.
    for origin, s in summaries.items():
        mine = sorted(i for i, h in holders.items() if h == origin)
        assert (s.added, s.updated, s.unchanged, s.deleted) == (len(mine), 0, 0, 0)
        assert sorted(s.collisions) == sorted((i, h) for i, h in holders.items() if h != origin)
    assert store.info().record_count == SHARED


# -- the richer record ------------------------------------------------------------------
def test_a_poorer_format_does_not_replace_a_richer_record(repo):
    repo.write([of("source:a", 1)], now=100)
    s = repo.write([dc(1, "source:a")], now=200)
    assert (s.kept, s.updated, s.unchanged) == (["oai:test:1"], 0, 0)
    assert repo.canonical("oai:test:1")[0] == "marc21"
    assert repo.get("oai:test:1").header.datestamp == 100
    # Asked for, the poorer one replaces it; the richer one replaces a poorer one anyway.
    assert repo.write([dc(1, "source:a")], now=300, replace=True).updated == 1
    assert repo.canonical("oai:test:1")[0] == "oai_dc"
    assert repo.write([of("source:a", 1, v="2")], now=400).updated == 1
    # A deletion always applies.
    assert repo.write([of("source:a", 1, deleted=True)], now=500).deleted == 1
    # A deleted record is not "richer": the poorer live one comes back.
    assert repo.write([dc(1, "source:a")], now=600).updated == 1


def test_one_record_in_two_formats_in_one_write_keeps_the_richer(repo):
    s = repo.write([of("source:a", 1), dc(1, "source:a")], now=100)
    assert (s.added, s.kept) == (1, ["oai:test:1"])
    assert repo.canonical("oai:test:1")[0] == "marc21"


# -- what decides "changed" ---------------------------------------------------------------
def test_about_key_keeps_the_first_harvest_date(repo):
    first = of("source:a", 1, about=b"<provenance harvested='2024-01-01'/>")
    first.about_key = b"<provenance/>"
    repo.write([first], now=100)
    again = of("source:a", 1, about=b"<provenance harvested='2024-02-01'/>")
    again.about_key = b"<provenance/>"
    assert repo.write([again], now=200) == WriteSummary(unchanged=1)
    item = repo.get("oai:test:1")
    assert (item.header.datestamp, item.about) == (100, first.about)
    moved = of("source:a", 1, about=b"<provenance harvested='2024-03-01' origin='2'/>")
    moved.about_key = b"<provenance origin='2'/>"
    assert repo.write([moved], now=300).updated == 1
    assert repo.get("oai:test:1").about == moved.about


def test_rows_written_before_sets_left_the_checksum_stay_unchanged(repo):
    r = rec(1, sets=("a:b",))
    repo.write([r], now=100)
    conn = repo._conn()  # noqa: SLF001 - a row as the store kept it before
    conn.execute(repo._q("UPDATE records SET checksum = ?"), (checksum_v1(r),))
    assert repo.write([rec(1, sets=("a:b",))], now=200) == WriteSummary(unchanged=1)
    assert repo.write([rec(1, sets=("a",))], now=300) == WriteSummary(updated=1)


# -- sets as data ---------------------------------------------------------------------------
def test_set_memberships_restamp_only_the_records_that_moved(repo):
    repo.put_sets([Set("a", "A"), Set("a:x", "A x"), Set("b", "B")])
    repo.write([rec(1, sets=("a",)), rec(2, sets=("a",)), rec(3, sets=("b",)), rec(4)], now=100)
    assert [s.spec for s in repo.sets(None, 10)] == ["a", "b"]
    n = repo.set_memberships([("oai:test:1", ("a",)), ("oai:test:2", ("a:x",)),
                              ("oai:test:3", ("a",)), ("oai:test:404", ("a",))], now=200)
    assert n == 2
    assert idents(repo.list(ListQuery(from_=200), None, 10)) == ["2", "3"]
    assert repo.get("oai:test:2").header.sets == ("a", "a:x")
    assert idents(repo.list(ListQuery(set="a:x"), None, 10)) == ["2"]
    assert idents(repo.list(ListQuery(set="a", from_=200), None, 10)) == ["2", "3"]
    assert repo.list(ListQuery(set="b"), None, 10) == []
    # A set no record is in any more is not listed.
    assert [s.spec for s in repo.sets(None, 10)] == ["a", "a:x"]
    # The next import with the same rules finds nothing changed.
    again = [rec(1, sets=("a",)), rec(2, sets=("a:x",)), rec(3, sets=("a",)), rec(4)]
    assert repo.write(again, now=300) == WriteSummary(unchanged=4)
    # The search index knows the records changed.
    stamp = sp.key_of(dates.format_utc(200))
    assert sorted(found(repo, sp.KeyMatch("rec.lastModificationDate", "eq", stamp))) == ["2", "3"]


def test_a_deleted_record_keeps_its_set_in_list_sets(repo):
    repo.put_sets([Set("a", "A")])
    repo.write([rec(1, sets=("a",))], now=100)
    repo.write([rec(1, deleted=True)], now=200)
    assert [s.spec for s in repo.sets(None, 10)] == ["a"]


# -- a record repeated in one write -------------------------------------------------------
def test_a_record_added_and_deleted_in_one_write(repo):
    s = repo.write([rec(1, sets=("a",)), rec(2), rec(1, deleted=True)], now=100)
    assert (s.added, s.deleted) == (2, 1)
    item = repo.get("oai:test:1")
    assert item.header.deleted and item.header.sets == ("a",)
    assert repo.write([rec(1, sets=("a",))], now=200) == WriteSummary(updated=1)
    assert repo.canonical("oai:test:1") == ("marc21", b"<record id='1' v='1'/>")


def test_a_deletion_keeps_the_canonical_record_it_had(repo):
    # The canonical MARCXML equal to the rendered marc21 is stored once (in rendered);
    # the deletion removes that row but keeps the record, as an undeletion shows.
    marc = b"<record id='1' v='1'/>"
    repo.write([Record("oai:test:1", marc, "marc21", rendered={"marc21": marc})], now=100)
    repo.write([rec(1, deleted=True)], now=200)
    conn = repo._conn()  # noqa: SLF001
    assert bytes(conn.execute("SELECT canonical FROM records").fetchone()[0]) == marc


def test_a_later_copy_in_one_write_moves_to_the_end(repo):
    repo.write([rec(1), rec(2), rec(1, v="2")], now=100)
    assert idents(repo.list(ListQuery(), None, 10)) == ["2", "1"]


# -- a failed batch -----------------------------------------------------------------------
def test_a_failed_batch_leaves_the_search_index_whole(repo):
    repo.write([indexed(1, dc_title=["đầu tiên"])], now=100)
    # A reindex whose second entry cannot be indexed fails as a whole...
    bad = {"dc.title": [None]}  # not a text: the indexer raises, mid-batch
    with pytest.raises((AttributeError, TypeError)):
        repo.reindex([("oai:test:1", {"dc.title": ["Ngựa vằn Zebrawords"]}), ("oai:test:1", bad)])
    with pytest.raises((AttributeError, TypeError)):
        repo.write([indexed(2, dc_title=["Quagmirewords"]), indexed(3, dc_title=[None])])
    assert found(repo, phrase("dc.title", "*ebrawords", kind="glob")) == []
    # ...and leaves nothing behind that would keep later writes out of the index.
    repo.write([indexed(4, dc_title=["Zebrawords"]), indexed(5, dc_title=["Quagmirewords"])], now=200)
    assert found(repo, phrase("dc.title", "*ebrawords", kind="glob")) == ["4"]
    assert found(repo, phrase("dc.title", "*agmirewords", kind="glob")) == ["5"]


# -- every plan node on every backend ----------------------------------------------------------
@pytest.fixture
def dated(repo):
    repo.write([indexed(1, dc_title=["Hà Nội"], dc_date=["1989"]),
                indexed(2, dc_title=["Huế xưa"], dc_date=["1990"]),
                indexed(3, dc_title=["Hà Nội nay"], dc_date=["1995", "2010"]),
                indexed(4, dc_title=["Sài Gòn"], dc_date=["2000"]),
                indexed(5, dc_title=["Đà Lạt"], dc_date=["2001"])], now=100)
    return repo


@pytest.mark.parametrize(("root", "expected"), [
    (sp.KeyRange("dc.date", "1990", "2000"), ["2", "3", "4"]),
    (sp.KeyRange("dc.date", "1990", "2000", include_low=False, include_high=False), ["3"]),
    (sp.And(phrase("dc.title", "ha"), sp.KeyRange("dc.date", "1990", "2000")), ["3"]),
    (sp.AndNot(sp.AllRecords(), sp.KeyRange("dc.date", "1990", "2000")), ["1", "5"]),
    (sp.Or(sp.KeyRange("dc.date", "2001", "2001"), sp.KeyMatch("dc.date", "eq", "1989")), ["1", "5"]),
    (sp.KeyRange("dc.nowhere", "1", "2"), []),
    (sp.And(sp.KeyMatch("dc.date", "ge", "1995"), sp.KeyMatch("dc.date", "le", "1995")), ["3"]),
    (sp.KeyMatch("dc.date", "glob", "19*"), ["1", "2", "3"]),
    (sp.Near("dc.title", phrase(None, "ha"), phrase(None, "nay"), 1), ["3"]),
    (sp.AndNot(phrase(None, "ha"), phrase("dc.title", "nay")), ["1"]),
    (sp.AllRecords(), ["1", "2", "3", "4", "5"]),
])
def test_every_plan_node_runs_on_every_backend(dated, root, expected):
    assert sorted(found(dated, root)) == expected
    by_date = sp.SortSpec("dc.date", descending=True)
    assert sorted(found(dated, root, sort=(by_date,))) == expected


def test_a_dc_date_within_query_through_sru(dated):
    from thuvien_interop.sru.server import Server

    response = Server(dated).handle([("operation", "searchRetrieve"), ("version", "1.2"),
                                     ("query", 'dc.date within "1990 2000"')])
    assert response.diagnostics == []
    assert b"numberOfRecords>3</" in response.body
