"""The OAI-PMH blueprint: mount it in any Flask app over any Repository.

    >>> from flask import Flask
    >>> from thuvien_interop.oai import Provider
    >>> app = Flask(__name__)
    >>> app.register_blueprint(oai_blueprint(Provider(store)), url_prefix="/oai")  # doctest: +SKIP

What it adds to the engine is HTTP only: GET and POST arguments, compression per
``Accept-Encoding`` (the encodings Identify lists), and an HTML page of the same
response for a person in a browser. Harvesters always get the XML, byte for byte.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.wsgi import get_current_url

from ..oai.provider import Provider
from .sendbody import response_body

try:
    # ISA-L's deflate: a ListRecords page of oai_dc (220 KB) in 1.2 µs a record at
    # level 1, against 15 µs for zlib at level 5, for 17% more bytes (issue 16).
    from isal import igzip as _gzip
    from isal import isal_zlib as _zlib
except ImportError:  # a platform without its wheels: the standard library, as fast as it goes
    import gzip as _gzip  # type: ignore[no-redef]
    import zlib as _zlib  # type: ignore[no-redef]

#: The deflate level of responses: the fastest, which costs little on the wire.
LEVEL = 1

XML_TYPE = "text/xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
# Caches must keep the XML, the HTML and each compressed form apart.
VARY = "Accept, Accept-Encoding, Sec-Fetch-Dest"
_MIN_COMPRESS = 1024
_RAW_BYTE = re.compile(rb"[\x80-\xff]")
#: Seconds a harvester is asked to wait when the repository cannot answer.
RETRY_AFTER = 60

logger = logging.getLogger(__name__)


def request_params() -> list[tuple[str, str]]:
    """The request's arguments in order, GET or POST (form-urlencoded), repeats kept.

    OAI-PMH 2.0 §3.1.1.2: a POST carries the arguments in its body only; the
    query string of a POST is not read. Arguments are UTF-8 (§3.1.1.1); bytes
    that are not become lone surrogates (``surrogateescape``), characters no
    XML can hold, which the engines refuse as such (badArgument, diagnostic
    10) instead of a replacement character that would pass for text.
    """
    if request.method == "POST":
        if request.mimetype != "application/x-www-form-urlencoded":
            return list(request.form.items(multi=True))
        raw = request.get_data(cache=True)
    else:
        raw = request.query_string
    return split_arguments(raw)


def split_arguments(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b=%C3%A0`` as (name, value) pairs decoded as UTF-8, bytes that are not
    UTF-8 kept as lone surrogates.

        >>> split_arguments(b"verb=Identify&x=%FF&y=h%C3%A0+n%E1%BB%99i")
        [('verb', 'Identify'), ('x', '\\udcff'), ('y', 'hà nội')]
    """
    # Raw non-ASCII bytes (a client that did not percent-encode) are read as if it had.
    text = _RAW_BYTE.sub(lambda m: b"%%%02X" % m[0][0], raw).decode("ascii")
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")


def _unavailable(what: str) -> tuple[str, list[tuple[str, str]], bytes]:
    logger.exception("%s failed; answered 503 Service Unavailable", what)
    text = (f"The repository cannot answer just now (the administrator finds the reason "
            f"in the server log). Try again in {RETRY_AFTER} seconds.\n").encode()
    return "503 SERVICE UNAVAILABLE", [("Content-Type", "text/plain; charset=utf-8"),
                                       ("Content-Length", str(len(text))),
                                       ("Retry-After", str(RETRY_AFTER))], text


def unavailable(what: str) -> Response:
    """OAI-PMH 2.0 §3.1.2.2: a repository that cannot answer says so in HTTP, 503
    with Retry-After (no OAI-PMH error code means "server failure"; harvesters
    wait and ask again). The reason goes to the server log, with its traceback."""
    status, headers, text = _unavailable(what)
    return Response(text, status=status, headers=headers)


