"""The OAI-PMH blueprint: mount it in any Flask app over any Repository.

    >>> from flask import Flask
    >>> app = Flask(__name__)
    >>> app.register_blueprint(oai_blueprint(Provider(store)), url_prefix="/oai")  # doctest: +SKIP
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..oai.provider import Provider

XML_TYPE = "text/xml; charset=utf-8"


def request_params() -> list[tuple[str, str]]:
    """The request's arguments in order, GET or POST (form-urlencoded), repeats kept."""
    if request.method == "POST":
        return list(request.form.items(multi=True))
    return list(request.args.items(multi=True))


def oai_blueprint(provider: Provider, name: str = "oai") -> Blueprint:
    """A blueprint answering OAI-PMH at its root (GET and POST)."""
    bp = Blueprint(name, __name__)

    @bp.route("", methods=["GET", "POST"], strict_slashes=False)
    def endpoint() -> Response:
        base = request.base_url
        body = provider.handle(request_params(), base_url=base)
        return Response(body, mimetype="text/xml", content_type=XML_TYPE)

    return bp
