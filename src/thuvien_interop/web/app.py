"""The application factory: configuration is passed in, never read at import.

    >>> from thuvien_interop.web import create_app
    >>> app = create_app("sqlite:///catalogue.db")     # doctest: +SKIP
"""

from __future__ import annotations

from flask import Flask, redirect, url_for

from ..formats import FormatRegistry
from ..oai.config import ProviderConfig
from ..oai.provider import Provider
from ..store import open_store
from ..store.base import Repository
from .oai import oai_blueprint


def create_app(store: Repository | str, oai_config: ProviderConfig | None = None, *,
               registry: FormatRegistry | None = None) -> Flask:
    """A Flask app serving OAI-PMH at ``/oai`` over a store (or a store URL)."""
    repository = open_store(store) if isinstance(store, str) else store
    app = Flask(__name__)
    app.config["REPOSITORY"] = repository
    provider = Provider(repository, oai_config, registry)
    app.extensions["thuvien_oai"] = provider
    app.register_blueprint(oai_blueprint(provider), url_prefix="/oai")

    @app.route("/")
    def index():
        return redirect(url_for("oai.endpoint", verb="Identify"))

    return app
