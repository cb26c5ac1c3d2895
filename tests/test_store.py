"""The store contract (store/base.py), one suite for every backend.

Each test runs on a real SQLite file and on the real PostgreSQL (in a schema of
its own, dropped afterwards), so a feature exists on every backend or on none.
PostgreSQL tests skip, saying why, only when the server cannot be reached.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest
from conftest import fresh_store_url

from thuvien_interop.model import ListQuery, Record, Set, WriteSummary
from thuvien_interop.store import open_store
from thuvien_interop.store.base import WRITE_BATCH, Repository, StoreError

BACKENDS = ["sqlite", "postgres"]


@dataclass
class Backend:
    """One backend under test: its name, the URL of a fresh store, its module."""

    name: str
    url: str
    module: ModuleType
    opened: list[Repository] = field(default_factory=list)
    request: pytest.FixtureRequest | None = None
    directory: Path | None = None

    def open(self) -> Repository:
        store = open_store(self.url)
        self.opened.append(store)
        return store

    def another(self, name: str) -> Repository:
        """A second, empty store of this backend, closed and dropped with the first."""
        assert self.request is not None
        store = open_store(fresh_store_url(self.request, self.name, self.directory, name))
        self.request.addfinalizer(store.close)  # before its schema is dropped
        return store


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    url = fresh_store_url(request, request.param, tmp_path, "store")
    if request.param == "sqlite":
        from thuvien_interop.store import sqlite as module
    else:
        from thuvien_interop.store import postgres as module
    b = Backend(request.param, url, module, request=request, directory=tmp_path)
    yield b
    for s in b.opened:
        s.close()


@pytest.fixture
def repo(backend) -> Repository:
    return backend.open()


def rec(n: int | str, *, v: str = "1", sets: tuple[str, ...] = (), formats=("oai_dc", "marc21"),
        deleted: bool = False, about: bytes | None = None) -> Record:
    """A small record whose bytes say who it is and which version."""
    ident = f"oai:test:{n}"
    if deleted:
        return Record(ident, deleted=True, sets=sets)
    return Record(ident, f"<record id='{n}' v='{v}'/>".encode(), "marc21", sets,
                  rendered={p: f"<{p} id='{n}' v='{v}'>Hà Nội</{p}>".encode() for p in formats},
                  about=about)


def at_once(work, n: int) -> list[BaseException]:
    """Run ``work(k)`` for k in range(n), each on a thread of its own, at once;
    what they raised."""
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def idents(items) -> list[str]:
    return [i.header.identifier.rsplit(":", 1)[1] for i in items]


def harvest(store: Repository, q: ListQuery, limit: int = 3, *, metadata: bool = True):
    """Every item of a list, page by page after the last key, as a harvester reads."""
    out, after = [], None
    while True:
        page = store.list(q, after, limit, metadata=metadata)
        out += page
        if len(page) < limit:
            return out
        after = page[-1].key


# -- an empty store -----------------------------------------------------------------
def test_new_store_is_empty(repo):
    info = repo.info()
    assert (info.earliest_datestamp, info.record_count, info.deleted_count) == (None, 0, 0)
    assert repo.list(ListQuery("oai_dc"), None, 10) == []
    assert repo.count(ListQuery()) == 0
    assert repo.prefixes() == []
    assert repo.prefixes("oai:test:1") is None
    assert repo.get("oai:test:1") is None
    assert repo.canonical("oai:test:1") is None
    assert repo.sets(None, 10) == []


def test_store_is_a_repository(repo):
    assert isinstance(repo, Repository)


# -- writing: summaries and datestamps --------------------------------------------------
def test_write_summary_counts_added_updated_unchanged_deleted(repo):
    assert repo.write([rec(1), rec(2), rec(3)], now=100) == WriteSummary(added=3)
    s = repo.write([rec(1), rec(2, v="2"), rec(3, deleted=True), rec(4)], now=200)
    assert s == WriteSummary(added=1, updated=1, unchanged=1, deleted=1)
    info = repo.info()
    assert (info.earliest_datestamp, info.record_count, info.deleted_count) == (100, 4, 1)


def test_unchanged_record_keeps_its_datestamp_and_place(repo):
    repo.write([rec(1), rec(2)], now=100)
    before = repo.get("oai:test:1")
    assert repo.write([rec(1)], now=500) == WriteSummary(unchanged=1)
    after = repo.get("oai:test:1")
    assert after.header.datestamp == 100 and after.key == before.key
    assert repo.list(ListQuery(from_=101), None, 10) == []


def test_changed_record_gets_the_write_time_and_moves_to_the_end(repo):
    repo.write([rec(1), rec(2), rec(3)], now=100)
    assert repo.write([rec(1, v="2")], now=200) == WriteSummary(updated=1)
    item = repo.get("oai:test:1", "oai_dc")
    assert item.header.datestamp == 200
    assert b"v='2'" in item.metadata
    assert idents(repo.list(ListQuery("oai_dc"), None, 10)) == ["2", "3", "1"]


@pytest.mark.parametrize("change", [
    {"sets": ("a",)},
    {"about": b"<provenance/>"},
    {"formats": ("oai_dc",)},
])
def test_any_stored_difference_is_a_change(repo, change):
    repo.write([rec(1)], now=100)
    assert repo.write([rec(1, **change)], now=200) == WriteSummary(updated=1)
    assert repo.get("oai:test:1").header.datestamp == 200


def test_a_repeated_identifier_in_one_write_keeps_the_later_record(repo):
    s = repo.write([rec(1), rec(2), rec(1, v="2"), rec(1, v="2")], now=100)
    assert s == WriteSummary(added=2, updated=1, unchanged=1)
    assert b"v='2'" in repo.get("oai:test:1", "marc21").metadata
    assert repo.info().record_count == 2


def test_canonical_bytes_and_format_come_back(repo):
    dc = Record("oai:test:dc", b"<oai_dc:dc>\xc4\x90\xe1\xba\xa1i</oai_dc:dc>", "oai_dc",
                rendered={"oai_dc": b"<dc/>"})
    repo.write([rec(1), dc], now=100)
    assert repo.canonical("oai:test:1") == ("marc21", b"<record id='1' v='1'/>")
    assert repo.canonical("oai:test:dc") == ("oai_dc", dc.canonical)


def test_stored_bytes_come_back_exactly(repo):
    big = ("<marc>" + "Nguyễn Văn Đức ☃ " * 60_000 + "</marc>").encode()
    r = Record("oai:test:big", b"<r/>", rendered={"marc21": big, "oai_dc": b"\xef\xbb\xbf<dc/>"},
               about=b"<about>\xe1\xba\xa1</about>")
    repo.write([r], now=100)
    assert repo.get("oai:test:big", "marc21").metadata == big
    assert repo.get("oai:test:big", "oai_dc").metadata == b"\xef\xbb\xbf<dc/>"
    item = repo.list(ListQuery("marc21"), None, 5)[0]
    assert item.metadata == big and item.about == b"<about>\xe1\xba\xa1</about>"


def test_many_batches_add_update_and_delete(repo):
    """Thousands of records: several batches, and the bulk path (COPY) where a backend has one."""
    n = 2_500
    assert n > WRITE_BATCH, "more than one transaction"
    assert repo.write((rec(i) for i in range(n)), now=100) == WriteSummary(added=n)
    s = repo.write([rec(i, v="2") for i in range(1_200)]
                   + [rec(i, deleted=True) for i in range(1_200, 1_500)]
                   + [rec(i) for i in range(1_500, n)], now=200)
    assert s == WriteSummary(updated=1_200, deleted=300, unchanged=1_000)
    assert repo.count(ListQuery("oai_dc", from_=200)) == 1_500
    assert repo.count(ListQuery("oai_dc")) == n
    assert repo.info().deleted_count == 300
    assert b"v='2'" in repo.get("oai:test:1199", "oai_dc").metadata
    assert repo.get("oai:test:1200", "oai_dc").metadata is None
    keys = [i.key for i in harvest(repo, ListQuery("oai_dc"), 400, metadata=False)]
    assert len(keys) == n and keys == sorted(keys) and len(set(keys)) == n


# -- deletions ------------------------------------------------------------------------
def test_deletion_keeps_the_header_and_sets_but_no_metadata(repo):
    repo.write([rec(1, sets=("hn:bd",)), rec(2)], now=100)
    assert repo.write([rec(1, deleted=True)], now=200) == WriteSummary(deleted=1)
    item = repo.get("oai:test:1", "oai_dc")
    assert item.header.deleted and item.header.datestamp == 200
    assert item.header.sets == ("hn", "hn:bd")
    assert item.metadata is None
    assert repo.prefixes("oai:test:1") == []
    assert repo.canonical("oai:test:1") is None
    # A set-filtered harvester learns of the deletion too (OAI-PMH 2.0 §2.5.1).
    assert idents(repo.list(ListQuery("oai_dc", set="hn"), None, 10)) == ["1"]


def test_deleting_twice_is_unchanged(repo):
    repo.write([rec(1)], now=100)
    repo.write([rec(1, deleted=True)], now=200)
    assert repo.write([rec(1, deleted=True)], now=300) == WriteSummary(unchanged=1)
    assert repo.get("oai:test:1").header.datestamp == 200


def test_deleting_an_unknown_record_leaves_a_tombstone(repo):
    assert repo.write([rec(9, deleted=True)], now=100) == WriteSummary(deleted=1)
    item = repo.get("oai:test:9")
    assert item.header.deleted and item.header.datestamp == 100
    assert repo.info().deleted_count == 1


def test_a_deleted_record_can_come_back(repo):
    repo.write([rec(1)], now=100)
    repo.write([rec(1, deleted=True)], now=200)
    assert repo.write([rec(1, v="3")], now=300) == WriteSummary(updated=1)
    item = repo.get("oai:test:1", "oai_dc")
    assert not item.header.deleted and b"v='3'" in item.metadata
    assert repo.prefixes("oai:test:1") == ["marc21", "oai_dc"]
    assert repo.info().deleted_count == 0


# -- listing ---------------------------------------------------------------------------
@pytest.fixture
def filled(repo):
    """Ten records over five datestamps and a small set hierarchy."""
    sets = {0: ("hn:bd",), 1: ("hn",), 2: ("hcm",), 3: ("hn:bd:x",), 4: ()}
    for t in range(5):
        repo.write([rec(2 * t, sets=sets[t]), rec(2 * t + 1, sets=sets[(t + 1) % 5])],
                   now=1000 * (t + 1))
    return repo


def test_pages_after_a_key_cover_the_list_once_in_key_order(filled):
    whole = filled.list(ListQuery("oai_dc"), None, 100)
    assert idents(whole) == [str(i) for i in range(10)]
    for limit in (1, 3, 4, 10):
        paged = harvest(filled, ListQuery("oai_dc"), limit)
        assert [i.key for i in paged] == [i.key for i in whole]
    assert filled.list(ListQuery("oai_dc"), whole[-1].key, 5) == []


def test_from_and_until_are_inclusive(filled):
    def ds(q):
        return sorted({i.header.datestamp for i in filled.list(q, None, 100)})

    assert ds(ListQuery("oai_dc", from_=2000)) == [2000, 3000, 4000, 5000]
    assert ds(ListQuery("oai_dc", until=2000)) == [1000, 2000]
    assert ds(ListQuery("oai_dc", from_=3000, until=3000)) == [3000]
    assert ds(ListQuery("oai_dc", from_=2001, until=2999)) == []
    assert ds(ListQuery("oai_dc", from_=6000)) == []


def test_set_filter_includes_members_of_descendant_sets(filled):
    def ids(spec, **kw):
        return idents(filled.list(ListQuery("oai_dc", set=spec, **kw), None, 100))

    assert ids("hn") == ["0", "1", "2", "5", "6", "9"]
    assert ids("hn:bd") == ["0", "5", "6", "9"]
    assert ids("hn:bd:x") == ["5", "6"]
    assert ids("hcm") == ["3", "4"]
    assert ids("h") == []  # a prefix of a spec is not an ancestor
    assert ids("hn", from_=2000, until=4000) == ["2", "5", "6"]
    assert filled.get("oai:test:6").header.sets == ("hn", "hn:bd", "hn:bd:x")


def test_set_filtered_pages_after_a_key(filled):
    whole = filled.list(ListQuery("oai_dc", set="hn"), None, 100)
    for limit in (1, 2, 5):
        assert harvest(filled, ListQuery("oai_dc", set="hn"), limit) == whole


def test_prefix_filter_keeps_deleted_headers(repo):
    repo.write([rec(1), rec(2, formats=("marc21",)), rec(3), rec(4, formats=())], now=100)
    repo.write([rec(3, deleted=True)], now=200)
    assert idents(repo.list(ListQuery("oai_dc"), None, 10)) == ["1", "3"]
    assert idents(repo.list(ListQuery("marc21"), None, 10)) == ["1", "2", "3"]
    assert idents(repo.list(ListQuery("mods"), None, 10)) == ["3"]
    assert idents(repo.list(ListQuery(), None, 10)) == ["1", "2", "4", "3"]
    assert repo.count(ListQuery("oai_dc")) == 2
    assert repo.count(ListQuery("marc21")) == 3
    assert repo.count(ListQuery()) == 4
    assert idents(repo.list(ListQuery("oai_dc"), None, 10, metadata=False)) == ["1", "3"]


def test_listing_with_and_without_metadata(filled):
    q = ListQuery("marc21", set="hcm")
    with_md = filled.list(q, None, 10)
    assert [i.metadata for i in with_md] == [b"<marc21 id='3' v='1'>H\xc3\xa0 N\xe1\xbb\x99i</marc21>",
                                            b"<marc21 id='4' v='1'>H\xc3\xa0 N\xe1\xbb\x99i</marc21>"]
    headers = filled.list(q, None, 10, metadata=False)
    assert [i.metadata for i in headers] == [None, None]
    assert [i.header for i in headers] == [i.header for i in with_md]


def test_count_matches_the_list(filled):
    filled.write([rec(5, deleted=True)], now=9000)
    # A record that loses a format, one that comes back with fewer, one deleted twice.
    filled.write([rec(6, formats=("marc21",)), rec(7, deleted=True)], now=9100)
    filled.write([rec(7, formats=("mods",)), rec(5, deleted=True)], now=9200)
    for q in [ListQuery(), ListQuery("oai_dc"), ListQuery("oai_dc", set="hn"),
              ListQuery("oai_dc", from_=2000), ListQuery("marc21", until=3000, set="hn:bd"),
              ListQuery("mods"), ListQuery("oai_dc", set="nowhere")]:
        assert filled.count(q) == len(filled.list(q, None, 1000)), q


def test_a_whole_lists_count_reads_the_deleted_records_by_their_own_index(filled):
    """completeListSize of a format's whole list is its rendered rows and the
    deleted records: the deleted are counted in their partial index, not by reading
    every row of records (104-372 ms at 344,000 records before)."""
    from thuvien_interop.store import keyset

    filled.write([rec(5, deleted=True)], now=9000)
    text, args = keyset.list_sql(filled.keyset_dialect, ListQuery("oai_dc"), None, None,
                                 metadata=False, count=True)
    conn = filled._conn()
    if type(filled).__name__.startswith("SQLite"):
        plan = " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + text, args))
        assert "COVERING INDEX records_deleted" in plan, plan
    else:
        conn.execute("SET enable_seqscan = off")      # a tiny table: the plan it could use
        try:
            plan = " ".join(row[0] for row in conn.execute("EXPLAIN " + text, args))
        finally:
            conn.execute("RESET enable_seqscan")
        assert "records_deleted" in plan, plan
    assert filled.count(ListQuery("oai_dc")) == len(filled.list(ListQuery("oai_dc"), None, 1000))


def test_a_record_changed_mid_listing_moves_to_the_end_and_is_seen_again(filled):
    q = ListQuery("oai_dc", set="hn")
    first = filled.list(q, None, 2)
    assert idents(first) == ["0", "1"]
    filled.write([rec(1, v="2", sets=("hn",))], now=9000)
    filled.write([rec(6, deleted=True)], now=9001)
    after, rest = first[-1].key, []
    while page := filled.list(q, after, 2):
        rest += page
        after = page[-1].key
    assert idents(rest) == ["2", "5", "9", "1", "6"]
    assert b"v='2'" in rest[-2].metadata and rest[-1].header.deleted


# -- single records ---------------------------------------------------------------------
def test_get_with_and_without_a_prefix(repo):
    repo.write([rec(1, formats=("oai_dc",), about=b"<p/>")], now=100)
    bare = repo.get("oai:test:1")
    assert bare.header.identifier == "oai:test:1" and bare.metadata is None
    assert bare.key[0] == 100
    full = repo.get("oai:test:1", "oai_dc")
    assert full.metadata == "<oai_dc id='1' v='1'>Hà Nội</oai_dc>".encode()
    assert full.about == b"<p/>" and full.key == bare.key
    missing_format = repo.get("oai:test:1", "marc21")
    assert missing_format is not None and missing_format.metadata is None
    assert repo.get("oai:test:2", "oai_dc") is None


def test_prefixes_of_the_repository_and_of_a_record(repo):
    repo.write([rec(1, formats=("oai_dc",)), rec(2, formats=("marc21", "mods"))], now=100)
    assert repo.prefixes() == ["marc21", "mods", "oai_dc"]
    assert repo.prefixes("oai:test:2") == ["marc21", "mods"]
    assert repo.prefixes("oai:test:3") is None


# -- sets and meta ------------------------------------------------------------------------
def test_sets_are_listed_in_spec_order_after_a_spec(repo):
    repo.put_sets([Set("hn:bd", "Ba Đình"), Set("hn", "Hà Nội", "Thủ đô"), Set("hcm", "TP HCM"),
                   Set("Z", "upper case sorts first")])
    repo.write([rec(1, sets=("hn:bd",)), rec(2, sets=("hcm", "Z"))], now=100)
    assert [s.spec for s in repo.sets(None, 10)] == ["Z", "hcm", "hn", "hn:bd"]
    assert repo.sets("hcm", 1) == [Set("hn", "Hà Nội", "Thủ đô")]
    assert repo.sets("hn:bd", 10) == []
    repo.put_sets([Set("hn", "Thành phố Hà Nội")])
    assert repo.sets("hcm", 1) == [Set("hn", "Thành phố Hà Nội", None)]


def test_meta_is_kept_and_replaced(backend):
    repo = backend.open()
    assert repo.get_meta("oai_token_secret") is None
    repo.set_meta("oai_token_secret", "ab" * 32)
    repo.set_meta("note", "Thư viện")
    repo.set_meta("note", "Thư viện tỉnh")
    repo.close()
    again = backend.open()
    assert again.get_meta("oai_token_secret") == "ab" * 32
    assert again.get_meta("note") == "Thư viện tỉnh"


def test_records_survive_reopening(backend):
    repo = backend.open()
    repo.write([rec(1, sets=("a:b",))], now=100)
    repo.close()
    again = backend.open()
    assert again.get("oai:test:1", "oai_dc").header.sets == ("a", "a:b")
    assert again.write([rec(1, sets=("a:b",))], now=200) == WriteSummary(unchanged=1)


# -- schema versions ------------------------------------------------------------------------
def test_an_older_store_migrates_when_opened(backend, monkeypatch):
    repo = backend.open()
    repo.write([rec(1)], now=100)
    old_version = len(backend.module.MIGRATIONS)
    assert repo.get_meta("schema_version") == str(old_version)
    repo.close()
    monkeypatch.setattr(backend.module, "MIGRATIONS", [
        *backend.module.MIGRATIONS, "CREATE TABLE migration_probe (x INTEGER)"])
    newer = backend.open()
    assert newer.get_meta("schema_version") == str(old_version + 1)
    assert newer.get("oai:test:1", "oai_dc").metadata is not None
    newer.close()
    assert backend.open().get_meta("schema_version") == str(old_version + 1)  # migrates once


def test_a_newer_store_is_refused_with_a_clear_message(backend):
    repo = backend.open()
    repo.set_meta("schema_version", str(len(backend.module.MIGRATIONS) + 1))
    repo.close()
    with pytest.raises(StoreError, match=r"newer than this thuvien-interop knows.*upgrade"):
        backend.open()


def test_postgres_plans_every_statement_for_its_own_values(request):
    """A search repeated past psycopg's prepare threshold keeps being planned for
    its words (a generic plan, blind to them, was 50 times slower), on every
    connection the store opens, a replaced one too."""
    from thuvien_interop.sru.cql import parse
    from thuvien_interop.sru.translate import to_plan

    repo = open_store(fresh_store_url(request, "postgres", None, "test"))
    try:
        plan = to_plan(parse("dc.title = sach"))
        for _ in range(12):
            repo.search(plan, 1, 10, prefix="oai_dc")
        assert repo._conn().execute("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
        repo._conn().close()  # as a restarted server leaves it: the store opens another
        assert repo._conn().execute("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
    finally:
        repo.close()


def test_postgres_compresses_rendered_xml_with_lz4_where_the_server_can(request):
    repo = open_store(fresh_store_url(request, "postgres", None, "test"))
    try:
        _lz4(repo)
    finally:
        repo.close()


def _lz4(repo: Repository) -> None:
    big = "".join(f"<datafield tag='500'><subfield code='a'>Ghi chú {i}</subfield></datafield>"
                  for i in range(200)).encode()
    repo.write([Record("oai:test:big", b"<record/>", "marc21", rendered={"marc21": big})], now=100)
    conn = repo._conn()  # noqa: SLF001 - looking at the storage itself
    if conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0] < 140000:
        pytest.skip("PostgreSQL before 14 has one compression method")
    method = conn.execute("SELECT pg_column_compression(xml) FROM rendered").fetchone()[0]
    assert method == "lz4"
    assert repo.get("oai:test:big", "marc21").metadata == big


# -- several threads and connections ---------------------------------------------------------
def test_readers_go_on_while_a_writer_writes(backend):
    writer, reader = backend.open(), backend.open()
    writer.write([rec(i) for i in range(100)], now=100)
    errors: list[BaseException] = []
    done = threading.Event()

    def write():
        try:
            for b in range(10):
                writer.write([rec(i, v=str(b)) for i in range(b * 10, min(b * 10 + 40, 100))]
                             + [rec(1000 + b * 10 + i) for i in range(10)], now=200 + b)
        except BaseException as exc:  # noqa: BLE001 — reported by the test below
            errors.append(exc)
        finally:
            done.set()

    def read():
        try:
            while not done.is_set():
                items = harvest(reader, ListQuery("oai_dc"), 17, metadata=True)
                keys = [i.key for i in items]
                assert keys == sorted(keys) and len(set(keys)) == len(keys)
                assert all(i.metadata for i in items)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert reader.count(ListQuery("oai_dc")) == 200


def test_a_harvester_misses_nothing_while_several_writers_write(backend):
    """Keys are committed in order: what a harvester has not seen yet lies after its last key."""
    stores = [backend.open() for _ in range(3)]
    harvester = backend.open()
    stores[0].write([rec(f"seed{i}") for i in range(20)], now=100)
    errors: list[BaseException] = []

    def write(w: int):
        try:
            for b in range(8):
                stores[w].write([rec(f"w{w}-{b}-{i}") for i in range(25)]
                                + [rec(f"seed{(w + b) % 20}", v=f"{w}{b}")])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    seen: set[str] = set()
    after = None
    while any(t.is_alive() for t in threads):
        page = harvester.list(ListQuery("oai_dc"), after, 7, metadata=False)
        seen.update(i.header.identifier for i in page)
        if page:
            after = page[-1].key
    for t in threads:
        t.join()
    while page := harvester.list(ListQuery("oai_dc"), after, 50, metadata=False):
        seen.update(i.header.identifier for i in page)
        after = page[-1].key
    assert errors == []
    everything = {i.header.identifier for i in harvest(harvester, ListQuery("oai_dc"), 500)}
    assert len(everything) == 20 + 3 * 8 * 25
    assert seen == everything


def test_an_unreachable_postgresql_is_a_store_error():
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL store"):
        open_store("postgresql://postgres@127.0.0.1:1/test?connect_timeout=3")


# -- leases: several harvester processes sharing one provider list -----------------------------
def leasing(store: Repository):
    assert hasattr(store, "claim"), "every store leases"
    return store


def test_a_lease_is_held_until_it_expires_or_is_released(repo):
    store = leasing(repo)
    assert store.lease("provider:daklak", "node-1", 600, now=1000)
    assert not store.lease("provider:daklak", "node-2", 600, now=1500)
    assert store.lease_holder("provider:daklak", now=1500) == "node-1"
    assert store.lease("provider:daklak", "node-1", 600, now=1500)  # a renewal
    assert not store.lease("provider:daklak", "node-2", 600, now=2000)
    assert store.lease("provider:daklak", "node-2", 600, now=2100)  # node-1 died: it expired
    assert not store.release("provider:daklak", "node-1")
    assert store.release("provider:daklak", "node-2")
    assert store.lease_holder("provider:daklak", now=2100) is None
    assert store.claim(["provider:daklak"], "node-3", 600, now=2100) == "provider:daklak"


def test_claim_takes_the_first_free_provider_in_the_order_given(repo):
    store = leasing(repo)
    names = ["p:c", "p:a", "p:b"]
    assert store.claim(names, "n1", 60, now=100) == "p:c"
    assert store.claim(names, "n2", 60, now=100) == "p:a"
    assert store.claim(names, "n1", 60, now=100) == "p:b"
    assert store.claim(names, "n3", 60, now=100) is None
    assert store.claim(names, "n3", 60, now=161) == "p:c"
    assert store.claim([], "n3", 60) is None


def test_concurrent_claimers_never_hold_one_provider_at_once(backend):
    stores = [leasing(backend.open()) for _ in range(3)]
    names = [f"provider:{i:02d}" for i in range(40)]
    got: dict[int, list[str]] = {0: [], 1: [], 2: []}

    def node(k: int):
        while (name := stores[k].claim(names, f"node-{k}", 600)) is not None:
            got[k].append(name)

    assert at_once(node, 3) == []
    claimed = got[0] + got[1] + got[2]
    assert sorted(claimed) == names


# -- search (the contract in store/base.py and store/search_plan.py) ----------------------------
from thuvien_interop import dates  # noqa: E402
from thuvien_interop.store import search_plan as sp  # noqa: E402


def indexed(n: int, v: str = "1", **index: list[str]) -> Record:
    r = rec(n, v=v)
    r.index = {k.replace("_", "."): vals for k, vals in index.items()}
    return r


@pytest.fixture
def catalogue(repo):
    repo.write([
        indexed(1, dc_title=["Hà Nội xưa và nay"], dc_creator=["Nguyễn Du"], dc_date=["1998"]),
        indexed(2, dc_title=["Truyện Kiều", "HÀ NỘI"], dc_creator=["Nguyễn Du"], dc_date=["2005"]),
        indexed(3, dc_title=["Lịch sử Sài Gòn"], dc_creator=["Trần Văn Hà"], dc_date=["2010"]),
        indexed(4, dc_title=["Kiều Hà", "Nội chiến"], dc_creator=["Lê Văn"]),
        indexed(5, dc_title=["Hà Nội bị xoá"], dc_creator=["Nguyễn Du"], dc_date=["2001"]),
    ], now=100)
    repo.write([rec(5, deleted=True)], now=200)
    return repo


def found(store, root, **kw) -> list[str]:
    page = store.search(sp.Plan(root, **kw), 1, 100, prefix="oai_dc")
    assert page.total == len(page.items)
    return idents(page.items)


def phrase(index, *words, kind="word"):
    return sp.Phrase(index, tuple(sp.Term(w, kind) for w in words))


def test_search_folds_and_keeps_phrases_inside_one_value(catalogue):
    assert sorted(found(catalogue, phrase("dc.title", "ha", "noi"))) == ["1", "2"]
    assert sorted(found(catalogue, phrase(None, "ha"))) == ["1", "2", "3", "4"]
    assert found(catalogue, phrase("dc.title", "noi", "xua")) == ["1"]
    assert found(catalogue, phrase("dc.title", "nay", "ha")) == []
    assert found(catalogue, phrase("dc.nowhere", "ha")) == []


def test_one_record_three_times_in_one_batch_ends_as_the_last_copy(repo):
    # New, then changed, then changed again, all in one write: one record, the last
    # version's formats, sets and search entries, and nothing of the earlier ones.
    summary = repo.write([indexed(9, "1", dc_title=["Hà Nội"]),
                          indexed(9, "2", dc_title=["Huế"]),
                          Record("oai:test:9", b"<record id='9' v='3'/>", "marc21", ("sach",),
                                 rendered={"oai_dc": b"<oai_dc v='3'/>"},
                                 index={"dc.title": ["Đà Nẵng"]})], now=100)
    assert (summary.added, summary.updated) == (1, 2)
    item = repo.get("oai:test:9", "oai_dc")
    assert item.metadata == b"<oai_dc v='3'/>" and item.header.sets == ("sach",)
    assert repo.get("oai:test:9", "marc21").metadata is None
    assert idents(harvest(repo, ListQuery("oai_dc", set="sach"))) == ["9"]
    assert found(repo, phrase("dc.title", "da", "nang")) == ["9"]
    assert found(repo, phrase("dc.title", "hue")) == found(repo, phrase("dc.title", "ha")) == []


def test_search_finds_no_deleted_record(catalogue):
    assert found(catalogue, phrase("dc.title", "xoa")) == []
    assert sorted(found(catalogue, sp.AllRecords())) == ["1", "2", "3", "4"]
    assert [t.count for t in catalogue.scan("dc.creator", "nguyen du", 1, 1)] == [2]


def test_search_truncation_and_masks(catalogue):
    assert sorted(found(catalogue, phrase("dc.creator", "ngu", kind="prefix"))) == ["1", "2"]
    assert sorted(found(catalogue, phrase("dc.title", "*oi", kind="glob"))) == ["1", "2", "4"]
    assert found(catalogue, phrase("dc.title", "s?i", kind="glob")) == ["3"]
    assert found(catalogue, phrase("dc.title", "zz*", kind="glob")) == []
    with pytest.raises(sp.PlanTooBroad):
        catalogue.search(sp.Plan(phrase("dc.title", "*", kind="glob")), 1, 10)


def test_search_on_whole_value_keys(catalogue):
    assert sorted(found(catalogue, sp.KeyMatch("dc.creator", "eq", "nguyen du"))) == ["1", "2"]
    assert found(catalogue, sp.KeyMatch("dc.creator", "eq", "nguyen")) == []
    assert sorted(found(catalogue, sp.KeyMatch("dc.date", "ge", "2005"))) == ["2", "3"]
    assert found(catalogue, sp.KeyMatch("dc.date", "lt", "2005")) == ["1"]
    assert sorted(found(catalogue, sp.KeyMatch("dc.creator", "glob", "*van*"))) == ["3", "4"]
    stamp = sp.key_of(dates.format_utc(100))
    assert sorted(found(catalogue, sp.KeyMatch("rec.lastModificationDate", "eq", stamp))) == [
        "1", "2", "3", "4"]


def test_the_modification_date_is_in_the_keys_not_in_the_full_text(catalogue):
    """rec.lastModificationDate serves ranges, sortBy and scan; were it in the full
    text, a search of any index for the year the records were changed in would
    match them all."""
    assert found(catalogue, phrase(None, "1970")) == []
    assert found(catalogue, phrase("rec.lastModificationDate", "1970")) == []
    assert sorted(found(catalogue, sp.KeyMatch("rec.lastModificationDate", "glob", "1970 *"))) == [
        "1", "2", "3", "4"]
    assert [t.key for t in catalogue.scan("rec.lastModificationDate", "", 1, 5)] == [
        sp.key_of(dates.format_utc(100))]


def test_search_booleans_are_per_record(catalogue):
    ha_title = phrase("dc.title", "ha")
    assert sorted(found(catalogue, sp.And(ha_title, sp.KeyMatch("dc.date", "ge", "2000")))) == ["2"]
    assert sorted(found(catalogue, sp.Or(phrase("dc.title", "kieu"), phrase("dc.title", "gon")))) == [
        "2", "3", "4"]
    assert sorted(found(catalogue, sp.AndNot(phrase(None, "ha"), phrase("dc.title", "kieu")))) == [
        "1", "3"]
    # Words from two indexes of one record: And is per record, not per index.
    assert found(catalogue, sp.And(phrase("dc.title", "gon"), phrase("dc.creator", "tran"))) == ["3"]


def test_search_proximity(catalogue):
    near = sp.Near("dc.title", phrase(None, "ha"), phrase(None, "nay"), 3)
    assert found(catalogue, near) == ["1"]
    assert found(catalogue, sp.Near("dc.title", phrase(None, "nay"), phrase(None, "ha"), 3)) == ["1"]
    assert found(catalogue, sp.Near("dc.title", phrase(None, "ha"), phrase(None, "nay"), 2)) == []
    # A value boundary counts as one word.
    ha_noi = [phrase(None, "ha"), phrase(None, "noi")]
    assert sorted(found(catalogue, sp.Near("dc.title", *ha_noi, 0))) == ["1", "2"]
    assert sorted(found(catalogue, sp.Near("dc.title", *ha_noi, 1))) == ["1", "2", "4"]
    assert sorted(found(catalogue, sp.Near("dc.title", phrase(None, "kieu"), phrase(None, "ha"), 1))) == [
        "2", "4"]


def test_search_sorts_by_keys_with_missing_values_placed(catalogue):
    by_date = sp.SortSpec("dc.date")
    assert found(catalogue, sp.AllRecords(), sort=(by_date,)) == ["1", "2", "3", "4"]
    # missing="high": a record without a date sorts as a high value (SRU missingValue=highValue).
    assert found(catalogue, sp.AllRecords(), sort=(sp.SortSpec("dc.date", True),)) == ["4", "3", "2", "1"]
    assert found(catalogue, sp.AllRecords(), sort=(sp.SortSpec("dc.date", False, "low"),)) == [
        "4", "1", "2", "3"]
    assert found(catalogue, sp.AllRecords(), sort=(sp.SortSpec("dc.date", False, "omit"),)) == [
        "1", "2", "3"]


def test_search_ranks_by_relevance_then_by_age_and_pages(repo):
    repo.write([indexed(i, dc_title=["sách khác"]) for i in range(1, 4)]
               + [indexed(4, dc_title=["hoa hoa hoa"]),
                  indexed(5, dc_title=["một cuốn sách rất dài về hoa và nhiều thứ khác nữa"])], now=100)
    hits = found(repo, phrase("dc.title", "hoa"))
    assert hits == ["4", "5"]
    everything = found(repo, sp.Or(phrase("dc.title", "sach"), phrase("dc.title", "hoa")))
    assert sorted(everything) == ["1", "2", "3", "4", "5"]
    assert found(repo, sp.Or(phrase("dc.title", "sach"), phrase("dc.title", "hoa"))) == everything
    page = repo.search(sp.Plan(sp.AllRecords()), 2, 2, prefix="oai_dc")
    assert page.total == 5 and idents(page.items) == ["2", "3"]
    assert page.items[0].metadata == "<oai_dc id='2' v='1'>Hà Nội</oai_dc>".encode()
    assert repo.search(sp.Plan(sp.AllRecords()), 6, 2).items == []


def test_a_changed_record_is_indexed_anew(catalogue):
    catalogue.write([indexed(1, v="2", dc_title=["Huế"], dc_creator=["Nguyễn Du"])], now=300)
    assert found(catalogue, phrase("dc.title", "xua")) == []
    assert found(catalogue, phrase("dc.title", "hue")) == ["1"]


def test_scan_lists_keys_around_a_start(catalogue):
    def scan(start, position, count):
        return [(t.key, t.count) for t in catalogue.scan("dc.creator", start, position, count)]

    assert scan("", 1, 10) == [("le van", 1), ("nguyen du", 2), ("tran van ha", 1)]
    assert scan("nguyen", 1, 2) == [("nguyen du", 2), ("tran van ha", 1)]
    assert scan("nguyen", 2, 2) == [("le van", 1), ("nguyen du", 2)]
    assert scan("zzz", 1, 3) == []
    assert catalogue.scan("dc.creator", "nguyen du", 1, 1)[0].display == "Nguyễn Du"
    assert catalogue.scan("dc.nowhere", "", 1, 5) == []


def test_setdefault_meta_keeps_the_first_value(backend):
    store = backend.open()
    assert store.setdefault_meta("k", "first") == "first"
    assert store.setdefault_meta("k", "second") == "first"
    assert store.get_meta("k") == "first"


def test_reindex_replaces_search_entries_and_keeps_datestamps(catalogue):
    before = {i.header.identifier: i.header.datestamp for i in catalogue.list(ListQuery(), None, 100)}
    ident = next(i for i in before if i.endswith("3"))
    n = catalogue.reindex([(ident, {"dc.title": ["Đà Lạt mộng mơ"]})])
    assert n == 1
    assert [i.split(":")[-1] for i in found(catalogue, phrase("dc.title", "da", "lat"))] == ["3"]
    assert found(catalogue, phrase("dc.title", "sai", "gon")) == []
    after = {i.header.identifier: i.header.datestamp for i in catalogue.list(ListQuery(), None, 100)}
    assert after == before


def test_a_batch_is_stamped_with_the_second_it_commits_in(repo, monkeypatch):
    # The clock moves on while a batch is written (a real clock does, on big
    # batches): a harvester answered meanwhile asks next from its responseDate,
    # so the batch must carry the commit's second, in every list and set.
    ticks = iter(range(1000, 10_000, 5))
    monkeypatch.setattr(dates, "now", lambda: next(ticks))
    repo.write([rec(1, sets=("a:b",)), rec(2)])
    stamps = {i.header.datestamp for i in repo.list(ListQuery(), None, 10)}
    assert len(stamps) == 1 and stamps.pop() > 1000
    last = max(i.header.datestamp for i in repo.list(ListQuery(), None, 10))
    assert idents(repo.list(ListQuery(from_=last), None, 10)) == ["1", "2"]
    assert idents(repo.list(ListQuery(set="a", from_=last), None, 10)) == ["1"]


def test_a_huge_value_is_indexed_without_failing_the_batch(repo):
    # A contents note of thousands of characters, and a "word" as long as a
    # base64 blob, must not exceed a database's index entry limits.
    huge = " ".join(f"Chương {i}: Lịch sử vùng đất Tây Nguyên" for i in range(400))
    blob = "A" * 5000
    repo.write([indexed(1, dc_description=[huge, blob], dc_title=["Tây Nguyên"]), indexed(2)])
    assert idents(repo.search(sp.Plan(phrase("dc.description", "tay", "nguyen")), 1, 10).items) == ["1"]
    page = repo.search(sp.Plan(sp.KeyMatch("dc.description", "eq", sp.key_of(huge))), 1, 10)
    assert idents(page.items) == ["1"]


# -- a format's head, kept once (store/heads.py) --------------------------------------------
_DC_HEAD = (b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            b'xmlns:dc="http://purl.org/dc/elements/1.1/">')


def _dc(n: int, head: bytes = _DC_HEAD) -> bytes:
    return head + f"<dc:title>Hà Nội {n}</dc:title></oai_dc:dc>".encode()


def _marc(n: int) -> bytes:
    return (f'<record xmlns="http://www.loc.gov/MARC21/slim"><controlfield tag="001">{n}'
            "</controlfield></record>").encode()


def test_rows_keep_a_formats_head_once_and_give_back_the_bytes_written(backend):
    other_head = b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/">'
    records = [Record(f"oai:test:{n}", _marc(n), "marc21",
                      rendered={"oai_dc": _dc(n, other_head if n == 4 else _DC_HEAD),
                                "marc21": _marc(n)}) for n in range(1, 5)]
    repo = backend.open()
    repo.write(records, now=100)
    conn = repo._conn()  # noqa: SLF001 - looking at the storage itself
    stored = {i: bytes(x) for i, x in conn.execute(
        "SELECT r.identifier, x.xml FROM rendered x JOIN records r ON r.id = x.record_id "
        "WHERE x.prefix = 'oai_dc'").fetchall()}
    for n in (1, 2, 3):
        assert stored[f"oai:test:{n}"] == b"\x01" + _dc(n)[len(_DC_HEAD):]
    assert stored["oai:test:4"] == _dc(4, other_head), "another head: the XML kept whole"

    for store in (repo, backend.open()):  # and a store opened afterwards (another process)
        for prefix in ("oai_dc", "marc21"):
            want = [r.rendered[prefix] for r in records]
            assert [i.metadata for i in store.list(ListQuery(prefix), None, 10)] == want
            page = b"".join(store.stored_page(ListQuery(prefix), None, 10)[0])
            assert re.findall(rb"<metadata>(.*?)</metadata>", page, re.S) == want
            assert store.get("oai:test:2", prefix).metadata == records[1].rendered[prefix]
        assert store.canonical("oai:test:3") == ("marc21", _marc(3))

    # A deletion keeps the canonical record, whole, though it lived in the rendered marc21 row.
    repo.write([Record("oai:test:3", deleted=True)], now=200)
    kept = conn.execute("SELECT canonical FROM records WHERE identifier = 'oai:test:3'").fetchone()[0]
    assert bytes(kept) == _marc(3)


# -- each format's rendered rows, counted by the writes ------------------------------

def counted(store: Repository) -> dict[str, int]:
    """Each format's rendered rows as the store keeps them counted (rendered_counts),
    asserted equal to a real COUNT of the rows, and the whole lists' counts to
    their lists' lengths. Returns the counts."""
    conn = store._conn()
    kept = {p: n for p, n in conn.execute("SELECT prefix, n FROM rendered_counts") if n}
    real = dict(conn.execute("SELECT prefix, count(*) FROM rendered GROUP BY prefix"))
    if hasattr(conn, "commit"):
        conn.commit()  # (PostgreSQL: end the reading transaction)
    assert kept == real, "rendered_counts is not the COUNT of the rendered rows"
    for prefix in (*real, "mods", "oai_dc"):
        q = ListQuery(prefix)
        assert store.count(q) == len(store.list(q, None, 10 ** 6, metadata=False)), prefix
    return real


