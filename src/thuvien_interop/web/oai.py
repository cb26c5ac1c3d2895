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

import gzip
import zlib

from flask import Blueprint, Response, current_app, request, url_for

from ..oai.provider import Provider

XML_TYPE = "text/xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
# Caches must keep the XML, the HTML and each compressed form apart.
VARY = "Accept, Accept-Encoding, Sec-Fetch-Dest"
_MIN_COMPRESS = 1024


def request_params() -> list[tuple[str, str]]:
    """The request's arguments in order, GET or POST (form-urlencoded), repeats kept.

    OAI-PMH 2.0 §3.1.1.2: a POST carries the arguments in its body only; the
    query string of a POST is not read.
    """
    if request.method == "POST":
        return list(request.form.items(multi=True))
    return list(request.args.items(multi=True))


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
        return gzip.compress(body, compresslevel=5, mtime=0)
    if encoding == "deflate":
        return zlib.compress(body, 5)
    return body


def can_search(repository: object) -> bool:
    """Whether SRU can search ``repository`` (a live source over a library's own
    database cannot: it has no search index)."""
    from ..store import base

    searchable = getattr(base, "Searchable", None)
    if searchable is not None:
        return isinstance(repository, searchable)
    return callable(getattr(repository, "search", None))


def _search_page(repository: object) -> tuple[str | None, bool]:
    """(the app's SRU search page, or None; whether the repository cannot be searched)."""
    searchable = can_search(repository)
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
        body = provider.handle(params, base_url=base_url())
        if provider.config.html_view and wants_html(request.headers):
            from .browser import render_page

            search_url, unsearchable = _search_page(provider.repository)
            return reply(render_page(body, params, raw_url=request.base_url.rstrip("/") + "/xml",
                                     languages=request.headers.get("Accept-Language", ""),
                                     search_url=search_url, unsearchable=unsearchable
                                     ).encode("utf-8"), HTML_TYPE)
        return reply(body, XML_TYPE)

    @bp.route("/xml", methods=["GET", "POST"])
    def raw() -> Response:
        return reply(provider.handle(request_params(), base_url=base_url()), XML_TYPE)

    return bp
