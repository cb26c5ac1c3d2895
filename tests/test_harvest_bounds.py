"""Bounded harvests (issue 17): a compression bomb is refused once it has grown
past a small floor (not spooled to the 4 GB cap), and the diagnostics folder
keeps a bounded head and tail of a failing response, whatever its size."""

from __future__ import annotations

import zlib

from conftest import live_server
from test_harvest import FaultyProvider, union  # noqa: F401 - fixtures
from test_harvest import source_store as provider_store

from thuvien_interop.oai import harvest_http
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.oai.harvest_http import PoliteClient, excerpt
from thuvien_interop.oai.harvest_sources import Source
from thuvien_interop.oai.harvester import Harvester
from thuvien_interop.oai.provider import Provider

source_store = provider_store


def gzip_bomb(size: int) -> bytes:
    """An OAI-PMH page start followed by ``size`` bytes of spaces, gzipped (a
    thousand to one)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/'
                      b'2.0/"><responseDate>2024-01-01T00:00:00Z</responseDate>')]
    block = b" " * (1 << 20)
    out.extend(z.compress(block) for _ in range(size >> 20))
    out.append(z.flush())
    return b"".join(out)


class Bomb:
    def __init__(self, size: int) -> None:
        self.body = gzip_bomb(size)
        self.sent = 0

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Encoding", "gzip"),
                                  ("Content-Length", str(len(self.body)))])
        self.sent += 1
        return [self.body]


def test_a_compression_bomb_is_refused_early_with_its_ratio(tmp_path, union):  # noqa: F811
    bomb = Bomb(harvest_http.BOMB_FLOOR * 4)
    assert len(bomb.body) < harvest_http.BOMB_FLOOR * 4 // harvest_http.BOMB_RATIO
    with live_server(bomb) as root:
        harvester = Harvester(union, client=PoliteClient(retries=0),
                              diagnostics=tmp_path / "diag")
        result = harvester.harvest(Source("bomb", root + "/oai", prefix="oai_dc"))
    assert not result.ok
    message = result.error or "; ".join(lr.error or "" for lr in result.lists)
    assert "a compression bomb, or a page far too large" in message, message
    assert bomb.sent == 1, "not asked again"
    saved = [p for p in (tmp_path / "diag").rglob("*.xml")]
    assert all(p.stat().st_size <= 2 * harvest_http.EXCERPT + 200 for p in saved)


def test_a_response_kept_for_diagnosis_is_its_head_and_tail(tmp_path):
    import io

    small = io.BytesIO(b"<a>whole</a>")
    assert excerpt(small, keep=100) == b"<a>whole</a>"
    big = io.BytesIO(b"H" * 1000 + b"M" * 5000 + b"T" * 1000)
    kept = excerpt(big, keep=1000)
    assert kept.startswith(b"H" * 1000) and kept.endswith(b"T" * 1000)
    assert b"M" not in kept
    assert b"<!-- thuvien-interop: 5,000 of 7,000 bytes left out here -->" in kept
    assert big.tell() == 0


def test_a_garbled_page_saved_for_diagnosis_is_bounded(tmp_path, union, source_store,  # noqa: F811
                                                       monkeypatch):
    monkeypatch.setattr(harvest_http, "EXCERPT", 4096)
    app = FaultyProvider(Provider(source_store, ProviderConfig(page_size=10)))
    # Page 1 comes with a broken record and 200 kB of padding after it.
    app.fail("edit", at=1, times=2, edit=lambda b: b.replace(
        b"</ListRecords>", b"<record><bad></record>" + b"<!--" + b"x" * 200_000 + b"-->"
        b"</ListRecords>", 1))
    with live_server(app) as root:
        harvester = Harvester(union, client=PoliteClient(retries=0),
                              diagnostics=tmp_path / "diag")
        harvester.harvest(Source("daklak", root + "/oai", prefix="marc21"))
    saved = list((tmp_path / "diag").rglob("*.xml"))
    assert saved, "the garbled page is kept for diagnosis"
    assert all(p.stat().st_size <= 2 * 4096 + 200 for p in saved), \
        [p.stat().st_size for p in saved]
    assert any(b"bytes left out here" in p.read_bytes() for p in saved)