def test_each_formats_rows_are_counted_through_adds_updates_and_deletions(repo):
    repo.batch_size = 7  # one write, several transactions
    repo.write([rec(i) for i in range(30)], now=100)
    assert counted(repo) == {"oai_dc": 30, "marc21": 30}
    repo.write([rec(i) for i in range(30)], now=110)  # unchanged
    assert counted(repo) == {"oai_dc": 30, "marc21": 30}
    repo.write([rec(i, v="2", formats=("oai_dc",)) for i in range(10)]       # a format fewer
               + [rec(i, v="2", formats=("oai_dc", "marc21", "mods")) for i in range(10, 15)]
               + [rec(i, deleted=True) for i in range(20, 27)], now=120)
    assert counted(repo) == {"oai_dc": 23, "marc21": 13, "mods": 5}
    repo.write([rec(i, deleted=True) for i in range(20, 27)]                 # deleted twice
               + [rec(f"gone{i}", deleted=True) for i in range(3)], now=130)  # never stored
    assert counted(repo) == {"oai_dc": 23, "marc21": 13, "mods": 5}
    repo.write([rec(20), rec(21, formats=("mods",)), rec(40), rec(40, v="3", formats=("mods",))],
               now=140)  # back from deletion; one identifier twice in a batch
    assert counted(repo) == {"oai_dc": 24, "marc21": 14, "mods": 7}


