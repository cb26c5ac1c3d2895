"""The harvester's wire: polite, patient HTTP GETs whose bodies go to a spooled file.

Politeness (OAI-PMH 2.0 §3.1.1 and the Implementation Guidelines on flow
control): one request at a time per host, a delay between requests, a
User-Agent that names the harvester, ``503 Retry-After`` honoured, retries
with exponential backoff on timeouts, connection errors and every 5xx, and
gzip/deflate accepted (§3.1.3 compression).

Bodies are written to a :class:`tempfile.SpooledTemporaryFile` (in memory up to
a few MB, on disk after), so a page of any size is downloaded completely and
then parsed in a streaming way from the file, and the exact bytes are at hand
when a response must be saved for diagnosis. A compressed body is read as it
came over the wire and decompressed, :data:`~thuvien_interop.httpbody.STEP` bytes at a time
(:func:`~thuvien_interop.httpbody.decoded`): memory does not grow with its compression ratio.

    >>> client = PoliteClient()
    >>> page = client.get("https://example.org/oai", {"verb": "Identify"})   # doctest: +SKIP
    >>> page.body.read(5)                                                    # doctest: +SKIP
    b'<?xml'
"""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .. import __version__
from ..httpbody import UnknownCoding, decoded, raw_chunks
from ..wording import Said, say

USER_AGENT = f"thuvien-interop-harvester/{__version__} (+https://pypi.org/project/thuvien-interop/)"
_SPOOL = 8 << 20

#: A response kept for diagnosis keeps at most this many bytes of its start and
#: as many of its end (a 2 GB page used to be read whole into memory, and saved
#: whole, for every page when diagnostics were on).
EXCERPT = 1 << 20

#: Decompressed bytes a compressed response may grow to before its compression
#: ratio is checked, and the largest ratio believed: XML compresses 5-20 to 1,
#: a "gzip bomb" a thousand to one and more (1 GB of zeros is 1 MB).
BOMB_FLOOR = 64 << 20
BOMB_RATIO = 200

log = logging.getLogger("thuvien_interop.harvest")


class FetchError(Exception):
    """A request failed for good (after its retries); ``body`` holds the last
    response's bytes when there was one, for the diagnostics folder."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes | None = None,
                 url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.url = url


class Cancelled(Exception):
    """The request (or the wait before it) was abandoned: the ``cancel`` event given
    to :meth:`PoliteClient.get` was set (Ctrl-C, SIGTERM, a lease lost)."""


class _Watch:
    """One request in flight: its deadline, what cancels it, its sockets."""

    __slots__ = ("deadline", "cancel", "sockets", "why")

    def __init__(self, deadline: float, cancel: threading.Event | None) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.sockets: list[socket.socket] = []
        self.why: str | None = None

    def fire(self, why: str) -> None:
        if self.why is not None:
            return
        self.why = why
        for sock in self.sockets:
            try:
                # socket.socket's own shutdown, also for TLS sockets: it wakes the
                # thread blocked reading from it, which then sees the end.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


_current = threading.local()  # the _Watch of the request this thread is making


class _Watchdog:
    """Ends requests that outlive their deadline or whose harvest stops: a read
    timeout bounds each read, not a response that trickles in a byte at a time
    (OAI-PMH gives no bound of its own)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[_Watch] = set()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, cancel: threading.Event | None) -> _Watch:
        w = _Watch(time.monotonic() + seconds, cancel)
        with self._cond:
            self._watches.add(w)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="harvest-deadlines")
                self._thread.start()
            self._cond.notify_all()
        return w

    def done(self, w: _Watch) -> None:
        with self._cond:
            self._watches.discard(w)

    def _run(self) -> None:
        with self._cond:
            while self._watches:
                now = time.monotonic()
                for w in list(self._watches):
                    if w.cancel is not None and w.cancel.is_set():
                        w.fire("cancelled")
                    elif now >= w.deadline:
                        w.fire("deadline")
                nearest = min(w.deadline for w in self._watches) if self._watches else now
                # Cancel events are looked at a few times a second.
                self._cond.wait(max(0.01, min(0.1, nearest - now)))
            self._thread = None


