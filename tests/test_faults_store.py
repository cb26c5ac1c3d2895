"""Disconnects survived (issue 17): ``serve`` over PostgreSQL answers the next
request correctly after its connections were killed (pg_terminate_backend on
this test's own connections of the shared server) and, while a database of the
test's own is really down, answers 503 with Retry-After for OAI-PMH and SRU
alike, never a 500 page; ``import`` and ``harvest`` wait for a restarted
database and go on from their last commit. Each test waits for the state it
needs (a line printed, a connection gone), never for a fixed time."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from conftest import PG_URL, fresh_store_url, live_server
from private_postgres import PrivatePostgres
from test_faults_processes import RECORDS, catalogue, contents, stored  # noqa: F401 - fixture
from test_harvest import ALL, identifiers
from test_harvest_faults import blocked, source_store  # noqa: F401 - fixtures

from thuvien_interop.formats import default_registry
from thuvien_interop.ingest.loader import build_record
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.store import open_store
from thuvien_interop.web import create_app

from test_harvest import marc  # isort: skip


def wait_until(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not so after {timeout:.0f} s: {what}")
        threading.Event().wait(0.05)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def same(body: bytes) -> bytes:
    """A response without what changes from one request to the next (its date,
    the expiry of its resumption token and so the token's signature)."""
    body = re.sub(rb"<responseDate>[^<]*</responseDate>", b"", body)
    return re.sub(rb"<resumptionToken[^>]*>[^<]*</resumptionToken>", b"<resumptionToken/>", body)


def fill(store, n: int = 30) -> None:
    reg = default_registry()
    store.write([build_record(marc(i), f"oai:daklak.vn:{i}", reg, []) for i in range(n)])


def requests(root: str) -> list[str]:
    return [f"{root}/oai?verb=ListRecords&metadataPrefix=oai_dc",
            f"{root}/oai?verb=GetRecord&metadataPrefix=marc21&identifier=oai:daklak.vn:7",
            f"{root}/sru?version=1.2&operation=searchRetrieve&query=dc.title%3Dkieu"
            "&maximumRecords=3",
            f"{root}/sru?version=2.0&operation=scan&scanClause=dc.title%3Dk"]


@pytest.fixture(scope="module")
def private_pg():
    if reason := PrivatePostgres.unavailable():
        pytest.skip(reason)
    with PrivatePostgres() as pg:
        yield pg


def test_serve_answers_the_next_requests_after_its_connections_are_terminated(request):
    store_url = fresh_store_url(request, "postgres", None, "serve")
    import psycopg

    app_name = f"thuvien-serve-{uuid.uuid4().hex[:10]}"
    store = open_store(f"{store_url}&application_name={app_name}")
    try:
        fill(store)
        app = create_app(store, ProviderConfig(page_size=10))
        with live_server(app, threads=4) as root, psycopg.connect(PG_URL,
                                                                  autocommit=True) as admin:
            def connections() -> int:
                return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                     "application_name = %s", (app_name,)).fetchone()[0]

            before = {}
            for _ in range(3):  # every server thread gets a connection of its own
                for url in requests(root):
                    status, _, body = get(url)
                    assert status == 200, body
                    before[url] = same(body)
            assert b"oai:daklak.vn:7" in before[requests(root)[1]]
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM "
                                   "pg_stat_activity WHERE application_name = %s",
                                   (app_name,)).fetchone()[0]
            assert killed >= 1
            wait_until(lambda: connections() == 0, "the terminated backends gone")
            for _ in range(3):
                for url in requests(root):
                    status, _, body = get(url)
                    assert status == 200, body
                    assert same(body) == before[url]
    finally:
        store.close()


def test_serve_answers_503_with_retry_after_while_the_database_is_down(private_pg):
    store = open_store(f"{private_pg.url}?schema=serve")
    try:
        fill(store)
        app = create_app(store, ProviderConfig(page_size=10))
        with live_server(app, threads=2) as root:
            before = {}
            for url in requests(root):
                status, _, body = get(url)
                assert status == 200, body
                before[url] = same(body)
            private_pg.stop()
            try:
                for url in requests(root) * 2:
                    status, headers, body = get(url)
                    assert status == 503, (url, body)
                    assert int(headers["Retry-After"]) > 0
                    assert b"cannot answer just now" in body
            finally:
                private_pg.start()
            for url in requests(root):
                status, _, body = get(url)
                assert status == 200, body
                assert same(body) == before[url]
    finally:
        store.close()


class Output:
    """A process's merged output, read line by line in a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    @property
    def text(self) -> str:
        self.thread.join(timeout=30)
        return "".join(self.lines)


@pytest.mark.slow
def test_import_waits_for_a_restarted_database_and_completes(private_pg, catalogue,  # noqa: F811
                                                            tmp_path):
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    cmd = [sys.executable, "-m", "thuvien_interop", "import", str(catalogue), "--processes", "2",
           "-q", "--store"]
    done = subprocess.run([*cmd, clean], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    url = f"{private_pg.url}?schema=imported"
    proc = subprocess.Popen([*cmd, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    out = Output(proc)
    try:
        wait_until(lambda: proc.poll() is not None or stored(url) >= 1000, "1,000 records stored")
        assert proc.poll() is None, "the import ended before the database could be stopped"
        private_pg.stop()
        try:
            wait_until(lambda: out.has("trying again in") or proc.poll() is not None,
                       "the import waiting for the store")
        finally:
            private_pg.start()
        assert proc.wait(timeout=600) == 0, out.text
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in out.text, out.text
    assert re.search(r"writing a batch of [\d,]+ records: .*(connection was lost|cannot "
                     r"connect).*; trying again in \d+ s", out.text), out.text
    assert contents(url) == contents(clean), "the store is not a clean run's"
    assert stored(url) == RECORDS


@pytest.mark.slow
def test_harvest_waits_for_a_restarted_database_and_completes(private_pg, blocked):  # noqa: F811
    url = f"{private_pg.url}?schema=harvested"
    cmd = [sys.executable, "-m", "thuvien_interop", "harvest", blocked.url, "--store", url,
           "--name", "daklak", "--prefix", "marc21", "--processes", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        def two_pages() -> bool:
            union = open_store(url)
            try:
                return blocked.count("ListRecords") >= 3 and len(identifiers(union)) >= 20
            finally:
                union.close()

        wait_until(lambda: proc.poll() is not None or two_pages(), "pages 1 and 2 stored")
        assert proc.poll() is None, out.text
        private_pg.stop()
        try:
            blocked.gate.set()  # page 3 comes, and cannot be written
            wait_until(lambda: out.has("trying again in") or proc.poll() is not None,
                       "the harvest waiting for the store")
        finally:
            private_pg.start()
        assert proc.wait(timeout=600) == 0, out.text
    finally:
        blocked.gate.set()
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in out.text, out.text
    assert "trying again in" in out.text, out.text
    union = open_store(url)
    try:
        assert identifiers(union) == ALL
        assert union.lease_holder("daklak") is None
    finally:
        union.close()
