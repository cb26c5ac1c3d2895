"""The HTML page a librarian sees when opening the OAI-PMH base URL in a browser.

Rendered on the server from the very XML response a harvester gets (browsers are
dropping client-side XSLT), in Vietnamese and English. Framework-free: XML bytes
in, an HTML page out.

    >>> page = render_page(b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    ...     b'<responseDate>2024-01-01T00:00:00Z</responseDate><request>http://x/oai</request>'
    ...     b'<error code="badVerb">no verb</error></OAI-PMH>', [], raw_url="http://x/oai/xml")
    >>> "badVerb" in page and 'href="http://x/oai/xml"' in page
    True
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from lxml import etree

from .. import xml as ns

OAI = "{" + ns.OAI + "}"
DC = "{" + ns.DC + "}"
MARC = "{" + ns.MARC21 + "}"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Our own output, but parsed the safe way all the same (ARCHITECTURE.md, "Safe XML").
_PARSER = ns.SAFE_PARSER

# (Vietnamese, English) for every label of the page.
LABELS: dict[str, tuple[str, str]] = {
    "Identify": ("Giới thiệu kho", "About this repository"),
    "ListSets": ("Bộ sưu tập", "Sets"),
    "ListMetadataFormats": ("Định dạng siêu dữ liệu", "Metadata formats"),
    "ListRecords": ("Biểu ghi", "Records"),
    "ListIdentifiers": ("Định danh", "Identifiers"),
    "GetRecord": ("Biểu ghi", "Record"),
    "error": ("Lỗi", "Error"),
    "raw": ("Xem XML gốc", "View the raw XML"),
    "next": ("Trang sau", "Next page"),
    "deleted": ("Đã xoá", "Deleted"),
    "shown": ("Đang xem", "Showing"),
    "of": ("trên", "of"),
    "identifier": ("Định danh", "Identifier"),
    "datestamp": ("Ngày cập nhật", "Datestamp"),
    "sets": ("Thuộc bộ", "Sets"),
    "records": ("Xem biểu ghi", "View records"),
    "harvester": ("Trang này dành cho người đọc; máy thu thập (harvester) nhận XML.",
                  "This page is for people; harvesters receive the XML."),
    "expires": ("Hết hạn", "Expires"),
    "search": ("Tra cứu (SRU)", "Search (SRU)"),
    "unsearchable": ("Kho này được đọc trực tiếp từ cơ sở dữ liệu của thư viện, không tra cứu "
                     "được bằng SRU. Lệnh thuvien-interop sync chép nó vào một kho tra cứu được.",
                     "This catalogue is read live from the library's database, which cannot be "
                     "searched over SRU. The command thuvien-interop sync copies it into a store "
                     "that can."),
}

# What each error means, for a person (OAI-PMH 2.0 §3.6).
ERRORS: dict[str, tuple[str, str]] = {
    "badArgument": ("Yêu cầu thiếu, thừa, lặp tham số hoặc tham số sai cú pháp.",
                    "The request has an illegal, missing, repeated or malformed argument."),
    "badResumptionToken": ("Mã tiếp tục (resumptionToken) không hợp lệ hoặc đã hết hạn.",
                           "The resumptionToken is invalid or has expired."),
    "badVerb": ("Thiếu động từ (verb), động từ bị lặp hoặc không phải động từ OAI-PMH.",
                "The verb is missing, repeated, or not an OAI-PMH verb."),
    "cannotDisseminateFormat": ("Kho không cung cấp định dạng siêu dữ liệu này.",
                                "The repository does not offer this metadata format."),
    "idDoesNotExist": ("Không có biểu ghi nào mang định danh này.",
                       "There is no record with this identifier."),
    "noRecordsMatch": ("Không có biểu ghi nào thoả các điều kiện (ngày, bộ sưu tập, định dạng).",
                       "No records match these arguments (dates, set, format)."),
    "noMetadataFormats": ("Biểu ghi này không có định dạng siêu dữ liệu nào.",
                          "This record has no metadata format."),
    "noSetHierarchy": ("Kho không tổ chức biểu ghi theo bộ sưu tập.",
                       "The repository does not organise records in sets."),
}

DC_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Nhan đề", "Title"), "creator": ("Tác giả", "Creator"),
    "subject": ("Chủ đề", "Subject"), "description": ("Mô tả", "Description"),
    "publisher": ("Nhà xuất bản", "Publisher"), "contributor": ("Đóng góp", "Contributor"),
    "date": ("Ngày", "Date"), "type": ("Loại", "Type"), "format": ("Khổ mẫu", "Format"),
    "identifier": ("Định danh", "Identifier"), "source": ("Nguồn", "Source"),
    "language": ("Ngôn ngữ", "Language"), "relation": ("Liên kết", "Relation"),
    "coverage": ("Phạm vi", "Coverage"), "rights": ("Bản quyền", "Rights"),
}


# Identify's elements, in words (OAI-PMH 2.0 §4.2), and what some values mean.
IDENTIFY_LABELS: dict[str, tuple[str, str]] = {
    "repositoryName": ("Tên kho", "Repository name"),
    "baseURL": ("Địa chỉ thu thập", "Base URL"),
    "protocolVersion": ("Phiên bản OAI-PMH", "OAI-PMH version"),
    "adminEmail": ("Thư điện tử quản trị", "Administrator e-mail"),
    "earliestDatestamp": ("Biểu ghi sớm nhất", "Earliest record"),
    "deletedRecord": ("Biểu ghi đã xoá", "Deleted records"),
    "granularity": ("Độ chi tiết ngày giờ", "Datestamp granularity"),
    "compression": ("Nén", "Compression"),
    "oai-identifier": ("Định danh biểu ghi", "Record identifiers"),
    "friends": ("Kho bạn", "Friends"),
    "branding": ("Biểu trưng", "Branding"),
    "description": ("Mô tả", "Description"),
}
_VALUES: dict[str, tuple[str, str]] = {
    "persistent": ("giữ lại, đánh dấu đã xoá", "kept, marked as deleted"),
    "transient": ("có thể giữ lại một thời gian", "may be kept for a while"),
    "no": ("không giữ lại", "not kept"),
    "YYYY-MM-DDThh:mm:ssZ": ("đến giây", "to the second"),
    "YYYY-MM-DD": ("đến ngày", "to the day"),
}


def _identify_rows(body) -> list[tuple[tuple[str, str], str, tuple[str, str] | None]]:
    """(label in both languages, value, what the value means or None) for each of
    Identify's elements; repeated ones (adminEmail, compression) on one row."""
    rows: dict[str, list] = {}
    examples: dict[str, tuple[str, str]] = {}
    for c in body:
        if not isinstance(c.tag, str):
            continue
        name = etree.QName(c).localname
        if name == "description":
            inner = c[0] if len(c) else None
            if inner is None:
                continue
            kind = etree.QName(inner).localname
            values = {etree.QName(x).localname: _text(x) for x in inner.iter()
                      if isinstance(x.tag, str) and x is not inner and _text(x)}
            if kind == "oai-identifier":
                sample = values.get("sampleIdentifier", "")
                rows["oai-identifier"] = [f"oai:{values.get('repositoryIdentifier', '')}:…"]
                examples[kind] = (f"ví dụ {sample}", f"for example {sample}")
                continue
            if kind == "friends":
                value = ", ".join(_text(x) for x in inner if isinstance(x.tag, str))
            else:
                value = "; ".join(f"{k}: {v}" for k, v in values.items())
            rows.setdefault(kind if kind in IDENTIFY_LABELS else "description", []).append(value)
        elif name != "repositoryName":
            rows.setdefault(name, []).append(_text(c))
    return [(IDENTIFY_LABELS.get(name, (name, name)), ", ".join(values),
             examples.get(name) or (_VALUES.get(values[0]) if len(values) == 1 else None))
            for name, values in rows.items()]


