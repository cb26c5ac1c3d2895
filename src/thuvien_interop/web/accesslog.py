"""An access log: one line a request, in the combined log format of Apache and nginx,
so that a librarian sees harvesters arrive and any log tool reads the file.

    127.0.0.1 - - [02/Dec/2026:07:41:03 +0000] "GET /oai?verb=Identify HTTP/1.1" 200 1432 "-" "Sickle/0.7"

WSGI middleware, framework-free; the line is written when the response has been sent
(its status and the bytes sent are known then).

    >>> import io
    >>> out = io.StringIO()
    >>> def app(environ, start_response):
    ...     start_response("200 OK", [("Content-Type", "text/plain")])
    ...     return [b"hello"]
    >>> logged = AccessLog(app, out)
    >>> body = logged({"REQUEST_METHOD": "GET", "PATH_INFO": "/oai", "QUERY_STRING": "verb=Identify",
    ...                "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7"}, lambda *a: None)
    >>> b"".join(body), body.close()
    (b'hello', None)
    >>> out.getvalue().split('"')[1:4]
    ['GET /oai?verb=Identify HTTP/1.1', ' 200 5 ', '-']
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any
from urllib.parse import quote

from .sendbody import sent_body

__all__ = ["AccessLog", "combined_line"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f]*')


def _escape(value: str) -> str:
    """Quotes, backslashes and control characters escaped, as Apache does (``\\x..``)."""
    if _PLAIN.fullmatch(value):
        # Nearly every line: no character to escape, none looked at one by one
        # (a harvester's request line with its token is ~400 characters).
        return value
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _timestamp(when: float) -> str:
    t = time.localtime(when)
    offset = t.tm_gmtoff or 0
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hours:02d}{minutes:02d}")


def _target(environ: dict[str, Any]) -> str:
    """The request target as the client sent it (waitress and gunicorn keep it)."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return raw
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # WSGI paths are latin-1 strings of the request's bytes (PEP 3333).
    target = quote(path.encode("latin-1", "replace"), safe="/;:@&=+$,%-._~!*'()")
    query = environ.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target


def combined_line(environ: dict[str, Any], status: str, sent: int, when: float) -> str:
    """One line of the combined log format for a request and its response."""
    request = f"{environ.get('REQUEST_METHOD', '-')} {_target(environ)} " \
              f"{environ.get('SERVER_PROTOCOL', '-')}"
    user = environ.get("REMOTE_USER") or "-"
    return (f"{environ.get('REMOTE_ADDR') or '-'} - {_escape(user)} [{_timestamp(when)}] "
            f"\"{_escape(request)}\" {status.split(' ', 1)[0]} {sent or '-'} "
            f"\"{_escape(environ.get('HTTP_REFERER') or '-')}\" "
            f"\"{_escape(environ.get('HTTP_USER_AGENT') or '-')}\"")


class AccessLog:
    """WSGI middleware writing a :func:`combined_line` for every request to ``stream``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], stream: IO[str]) -> None:
        self.app = app
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        when = time.time()
        seen: dict[str, str] = {"status": "500"}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        def done(sent: int) -> None:
            self._write(combined_line(environ, seen["status"], sent, when))

        result = self.app(environ, start)
        body = sent_body(result)
        if body is not None:
            # Sent by the server from the bytes themselves (web/sendbody.py): iterating
            # it here would copy it; the line is written when the server closes it.
            body.when_closed(done)
            return result
        return _Body(result, done)

    def _write(self, line: str) -> None:
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


class _Body:
    """The response body, counted as it is sent; the line is written on close()."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self._sent)
