"""Generic SQL sources: a custom schema in the real PostgreSQL (separate columns built
into MARC, local-time timestamps with fractions of a second) and the commented
template profile over SQLite."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta

import pytest
from conftest import live_server
from lxml import etree

from thuvien_interop import dates
from thuvien_interop.model import ListQuery
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.web import create_app

sa = pytest.importorskip("sqlalchemy")
sickle = pytest.importorskip("sickle")

PG = "postgresql+psycopg://127.0.0.1:5432/test"
REPO = "thuvien-pg.vn"
# 30 books changed within the same second (a bulk update), ids in reverse order of
# their fractions: keyset paging must still give each exactly once.
BULK = datetime(2024, 3, 1, 9, 0, 0)


def pg_profile(schema_name: str) -> dict:
    return {
        "profile": {"name": "pg-test"},
        "source": {"timezone": "Asia/Ho_Chi_Minh"},
        "records": {"format": "columns", "query": f"""
            SELECT s.ma_sach AS id, s.cap_nhat AS datestamp, s.nhan_de, s.tac_gia, s.nam_xb,
                   s.nxb, s.isbn, s.chu_de
            FROM {schema_name}.sach s"""},
        "deleted": {"query": f"SELECT x.ma_sach AS id, x.luc_xoa AS datestamp FROM {schema_name}.sach_xoa x"},
        "columns": {"nhan_de": "245$a", "tac_gia": {"field": "100$a", "split": ";", "more": "700$a"},
                    "nam_xb": "264$c", "nxb": "264$b", "isbn": "020$a",
                    "chu_de": {"field": "650$a", "split": ";"}},
        "sets": [{"spec": "kho", "name": "Kho", "members":
                  f"SELECT s.ma_sach AS id, s.kho AS value FROM {schema_name}.sach s"}],
    }


@pytest.fixture(scope="module")
def pg_schema():
    engine = sa.create_engine(PG)
    try:
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {exc}")
    name = f"thuvien_test_{secrets.token_hex(4)}"
    with engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {name}"))
        c.execute(sa.text(f"""CREATE TABLE {name}.sach (ma_sach integer PRIMARY KEY,
            nhan_de text, tac_gia text, nam_xb text, nxb text, isbn text, chu_de text, kho text,
            cap_nhat timestamp(6) without time zone NOT NULL)"""))
        c.execute(sa.text(f"CREATE TABLE {name}.sach_xoa (ma_sach integer, luc_xoa timestamp NOT NULL)"))
        c.execute(sa.text(f"CREATE INDEX ON {name}.sach (cap_nhat, ma_sach)"))
        rows = []
        for i in range(1, 31):
            rows.append({"i": i, "t": f"Giáo trình Tiếng Việt tập {i}", "a": "Nguyễn Văn An; Trần Thị Bình",
                         "y": "2019", "p": "NXB Giáo dục Việt Nam", "isbn": None,
                         "c": "Tiếng Việt; Ngữ pháp", "k": "TK" if i % 2 else "GK",
                         "d": BULK + timedelta(microseconds=(31 - i) * 1000)})
        rows.append({"i": 31, "t": "", "a": "Vô danh", "y": "2000", "p": None, "isbn": None,
                     "c": None, "k": None, "d": BULK + timedelta(seconds=5)})
        c.execute(sa.text(f"INSERT INTO {name}.sach VALUES (:i, :t, :a, :y, :p, :isbn, :c, :k, :d)"), rows)
    yield engine, name
    with engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
    engine.dispose()


def pg_source(name: str):
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    return SQLSource(PG, SourceProfile.from_dict(pg_profile(name)))


def test_same_second_rows_are_each_listed_once_in_small_pages(pg_schema):
    from thuvien_interop.store.sqlsource import LiveSourceRepository

    _, name = pg_schema
    repo = LiveSourceRepository(pg_source(name), REPO)
    seen, after = [], None
    while True:
        page = repo.list(ListQuery("oai_dc"), after, 4)
        seen += [i.header.identifier for i in page]
        if len(page) < 4:
            break
        after = page[-1].key
    # Row 31 has no title: it cannot be disseminated and is left out, like a stored
    # record without the format.
    assert sorted(seen) == sorted(f"oai:{REPO}:{i}" for i in range(1, 31))
    assert len(seen) == len(set(seen))
    repo.close()


def test_local_time_is_converted_to_utc_datestamps(pg_schema):
    from thuvien_interop.store.sqlsource import LiveSourceRepository

    _, name = pg_schema
    repo = LiveSourceRepository(pg_source(name), REPO)
    item = repo.get(f"oai:{REPO}:1", "oai_dc")
    # 09:00 in Hà Nội (UTC+7) is 02:00 UTC.
    assert dates.format_utc(item.header.datestamp) == "2024-03-01T02:00:00Z"
    assert item.header.sets == ("kho", "kho:TK")
    assert "Giáo trình Tiếng Việt tập 1".encode() in item.metadata
    assert repo.info().earliest_datestamp == dates.parse_utc("2024-03-01T02:00:00Z")[0]
    repo.close()


def test_columns_are_built_into_marc_with_added_authors(pg_schema):
    from thuvien_interop.crosswalk.marcxml import parse_marcxml_record

    _, name = pg_schema
    source = pg_source(name)
    from thuvien_interop.store.sqlsource import LiveSourceRepository

    repo = LiveSourceRepository(source, REPO)
    fmt, xml = repo.canonical(f"oai:{REPO}:2")
    rec = parse_marcxml_record(xml)
    assert rec["001"].data == "2"
    assert rec["100"]["a"] == "Nguyễn Văn An" and rec["700"]["a"] == "Trần Thị Bình"
    assert [f["a"] for f in rec.get_fields("650")] == ["Tiếng Việt", "Ngữ pháp"]
    assert rec["008"].data[7:11] == "2019"
    repo.close()


def test_postgres_source_served_and_harvested_incrementally(pg_schema):
    from thuvien_interop.store.sqlsource import LiveSourceRepository

    engine, name = pg_schema
    repo = LiveSourceRepository(pg_source(name), REPO)
    with engine.begin() as c:
        c.execute(sa.text(f"INSERT INTO {name}.sach_xoa VALUES (99, '2024-04-01 12:00:00.250')"))
    try:
        with live_server(create_app(repo, ProviderConfig(page_size=7, repository_identifier=REPO))) as url:
            client = sickle.Sickle(f"{url}/oai", max_retries=0)
            everything = list(client.ListIdentifiers(metadataPrefix="oai_dc"))
            later = list(client.ListIdentifiers(metadataPrefix="oai_dc", **{"from": "2024-03-15"}))
            tk = list(client.ListIdentifiers(metadataPrefix="oai_dc", set="kho:TK"))
    finally:
        with engine.begin() as c:
            c.execute(sa.text(f"DELETE FROM {name}.sach_xoa"))
        repo.close()
    assert len(everything) == 30 + 1  # the deletion is listed too
    assert [(h.identifier, h.deleted) for h in later] == [(f"oai:{REPO}:99", True)]
    assert later[0].datestamp == "2024-04-01T05:00:00Z"
    assert len(tk) == 15


def test_sync_from_postgres_reports_rows_that_make_no_record(pg_schema, store):
    from thuvien_interop.store.sqlsource import sync

    _, name = pg_schema
    source = pg_source(name)
    report = sync(source, store, REPO)
    assert report.written.added == 30
    assert len(report.rejected) == 1 and "no title" in report.rejected[0].reason
    assert {s.spec for s in store.sets(None, 10)} == {"kho", "kho:GK", "kho:TK"}
    source.close()


# -- the commented template, over SQLite --------------------------------------------


def make_template_db(path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE books (book_id INTEGER PRIMARY KEY, title TEXT, author TEXT,
            publisher TEXT, place TEXT, year TEXT, isbn TEXT, ddc TEXT, subjects TEXT,
            language TEXT, shelf TEXT, updated_at TIMESTAMP);
        CREATE TABLE deleted_books (book_id INTEGER, deleted_at TIMESTAMP);
    """)
    conn.executemany("INSERT INTO books VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
        (1, "Lịch sử Việt Nam", "Trần Trọng Kim", "Tân Việt", "Hà Nội", "1951", None, "959.7",
         "Lịch sử; Việt Nam", "Tiếng Việt", "A1", "2024-02-01 10:00:00"),
        (2, "Việt Nam sử lược", "Trần Trọng Kim", "Văn học", "Hà Nội", "2018", "9786049693431",
         "959.7", None, "vie", "A1", "2024-02-01 10:00:00.5"),
        (3, "English for Vietnamese", "Lê Văn Sự", None, None, "2020", None, None, None, "Anh",
         "B 2", "2024-02-02 08:30:00"),
    ])
    conn.execute("INSERT INTO deleted_books VALUES (7, '2024-02-03 00:00:00')")
    conn.commit()
    conn.close()