@lru_cache(maxsize=1)
def _template():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    return env.get_template("oai_browser.html")


def _text(el) -> str:
    return (el.text or "").strip() if el is not None else ""


def _header(h) -> dict:
    return {
        "identifier": _text(h.find(f"{OAI}identifier")),
        "datestamp": _text(h.find(f"{OAI}datestamp")),
        "sets": [_text(s) for s in h.findall(f"{OAI}setSpec")],
        "deleted": h.get("status") == "deleted",
    }


def _metadata(md) -> dict:
    """A readable form of one record's metadata: DC as label/value rows, MARC as
    tagged lines, anything else as indented XML."""
    if md is None or not len(md):
        return {"kind": "none"}
    root = md[0]
    if root.tag.startswith(DC) or any(c.tag.startswith(DC) for c in root):
        rows = [(DC_LABELS.get(etree.QName(c).localname, (etree.QName(c).localname,) * 2),
                 (c.text or "").strip()) for c in root if isinstance(c.tag, str)]
        return {"kind": "dc", "rows": rows,
                "title": next((v for (lab, v) in rows if lab == DC_LABELS["title"]), "")}
    if root.tag == f"{MARC}record":
        lines = []
        leader = root.find(f"{MARC}leader")
        if leader is not None:
            lines.append(("LDR", "", leader.text or ""))
        for f in root:
            if f.tag == f"{MARC}controlfield":
                lines.append((f.get("tag", ""), "", f.text or ""))
            elif f.tag == f"{MARC}datafield":
                ind = (f.get("ind1", " ") + f.get("ind2", " ")).replace(" ", "#")
                subs = " ".join(f"${s.get('code', '')} {s.text or ''}" for s in f)
                lines.append((f.get("tag", ""), ind, subs))
        title = ""
        for f in root.findall(f"{MARC}datafield[@tag='245']"):
            title = " ".join((s.text or "") for s in f if s.get("code") in ("a", "b")).strip(" /:;")
        return {"kind": "marc", "lines": lines, "title": title}
    etree.indent(root, space="  ")
    return {"kind": "xml", "xml": etree.tostring(root, encoding="unicode")}


