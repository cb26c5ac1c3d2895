"""The harvester decompresses what it downloads itself (issue 17): a step at a
time, so that a compression bomb costs a step of memory, not a read's worth of
its ratio (urllib3 before 2.6 turned each 64 kB read of a bomb into 64 MB), and
is refused by the same caps with the same words. gzip (one member or many),
deflate (zlib-wrapped or raw) and lists of codings are read as urllib3 reads
them; a coding the harvester does not ask for is a clear error, not garbage."""

from __future__ import annotations

import gzip
import random
import struct
import zlib

import pytest
from conftest import live_server
from urllib3.response import MultiDecoder

from thuvien_interop import httpbody
from thuvien_interop.httpbody import STEP, UnknownCoding, decoded
from thuvien_interop.oai import harvest_http
from thuvien_interop.oai.harvest_http import FetchError, PoliteClient

HEAD = (b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b"<responseDate>2024-01-01T00:00:00Z</responseDate><ListRecords>")
MB = 1 << 20


def one_member_bomb(size: int):
    """A gzip stream of HEAD and ``size`` bytes of spaces, made as it is sent: a
    block of spaces compressed after a full flush is the same bytes every time,
    so the stream costs one compressed block (about 1 kB a MB), never itself."""
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # RFC 1952 member header
    yield z.compress(HEAD) + z.flush(zlib.Z_FULL_FLUSH)
    block = b" " * MB
    packed = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(HEAD)
    for _ in range(size // MB):
        crc = zlib.crc32(block, crc)
        yield packed
    yield z.flush() + struct.pack("<II", crc, (len(HEAD) + size // MB * MB) & 0xFFFFFFFF)


def many_members_bomb(size: int):
    """The same, as one gzip member a MB (RFC 1952 §2.2: members one after another)."""
    yield gzip.compress(HEAD)
    member = gzip.compress(b" " * MB, 9)
    for _ in range(size // MB):
        yield member


class Bomb:
    """WSGI: ListRecords answered by ``body(size)``, streamed (chunked: no
    Content-Length), with ``Content-Encoding: gzip``."""

    def __init__(self, body, size: int) -> None:
        self.body = body
        self.size = size
        self.asked = 0

    def __call__(self, environ, start_response):
        self.asked += 1
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Encoding", "gzip")])
        return self.body(self.size)


@pytest.fixture
def sleeps() -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    return []


@pytest.fixture
def steps(monkeypatch) -> list[int]:
    """The size of every piece the harvester's decompression hands on."""
    sizes: list[int] = []
    real = httpbody.decoded

    def recorded(chunks, coding, step=STEP):
        for piece in real(chunks, coding, step):
            sizes.append(len(piece))
            yield piece

    monkeypatch.setattr(harvest_http, "decoded", recorded)
    monkeypatch.setattr(httpbody, "decoded", recorded)  # read_limited's (SRU client, validate)
    return sizes


@pytest.mark.parametrize("body", [one_member_bomb, many_members_bomb])
def test_a_gigabyte_bomb_is_refused_a_step_at_a_time(body, steps):
    app = Bomb(body, 1 << 30)
    with live_server(app) as root:
        with pytest.raises(FetchError) as caught:
            PoliteClient(retries=0).get(root + "/oai", {"verb": "ListRecords"})
    message = str(caught.value)
    assert "times when decompressed" in message, message
    assert "a compression bomb, or a page far too large; not read further" in message
    assert app.asked == 1, "not asked again"
    # Bounded by construction: no piece larger than a step, and the reading
    # stopped a step past the floor where the ratio is first looked at.
    assert steps and max(steps) <= STEP
    assert harvest_http.BOMB_FLOOR < sum(steps) <= harvest_http.BOMB_FLOOR + STEP


def test_a_compressed_page_past_the_size_cap_is_refused_with_its_size(steps):
    rng = random.Random(17)
    text = " ".join(f"{rng.random():.12f}" for _ in range(200_000)).encode()  # 3 to 1
    page = HEAD + text + b"</ListRecords></OAI-PMH>"

    def body(_size):
        yield gzip.compress(page)

    with live_server(Bomb(body, 0)) as root:
        with pytest.raises(FetchError) as caught:
            PoliteClient(retries=0, max_bytes=1 << 20).get(root + "/oai", {"verb": "ListRecords"})
    assert f"is larger than {1 << 20:,} bytes" in str(caught.value)
    assert max(steps) <= STEP


def test_a_compressed_page_is_read_whole_and_exactly(steps):
    page = HEAD + b"".join(b"<record>%d</record>" % i for i in range(100_000)) + \
        b"</ListRecords></OAI-PMH>"
    members = gzip.compress(page[:70_000]) + gzip.compress(page[70_000:])

    def body(_size):
        for i in range(0, len(members), 1000):
            yield members[i:i + 1000]

    with live_server(Bomb(body, 0)) as root:
        fetched = PoliteClient(retries=0).get(root + "/oai", {"verb": "ListRecords"})
    assert fetched.read_all() == page
    assert max(steps) <= STEP and sum(steps) == len(page)


def test_an_unknown_coding_is_said_not_read_as_xml():
    def body(_size):
        yield b"\x1b\x00 brotli bytes"

    class Brotli(Bomb):
        def __call__(self, environ, start_response):
            start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Encoding", "br")])
            return self.body(0)

    with live_server(Brotli(body, 0)) as root:
        with pytest.raises(FetchError, match="is compressed as 'br', which the harvester "
                                             "cannot read"):
            PoliteClient(retries=0).get(root + "/oai", {"verb": "ListRecords"})


def test_a_damaged_stream_is_a_failure_in_words_and_asked_again(sleeps):
    def body(_size):
        yield gzip.compress(HEAD)[:12] + b"\xff" * 40

    app = Bomb(body, 0)
    with live_server(app) as root:
        with pytest.raises(FetchError, match="the gzip compression of the answer is damaged"):
            PoliteClient(retries=1, sleep=sleeps.append).get(root + "/oai",
                                                             {"verb": "ListRecords"})
    assert app.asked == 2 and len(sleeps) == 1


# -- the decoder against urllib3's, chunk boundaries anywhere ------------------------

def _pieces(data: bytes, n: int) -> list[bytes]:
    return [data[i:i + n] for i in range(0, len(data), n)]


def _raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


PLAIN = bytes(random.Random(17).randrange(256) for _ in range(3000)) + b"<a>" * 40_000
CASES = {  # what is sent: its Content-Encoding, its bytes
    "gzip": ("gzip", gzip.compress(PLAIN)),
    "gzip members": ("x-gzip", gzip.compress(PLAIN[:100]) + gzip.compress(PLAIN[100:])),
    "zlib": ("deflate", zlib.compress(PLAIN)),
    "raw deflate": ("deflate", _raw_deflate(PLAIN)),
    "gzip then deflate": ("gzip, deflate", zlib.compress(gzip.compress(PLAIN))),
    "identity": ("identity", PLAIN),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("read", [1, 2, 7, 4096, 1 << 20])
def test_every_coding_is_undone_as_urllib3_undoes_it(case, read):
    coding, wire = CASES[case]
    pieces = list(decoded(_pieces(wire, read), coding, 1000))
    assert b"".join(pieces) == PLAIN
    if coding != "identity":  # (read from the wire a step at a time)
        assert max(len(p) for p in pieces) <= 1000
        theirs = MultiDecoder(coding)
        assert theirs.decompress(wire) + theirs.flush() == PLAIN


def test_what_follows_a_whole_gzip_member_and_is_not_one_is_ignored():
    assert b"".join(decoded([gzip.compress(PLAIN) + b"trailing junk"], "gzip")) == PLAIN


def test_a_coding_nobody_asked_for_is_refused_before_reading():
    with pytest.raises(UnknownCoding, match="br"):
        decoded(iter([]), "gzip, br")


class Coded:
    """WSGI: one body sent as it is with the given Content-Encoding."""

    def __init__(self, body, coding: str) -> None:
        self.body, self.coding = body, coding

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Encoding", self.coding)])
        return self.body(1 << 30) if callable(self.body) else [self.body]


def test_the_sru_client_and_the_validator_read_through_the_same_bounded_decoder(
        monkeypatch, steps):
    """A bomb sent to the `search` command's client or to `validate` is cut at their
    size caps a step at a time (never inflated whole), and an answer compressed in
    a coding they cannot read is said in words."""
    from thuvien_interop.sru.client import Client, SRUError
    from thuvien_interop.validate import wire

    sizes = steps
    with live_server(Coded(one_member_bomb, "gzip")) as root:
        with pytest.raises(SRUError, match=r"answered with more than 4 MB"):
            list(Client(root + "/sru", max_bytes=4 * MB).search("sach"))
        assert sizes and max(sizes) <= STEP and sum(sizes) <= 4 * MB + STEP
        sizes.clear()
        monkeypatch.setattr(wire, "_MAX_BODY", 4 * MB)
        got = wire.Wire(root + "/oai", delay=0).get({"verb": "Identify"})
        assert got.parse_error == "the response is larger than 4 MB"
        assert max(sizes) <= STEP and sum(sizes) <= 4 * MB + STEP
    with live_server(Coded(b"\x00" * 64, "br")) as root:
        with pytest.raises(SRUError, match=r"compressed as 'br', which cannot be read"):
            list(Client(root + "/sru").search("sach"))
        with pytest.raises(wire.Unreachable, match=r"compressed as 'br', which cannot be read"):
            wire.Wire(root + "/oai", delay=0).get({"verb": "Identify"})
    sru = (b'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><version>1.2</version>'
           b"<numberOfRecords>0</numberOfRecords></searchRetrieveResponse>")
    with live_server(Coded(gzip.compress(sru), "gzip")) as root:
        results = Client(root + "/sru").search("sach")
        assert list(results) == [] and results.total == 0