def test_generic_template_profile_syncs_a_sqlite_catalogue(tmp_path, store):
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import LiveSourceRepository, SQLSource, sync

    make_template_db(tmp_path / "lib.db")
    profile = SourceProfile.load("generic-sql")
    source = SQLSource(f"sqlite:///{tmp_path / 'lib.db'}", profile)
    live = LiveSourceRepository(source, REPO)
    items = live.list(ListQuery("marc21"), None, 10)
    assert [i.header.identifier for i in items] == [f"oai:{REPO}:{n}" for n in (1, 2, 3, 7)]
    assert items[-1].header.deleted
    english = etree.fromstring(items[2].metadata)
    assert english.find(".//{*}controlfield[@tag='008']").text[35:38] == "eng"
    assert items[0].header.sets == ("shelf", "shelf:A1")
    assert items[2].header.sets == ()  # "B 2" is not a valid setSpec
    report = sync(source, store, REPO)
    # The deletion of a record never published is not copied.
    assert (report.written.added, report.written.deleted, report.rejected) == (3, 0, [])
    source.close()


def test_a_source_that_moves_is_still_the_same_source(tmp_path, store):
    """A library's database moved to another file (or host, or password): the next
    sync finds its records its own (not collisions) and goes on from its mark."""
    from thuvien_interop.pipeline.sources import sync
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    make_template_db(tmp_path / "lib.db")
    profile = SourceProfile.load("generic-sql")
    first = SQLSource(f"sqlite:///{tmp_path / 'lib.db'}", profile)
    assert sync(first, store, REPO).written.added == 3
    first.close()
    (tmp_path / "lib.db").rename(tmp_path / "moved.db")
    moved = SQLSource(f"sqlite:///{tmp_path / 'moved.db'}", profile)
    again = sync(moved, store, REPO, full=True)
    w = again.written
    assert (w.added, w.updated, w.unchanged, w.deleted, w.collisions) == (0, 0, 3, 0, [])
    assert again.reconciled == 0
    moved.close()


