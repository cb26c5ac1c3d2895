"""The SRU blueprint: ``/sru`` for SRU clients (XML) and for people (an HTML
search page rendered on the server from the same SRU response).

    >>> from flask import Flask
    >>> from thuvien_interop.sru.server import Server
    >>> app = Flask(__name__)
    >>> app.register_blueprint(sru_blueprint(Server(store)), url_prefix="/sru")  # doctest: +SKIP

HTTP only: GET and POST, compression and ``Vary`` as for OAI-PMH
(:mod:`thuvien_interop.web.oai`), the browser rule of the OAI-PMH view. A request
with a ``stylesheet`` always gets the XML: the client asked to render it itself.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from lxml import etree

from ..sru import cql
from ..sru.server import SRU1_NS, Server
from .oai import HTML_TYPE, VARY, choose_encoding, compress, request_params, wants_html

_MIN_COMPRESS = 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DIAG = "{http://www.loc.gov/zing/srw/diagnostic/}"
_ZR = "{http://explain.z3950.org/dtd/2.0/}"
_S = "{" + SRU1_NS + "}"
PAGE_SIZE = 10

# (Vietnamese, English) labels of the search page.
LABELS: dict[str, tuple[str, str]] = {
    "search": ("Tìm", "Search"),
    "all": ("Mọi trường", "Any field"),
    "hint": ("Gõ có dấu hoặc không dấu: “Ha Noi” tìm được “Hà Nội”.",
             "With or without diacritics: “Ha Noi” finds “Hà Nội”."),
    "cql": ("Truy vấn CQL (nâng cao)", "CQL query (advanced)"),
    "found": ("Tìm thấy", "Found"),
    "records": ("biểu ghi", "records"),
    "showing": ("Đang xem", "Showing"),
    "next": ("Trang sau", "Next"),
    "previous": ("Trang trước", "Previous"),
    "none": ("Không tìm thấy biểu ghi nào.", "No records found."),
    "problem": ("Không thực hiện được truy vấn", "The query could not be run"),
    "raw": ("Xem XML (SRU)", "View the SRU XML"),
    "oai": ("Kho OAI-PMH", "OAI-PMH repository"),
    "machines": ("Trang này dành cho người đọc; chương trình SRU nhận XML tại cùng địa chỉ.",
                 "This page is for people; SRU clients get XML at the same address."),
}

# What the diagnostics a reader can cause mean, in Vietnamese (English: the server's message).
DIAGNOSTICS_VI: dict[int, str] = {
    10: "Truy vấn sai cú pháp. Hãy gõ từ cần tìm, hoặc đặt cụm từ trong dấu ngoặc kép.",
    13: "Dấu ngoặc đơn không cân: thiếu “(” hoặc “)”.",
    14: "Dấu ngoặc kép không cân: thiếu một dấu “\"”.",
    15: "Tiền tố bộ chỉ mục (context set) không được hỗ trợ.",
    16: "Máy chủ không có chỉ mục này; hãy chọn một chỉ mục trong danh sách.",
    19: "Quan hệ so sánh này không được hỗ trợ.",
    20: "Bổ ngữ của quan hệ không được hỗ trợ (mọi tìm kiếm đều không phân biệt hoa thường, dấu).",
    27: "Chưa có từ cần tìm.",
    29: "Từ viết tắt bằng * hoặc ? quá ngắn hoặc ứng với quá nhiều từ.",
    61: "Số thứ tự bắt đầu vượt quá số biểu ghi tìm được.",
    66: "Khổ mẫu biểu ghi (recordSchema) không được hỗ trợ.",
}


@lru_cache(maxsize=1)
def _template():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from .browser import TEMPLATES

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    return env.get_template("sru_search.html")


def _text(el) -> str:
    return (el.text or "").strip() if el is not None else ""


def _indexes(explain_xml: bytes) -> list[tuple[str, str, str]]:
    """(id, Vietnamese title, English title) of the searchable indexes explain lists."""
    doc = etree.fromstring(explain_xml, _PARSER)
    out = []
    for ix in doc.iter(f"{_ZR}index"):
        titles = {t.get("lang"): _text(t) for t in ix.findall(f"{_ZR}title")}
        if ix.get("id") != "cql.allRecords":
            out.append((ix.get("id", ""), titles.get("vi", ""), titles.get("en", "")))
    return out


def page_query(params: dict[str, str]) -> str | None:
    """The CQL the page runs: ``query`` as typed, or the box's words in the chosen index."""
    if params.get("query", "").strip():
        return params["query"]
    term = params.get("x-term", "").strip()
    if not term:
        return None
    index = params.get("x-index", "cql.serverChoice") or "cql.serverChoice"
    return f"{cql.quote(index)} all {cql.quote(term.replace(chr(92), chr(92) * 2), force=True)}"


