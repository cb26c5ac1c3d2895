"""Reading an HTTP body from the wire: one home for the harvester, the validator
and the SRU client. The body is read undecoded and decompressed here, a step at a
time (zlib's ``max_length``), so that however far an answer inflates (a
"compression bomb"), only one step of it exists at a time, whatever urllib3
version is installed."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as _TLSError

#: Decompressed bytes one step of :func:`decoded` yields at most, and compressed
#: bytes read from the wire at a time. (urllib3 before 2.6 decompressed each read
#: whole: a 64 kB read of a gzip bomb became 64 MB in memory at once.)
STEP = 1 << 16


class UnknownCoding(Exception):
    """A response compressed in a content-coding we do not read (only gzip and deflate)."""


def decoded(chunks: Iterable[bytes], coding: str, step: int = STEP) -> Iterator[bytes]:
    """The body read from the wire as ``chunks``, its ``Content-Encoding``
    (``coding``) undone, in pieces of at most ``step`` bytes: however much a
    chunk decompresses to, only ``step`` bytes of it exist at a time.

    ``coding`` lists the codings in the order they were applied (RFC 9110
    §8.4): ``gzip`` (``x-gzip``; members one after another, RFC 1952 §2.2),
    ``deflate`` (zlib-wrapped, RFC 1950, or the raw deflate some servers send)
    and ``identity``. Another coding raises :class:`UnknownCoding`; a damaged
    stream raises ``requests.exceptions.ContentDecodingError``.

        >>> import gzip
        >>> b"".join(decoded([gzip.compress(b"<OAI-PMH/>")], "gzip"))
        b'<OAI-PMH/>'
    """
    names = [c.strip().lower() for c in coding.split(",")]
    inflaters = []
    for name in reversed([n for n in names if n and n != "identity"]):
        if name not in ("gzip", "x-gzip", "deflate"):
            raise UnknownCoding(name)
        inflaters.append(_Inflater(name != "deflate", step))
    stream: Iterable[bytes] = chunks
    for inflater in inflaters:
        stream = inflater.run(stream)
    return iter(stream)


def read_limited(resp: requests.Response, limit: int) -> bytes:
    """The body of a streamed response (``stream=True``), decompressed a step at a
    time as :func:`decoded` does, and no more than ``limit`` + 1 bytes of it: a
    longer answer tells the caller the body is too large without its ever being
    held (or a compression bomb inflated) whole. Raises :class:`UnknownCoding`
    and requests' errors."""
    out = bytearray()
    for piece in decoded(raw_chunks(resp.raw, [0]), resp.headers.get("Content-Encoding", "")):
        out += piece
        if len(out) > limit:
            break
    return bytes(out[:limit + 1])


class _Inflater:
    """One content-coding undone as urllib3's decoders undo it (gzip: what follows
    a whole member and is not a member is ignored, as gzip(1) ignores it;
    deflate: zlib-wrapped, else raw), each output bounded by zlib's ``max_length``."""

    def __init__(self, gzip: bool, step: int) -> None:
        self.gzip = gzip
        self.step = step
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._members = 0  # gzip members read to their end
        # deflate: the input until zlib has seen its two header bytes, to read
        # again as raw deflate if the header is not there.
        self._first: bytes | None = None if gzip else b""
        self._raw = False
        self._over = False  # what comes now is ignored

    def run(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for data in chunks:
            yield from self._feed(data)

    def _feed(self, data: bytes) -> Iterator[bytes]:
        if self._first is not None:
            self._first += data
        more = True
        while more and not self._over:
            if self._obj.eof:  # the member (or the deflate stream) is done
                if not data:
                    return
                if not self.gzip:
                    self._over = True
                    return
                self._members += 1
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = self._obj.decompress(data, self.step)
            except zlib.error as exc:
                if self.gzip and self._members:
                    self._over = True  # trailing garbage after a whole member
                    return
                if self._first is not None and not self._raw:
                    self._raw = True
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    data, self._first = self._first, None
                    continue
                raise requests.exceptions.ContentDecodingError(
                    f"the {'gzip' if self.gzip else 'deflate'} compression of the answer is "
                    f"damaged ({exc})") from exc
            if self._first is not None and len(self._first) >= 2:
                self._first = None  # zlib has read the header it would have refused
            data = self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail
            if out:
                yield out
            # A full step may leave output waiting inside zlib, input or not.
            more = bool(data) or len(out) == self.step


def raw_chunks(raw: Any, wire: list[int]) -> Iterator[bytes]:
    """The body as it comes over the wire (not decompressed: :func:`decoded` does
    that, a step at a time), its size so far in ``wire[0]``; urllib3's errors as
    requests raises them from ``iter_content``."""
    try:
        for chunk in raw.stream(STEP, decode_content=False):
            wire[0] += len(chunk)
            yield chunk
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except _TLSError as exc:
        raise requests.exceptions.SSLError(exc) from exc


__all__ = ["STEP", "UnknownCoding", "decoded", "raw_chunks", "read_limited"]
