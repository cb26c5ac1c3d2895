"""The application factory: configuration is passed in, never read at import.

    >>> from thuvien_interop.web import create_app
    >>> app = create_app("sqlite:///catalogue.db")     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, redirect, url_for

from ..formats import FormatRegistry
from ..oai.config import ProviderConfig
from ..oai.harvest_overview import ConsoleConfig
from ..oai.provider import Provider
from ..sru.config import SRUConfig
from ..store import open_store
from ..store.base import Catalogue, Searchable
from ..union.clusters import ClusterIndex
from ..union.holdings import Library, holdings_writer
from .oai import HarvesterPath, oai_blueprint
from .reader import reader_blueprint
from .sru import register_sru

#: What ``/sru`` answers over a store that cannot search (a live library database).
NO_SEARCH = ("This server reads a live library database, which cannot be searched: there is "
             "no SRU here (OAI-PMH is at /oai). To search it, copy it into a store with "
             "'thuvien-interop sync' and serve that store.\n")


def reader_config(sru_config: SRUConfig | None, oai_config: ProviderConfig,
                  libraries: Mapping[str, Library] | None) -> SRUConfig:
    """The SRU configuration the search page and /sru share: each library's
    province and kind (for ``local.province`` and ``local.libraryKind``), who holds
    a record (the ``holdings`` record schema: the union's libraries, or a single
    library's own under its repository name), and, when no title was set, the
    repository's name as the title (a single library's catalogue is titled with
    its own name)."""
    from dataclasses import replace

    from ..sru.facets import LibraryGroups

    base = sru_config or SRUConfig()
    changes: dict = {}
    if libraries:
        changes["groups"] = LibraryGroups({name: {"local.province": lib.province, "local.libraryKind": lib.kind}
                                           for name, lib in libraries.items()})
    if base.holdings is None:
        changes["holdings"] = holdings_writer(libraries, None if libraries else
                                              Library("local", oai_config.repository_name))
    if base.title == SRUConfig().title and oai_config.repository_name:
        changes["title"] = {"vi": oai_config.repository_name, "en": oai_config.repository_name}
    return replace(base, **changes) if changes else base


def create_app(store: Catalogue | str, oai_config: ProviderConfig | None = None, *,
               registry: FormatRegistry | None = None,
               sru_config: SRUConfig | None = None,
               libraries: Mapping[str, Library] | None = None,
               clusters: ClusterIndex | None = None,
               console: ConsoleConfig | None = None) -> Flask:
    """A Flask app over a store (or a store URL): the readers' search at ``/`` and
    record pages at ``/record/<OAI identifier>``, OAI-PMH at ``/oai``, SRU at ``/sru``.

    SRU and the search are mounted only over a store that can search
    (:class:`~thuvien_interop.store.base.Searchable`); elsewhere ``/sru`` answers
    404 with :data:`NO_SEARCH` and ``/`` leads to Identify's page.
    ``libraries`` names the providers of a union (``union.holdings.libraries_of``);
    ``clusters`` is the union's cluster index, when it keeps one (a record page then
    shows its cluster's holdings, the search one line a cluster).

    Behind a reverse proxy, set ``oai_config.trusted_proxies`` to the number of
    proxies in front: only then are X-Forwarded-Proto/Host/Prefix believed, so
    Identify's baseURL is the public one (a client cannot forge it otherwise).

    ``console`` (when ``enabled``) mounts the harvest console at ``/admin/harvest``,
    behind its login.
    """
    repository = open_store(store) if isinstance(store, str) else store
    config = oai_config or ProviderConfig()
    app = Flask(__name__)
    app.config["REPOSITORY"] = repository
    provider = Provider(repository, config, registry)
    # Harvesters' GETs skip Flask (web/oai.py); inside ProxyFix, which sets the URL they see.
    app.wsgi_app = HarvesterPath(app.wsgi_app, provider, "/oai")  # type: ignore[method-assign]
    if config.trusted_proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n,  # type: ignore[method-assign]
                                x_prefix=n)
    app.extensions["thuvien_oai"] = provider
    app.register_blueprint(oai_blueprint(provider), url_prefix="/oai")
    if isinstance(repository, Searchable):
        app.extensions["thuvien_reader"] = {"clusters": clusters, "libraries": libraries}
        server = register_sru(app, repository, reader_config(sru_config, config, libraries))
        own = Library("local", config.repository_name) if not libraries else None
        app.register_blueprint(reader_blueprint(repository, server.config, clusters=clusters,
                                                libraries=libraries, own=own))
    else:
        @app.route("/sru", strict_slashes=False)
        def no_sru():
            return NO_SEARCH, 404, {"Content-Type": "text/plain; charset=utf-8"}

        @app.route("/")
        def index():
            return redirect(url_for("oai.endpoint", verb="Identify"))

    if console is not None and console.enabled:
        from .admin import admin_blueprint

        app.register_blueprint(admin_blueprint(repository, console), url_prefix="/admin")
    return app
