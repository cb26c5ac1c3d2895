"""A harvest under faults, run as a real ``thuvien-interop harvest`` process: killed
with SIGKILL then run again, stopped with SIGTERM, facing a provider that sends a
byte at a time or a list that never ends. Each test waits for the state it needs
(a request arrived, the process ended), never for a fixed time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from urllib.parse import parse_qsl

import pytest
from click.testing import CliRunner
from conftest import live_server
from test_harvest import ALL, PAGE, FaultyProvider, identifiers
from test_harvest import source_store as provider_store

from thuvien_interop.cli import main
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.oai.provider import Provider
from thuvien_interop.store import open_store

source_store = provider_store  # the fixture: a provider's store of 45 MARC records


def command(url: str, db, *extra: str) -> list[str]:
    return [sys.executable, "-m", "thuvien_interop", "harvest", url, "--store", f"sqlite:///{db}",
            "--name", "daklak", "--prefix", "marc21", "--processes", "1", *extra]


@pytest.fixture
def blocked(source_store):
    """A provider whose 3rd ListRecords answer waits until ``app.gate`` is set."""
    app = FaultyProvider(Provider(source_store, ProviderConfig(page_size=PAGE)))
    app.gate = threading.Event()
    app.fail("block", at=3, gate=app.gate)
    with live_server(app) as root:
        app.url = root + "/oai"
        yield app
        app.gate.set()


def wait_for_page_3(app, db, proc) -> None:
    """Until page 3 is asked for and pages 1 and 2 are committed."""
    union = open_store(f"sqlite:///{db}")
    try:
        while app.count("ListRecords") < 3 or len(identifiers(union)) < 2 * PAGE:
            assert proc.poll() is None, proc.communicate()[0]
            threading.Event().wait(0.05)
    finally:
        union.close()


def test_rerun_after_kill_9_takes_the_dead_process_lease_over_and_resumes(blocked, tmp_path):
    db = tmp_path / "union.db"
    proc = subprocess.Popen(command(blocked.url, db), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for_page_3(blocked, db, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        blocked.gate.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    union = open_store(f"sqlite:///{db}")
    assert str(proc.pid) in (union.lease_holder("daklak") or ""), "the dead run left its lease"
    status = CliRunner().invoke(main, ["harvest", "status", "--store", f"sqlite:///{db}"])
    assert (f"daklak: its lease is held by process {proc.pid} on this machine, which is no "
            "longer running; the next harvest takes it over") in status.output
    asked = blocked.count("ListRecords")
    rerun = subprocess.run(command(blocked.url, db), capture_output=True, text=True, timeout=120)
    out = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, out
    assert f"process {proc.pid} on this machine, which is no longer running" in out
    assert "taken over" in out
    assert identifiers(union) == ALL
    again = [r for r in blocked.requests if r.get("verb") == "ListRecords"][asked:]
    assert "resumptionToken" in again[0], "the rerun goes on after page 2"
    assert union.lease_holder("daklak") is None
    union.close()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigterm_stops_between_pages_releases_the_lease_and_exits_143(blocked, tmp_path,
                                                                      processes):
    """SIGTERM to the whole process group (as systemd sends it), with and without
    worker processes."""
    db = tmp_path / "union.db"
    cmd = command(blocked.url, db)
    cmd[cmd.index("--processes") + 1] = processes
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_for_page_3(blocked, db, proc)
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)  # page 3 is still held back: not waited for
    finally:
        blocked.gate.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, out
    assert "Stopped (SIGTERM). Every page received before is stored" in out
    assert "Traceback" not in out and "ERROR" not in out, out
    union = open_store(f"sqlite:///{db}")
    assert len(identifiers(union)) == 2 * PAGE
    assert union.lease_holder("daklak") is None, "released on the way out"
    rerun = subprocess.run(command(blocked.url, db, "-q"), capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "ok, resumed" in rerun.stdout
    assert identifiers(union) == ALL
    union.close()


class Trickle:
    """An HTTP server on 127.0.0.1, in its own thread, that answers every request
    with headers promising 10,000 bytes, then sends one byte every 0.2 s: each
    read gets something well within any read timeout, the answer never ends."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/oai"
        self.done = threading.Event()
        self.served = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.served += 1
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                         b"Content-Length: 10000\r\n\r\n<")
            while not self.done.wait(0.2):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    def close(self) -> None:
        self.done.set()
        self.sock.close()


def test_timeout_is_for_the_whole_answer_not_each_read(tmp_path):
    trickle = Trickle()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "thuvien_interop", "harvest", trickle.url, "--store",
             f"sqlite:///{tmp_path / 'union.db'}", "--timeout", "1.5", "--retries", "0", "-q"],
            capture_output=True, text=True, timeout=60)
    finally:
        trickle.close()
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "no complete answer within 1.5 s" in out and "try a longer --timeout" in out
    assert trickle.served == 1


class Endless:
    """A provider whose ListRecords never ends: every page has a fresh token, and
    either the same record each time (``same=True``) or a new one."""

    def __init__(self, same: bool) -> None:
        self.same = same
        self.pages = 0

    def __call__(self, environ, start_response):
        args = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        head = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                '<responseDate>2026-01-01T00:00:00Z</responseDate>')
        if args.get("verb") == "Identify":
            body = (head + '<Identify><repositoryName>Endless</repositoryName>'
                    '<baseURL>http://x/oai</baseURL><protocolVersion>2.0</protocolVersion>'
                    '<adminEmail>a@b.vn</adminEmail>'
                    '<earliestDatestamp>2020-01-01T00:00:00Z</earliestDatestamp>'
                    '<deletedRecord>no</deletedRecord>'
                    '<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>')
        elif args.get("verb") == "ListRecords":
            self.pages += 1
            n = 1 if self.same else self.pages
            body = (head + f'<ListRecords><record><header><identifier>oai:endless.vn:{n}'
                    '</identifier><datestamp>2026-01-01T00:00:00Z</datestamp></header>'
                    '<metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                    f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Sách {n}</dc:title>'
                    '</oai_dc:dc></metadata></record>'
                    f'<resumptionToken>t{self.pages}</resumptionToken></ListRecords></OAI-PMH>')
        else:
            body = head + '<error code="badVerb">no</error></OAI-PMH>'
        data = body.encode()
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                  ("Content-Length", str(len(data)))])
        return [data]


def test_a_list_repeating_its_page_under_fresh_tokens_is_stopped(tmp_path):
    from thuvien_interop.cli import main

    app = Endless(same=True)
    with live_server(app) as root:
        out = CliRunner().invoke(main, ["harvest", root + "/oai", "--name", "endless", "--store",
                                        f"sqlite:///{tmp_path / 'u.db'}", "-q"])
    assert out.exit_code == 1, out.output
    assert "the provider sent pages it had already sent 3 times" in out.output
    assert app.pages == 4


def test_max_pages_caps_a_list_that_never_ends(tmp_path):
    from thuvien_interop.cli import main

    app = Endless(same=False)
    db = f"sqlite:///{tmp_path / 'u.db'}"
    with live_server(app) as root:
        out = CliRunner().invoke(main, ["harvest", root + "/oai", "--name", "endless",
                                        "--store", db, "--max-pages", "5", "-q"])
    assert out.exit_code == 1, out.output
    assert "5 pages in this run, the most allowed (--max-pages 5)" in out.output
    assert "the next run goes on from here" in out.output
    assert app.pages == 5 and len(identifiers(open_store(db), "source:endless")) == 5