def test_two_databases_of_one_profile_are_kept_apart_by_name(tmp_path, store):
    from thuvien_interop.pipeline.sources import sync
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    profile = SourceProfile.load("generic-sql")
    sources = []
    for name in ("a", "b"):
        make_template_db(tmp_path / f"{name}.db")
        sources.append(SQLSource(f"sqlite:///{tmp_path / name}.db", profile))
    assert sync(sources[0], store, REPO, name="school-a").written.added == 3
    # The same identifiers from another library's database: refused, not overwritten.
    other = sync(sources[1], store, REPO, name="school-b").written
    assert other.added == 0 and len(other.collisions) == 3
    assert {h for h, _ in other.collisions} == {f"oai:{REPO}:{n}" for n in (1, 2, 3)}
    # Each is the other's stranger; a full sync of one withdraws nothing of the other's.
    assert sync(sources[0], store, REPO, name="school-a", full=True).reconciled == 0
    for s in sources:
        s.close()


def test_a_store_synced_by_url_takes_the_sources_name(tmp_path, store):
    """Stores synced before sources had names keep their records under
    "sync:PROFILE:URL": the next sync takes them over, datestamps unchanged."""
    from thuvien_interop.pipeline.sources import sync
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    make_template_db(tmp_path / "lib.db")
    source = SQLSource(f"sqlite:///{tmp_path / 'lib.db'}", SourceProfile.load("generic-sql"))
    sync(source, store, REPO, now=1_000)
    legacy = f"sync:generic-sql:{source.safe_url}"
    assert store.rename_origin("sync:generic-sql", legacy) == 3
    store.set_meta(legacy, store.get_meta("sync:generic-sql"))
    store._conn().execute("DELETE FROM meta WHERE key = 'sync:generic-sql'")
    again = sync(source, store, REPO, now=2_000, full=True).written
    assert (again.added, again.unchanged, again.collisions) == (0, 3, [])
    items = store.list(ListQuery(), None, 10, metadata=False)
    assert {i.header.origin for i in items} == {"sync:generic-sql"}
    assert {i.header.datestamp for i in items} == {1_000}
    source.close()


def test_profile_errors_name_the_key():
    from thuvien_interop.store.profile import ProfileError, SourceProfile

    with pytest.raises(ProfileError, match="records"):
        SourceProfile.from_dict({"records": {}})
    with pytest.raises(ProfileError, match="timezone"):
        SourceProfile.from_dict({"records": {"query": "SELECT 1"}, "source": {"timezone": "Mars/Base"}})
    with pytest.raises(ProfileError, match="setSpec"):
        SourceProfile.from_dict({"records": {"query": "SELECT 1"},
                                 "sets": [{"spec": "kho sách", "members": "SELECT 1"}]})
    with pytest.raises(ProfileError, match="245"):
        SourceProfile.from_dict({"records": {"query": "SELECT 1", "format": "columns"},
                                 "columns": {"title": "245"}})


def test_sync_command_says_which_records_another_source_holds(tmp_path):
    from click.testing import CliRunner

    from thuvien_interop.cli import main

    store = f"sqlite:///{tmp_path / 'store.db'}"
    outs = []
    for name in ("a", "b"):
        make_template_db(tmp_path / f"{name}.db")
        result = CliRunner().invoke(main, [
            "sync", "--profile", "generic-sql", "--source", f"sqlite:///{tmp_path / name}.db",
            "--store", store, "--repository-id", REPO, "--name", f"school-{name}"])
        assert result.exit_code == 0, result.output
        outs.append(result.output)
    assert "3 added, 0 updated, 0 unchanged, 0 deleted, 0 unreadable; 2 sets." in outs[0]
    assert "0 added, 0 updated, 0 unchanged, 0 deleted, 0 unreadable, 3 refused; " in outs[1]
    assert "Refused (3) — another source's records in the store have these identifiers" in outs[1]
    assert "Unreadable" not in outs[1]
    assert f"oai:{REPO}:1 is already in the store from sync:school-a" in outs[1]