class _Watched:
    sock: socket.socket | None

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        w = getattr(_current, "watch", None)
        if w is not None and self.sock is not None:
            w.sockets.append(self.sock)
            if w.why is not None:  # it fired while the request was being sent
                why, w.why = w.why, None
                w.fire(why)


class _WatchedConnection(_Watched, HTTPConnection):
    pass


class _WatchedTLSConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter, with connections the watchdog can end."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """A request exception of requests/urllib3 in words: what happened, and what
    to try (``""`` when there is nothing to suggest), in the language spoken (a
    harvest's worker threads speak English, as the store keeps their errors)."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, requests.exceptions.SSLError):
        return (say("fetch.ssl", cause=_last_words(text)), say("fetch.ssl-hint"))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return say("fetch.connect-timeout"), say("fetch.connect-timeout-hint")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return say("fetch.read-timeout"), say("fetch.read-timeout-hint")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "refused" in low:
            return say("fetch.refused"), say("fetch.refused-hint")
        if "name or service not known" in low or "nodename nor servname" in low \
                or "getaddrinfo failed" in low or "name resolution" in low:
            return say("fetch.no-host"), say("fetch.check-url")
        if "reset" in low or "broken" in low or "aborted" in low or "disconnected" in low:
            return say("fetch.closed"), ""
        return say("fetch.cannot-connect", cause=_last_words(text)), say("fetch.network-hint")
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return _last_words(text), ""
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return say("fetch.closed"), ""
    return f"{type(exc).__name__}: {_last_words(text)}", ""


def _last_words(text: str) -> str:
    # urllib3 nests its reasons: "... (Caused by NewConnectionError('...: [Errno 111] ...'))"
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return m.group(1).strip() if m else text[:200]


@dataclass(slots=True)
class Fetched:
    """One successful response: status, headers, and the (decoded) body in a file."""

    url: str
    status: int
    headers: dict[str, str]
    body: IO[bytes]
    attempts: int = 1
    problems: list[str] = field(default_factory=list)

    def read_all(self) -> bytes:
        self.body.seek(0)
        data = self.body.read()
        self.body.seek(0)
        return data

    def excerpt(self, keep: int | None = None) -> bytes:
        """The body as the diagnostics folder keeps it: whole up to ``2 * keep``
        bytes, else its first and last ``keep`` bytes with a comment in between
        saying how much was left out (memory and disk bounded whatever the page)."""
        return excerpt(self.body, keep)

    def close(self) -> None:
        self.body.close()


def excerpt(body: IO[bytes], keep: int | None = None) -> bytes:
    """See :meth:`Fetched.excerpt`; ``body`` is left at its start."""
    keep = keep or EXCERPT
    body.seek(0, 2)
    size = body.tell()
    body.seek(0)
    if size <= 2 * keep:
        data = body.read()
    else:
        head = body.read(keep)
        body.seek(size - keep)
        data = (head + f"\n<!-- thuvien-interop: {size - 2 * keep:,} of {size:,} bytes left out "
                f"here -->\n".encode() + body.read())
    body.seek(0)
    return data


Check = Callable[[IO[bytes], "Fetched"], "str | tuple[str, str] | None"]
"""Looks at a downloaded body; returns why it must be asked again (a truncated
page, an HTML error page served with 200) — alone or with what the user could
try —, or ``None`` when it will do."""


class _Host:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = 0.0


class PoliteClient:
    """HTTP GET with the manners a harvester owes the providers it visits.

    Shared by every worker thread: requests to one host are serialized (a
    provincial library's server answers one harvester at a time), different
    hosts go in parallel.

    ``read_timeout`` bounds each read from the connection, ``deadline`` the whole
    answer to one request (from connecting to its last byte): a provider that
    sends a byte every few seconds is cut off there (default: no bound beyond
    the read timeout). ``sleep`` replaces the waits (tests record them instead);
    by default a wait ends early when the request's ``cancel`` event is set.
    """

    def __init__(self, *, user_agent: str = USER_AGENT, connect_timeout: float = 10.0,
                 read_timeout: float = 120.0, retries: int = 5, backoff: float = 2.0,
                 max_backoff: float = 300.0, max_retry_after: float = 3600.0,
                 max_bytes: int = 4 << 30, deadline: float | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.user_agent = user_agent
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._sessions = threading.local()
        self._watchdog = _Watchdog()
        self.requests_made = 0
        self.requests_by: dict[str, int] = {}
        """Requests per ``label`` (provider name), for the summary."""

    def _session(self) -> requests.Session:
        s = getattr(self._sessions, "s", None)
        if s is None:
            s = requests.Session()
            s.mount("http://", _Adapter())
            s.mount("https://", _Adapter())
            s.headers["User-Agent"] = self.user_agent
            s.headers["Accept-Encoding"] = "gzip, deflate"
            s.headers["Accept"] = "text/xml, application/xml;q=0.9, */*;q=0.1"
            self._sessions.s = s
        return s

    def _host(self, url: str) -> _Host:
        key = urlsplit(url).netloc.lower()
        with self._hosts_lock:
            host = self._hosts.get(key)
            if host is None:
                host = self._hosts[key] = _Host()
            return host

    def _wait(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * (2 ** attempt))

    def _pause(self, seconds: float, cancel: threading.Event | None) -> None:
        if seconds <= 0:
            return
        if self.sleep is not None:
            self.sleep(seconds)
        elif cancel is not None:
            cancel.wait(seconds)
        else:
            time.sleep(seconds)
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped while waiting to ask the provider again")

    def retry_after(self, value: str | None) -> float | None:
        """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP-date,
        RFC 9110 §10.2.3), capped; ``None`` when absent or unreadable."""
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return min(float(value), self.max_retry_after)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, min(when.timestamp() - time.time(), self.max_retry_after))

    def get(self, url: str, params: dict[str, str], *, delay: float = 0.0,
            auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
            check: Check | None = None, label: str = "",
            cancel: threading.Event | None = None) -> Fetched:
        """GET ``url`` with ``params``; retry what deserves a retry; raise
        :class:`FetchError` when the provider cannot be made to answer, and
        :class:`Cancelled` as soon as ``cancel`` is set (the request in flight, or
        the wait before the next attempt, is abandoned).

        An answer with a 4xx status whose body is an OAI-PMH response is returned
        like a 200 (some providers send OAI-PMH errors with HTTP errors: Zenodo
        answers ``noRecordsMatch`` with 422); the caller reads the error in it."""
        host = self._host(url)
        last_error = ""
        hint = ""
        last_body: bytes | None = None
        last_status: int | None = None
        problems: list[str] = []
        who = f"{label}: " if label else ""
        attempts = self.retries + 1
        for attempt in range(attempts):
            wait = 0.0
            if cancel is not None and cancel.is_set():
                raise Cancelled("stopped before asking the provider")
            with host.lock:
                self._pause(host.last + delay - time.monotonic(), cancel)
                try:
                    with self._hosts_lock:
                        self.requests_by[label] = self.requests_by.get(label, 0) + 1
                    fetched = self._once(url, params, auth, headers, cancel)
                except requests.RequestException as exc:
                    last_error, hint = describe_failure(exc)
                    fetched = None
                except _Deadline as exc:
                    last_error = str(exc)
                    hint = say("fetch.too-slow-hint")
                    fetched = None
                finally:
                    host.last = time.monotonic()
            if fetched is not None:
                status = fetched.status
                if status == 200 or (400 <= status < 500 and status != 429
                                     and _oai_body(fetched.body)):
                    reason = check(fetched.body, fetched) if check else None
                    if reason is None:
                        fetched.attempts = attempt + 1
                        fetched.problems = problems
                        return fetched
                    last_error, hint = reason if isinstance(reason, tuple) else (reason, "")
                    last_body, last_status = fetched.excerpt(), status
                    fetched.close()
                elif status == 503 or status == 429 or status >= 500:
                    last_body, last_status = fetched.excerpt(), status
                    last_error, hint = f"HTTP {status}", say("fetch.server-trouble-hint")
                    after = self.retry_after(fetched.headers.get("Retry-After"))
                    fetched.close()
                    if after is not None:
                        # §3.1.1.3 / RFC 9110: the provider says when to come back.
                        wait = after
                        last_error += f" (Retry-After {fetched.headers.get('Retry-After')})"
                else:
                    body = fetched.excerpt()
                    fetched.close()
                    raise FetchError(say("fetch.http-status", status=status, url=url) + _status_hint(status),
                                     status=status, body=body, url=url)
            if attempt == self.retries:
                break
            if not wait:
                wait = self._wait(attempt)
            problems.append(say("fetch.retry", error=last_error, attempt=attempt + 1,
                                retries=self.retries, wait=wait))
            log.warning(Said("fetch.retry", error=f"{who}{last_error} ({url})", attempt=attempt + 1,
                             retries=self.retries, wait=wait))
            self._pause(wait, cancel)
        tried = say("fetch.tried-once") if attempts == 1 else say("fetch.tried-times", n=attempts)
        raise FetchError(say("fetch.gave-up", error=last_error, url=url, tried=tried)
                         + (f". {_sentence(hint)}" if hint else ""),
                         status=last_status, body=last_body, url=url)

    def _once(self, url: str, params: dict[str, str], auth: tuple[str, str] | None,
              headers: dict[str, str] | None, cancel: threading.Event | None) -> Fetched:
        self.requests_made += 1
        limit = self.deadline
        watch = self._watchdog.watch(limit if limit is not None else float("inf"), cancel) \
            if limit is not None or cancel is not None else None
        _current.watch = watch
        body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
        try:
            try:
                with self._session().get(url, params=params, auth=auth, headers=headers,
                                         timeout=self.timeout, stream=True) as resp:
                    size = 0
                    wire = [0]
                    coding = resp.headers.get("Content-Encoding", "")
                    try:
                        chunks = decoded(raw_chunks(resp.raw, wire), coding)
                    except UnknownCoding as exc:
                        raise FetchError(
                            f"the response from {url} is compressed as {str(exc)!r}, which the "
                            "harvester cannot read (it asks for gzip or deflate)",
                            status=resp.status_code, url=url) from None
                    coded = bool(coding.strip(" ,").replace("identity", ""))
                    for chunk in chunks:
                        if watch is not None and watch.why is not None:
                            break
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise FetchError(f"the response from {url} is larger than "
                                             f"{self.max_bytes:,} bytes", status=resp.status_code,
                                             url=url, body=excerpt(body))
                        if coded and size > BOMB_FLOOR and size > BOMB_RATIO * (wire[0] or 1):
                            raise FetchError(
                                f"the response from {url} grows {size // (wire[0] or 1):,} times "
                                f"when decompressed ({wire[0]:,} bytes became over {size:,}): a "
                                "compression bomb, or a page far too large; not read further",
                                status=resp.status_code, url=url, body=excerpt(body))
                        body.write(chunk)
                    body.seek(0)
                    fetched = Fetched(resp.url, resp.status_code, dict(resp.headers), body)
            except requests.RequestException:
                if watch is None or watch.why is None:
                    raise
                fetched = None
            if watch is not None and watch.why == "cancelled":
                raise Cancelled("stopped while the provider was answering")
            if watch is not None and watch.why == "deadline":
                raise _Deadline(say("fetch.deadline", seconds=limit))
            assert fetched is not None
            return fetched
        except BaseException:
            body.close()
            raise
        finally:
            _current.watch = None
            if watch is not None:
                self._watchdog.done(watch)


class _Deadline(Exception):
    pass


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _oai_body(body: IO[bytes]) -> bool:
    body.seek(0)
    head = body.read(4096)
    body.seek(0)
    return re.search(rb"<(?:[\w.-]+:)?OAI-PMH[\s>]", head) is not None


def _status_hint(status: int) -> str:
    if status == 404:
        return ": " + say("fetch.http-404-hint")
    if status in (401, 403):
        return ": " + say("fetch.http-denied-hint")
    return ""
