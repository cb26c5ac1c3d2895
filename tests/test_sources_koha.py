"""Koha on the real MariaDB: a Koha-shaped database served live over OAI-PMH and
synced into a SQLite store; updates and deletions reach harvesters exactly once."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, live_server, schema
from lxml import etree

from thuvien_interop import dates
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.web import create_app

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("pymysql")
sickle = pytest.importorskip("sickle")

SERVER = "mysql+pymysql://root@127.0.0.1:3306"
REPO = "thuvien-test.vn"
N = 40
MARC = "http://www.loc.gov/MARC21/slim"

# A cut-down kohastructure.sql: the tables and columns the profile reads, with
# Koha's types (TIMESTAMP ON UPDATE, longtext MARCXML, the `schema` column).
KOHA_TABLES = [
    """CREATE TABLE biblio (biblionumber INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        frameworkcode VARCHAR(4) NOT NULL DEFAULT '', author LONGTEXT, title LONGTEXT,
        timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        datecreated DATE NOT NULL)""",
    """CREATE TABLE biblioitems (biblioitemnumber INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        biblionumber INT NOT NULL, isbn LONGTEXT, publishercode TEXT, itemtype VARCHAR(10),
        timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)""",
    """CREATE TABLE biblio_metadata (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        biblionumber INT NOT NULL, format VARCHAR(16) NOT NULL, `schema` VARCHAR(16) NOT NULL,
        metadata LONGTEXT NOT NULL,
        timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        UNIQUE KEY biblio_metadata_uniq_key (biblionumber, format, `schema`),
        KEY timestamp (timestamp)) DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE deletedbiblio LIKE biblio""",
    """CREATE TABLE deletedbiblio_metadata LIKE biblio_metadata""",
    """CREATE TABLE branches (branchcode VARCHAR(10) PRIMARY KEY, branchname LONGTEXT NOT NULL)
        DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE itemtypes (itemtype VARCHAR(10) PRIMARY KEY, description LONGTEXT)
        DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE authorised_values (id INT AUTO_INCREMENT PRIMARY KEY, category VARCHAR(32),
        authorised_value VARCHAR(80), lib VARCHAR(200)) DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE items (itemnumber INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        biblionumber INT NOT NULL, homebranch VARCHAR(10), holdingbranch VARCHAR(10),
        itype VARCHAR(10), ccode VARCHAR(80),
        timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)""",
    """CREATE TABLE deleteditems LIKE items""",
]
BRANCHES = {"BMT": "Thư viện tỉnh Đắk Lắk — Buôn Ma Thuột", "KRP": "Thư viện huyện Krông Pắc"}
T0 = datetime(2024, 1, 1, 8, 0, 0)
T_CHANGE = datetime(2024, 6, 1, 10, 0, 0)


def sample_marcxml(n: int) -> list[str]:
    doc = etree.parse(str(SAMPLES / "vietnamese-catalogue.xml"))
    out = []
    for rec in doc.getroot().findall(f"{{{MARC}}}record")[:n]:
        out.append(etree.tostring(rec, encoding="unicode"))
    return out


def _connect(url: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"MariaDB at 127.0.0.1:3306 is unreachable: {exc}")
    return engine


@pytest.fixture(scope="module")
def koha_server():
    """A throw-away Koha-shaped database (dropped afterwards); yields its URL."""
    admin = _connect(f"{SERVER}/test")
    name = f"thuvien_test_{secrets.token_hex(4)}"
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    url = f"{SERVER}/{name}?charset=utf8mb4"
    yield url
    with admin.begin() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@pytest.fixture
def koha(koha_server):
    """The Koha tables, freshly filled with N Vietnamese records."""
    engine = sa.create_engine(koha_server)
    with engine.begin() as c:
        c.execute(sa.text("SET time_zone = '+00:00'"))
        for t in ("items", "deleteditems", "biblio_metadata", "deletedbiblio_metadata",
                  "biblioitems", "biblio", "deletedbiblio", "branches", "itemtypes",
                  "authorised_values"):
            c.execute(sa.text(f"DROP TABLE IF EXISTS {t}"))
        for ddl in KOHA_TABLES:
            c.execute(sa.text(ddl))
        for code, name in BRANCHES.items():
            c.execute(sa.text("INSERT INTO branches VALUES (:c, :n)"), {"c": code, "n": name})
        c.execute(sa.text("INSERT INTO itemtypes VALUES ('BK', 'Sách'), ('TL', 'Tài liệu tham khảo')"))
        for i, xml in enumerate(sample_marcxml(N), start=1):
            stamp = T0.replace(minute=i % 60, hour=8 + i // 60)
            c.execute(sa.text("INSERT INTO biblio (biblionumber, title, datecreated, timestamp) "
                              "VALUES (:b, :t, '2024-01-01', :s)"), {"b": i, "t": f"t{i}", "s": stamp})
            c.execute(sa.text("INSERT INTO biblio_metadata (biblionumber, format, `schema`, metadata, "
                              "timestamp) VALUES (:b, 'marcxml', 'MARC21', :m, :s)"),
                      {"b": i, "m": xml, "s": stamp})
            branch = "BMT" if i % 2 else "KRP"
            c.execute(sa.text("INSERT INTO items (biblionumber, homebranch, holdingbranch, itype) "
                              "VALUES (:b, :h, :h, :t)"), {"b": i, "h": branch, "t": "BK" if i % 3 else "TL"})
        # A record whose items are at both branches: in both sets.
        c.execute(sa.text("INSERT INTO items (biblionumber, homebranch, itype) VALUES (2, 'BMT', 'BK')"))
    yield engine
    engine.dispose()


def change_catalogue(engine) -> None:
    """What a librarian does in Koha: edit two records, delete one, add one."""
    with engine.begin() as c:
        c.execute(sa.text("SET time_zone = '+00:00'"))
        for b in (3, 4):
            c.execute(sa.text(
                "UPDATE biblio_metadata SET metadata = REPLACE(metadata, '</record>', "
                "'<datafield tag=\"500\" ind1=\" \" ind2=\" \"><subfield code=\"a\">Đã hiệu đính</subfield>"
                "</datafield></record>'), timestamp = :s WHERE biblionumber = :b"),
                {"b": b, "s": T_CHANGE.replace(minute=b)})
        # DelBiblio: the metadata row and the items move to the deleted* tables.
        c.execute(sa.text(
            "INSERT INTO deletedbiblio_metadata (biblionumber, format, `schema`, metadata, timestamp) "
            "SELECT biblionumber, format, `schema`, metadata, :s FROM biblio_metadata WHERE biblionumber = 5"),
            {"s": T_CHANGE.replace(minute=5)})
        c.execute(sa.text("INSERT INTO deleteditems SELECT * FROM items WHERE biblionumber = 5"))
        c.execute(sa.text("DELETE FROM items WHERE biblionumber = 5"))
        c.execute(sa.text("DELETE FROM biblio_metadata WHERE biblionumber = 5"))
        new = sample_marcxml(N + 1)[-1]
        c.execute(sa.text("INSERT INTO biblio_metadata (biblionumber, format, `schema`, metadata, timestamp) "
                          "VALUES (:b, 'marcxml', 'MARC21', :m, :s)"),
                  {"b": N + 1, "m": new, "s": T_CHANGE.replace(minute=30)})
        c.execute(sa.text("INSERT INTO items (biblionumber, homebranch, itype) VALUES (:b, 'KRP', 'BK')"),
                  {"b": N + 1})


def koha_source(url):
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    return SQLSource(url, SourceProfile.load("koha"))


def live_repo(url):
    from thuvien_interop.store.sqlsource import LiveSourceRepository

    return LiveSourceRepository(koha_source(url), REPO)


def harvest(url: str, verb: str = "ListRecords", **args) -> list:
    client = sickle.Sickle(f"{url}/oai", max_retries=0)
    try:
        return list(getattr(client, verb)(metadataPrefix="oai_dc", **args))
    except sickle.oaiexceptions.NoRecordsMatch:
        return []


def test_live_koha_is_harvested_whole_through_tokens(koha, koha_server):
    repo = live_repo(koha_server)
    with live_server(create_app(repo, ProviderConfig(page_size=7, repository_identifier=REPO))) as url:
        records = harvest(url)
        ident = etree.fromstring(
            __import__("requests").get(f"{url}/oai?verb=Identify", timeout=30).content)
    ids = [r.header.identifier for r in records]
    assert len(ids) == len(set(ids)) == N
    assert ids[0] == f"oai:{REPO}:1"
    titles = " ".join(r.metadata["title"][0] for r in records)
    assert "ộ" in titles or "ệ" in titles or "ư" in titles
    earliest = ident.find(".//{http://www.openarchives.org/OAI/2.0/}earliestDatestamp").text
    assert earliest == "2024-01-01T08:01:00Z"
    repo.close()


def test_live_koha_sets_come_from_branches_and_item_types(koha, koha_server):
    import requests

    repo = live_repo(koha_server)
    with live_server(create_app(repo, ProviderConfig(repository_identifier=REPO))) as url:
        r = requests.get(f"{url}/oai", params={"verb": "ListSets"}, timeout=30)
        schema("OAI-PMH.xsd").validate(r.content)
        krp = harvest(url, "ListIdentifiers", set="branch:KRP")
        bmt = harvest(url, "ListIdentifiers", set="branch:BMT")
        branch = harvest(url, "ListIdentifiers", set="branch")
        one = requests.get(f"{url}/oai", params={"verb": "GetRecord", "identifier": f"oai:{REPO}:2",
                                                  "metadataPrefix": "marc21"}, timeout=30)
    sets = dict(zip(etree.fromstring(r.content).iter("{*}setSpec"),
                    etree.fromstring(r.content).iter("{*}setName"), strict=True))
    names = {k.text: v.text for k, v in sets.items()}
    assert names["branch:BMT"] == BRANCHES["BMT"]
    assert names["itype:TL"] == "Tài liệu tham khảo"
    assert {h.identifier for h in krp} == {f"oai:{REPO}:{i}" for i in range(2, N + 1, 2)}
    assert f"oai:{REPO}:2" in {h.identifier for h in bmt}  # items at both branches
    assert len(branch) == N
    schema("OAI-PMH.xsd").validate(one.content)
    doc = etree.fromstring(one.content)
    assert {s.text for s in doc.iter("{*}setSpec")} >= {"branch", "branch:BMT", "branch:KRP"}
    assert doc.find(".//{http://www.loc.gov/MARC21/slim}record") is not None
    repo.close()


def test_live_koha_harvest_from_sees_exactly_the_changes(koha, koha_server):
    repo = live_repo(koha_server)
    change_catalogue(koha)
    with live_server(create_app(repo, ProviderConfig(page_size=2, repository_identifier=REPO))) as url:
        changed = harvest(url, **{"from": "2024-06-01T00:00:00Z"})
        before = harvest(url, until="2024-05-31")
    got = {r.header.identifier: r.header.deleted for r in changed}
    assert got == {f"oai:{REPO}:3": False, f"oai:{REPO}:4": False, f"oai:{REPO}:5": True,
                   f"oai:{REPO}:{N + 1}": False}
    assert len(before) == N - 3
    note = [r for r in changed if r.header.identifier.endswith(":3")][0]
    assert "Đã hiệu đính" in " ".join(note.metadata.get("description", []))
    repo.close()


def test_live_source_is_read_only(koha, koha_server):
    from thuvien_interop.model import Record
    from thuvien_interop.store.sqlsource import ReadOnlySource

    repo = live_repo(koha_server)
    with pytest.raises(ReadOnlySource, match="read-only"):
        repo.write([Record(f"oai:{REPO}:1", b"<record/>")])
    assert repo.get(f"oai:{REPO}:999999") is None
    assert repo.get("oai:another.vn:1") is None
    repo.close()


def test_sync_copies_changes_and_deletions_incrementally(koha, koha_server, store):
    from thuvien_interop.store.sqlsource import sync

    source = koha_source(koha_server)
    t1 = dates.parse_utc("2025-01-01T00:00:00Z")[0]
    first = sync(source, store, REPO, now=t1)
    assert (first.written.added, first.rejected) == (N, [])
    assert first.mark == dates.parse_utc("2024-01-01T08:40:00Z")[0]
    again = sync(source, store, REPO, now=t1 + 50)
    assert (again.written.added, again.written.updated, again.written.deleted) == (0, 0, 0)

    change_catalogue(koha)
    second = sync(source, store, REPO, now=t1 + 100)
    w = second.written
    assert (w.added, w.updated, w.deleted) == (1, 2, 1)
    assert second.since == first.mark - 300  # re-reads the overlap, writes nothing twice

    with live_server(create_app(store, ProviderConfig(page_size=3, repository_identifier=REPO))) as url:
        everything = harvest(url)
        changes = harvest(url, **{"from": dates.format_utc(t1 + 100)})
    assert len(everything) == N + 1
    got = {r.header.identifier: r.header.deleted for r in changes}
    assert got == {f"oai:{REPO}:3": False, f"oai:{REPO}:4": False, f"oai:{REPO}:5": True,
                   f"oai:{REPO}:{N + 1}": False}
    assert store.get(f"oai:{REPO}:5").header.sets  # the deletion keeps its sets
    source.close()


def test_full_sync_withdraws_records_deleted_without_a_trace(koha, koha_server, store):
    from thuvien_interop.store.sqlsource import sync

    source = koha_source(koha_server)
    sync(source, store, REPO)
    with koha.begin() as c:  # a bulk delete straight in SQL, not through Koha
        c.execute(sa.text("DELETE FROM biblio_metadata WHERE biblionumber IN (7, 8)"))
    assert sync(source, store, REPO).written.deleted == 0  # nothing says they went
    full = sync(source, store, REPO, full=True)
    assert full.reconciled == 2
    assert store.get(f"oai:{REPO}:7").header.deleted
    source.close()


def test_sync_command_reports_what_it_did(koha, koha_server, tmp_path):
    from thuvien_interop.cli import main

    db = f"sqlite:///{tmp_path / 'koha.db'}"
    args = ["sync", "--profile", "koha", "--source", koha_server,
            "--store", db, "--repository-id", REPO]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{N} added" in result.output
    assert "***" not in koha_server and "root@127.0.0.1" in result.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "0 added, 0 updated" in again.output


def test_sync_command_explains_an_unreachable_source(tmp_path):
    from thuvien_interop.cli import main

    result = CliRunner().invoke(main, [
        "sync", "--profile", "koha",
        "--source", "mysql+pymysql://nobody:secret@127.0.0.1:1/koha",
        "--store", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0
    assert "cannot read the source" in result.output and "secret" not in result.output


def test_serve_command_serves_koha_live(koha, koha_server):
    import os
    import subprocess
    import sys
    import time

    import requests
    from conftest import free_port

    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", THUVIEN_SOURCE=koha_server)
    proc = subprocess.Popen(
        [sys.executable, "-m", "thuvien_interop", "serve", "--profile", "koha",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/oai", timeout=10,
                                 params={"verb": "ListIdentifiers", "metadataPrefix": "mods"})
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "") from None
                time.sleep(0.2)
        assert r.status_code == 200
        assert len(etree.fromstring(r.content).findall(".//{*}header")) == N
    finally:
        proc.terminate()
        proc.wait(timeout=10)
