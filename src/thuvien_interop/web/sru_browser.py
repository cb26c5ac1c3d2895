"""The HTML page a person sees when a browser opens an SRU address (explain,
searchRetrieve or scan, any version): rendered on the server from the very XML
response an SRU client gets, as the OAI-PMH view is (:mod:`.browser`), in
Vietnamese and English, with a link to that XML.

    >>> page = render_sru_page(b'<?xml version="1.0"?><sru:searchRetrieveResponse '
    ...     b'xmlns:sru="http://docs.oasis-open.org/ns/search-ws/sruResponse">'
    ...     b'<sru:numberOfRecords>0</sru:numberOfRecords></sru:searchRetrieveResponse>',
    ...     [("query", "x")], raw_url="http://h/sru/xml", home="/")
    >>> "0" in page and 'href="http://h/sru/xml?query=x"' in page
    True
"""

from __future__ import annotations

from urllib.parse import urlencode

from lxml import etree

from .. import xml
from .browser import _PARSER, DC, MARC, _languages
from .reader import _template

__all__ = ["render_sru_page"]

_ZEEREX = "{" + xml.ZEEREX + "}"
_FACET = "{" + xml.SRU2_FACETS + "}"

LABELS: dict[str, tuple[str, str]] = {
    "explain": ("Giới thiệu dịch vụ tra cứu SRU", "About this SRU service"),
    "searchRetrieve": ("Kết quả tìm (SRU)", "Search results (SRU)"),
    "scan": ("Danh sách thuật ngữ (SRU scan)", "Index terms (SRU scan)"),
    "raw": ("Xem XML gốc", "View the raw XML"),
    "for_people": ("Trang này dành cho người đọc; phần mềm SRU nhận XML.",
                   "This page is for people; SRU clients receive the XML."),
    "home": ("Trang tìm kiếm", "The search page"),
    "found": ("Số biểu ghi tìm được", "Records found"),
    "query": ("Truy vấn", "Query"),
    "next": ("Trang sau", "Next page"),
    "previous": ("Trang trước", "Previous page"),
    "indexes": ("Chỉ mục tìm kiếm", "Search indexes"),
    "index": ("Chỉ mục", "Index"),
    "name": ("Tên CQL", "CQL name"),
    "scan_it": ("Duyệt", "Browse"),
    "schemas": ("Khổ mẫu biểu ghi", "Record schemas"),
    "settings": ("Thiết lập", "Settings"),
    "server": ("Máy chủ", "Server"),
    "term": ("Thuật ngữ", "Term"),
    "records": ("Biểu ghi", "Records"),
    "error": ("Chẩn đoán (diagnostic)", "Diagnostic"),
    "facets": ("Phân nhóm kết quả", "Facets"),
    "identifier": ("Định danh", "Identifier"),
    "record_page": ("Trang biểu ghi", "Record page"),
}


def _local(el) -> str:
    return etree.QName(el).localname


def _child(el, name: str):
    return next((c for c in el if isinstance(c.tag, str) and _local(c) == name), None)


def _text(el, name: str | None = None) -> str:
    if name is not None:
        el = _child(el, name) if el is not None else None
    return "".join(el.itertext()).strip() if el is not None else ""


def _title(data) -> tuple[str, str]:
    """(title, identifier) of one record's data: DC, MARCXML or MODS."""
    if data is None or not len(data):
        return "", ""
    root = data[0]
    if root.tag == f"{MARC}record":
        title = " ".join(" ".join((s.text or "") for s in f if s.get("code") in ("a", "b"))
                         for f in root.findall(f"{MARC}datafield[@tag='245']")).strip(" /:;")
        ident = root.findtext(f"{MARC}controlfield[@tag='001']") or ""
        return title, ident
    dc_title = root.findtext(f"{DC}title")
    if dc_title is not None:
        return dc_title.strip(), (root.findtext(f"{DC}identifier") or "").strip()
    mods = next((e for e in root.iter() if isinstance(e.tag, str) and _local(e) == "title"), None)
    return _text(mods), ""


def _diagnostics(doc) -> list[dict]:
    out = []
    for d in doc.iter():
        if isinstance(d.tag, str) and _local(d) == "diagnostic":
            uri = _text(d, "uri")
            out.append({"number": uri.rsplit("/", 1)[-1], "message": _text(d, "message"),
                        "details": _text(d, "details")})
    return out


