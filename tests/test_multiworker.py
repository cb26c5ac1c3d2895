"""Several server processes over one PostgreSQL store continue each other's
resumption tokens (ARCHITECTURE.md: stateless tokens; issue 8).

Real processes (``thuvien-interop serve``), a real PostgreSQL, real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from conftest import free_port, fresh_store_url
from lxml import etree

from thuvien_interop.model import Record
from thuvien_interop.store import open_store

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></oai_dc:dc>')


@pytest.fixture
def pg_url(request):
    return fresh_store_url(request, "postgres", None, "test")


def record(n: int, v: int = 1) -> Record:
    return Record(f"oai:thuvien-interop.vn:{n}", f"<r n='{n}'/>".encode(), "marc21",
                  rendered={"oai_dc": DC.format(f"Sách {n} bản {v}").encode()})


@pytest.fixture
def settings_file(tmp_path):
    path = tmp_path / "thuvien-interop.toml"
    path.write_text("[oai]\npage_size = 10\n", encoding="utf-8")
    return path


def _wait_for(port: int, proc: subprocess.Popen) -> None:
    """Until the server accepts connections (readiness, not a timing assertion)."""
    for _ in range(600):
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the server stopped at start:\n{out}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not start listening")


@contextmanager
def server(store_url: str, settings, *extra: str) -> Iterator[str]:
    """``thuvien-interop serve`` in its own process; yields its /oai URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from thuvien_interop.cli import main; main()", "serve",
         "--store", store_url, "--config", str(settings), "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(port, proc)
        yield f"http://127.0.0.1:{port}/oai"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def page(url: str, **params: str) -> tuple[list[str], str | None]:
    """One ListRecords/ListIdentifiers page: its identifiers and its resumption token."""
    resp = requests.get(url, params=params, timeout=60)
    resp.raise_for_status()
    doc = etree.fromstring(resp.content)
    errors = doc.findall(f"{OAI}error")
    assert not errors, [(e.get("code"), e.text) for e in errors]
    ids = [h.findtext(f"{OAI}identifier") for h in doc.iter(f"{OAI}header")]
    token = doc.find(f".//{OAI}resumptionToken")
    return ids, (token.text or None) if token is not None else None


def test_two_server_processes_continue_each_others_tokens(pg_url, settings_file):
    store = open_store(pg_url)
    store.write([record(n) for n in range(45)], now=1_700_000_000)
    with server(pg_url, settings_file) as a, server(pg_url, settings_file) as b:
        ids, token = page(a, verb="ListRecords", metadataPrefix="oai_dc")
        assert len(ids) == 10 and token
        # A record already harvested changes mid-harvest: it must come again at the end.
        store.write([record(3, v=2)], now=1_700_000_100)
        seen = list(ids)
        turn = 0
        while token:
            ids, token = page((b, a)[turn % 2], verb="ListRecords", resumptionToken=token)
            seen += ids
            turn += 1
        assert turn == 4
        assert sorted(set(seen)) == sorted(f"oai:thuvien-interop.vn:{n}" for n in range(45))
        assert seen[-1] == "oai:thuvien-interop.vn:3" and seen.count(seen[-1]) == 2
        # Headers only, started on b and finished on a.
        ids, token = page(b, verb="ListIdentifiers", metadataPrefix="oai_dc")
        while token:
            more, token = page(a, verb="ListIdentifiers", resumptionToken=token)
            ids += more
        assert len(ids) == 45
    store.close()


@pytest.mark.skipif(sys.platform == "win32", reason="gunicorn runs on POSIX systems only")
def test_serve_with_several_workers_harvests_everything(pg_url, settings_file):
    pytest.importorskip("gunicorn", reason="gunicorn is not installed: --workers falls back to "
                                           "waitress threads")
    store = open_store(pg_url)
    store.write([record(n) for n in range(95)], now=1_700_000_000)
    store.close()
    with server(pg_url, settings_file, "--workers", "3", "--threads", "2") as url:
        seen: list[str] = []
        ids, token = page(url, verb="ListRecords", metadataPrefix="oai_dc")
        seen += ids
        while token:
            # A new connection each time, so the requests spread over the workers.
            ids, token = page(url, verb="ListRecords", resumptionToken=token)
            seen += ids
        assert len(seen) == 95 == len(set(seen))