def wants_html(headers) -> bool:
    """Whether this is a person's browser navigating to the page.

    Browsers mark a navigation with ``Sec-Fetch-Dest: document`` (Fetch Metadata)
    and list ``application/xhtml+xml`` in their Accept; harvesters do neither.
    A Java client's default Accept starts with ``text/html`` and must still get
    XML, so ``text/html`` alone does not count.
    """
    if headers.get("Sec-Fetch-Dest", "").lower() == "document":
        return True
    return "application/xhtml+xml" in headers.get("Accept", "").lower()


def choose_encoding(accept_encoding: str, offered: list[str]) -> str | None:
    """The first of ``offered`` the client accepts (q > 0), per RFC 9110 §12.5.3.

        >>> choose_encoding("deflate, gzip;q=0", ["gzip", "deflate"])
        'deflate'
    """
    accepted: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if name:
            accepted[name.strip()] = q
    for enc in offered:
        q = accepted[enc] if enc in accepted else accepted.get("*", 0.0)
        if q > 0:
            return enc
    return None


def compress(body: bytes, encoding: str | None) -> bytes:
    """gzip, or deflate as HTTP means it (the zlib format, RFC 9110 §8.4.1.2)."""
    if encoding == "gzip":
        return _gzip.compress(body, LEVEL, mtime=0)
    if encoding == "deflate":
        return _zlib.compress(body, LEVEL)
    return body


class HarvesterPath:
    """WSGI middleware: a harvester's ``GET`` at the OAI-PMH root answered by the
    engine directly, without Flask's request, routing and response objects
    (~240 µs a request: 1.2 µs a record of a 200-record page, issue 16).
    Everything else (a browser's navigation, which gets the HTML page; POST;
    ``/xml``; other paths) goes on to the app. The answer is the blueprint's,
    byte for byte and header for header (tests compare them).

        >>> app.wsgi_app = HarvesterPath(app.wsgi_app, provider, "/oai")  # doctest: +SKIP
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], provider: Provider, root: str) -> None:
        self.app = app
        self.provider = provider
        self.paths = (root, root + "/")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        base = engine_base(environ, self.paths, self.provider.config.html_view)
        if base is None:
            return self.app(environ, start_response)
        raw = environ.get("QUERY_STRING", "").encode("latin-1")
        try:
            body = self.provider.handle(split_arguments(raw), base_url=base)
        except Exception:  # noqa: BLE001 - a store failure: 503 and the log, never a 500 page
            status, headers, text = _unavailable("OAI-PMH request")
            start_response(status, headers)
            return [text]
        return wsgi_reply(environ, start_response, body, XML_TYPE, self.provider.config.compression)


def engine_base(environ: dict[str, Any], paths: tuple[str, ...], html_view: bool) -> str | None:
    """The base URL of a request an engine answers straight from WSGI
    (:class:`HarvesterPath`, SRU's ``ClientPath``): a ``GET`` at one of ``paths``
    that is not a browser's navigation to the HTML view. ``None``: the app answers
    it (anything else, or a Host header Werkzeug refuses)."""
    if (environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in paths
            or (html_view and wants_html(_EnvironHeaders(environ)))):
        return None
    try:
        return _base_url(environ["wsgi.url_scheme"], environ.get("HTTP_HOST"),
                         environ.get("SERVER_NAME"), environ.get("SERVER_PORT"),
                         environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""))
    except Exception:  # noqa: BLE001 - a Host header Werkzeug refuses: the app answers it
        return None


@lru_cache(maxsize=64)
def _base_url(scheme: str, host: str | None, server_name: str | None, server_port: str | None,
              script: str, path: str) -> str:
    """Werkzeug's URL of a request without its query (``request.base_url``) from the
    parts of the environ it reads, each once (~40 µs, a tenth of an ISBN search)."""
    environ = {"wsgi.url_scheme": scheme, "SCRIPT_NAME": script, "PATH_INFO": path}
    for name, value in (("HTTP_HOST", host), ("SERVER_NAME", server_name),
                        ("SERVER_PORT", server_port)):
        if value is not None:
            environ[name] = value
    return get_current_url(environ, strip_querystring=True)


def wsgi_reply(environ: dict[str, Any], start_response: Callable[..., Any], body: bytes,
               content_type: str, offered: list[str]) -> Iterable[bytes]:
    """A 200 answer straight to WSGI, compressed (one of ``offered``) as the client
    accepts, with the headers the blueprints' answers carry (tests compare them)."""
    encoding = None
    if len(body) >= _MIN_COMPRESS:
        encoding = choose_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""), offered)
    body = compress(body, encoding)
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if encoding:
        headers.append(("Content-Encoding", encoding))
    headers.append(("Vary", VARY))
    start_response("200 OK", headers)
    return response_body(environ, body)