def page_language(chosen: str, accept_language: str) -> str:
    """``vi`` or ``en`` for a page: ``chosen`` (the address's ``lang``) when it is one
    of them, else the browser's first choice (Vietnamese unless it prefers English)."""
    if chosen in ("vi", "en"):
        return chosen
    return _languages(accept_language)[0]


def _languages(accept_language: str) -> tuple[str, str]:
    """(first, second) of "vi"/"en": Vietnamese first unless the browser prefers English."""
    for part in accept_language.lower().split(","):
        tag = part.strip()[:2]
        if tag == "en":
            return ("en", "vi")
        if tag == "vi":
            break
    return ("vi", "en")


def render_page(xml: bytes, params: list[tuple[str, str]], *, raw_url: str,
                languages: str = "", search_url: str | None = None,
                unsearchable: bool = False) -> str:
    """The HTML page of one OAI-PMH response; ``raw_url`` serves the same
    request as XML (the page links to it with the request's arguments).
    ``search_url``: the SRU search page the navigation links to; ``unsearchable``:
    the repository cannot be searched (a live source), which Identify's page says."""
    doc = etree.fromstring(xml, _PARSER)
    request = doc.find(f"{OAI}request")
    base = _text(request)
    query = urlencode(params)
    first, _second = _languages(languages)

    def link(**args: str) -> str:
        return base + "?" + urlencode(args)

    view: dict = {"base": base, "raw": raw_url + ("?" + query if query else ""),
                  "search": search_url, "unsearchable": unsearchable,
                  "date": _text(doc.find(f"{OAI}responseDate")),
                  "errors": [], "verb": request.get("verb") if request is not None else None}
    errors = doc.findall(f"{OAI}error")
    if errors:
        view["errors"] = [{"code": e.get("code", ""), "message": _text(e),
                           "explain": ERRORS.get(e.get("code", ""), ("", ""))} for e in errors]
        view["verb"] = dict(params).get("verb") if len(errors) else view["verb"]
    body = next((c for c in doc if isinstance(c.tag, str) and c.tag.startswith(OAI)
                 and etree.QName(c).localname in LABELS and c.tag != f"{OAI}error"), None)
    verb = etree.QName(body).localname if body is not None else None
    view["kind"] = verb
    if verb == "Identify":
        view["rows"] = _identify_rows(body)
        view["name"] = _text(body.find(f"{OAI}repositoryName"))
    elif verb == "ListSets":
        view["sets"] = [{"spec": _text(s.find(f"{OAI}setSpec")), "name": _text(s.find(f"{OAI}setName")),
                         "description": " ".join(_text(d) for d in s.iter(f"{DC}description")),
                         "href": link(verb="ListRecords", metadataPrefix="oai_dc",
                                      set=_text(s.find(f"{OAI}setSpec")))}
                        for s in body.findall(f"{OAI}set")]
    elif verb == "ListMetadataFormats":
        view["formats"] = [{"prefix": _text(f.find(f"{OAI}metadataPrefix")),
                            "schema": _text(f.find(f"{OAI}schema")),
                            "namespace": _text(f.find(f"{OAI}metadataNamespace")),
                            "href": link(verb="ListRecords",
                                         metadataPrefix=_text(f.find(f"{OAI}metadataPrefix")))}
                           for f in body.findall(f"{OAI}metadataFormat")]
    elif verb in ("ListRecords", "GetRecord", "ListIdentifiers"):
        prefix = request.get("metadataPrefix") if request is not None else None
        records = []
        headers = body.findall(f"{OAI}header") if verb == "ListIdentifiers" else [
            r.find(f"{OAI}header") for r in body.findall(f"{OAI}record")]
        mds = [None] * len(headers) if verb == "ListIdentifiers" else [
            r.find(f"{OAI}metadata") for r in body.findall(f"{OAI}record")]
        for h, md in zip(headers, mds, strict=True):
            rec = _header(h)
            rec["metadata"] = _metadata(md) if verb != "ListIdentifiers" else {"kind": "none"}
            rec["href"] = link(verb="GetRecord", identifier=rec["identifier"],
                               metadataPrefix=prefix or "oai_dc")
            records.append(rec)
        view["records"] = records
    token = body.find(f"{OAI}resumptionToken") if body is not None else None
    if token is not None:
        t = _text(token)
        size, cursor = token.get("completeListSize"), token.get("cursor")
        shown = len(view.get("records", view.get("sets", [])))
        view["page"] = {"cursor": int(cursor) if cursor and cursor.isdigit() else None,
                        "size": size, "shown": shown, "expires": token.get("expirationDate"),
                        "next": link(verb=verb, resumptionToken=t) if t and verb else None}
    return _template().render(v=view, L=LABELS, first=first, lang_index=0 if first == "vi" else 1)
