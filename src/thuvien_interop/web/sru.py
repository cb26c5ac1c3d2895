"""The SRU blueprint: ``/sru`` for SRU clients (XML) and for people (the readers'
search page of :mod:`thuvien_interop.web.reader`, over the same store and indexes).

    >>> from flask import Flask
    >>> from thuvien_interop.sru.server import Server
    >>> app = Flask(__name__)
    >>> app.register_blueprint(sru_blueprint(Server(store)), url_prefix="/sru")  # doctest: +SKIP

HTTP only: GET and POST, compression and ``Vary`` as for OAI-PMH
(:mod:`thuvien_interop.web.oai`), the browser rule of the OAI-PMH view: a
browser's navigation gets the search page (no SRU operation named) or the HTML
view of the SRU response (:mod:`.sru_browser`), which links to the same request
as XML at ``/sru/xml``. A request with a ``stylesheet`` always gets the XML: the
client asked to render it itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from ..sru.server import Server
from ..store.base import StoreUnavailable
from .oai import (
    HTML_TYPE,
    VARY,
    _unavailable,
    choose_encoding,
    compress,
    engine_base,
    request_params,
    split_arguments,
    unavailable,
    wants_html,
    wsgi_reply,
)

_MIN_COMPRESS = 1024
_ENCODINGS = ["gzip", "deflate"]

logger = logging.getLogger(__name__)


def render_search_page(server: Server, params, *, base_url: str,
                       languages: str = "", root: str = "", oai_url: str | None = None,
                       clusters=None, libraries=None) -> str:
    """The HTML page a browser gets at ``/sru``: the readers' search
    (:func:`thuvien_interop.web.reader.render_search`) over the same store and
    index profile; ``root`` is the application's root path (record links),
    ``oai_url`` the OAI-PMH page of the same catalogue, which the page links to;
    ``params``: the request's arguments (a MultiDict keeps repeated ``f``)."""
    from .reader import render_search

    return render_search(server.repository, params if hasattr(params, "getlist") else dict(params),
                         config=server.config, base=root, languages=languages, oai_url=oai_url,
                         clusters=clusters, libraries=libraries)


def sru_blueprint(server: Server, name: str = "sru") -> Blueprint:
    """A blueprint answering SRU at its root (GET and POST)."""
    bp = Blueprint(name, __name__)

    def reply(body: bytes, content_type: str) -> Response:
        encoding = None
        if len(body) >= _MIN_COMPRESS:
            encoding = choose_encoding(request.headers.get("Accept-Encoding", ""), _ENCODINGS)
        resp = Response(compress(body, encoding), content_type=content_type)
        if encoding:
            resp.headers["Content-Encoding"] = encoding
        resp.headers["Vary"] = VARY
        return resp

    @bp.route("", methods=["GET", "POST"], strict_slashes=False)
    def endpoint() -> Response:
        params = request_params()
        names = {k for k, _ in params}
        accept = request.headers.get("Accept", "")
        browser = server.config.html_view and wants_html(request.headers) and "stylesheet" not in names
        try:
            if browser and not names & {"operation", "version", "scanClause"}:
                oai_url = (url_for("oai.endpoint", verb="Identify")
                           if "oai" in current_app.blueprints else None)
                reader = current_app.extensions.get("thuvien_reader", {})
                page = render_search_page(server, request.args, base_url=request.base_url,
                                          languages=request.headers.get("Accept-Language", ""),
                                          root=request.script_root, oai_url=oai_url,
                                          clusters=reader.get("clusters"),
                                          libraries=reader.get("libraries"))
                return reply(page.encode("utf-8"), HTML_TYPE)
            resp = server.handle(params, accept=accept, base_url=request.base_url)
        except StoreUnavailable:
            return unavailable("SRU request")
        except Exception as exc:  # noqa: BLE001 - diagnostic 1 and the log, never a 500 page
            logger.exception("SRU request failed; answered diagnostic 1")
            resp = server.failed(params, exc, accept=accept, base_url=request.base_url)
        if browser:
            from .sru_browser import render_sru_page

            try:
                home = url_for("reader.search") if "reader" in current_app.blueprints else request.script_root + "/"
                page = render_sru_page(resp.body, params, raw_url=request.base_url.rstrip("/") + "/xml",
                                       home=home, languages=request.headers.get("Accept-Language", ""))
            except Exception:  # noqa: BLE001 - the person still gets the response, as XML
                logger.exception("the HTML view of an SRU response failed; sent the XML")
            else:
                return reply(page.encode("utf-8"), HTML_TYPE)
        return reply(resp.body, resp.content_type)

    @bp.route("/xml", methods=["GET", "POST"])
    def raw() -> Response:
        """The SRU response as XML whoever asks (the HTML view links here)."""
        params = request_params()
        accept = request.headers.get("Accept", "")
        base = request.base_url[: -len("/xml")]
        try:
            resp = server.handle(params, accept=accept, base_url=base)
        except Exception as exc:  # noqa: BLE001 - diagnostic 1 and the log, never a 500 page
            logger.exception("SRU request failed; answered diagnostic 1")
            resp = server.failed(params, exc, accept=accept, base_url=base)
        return reply(resp.body, resp.content_type)

    return bp


def register_sru(app, repository, config=None) -> Server:
    """Mount ``/sru`` on an app over a repository (``config``: an SRUConfig);
    the SRU server is kept in ``app.extensions["thuvien_sru"]``, and SRU clients'
    GETs skip Flask (:class:`ClientPath`)."""
    server = Server(repository, config)
    app.extensions["thuvien_sru"] = server
    app.register_blueprint(sru_blueprint(server), url_prefix="/sru")
    app.wsgi_app = ClientPath(app.wsgi_app, server, "/sru")  # type: ignore[method-assign]
    return server


class ClientPath:
    """WSGI middleware: an SRU client's ``GET`` at the SRU root answered by the
    engine directly, without Flask's request, routing and response objects
    (issue 16: ~0.6 ms of CPU a request, half of what an ISBN search costs in
    all). A browser's navigation (the HTML pages), POST, ``/xml`` and other paths
    go on to the app. The answer is the blueprint's, byte for byte and header for
    header (tests compare them).

        >>> app.wsgi_app = ClientPath(app.wsgi_app, server, "/sru")  # doctest: +SKIP
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], server: Server, root: str) -> None:
        self.app = app
        self.server = server
        self.paths = (root, root + "/")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        base = engine_base(environ, self.paths, self.server.config.html_view)
        if base is None:
            return self.app(environ, start_response)
        params = list(_arguments(environ.get("QUERY_STRING", "")))
        accept = environ.get("HTTP_ACCEPT", "")
        try:
            resp = self.server.handle(params, accept=accept, base_url=base)
        except StoreUnavailable:
            status, headers, text = _unavailable("SRU request")
            start_response(status, headers)
            return [text]
        except Exception as exc:  # noqa: BLE001 - diagnostic 1 and the log, never a 500 page
            logger.exception("SRU request failed; answered diagnostic 1")
            resp = self.server.failed(params, exc, accept=accept, base_url=base)
        return wsgi_reply(environ, start_response, resp.body, resp.content_type, _ENCODINGS)


@lru_cache(maxsize=256)
def _arguments(query_string: str) -> tuple[tuple[str, str], ...]:
    """:func:`~.oai.split_arguments` of a query string, each once (a query is asked
    again for each page of its result: ~30 µs a request, as much as its SQL)."""
    return tuple(split_arguments(query_string.encode("latin-1")))