class _EnvironHeaders:
    """The request headers :func:`wants_html` reads, straight from a WSGI environ."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, name: str, default: str = "") -> str:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)


def can_search(repository: object) -> bool:
    """Whether SRU can search ``repository`` (a live source over a library's own
    database cannot: it has no search index)."""
    from ..store import base

    searchable = getattr(base, "Searchable", None)
    if searchable is not None:
        return isinstance(repository, searchable)
    return callable(getattr(repository, "search", None))


def _search_page(repository: object) -> tuple[str | None, bool]:
    """(the app's search page — the readers' one at ``/`` —, or None; whether the
    repository cannot be searched)."""
    searchable = can_search(repository)
    if "reader" in current_app.blueprints and searchable:
        return url_for("reader.search"), False
    if "sru" in current_app.blueprints and searchable:
        return url_for("sru.endpoint"), False
    return None, not searchable


def oai_blueprint(provider: Provider, name: str = "oai") -> Blueprint:
    """A blueprint answering OAI-PMH at its root (GET and POST), and the same
    response always as XML at ``<root>/xml`` (the HTML page links there)."""
    bp = Blueprint(name, __name__)

    def reply(body: bytes, content_type: str) -> Response:
        encoding = None
        if len(body) >= _MIN_COMPRESS:
            encoding = choose_encoding(request.headers.get("Accept-Encoding", ""),
                                       provider.config.compression)
        resp = Response(compress(body, encoding), content_type=content_type)
        if encoding:
            resp.headers["Content-Encoding"] = encoding
        resp.headers["Vary"] = VARY
        return resp

    def base_url() -> str:
        # request.base_url honours X-Forwarded-* only when the app trusts a proxy
        # (ProxyFix, see create_app); otherwise it is the URL the request came to.
        url = request.base_url
        return url[: -len("/xml")] if request.endpoint == f"{name}.raw" else url

    @bp.route("", methods=["GET", "POST"], strict_slashes=False)
    def endpoint() -> Response:
        params = request_params()
        try:
            body = provider.handle(params, base_url=base_url())
        except Exception:  # noqa: BLE001 - a store failure: 503 and the log, never a 500 page
            return unavailable("OAI-PMH request")
        if provider.config.html_view and wants_html(request.headers):
            from .browser import render_page

            try:
                search_url, unsearchable = _search_page(provider.repository)
                page = render_page(body, params, raw_url=request.base_url.rstrip("/") + "/xml",
                                   languages=request.headers.get("Accept-Language", ""),
                                   search_url=search_url, unsearchable=unsearchable)
            except Exception:  # noqa: BLE001 - the person still gets the response, as XML
                logger.exception("the HTML view of an OAI-PMH response failed; sent the XML")
                return reply(body, XML_TYPE)
            return reply(page.encode("utf-8"), HTML_TYPE)
        return reply(body, XML_TYPE)

    @bp.route("/xml", methods=["GET", "POST"])
    def raw() -> Response:
        try:
            return reply(provider.handle(request_params(), base_url=base_url()), XML_TYPE)
        except Exception:  # noqa: BLE001
            return unavailable("OAI-PMH request")

    return bp