def render_search_page(server: Server, params: list[tuple[str, str]], *, base_url: str,
                       languages: str = "", oai_url: str | None = None) -> str:
    """The HTML search page for a browser's request (framework-free); ``oai_url``:
    the OAI-PMH page of the same catalogue, which the page links to."""
    from .browser import DC_LABELS, _languages, _metadata

    args = dict(params)
    first, _ = _languages(languages)
    lang_index = 0 if first == "vi" else 1
    explain = server.handle([("version", "1.2"), ("operation", "explain")], base_url=base_url)
    view: dict = {"base": base_url, "indexes": _indexes(explain.body),
                  "term": args.get("x-term", ""), "index": args.get("x-index", "cql.serverChoice"),
                  "cql": args.get("query", ""), "records": [], "diagnostics": [], "total": None}
    query = page_query(args)
    if query is not None:
        try:
            start = max(int(args.get("startRecord", "1")), 1)
        except ValueError:
            start = 1
        sru = [("version", "1.2"), ("operation", "searchRetrieve"), ("query", query),
               ("startRecord", str(start)), ("maximumRecords", str(PAGE_SIZE)),
               ("recordSchema", "dc")]
        resp = server.handle(sru, base_url=base_url)
        doc = etree.fromstring(resp.body, _PARSER)
        view["total"] = int(_text(doc.find(f"{_S}numberOfRecords")) or 0)
        view["raw"] = base_url + "?" + urlencode(sru)
        for rec in doc.iter(f"{_S}record"):
            view["records"].append({"position": _text(rec.find(f"{_S}recordPosition")),
                                    "md": _metadata(rec.find(f"{_S}recordData"))})
        for d in doc.iter(f"{_DIAG}diagnostic"):
            number = int(_text(d.find(f"{_DIAG}uri")).rsplit("/", 1)[-1] or 0)
            view["diagnostics"].append({"number": number, "details": _text(d.find(f"{_DIAG}details")),
                                        "en": _text(d.find(f"{_DIAG}message")),
                                        "vi": DIAGNOSTICS_VI.get(number, "")})
        keep = {k: v for k, v in args.items() if k in ("query", "x-term", "x-index")}
        view["start"] = start
        view["end"] = start + len(view["records"]) - 1
        nxt = _text(doc.find(f"{_S}nextRecordPosition"))
        if nxt:
            view["next"] = base_url + "?" + urlencode({**keep, "startRecord": nxt})
        if start > 1:
            view["previous"] = base_url + "?" + urlencode({**keep, "startRecord": max(start - PAGE_SIZE, 1)})
    return _template().render(v=view, L=LABELS, DC=DC_LABELS, first=first, lang_index=lang_index,
                              title=server.config.title, oai_url=oai_url)


def sru_blueprint(server: Server, name: str = "sru") -> Blueprint:
    """A blueprint answering SRU at its root (GET and POST)."""
    bp = Blueprint(name, __name__)

    def reply(body: bytes, content_type: str) -> Response:
        encoding = None
        if len(body) >= _MIN_COMPRESS:
            encoding = choose_encoding(request.headers.get("Accept-Encoding", ""), ["gzip", "deflate"])
        resp = Response(compress(body, encoding), content_type=content_type)
        if encoding:
            resp.headers["Content-Encoding"] = encoding
        resp.headers["Vary"] = VARY
        return resp

    @bp.route("", methods=["GET", "POST"], strict_slashes=False)
    def endpoint() -> Response:
        params = request_params()
        names = {k for k, _ in params}
        if (server.config.html_view and wants_html(request.headers) and "stylesheet" not in names
                and not names & {"operation", "version", "scanClause"}):
            oai_url = (url_for("oai.endpoint", verb="Identify")
                       if "oai" in current_app.blueprints else None)
            page = render_search_page(server, params, base_url=request.base_url,
                                      languages=request.headers.get("Accept-Language", ""),
                                      oai_url=oai_url)
            return reply(page.encode("utf-8"), HTML_TYPE)
        resp = server.handle(params, accept=request.headers.get("Accept", ""),
                             base_url=request.base_url)
        return reply(resp.body, resp.content_type)

    return bp


def register_sru(app, repository, config=None) -> Server:
    """Mount ``/sru`` on an app over a repository (``config``: an SRUConfig);
    the SRU server is kept in ``app.extensions["thuvien_sru"]``."""
    server = Server(repository, config)
    app.extensions["thuvien_sru"] = server
    app.register_blueprint(sru_blueprint(server), url_prefix="/sru")
    return server
