"""A response body the WSGI server sends from the bytes themselves, never a copy.

waitress copies a body returned as ``[bytes]`` into a buffer of its own, then
reads the unsent rest out of it again at every partial ``send`` (a loopback
client takes a 220 KB ListRecords page in several): 490-720 µs of server CPU a
page, against 60 µs for the socket's own ``sendall``. Handed over as a
``wsgi.file_wrapper`` whose reads are views of the bytes, it sends them as they
are: 330 µs (issue 16; bench/oai_provider.py: ~1.5 µs a record of a 200-record
page). Other servers (gunicorn) take the plain list, which they send at once.

    >>> body = SentBody(b"<OAI-PMH/>")
    >>> bytes(body.read(4)), body.tell()
    (b'<OAI', 4)
    >>> seen = []
    >>> body.when_closed(seen.append)
    >>> body.close(), seen
    (None, [4])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SentBody", "response_body", "sent_body"]


class SentBody:
    """The file-like object waitress's file wrapper reads (read, seek, tell,
    close), each read a ``memoryview`` of the body. ``when_closed`` callbacks are
    told how far the server read, which is what it sent: it seeks back over what
    a ``send`` did not take."""

    __slots__ = ("_view", "_pos", "_closed")

    def __init__(self, body: bytes) -> None:
        self._view = memoryview(body)
        self._pos = 0
        self._closed: list[Callable[[int], None]] = []

    def read(self, size: int = -1) -> memoryview:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        start, self._pos = self._pos, end
        return self._view[start:end]

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, len(self._view))[whence]
        self._pos = min(max(base + offset, 0), len(self._view))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def when_closed(self, callback: Callable[[int], None]) -> None:
        self._closed.append(callback)

    def close(self) -> None:
        callbacks, self._closed = self._closed, []
        for callback in callbacks:
            callback(self._pos)


def response_body(environ: dict[str, Any], body: bytes) -> Iterable[bytes]:
    """``body`` as the WSGI server at hand sends it best: waitress's file wrapper
    over a :class:`SentBody`, or ``[body]``."""
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None and getattr(wrapper, "__module__", "").startswith("waitress."):
        return wrapper(SentBody(body))
    return [body]


def sent_body(result: object) -> SentBody | None:
    """The :class:`SentBody` inside a response :func:`response_body` made, if it is one
    (middleware that must not iterate it, and so copy it, looks it up here)."""
    inner = getattr(result, "file", None)
    return inner if isinstance(inner, SentBody) else None
