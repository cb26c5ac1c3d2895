"""The validator's HTTP: a bounded number of requests, a delay between them, and
every response kept as the provider sent it (status, headers, compression, time),
since HTTP behaviour is part of what is checked.

Unlike the harvester's client it does not hide what happened: a ``503`` is
reported (with or without ``Retry-After``) before it is waited for.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from lxml import etree

from .. import __version__
from ..httpbody import UnknownCoding, read_limited
from ..oai.harvest_http import describe_failure
from ..wording import say
from ..xml import OAI as OAI_NS
from ..xml import safe_parser

USER_AGENT = f"thuvien-interop-validator/{__version__} (+https://pypi.org/project/thuvien-interop/)"
_MAX_BODY = 64 << 20
#: Longest Retry-After the validator waits for; a longer one ends the run.
MAX_RETRY_AFTER = 60
#: The wait after a 503 that does not say how long to wait.
WAIT_WITHOUT_RETRY_AFTER = 10


class BudgetExhausted(Exception):
    """The run used every request it was allowed."""


class Unreachable(Exception):
    """The provider did not answer at all."""


@dataclass(slots=True)
class Response:
    """One answer: what came over the wire, and the parsed document when it parsed."""

    url: str
    params: list[tuple[str, str]]
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    encoding: str | None = None
    """The Content-Encoding the provider used (gzip, deflate) or None."""
    root: etree._Element | None = None
    parse_error: str | None = None
    retried_503: list[str | None] = field(default_factory=list)
    """The Retry-After values of the 503s met on the way (None: header missing)."""

    def find(self, path: str) -> etree._Element | None:
        return None if self.root is None else self.root.find(path, {"o": OAI_NS})

    def findall(self, path: str) -> list[etree._Element]:
        return [] if self.root is None else self.root.findall(path, {"o": OAI_NS})

    @property
    def error_codes(self) -> list[str]:
        return [e.get("code", "") for e in self.findall("o:error")]


class Wire:
    """GET (or POST) requests to one base URL, politely.

    ``delay`` seconds pass between two requests; after ``max_requests`` the
    next one raises :class:`BudgetExhausted`.
    """

    def __init__(self, base_url: str, *, delay: float = 1.0, max_requests: int = 300,
                 timeout: float = 60.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url
        self.delay = delay
        self.max_requests = max_requests
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT,
                                     "Accept-Encoding": "gzip, deflate",
                                     "Accept": "text/xml, application/xml"})
        self.sleep = sleep
        self.requests = 0
        self.seconds: list[float] = []
        self._last = 0.0

    def url_of(self, params: list[tuple[str, str]]) -> str:
        return f"{self.base_url}?{urlencode(params)}" if params else self.base_url

    def get(self, params: list[tuple[str, str]] | dict[str, str], *,
            method: str = "GET") -> Response:
        items = list(params.items()) if isinstance(params, dict) else list(params)
        retried: list[str | None] = []
        for _ in range(3):
            resp = self._once(items, method)
            if resp.status != 503:
                break
            after = resp.headers.get("retry-after")
            retried.append(after)
            wait = _retry_seconds(after)
            if wait is None:
                wait = WAIT_WITHOUT_RETRY_AFTER  # what a patient harvester would do
            if wait > MAX_RETRY_AFTER:
                break
            self.sleep(wait)
        resp.retried_503 = retried
        return resp

    def _once(self, items: list[tuple[str, str]], method: str) -> Response:
        if self.requests >= self.max_requests:
            raise BudgetExhausted(say("validate.budget-spent", n=self.max_requests))
        wait = self._last + self.delay - time.monotonic()
        if self.requests and wait > 0:
            self.sleep(wait)
        self.requests += 1
        url = self.url_of(items) if method == "GET" else self.base_url
        started = time.monotonic()
        try:
            if method == "GET":
                r = self.session.get(self.base_url, params=items, timeout=self.timeout,
                                     stream=True)
            else:
                r = self.session.post(self.base_url, data=items, timeout=self.timeout,
                                      stream=True)
            body = read_limited(r, _MAX_BODY)
        except UnknownCoding as exc:
            raise Unreachable(say("validate.unknown-coding", coding=repr(str(exc)), url=url)) \
                from None
        except requests.RequestException as exc:
            what, hint = describe_failure(exc)
            raise Unreachable(say("validate.failed-at", what=what, url=url)
                              + (f"; {hint}" if hint else "")) from None
        finally:
            self._last = time.monotonic()
        seconds = self._last - started
        self.seconds.append(seconds)
        headers = {k.lower(): v for k, v in r.headers.items()}
        resp = Response(url, items, r.status_code, headers, body[:_MAX_BODY], seconds,
                        headers.get("content-encoding"))
        if len(body) > _MAX_BODY:
            resp.parse_error = say("validate.too-large", mb=_MAX_BODY >> 20)
            return resp
        try:
            resp.root = etree.fromstring(body, safe_parser())
        except etree.XMLSyntaxError as exc:
            resp.parse_error = say("validate.not-xml", cause=exc)
        return resp


def _retry_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