def render_sru_page(xml: bytes, params: list[tuple[str, str]], *, raw_url: str, home: str,
                    languages: str = "", record_base: str | None = None) -> str:
    """The HTML page of one SRU response; ``raw_url`` serves the same request as
    XML (linked with the request's arguments), ``home`` is the readers' search
    page; ``record_base``: where record pages are (``/record``), to link hits."""
    doc = etree.fromstring(xml, _PARSER)
    kind = _local(doc).removesuffix("Response")
    first, _ = _languages(languages)
    lang = 0 if first == "vi" else 1
    args = dict(params)

    def link(**change: str) -> str:
        merged = {**args, **change}
        return "?" + urlencode({k: v for k, v in merged.items() if v != ""})

    view: dict = {"kind": kind, "code": first, "home": home,
                  "raw": raw_url + ("?" + urlencode(params) if params else ""),
                  "diagnostics": _diagnostics(doc)}
    version = args.get("version", "")
    if kind == "explain":
        ex = next(doc.iter(f"{_ZEEREX}explain"), None)
        if ex is not None:
            titles = {t.get("lang"): _text(t) for t in ex.iter(f"{_ZEEREX}title")
                      if t.getparent() is not None and _local(t.getparent()) == "databaseInfo"}
            view["title"] = titles.get(first) or next(iter(titles.values()), "")
            info = ex.find(f"{_ZEEREX}serverInfo")
            view["server"] = (f"{_text(info, 'host')}:{_text(info, 'port')}/{_text(info, 'database')}"
                              if info is not None else "")
            view["indexes"] = []
            for ix in ex.iter(f"{_ZEEREX}index"):
                names = {t.get("lang"): _text(t) for t in ix.findall(f"{_ZEEREX}title")}
                name = ix.get("id", "")
                view["indexes"].append({
                    "title": names.get(first) or names.get("en") or name, "name": name,
                    "scan": link(operation="scan", version=version or "1.2", scanClause=f'{name} = ""',
                                 recordPacking="") if ix.get("scan") == "true" else None})
            view["schemas"] = [{"name": s.get("name", ""), "uri": s.get("identifier", ""),
                                "title": _text(s, "title")} for s in ex.iter(f"{_ZEEREX}schema")]
            view["settings"] = [(c.get("type", ""), _text(c)) for c in ex.iter(f"{_ZEEREX}default",
                                                                              f"{_ZEEREX}setting")]
    elif kind == "searchRetrieve":
        view["total"] = _text(doc, "numberOfRecords")
        view["query"] = args.get("query", "")
        hits = []
        for rec in doc.iter():
            if not (isinstance(rec.tag, str) and _local(rec) == "record" and rec.getparent() is not None
                    and _local(rec.getparent()) == "records"):
                continue
            title, ident = _title(_child(rec, "recordData"))
            hits.append({"position": _text(rec, "recordPosition"), "title": title or "—",
                         "schema": _text(rec, "recordSchema"), "identifier": ident})
        view["hits"] = hits
        nxt = _text(doc, "nextRecordPosition")
        if nxt:
            view["next"] = link(startRecord=nxt)
        start = int(args.get("startRecord", "1")) if args.get("startRecord", "1").isdigit() else 1
        if start > 1:
            size = args.get("maximumRecords", "")
            step = int(size) if size.isdigit() and int(size) else max(len(hits), 1)
            view["previous"] = link(startRecord=str(max(start - step, 1)))
        view["facets"] = [{"label": _text(f, "facetDisplayLabel") or _text(f, "index"),
                           "terms": [{"term": _text(t, "actualTerm"), "count": _text(t, "count"),
                                      "href": link(query=_text(t, "query"), startRecord="")}
                                     for t in f.iter(f"{_FACET}term")]}
                          for f in doc.iter(f"{_FACET}facet")]
    elif kind == "scan":
        clause = args.get("scanClause", "")
        index = clause.split("=", 1)[0].strip() if "=" in clause else clause.split(" ", 1)[0]
        view["clause"] = clause
        terms = []
        for t in doc.iter():
            if isinstance(t.tag, str) and _local(t) == "term" and _child(t, "value") is not None:
                value = _text(t, "value")
                quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                terms.append({"display": _text(t, "displayTerm") or value, "count": _text(t, "numberOfRecords"),
                              "href": "?" + urlencode({"operation": "searchRetrieve",
                                                       "version": version or "1.2",
                                                       "query": f"{index} == {quoted}"})})
        view["terms"] = terms
        if terms:
            last = terms[-1]["display"]
            view["next"] = link(scanClause=f'{index} = "{last}"', responsePosition="0")
    return _template("sru_browser.html").render(v=view, L=LABELS, lang=lang)