def test_a_failed_batch_leaves_the_counts_as_they_were(repo):
    repo.write([rec(i) for i in range(12)], now=100)
    before = counted(repo)

    def failing(tables, records):
        raise RuntimeError("the batch fails after its rows were written")

    with pytest.raises(RuntimeError):
        repo.write([rec(i, v="2", formats=("mods",)) for i in range(6)]
                   + [rec(i, deleted=True) for i in range(6, 9)] + [rec(50)], now=200,
                   clusters=failing)
    assert counted(repo) == before == {"oai_dc": 12, "marc21": 12}


def test_concurrent_writers_keep_the_counts_exact(backend):
    """Writers on connections of their own, adding, changing, deleting and
    restoring the same records at once."""
    stores = [backend.open() for _ in range(3)]
    stores[0].write([rec(f"s{i}") for i in range(20)], now=100)

    def write(w: int) -> None:
        for b in range(6):
            stores[w].write([rec(f"w{w}-{b}-{i}", formats=("oai_dc", "marc21", "mods")[:w + 1])
                             for i in range(15)]
                            + [rec(f"s{(w + b + i) % 20}", v=f"{w}{b}", deleted=(b + i) % 3 == 0,
                                   formats=("oai_dc", "mods")) for i in range(5)])

    assert at_once(write, 3) == []
    got = counted(stores[0])
    assert got["oai_dc"] >= 3 * 6 * 15


def test_an_older_store_has_its_formats_counted_when_it_migrates(backend):
    """A store from before the counts (or rolled back to it) is counted afresh."""
    repo = backend.open()
    repo.write([rec(i) for i in range(9)] + [rec(i, deleted=True) for i in range(9, 11)], now=100)
    version = len(backend.module.MIGRATIONS)
    conn = repo._conn()
    conn.execute("UPDATE rendered_counts SET n = n + 1000")
    conn.execute(f"UPDATE meta SET value = '{version - 1}' WHERE key = 'schema_version'")
    conn.commit()
    repo.close()
    again = backend.open()
    assert again.get_meta("schema_version") == str(version)
    assert counted(again) == {"oai_dc": 9, "marc21": 9}
