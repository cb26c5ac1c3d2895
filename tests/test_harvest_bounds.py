"""Bounded harvests (issue 17): a compression bomb is refused once it has grown
past a small floor (not spooled to the 4 GB cap), the diagnostics folder
keeps a bounded head and tail of a failing response, whatever its size, and a
page is read, built and written a batch at a time (memory does not grow with
the page), while the list's resume state still moves only once a whole page is
committed."""

from __future__ import annotations

import json
import re
import zlib

from conftest import live_server
from test_harvest import (  # noqa: F401 - fixtures
    ALL,
    PAGE,
    T0,
    FaultyProvider,
    N,
    faulty,
    identifiers,
    sleeps,
    union,
)
from test_harvest import source_store as provider_store

from thuvien_interop import dates
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


# -- a page a batch at a time ----------------------------------------------------

BATCH = 3


def batched(union, tmp_path, sleeps, **options) -> tuple[Harvester, list[int]]:  # noqa: F811
    """A harvester committing pages in batches of 3 records, and the size of each
    batch it hands to the pipeline, in order."""
    client = PoliteClient(retries=3, backoff=0.5, sleep=sleeps, read_timeout=5)
    harvester = Harvester(union, client=client, diagnostics=tmp_path / "diag", batch=BATCH,
                          **options)
    sizes: list[int] = []
    start = harvester.pipeline.start

    def counted(name, items):
        sizes.append(len(items))
        return start(name, items)

    harvester.pipeline.start = counted
    return harvester, sizes


def test_a_page_is_written_a_batch_at_a_time_and_checkpointed_after_its_last(
        faulty, union, tmp_path, sleeps):  # noqa: F811
    stored_at_checkpoint = []
    harvester, sizes = batched(union, tmp_path, sleeps, on_page=lambda source, spec, page:
                               stored_at_checkpoint.append((page, len(identifiers(union)))))
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.ok, result.errors
    assert (result.added, result.pages, result.quarantined) == (N, 5, 0)
    assert identifiers(union) == ALL
    assert sizes == [3, 3, 3, 1] * 4 + [3, 2], "each page of 10 in batches of at most 3"
    # Each page's checkpoint is saved once all of it is stored, never before.
    assert stored_at_checkpoint[:5] == [(p, min(N, PAGE * p)) for p in range(1, 6)]


def test_a_harvest_stopped_half_way_through_a_page_resumes_with_that_page(
        faulty, union, tmp_path, sleeps):  # noqa: F811
    harvester, sizes = batched(union, tmp_path, sleeps)
    start = harvester.pipeline.start

    def stop_at_page_twos_first_batch(name, items):
        started = start(name, items)
        if len(sizes) == 5:  # page 1 was 4 batches
            harvester.stop()
        return started

    harvester.pipeline.start = stop_at_page_twos_first_batch
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.interrupted and not result.errors
    assert len(identifiers(union)) == PAGE + BATCH, "page 1 and the first batch of page 2"
    listed = [r for r in faulty.requests if r.get("verb") == "ListRecords"]
    assert len(listed) == 2

    again, _ = batched(union, tmp_path, sleeps)
    result = again.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.ok and result.lists[0].resumed
    resumed = [r for r in faulty.requests if r.get("verb") == "ListRecords"][2:]
    assert resumed[0] == listed[1], "page 2 is asked for again: its checkpoint was not saved"
    assert (result.added, result.unchanged) == (N - PAGE - BATCH, BATCH)
    assert identifiers(union) == ALL


def _break_the_8th_record(body: bytes) -> bytes:
    """The 8th record of the page made not well-formed, after 200 kB of padding
    (so that the records before it are read, and handed over, before the parser
    reaches it)."""
    starts = [m.start() for m in re.finditer(rb"<record>", body)]
    at = starts[7]
    rest = body[at:].replace(b"</leader>", b"</leadr>", 1)
    return body[:at] + b"<!--" + b"x" * 200_000 + b"-->" + rest


def test_a_page_breaking_half_way_is_asked_again_and_nothing_is_written_twice(
        faulty, union, tmp_path, sleeps):  # noqa: F811
    faulty.fail("edit", at=2, edit=_break_the_8th_record)
    harvester, sizes = batched(union, tmp_path, sleeps)
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.ok and result.quarantined == 0 and identifiers(union) == ALL
    assert faulty.count("ListRecords") == 6
    assert sizes[4:7] == [3, 3, 1], "the first read of page 2 handed over its 7 good records"
    assert sum(sizes) == N, "each record built and written once"
    assert (result.added, result.unchanged, result.updated) == (N, 0, 0)


def test_a_page_breaking_half_way_twice_keeps_its_good_records_and_quarantines_one(
        faulty, union, tmp_path, sleeps):  # noqa: F811
    faulty.fail("edit", at=2, times=2, edit=_break_the_8th_record)
    harvester, sizes = batched(union, tmp_path, sleeps)
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.ok and result.quarantined == 1
    broken = "oai:daklak.vn:17"
    assert identifiers(union) == [i for i in ALL if i != broken]
    assert sum(sizes) == N - 1 and (result.added, result.unchanged) == (N - 1, 0)
    lines = (tmp_path / "diag" / "daklak" / "quarantine.jsonl").read_text().splitlines()
    assert [json.loads(line)["identifier"] for line in lines] == [broken]
    assert "not well-formed" in json.loads(lines[0])["reason"]


def test_by_identifier_the_records_of_a_page_come_in_batches(
        faulty, union, tmp_path, sleeps):  # noqa: F811
    harvester, sizes = batched(union, tmp_path, sleeps)
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21", by_identifier=True))
    assert result.ok, result.errors
    assert identifiers(union) == ALL and faulty.count("GetRecord") == N
    assert max(sizes) == BATCH and sum(sizes) == N


def test_a_record_twice_on_a_page_keeps_its_later_datestamp_across_batches(
        faulty, union, tmp_path, sleeps):  # noqa: F811
    def older_copy_at_the_end(body: bytes) -> bytes:
        first = re.search(rb"<record><header>.*?</metadata></record>", body, re.S).group()
        older = re.sub(rb"<datestamp>[^<]*</datestamp>", b"<datestamp>2001-01-01T00:00:00Z"
                       b"</datestamp>", first, count=1)
        return body.replace(b"<resumptionToken", older + b"<resumptionToken", 1)

    faulty.fail("edit", at=1, edit=older_copy_at_the_end)
    harvester, sizes = batched(union, tmp_path, sleeps)
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.ok and result.added == N and sum(sizes) == N
    assert dates.format_utc(T0).encode() in union.get("oai:daklak.vn:0").about
    notes = "".join(p.read_text() for p in (tmp_path / "diag" / "daklak").glob("*.txt"))
    assert "oai:daklak.vn:0 appears twice on one page" in notes
