"""The harvester's wire: polite, patient HTTP GETs whose bodies go to a spooled file.

Politeness (OAI-PMH 2.0 §3.1.1 and the Implementation Guidelines on flow
control): one request at a time per host, a delay between requests, a
User-Agent that names the harvester, ``503 Retry-After`` honoured, retries
with exponential backoff on timeouts, connection errors and every 5xx, and
gzip/deflate accepted (§3.1.3 compression).

Bodies are written to a :class:`tempfile.SpooledTemporaryFile` (in memory up to
a few MB, on disk after), so a page of any size is downloaded completely and
then parsed in a streaming way from the file, and the exact bytes are at hand
when a response must be saved for diagnosis.

    >>> client = PoliteClient()
    >>> page = client.get("https://example.org/oai", {"verb": "Identify"})   # doctest: +SKIP
    >>> page.body.read(5)                                                    # doctest: +SKIP
    b'<?xml'
"""

from __future__ import annotations

import email.utils
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urlsplit

import requests

from .. import __version__

USER_AGENT = f"thuvien-interop-harvester/{__version__} (+https://pypi.org/project/thuvien-interop/)"
_SPOOL = 8 << 20

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

    def close(self) -> None:
        self.body.close()


Check = Callable[[IO[bytes], "Fetched"], str | None]
"""Looks at a downloaded body; returns why it must be asked again (a truncated
page, an HTML error page served with 200), or ``None`` when it will do."""


class _Host:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = 0.0


class PoliteClient:
    """HTTP GET with the manners a harvester owes the providers it visits.

    Shared by every worker thread: requests to one host are serialized (a
    provincial library's server answers one harvester at a time), different
    hosts go in parallel.
    """

    def __init__(self, *, user_agent: str = USER_AGENT, connect_timeout: float = 10.0,
                 read_timeout: float = 120.0, retries: int = 5, backoff: float = 2.0,
                 max_backoff: float = 300.0, max_retry_after: float = 3600.0,
                 max_bytes: int = 4 << 30,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.user_agent = user_agent
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._sessions = threading.local()
        self.requests_made = 0
        self.requests_by: dict[str, int] = {}
        """Requests per ``label`` (provider name), for the summary."""

    def _session(self) -> requests.Session:
        s = getattr(self._sessions, "s", None)
        if s is None:
            s = requests.Session()
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
            check: Check | None = None, label: str = "") -> Fetched:
        """GET ``url`` with ``params``; retry what deserves a retry; raise
        :class:`FetchError` when the provider cannot be made to answer."""
        host = self._host(url)
        last_error = ""
        last_body: bytes | None = None
        last_status: int | None = None
        problems: list[str] = []
        who = f"{label}: " if label else ""
        for attempt in range(self.retries + 1):
            wait = 0.0
            with host.lock:
                pause = host.last + delay - time.monotonic()
                if pause > 0:
                    self.sleep(pause)
                try:
                    with self._hosts_lock:
                        self.requests_by[label] = self.requests_by.get(label, 0) + 1
                    fetched = self._once(url, params, auth, headers)
                except requests.RequestException as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                    fetched = None
                finally:
                    host.last = time.monotonic()
            if fetched is not None:
                status = fetched.status
                if status == 200:
                    reason = check(fetched.body, fetched) if check else None
                    if reason is None:
                        fetched.attempts = attempt + 1
                        fetched.problems = problems
                        return fetched
                    last_error = reason
                    last_body, last_status = fetched.read_all(), status
                    fetched.close()
                elif status == 503 or status == 429 or status >= 500:
                    last_body, last_status = fetched.read_all(), status
                    last_error = f"HTTP {status}"
                    after = self.retry_after(fetched.headers.get("Retry-After"))
                    fetched.close()
                    if after is not None:
                        # §3.1.1.3 / RFC 9110: the provider says when to come back.
                        wait = after
                        last_error += f" (Retry-After {fetched.headers.get('Retry-After')})"
                else:
                    body = fetched.read_all()
                    fetched.close()
                    raise FetchError(f"HTTP {status} from {url}", status=status, body=body, url=url)
            if attempt == self.retries:
                break
            if not wait:
                wait = self._wait(attempt)
            problems.append(f"{last_error}; retry {attempt + 1}/{self.retries} in {wait:g} s")
            log.warning("%s%s from %s; retry %d/%d in %g s", who, last_error, url,
                        attempt + 1, self.retries, wait)
            self.sleep(wait)
        raise FetchError(f"{last_error} (gave up after {self.retries + 1} attempts) from {url}",
                         status=last_status, body=last_body, url=url)

    def _once(self, url: str, params: dict[str, str], auth: tuple[str, str] | None,
              headers: dict[str, str] | None) -> Fetched:
        self.requests_made += 1
        with self._session().get(url, params=params, auth=auth, headers=headers,
                                 timeout=self.timeout, stream=True) as resp:
            body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
            try:
                size = 0
                # iter_content undoes gzip/deflate content-coding as it reads.
                for chunk in resp.iter_content(1 << 16):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"the response from {url} is larger than "
                                         f"{self.max_bytes} bytes", status=resp.status_code, url=url)
                    body.write(chunk)
                body.seek(0)
            except BaseException:
                body.close()
                raise
            return Fetched(resp.url, resp.status_code, dict(resp.headers), body)
