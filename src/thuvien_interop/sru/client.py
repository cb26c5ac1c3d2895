"""An SRU client for any SRU 1.1/1.2/2.0 server: iteration hides the paging.

    >>> from thuvien_interop.sru import Client
    >>> client = Client("http://127.0.0.1:8000/sru")                      # doctest: +SKIP
    >>> for record in client.search('dc.title = "Hà Nội"'):               # doctest: +SKIP
    ...     print(record.position, record.values("title"))
    >>> client.search("Ha Noi").query        # not CQL: all the words   # doctest: +SKIP
    'cql.serverChoice all "Ha Noi"'
    >>> client.scan("dc.title = ha", maximum=5)                          # doctest: +SKIP

A fatal diagnostic raises :class:`SRUError` (with the SRU number, details and
message); a record the server could not send comes with its ``diagnostic``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import requests
from lxml import etree

from ..crosswalk.dc import DC_NS
from ..httpbody import UnknownCoding, read_limited
from ..xml import SAFE_PARSER, SRU1, SRU2, SRU2_SCAN, ZEEREX
from . import cql

__all__ = ["Client", "ExplainInfo", "SRUError", "SRURecord", "ScanEntry", "SearchResults"]

_NS1, _NS2, _SCAN2, _ZR = SRU1, SRU2, SRU2_SCAN, ZEEREX
_DIAG_SCHEMA = "info:srw/schema/1/diagnostics-v1.1"


@dataclass(frozen=True, slots=True)
class ServerDiagnostic:
    """A diagnostic as the server sent it."""

    uri: str
    details: str = ""
    message: str = ""

    @property
    def number(self) -> int | None:
        tail = self.uri.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def __str__(self) -> str:
        text = f"SRU diagnostic {self.number or self.uri}: {self.message or 'no message'}"
        return text + (f" ({self.details})" if self.details else "")


class SRUError(Exception):
    """The server answered with fatal diagnostics (or not with SRU at all)."""

    def __init__(self, diagnostics: list[ServerDiagnostic], message: str | None = None) -> None:
        self.diagnostics = diagnostics
        super().__init__(message or "; ".join(str(d) for d in diagnostics))

    @property
    def number(self) -> int | None:
        return self.diagnostics[0].number if self.diagnostics else None


@dataclass(slots=True)
class SRURecord:
    """One record of a result: its position, schema and data (an lxml element)."""

    position: int | None
    schema: str
    element: etree._Element | None
    diagnostic: ServerDiagnostic | None = None

    @property
    def xml(self) -> bytes:
        return b"" if self.element is None else etree.tostring(self.element, encoding="utf-8")

    def values(self, name: str, namespace: str = DC_NS) -> list[str]:
        """Texts of the elements named ``name`` (Dublin Core by default)."""
        if self.element is None:
            return []
        return [(e.text or "").strip() for e in self.element.iter(f"{{{namespace}}}{name}")]


@dataclass(frozen=True, slots=True)
class ScanEntry:
    value: str
    count: int | None
    display: str | None


@dataclass(slots=True)
class ExplainInfo:
    """What explain says: titles, indexes (id → title), schemas, the raw record."""

    titles: dict[str, str]
    indexes: dict[str, str]
    schemas: dict[str, str]
    element: etree._Element | None = field(repr=False, default=None)


def _t(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _first(root: etree._Element, local: str) -> etree._Element | None:
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == local:
            return el
    return None


def _children(el: etree._Element, local: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == local]


def _diagnostics(root: etree._Element) -> list[ServerDiagnostic]:
    out = []
    for box in root:
        if isinstance(box.tag, str) and etree.QName(box).localname == "diagnostics":
            for d in box:
                if not isinstance(d.tag, str):
                    continue
                parts = {etree.QName(c).localname: _t(c) for c in d if isinstance(c.tag, str)}
                out.append(ServerDiagnostic(parts.get("uri", ""), parts.get("details", ""),
                                            parts.get("message", "")))
    return out


class SearchResults:
    """The records of a search, fetched page by page as you iterate.

    ``total`` is ``numberOfRecords`` (known after the first page is read).
    """

    def __init__(self, client: Client, query: str, schema: str | None, page_size: int,
                 start: int, limit: int | None, extra: dict[str, str]) -> None:
        self.client = client
        self.query = query
        self.schema = schema
        self.page_size = page_size
        self.start = start
        self.limit = limit
        self.extra = extra
        self.total: int | None = None
        self.warnings: list[ServerDiagnostic] = []
        self.read_as_words: str | None = None
        """Why the query was not CQL, when it was sent as plain words (``query`` is the CQL sent)."""

    def __iter__(self) -> Iterator[SRURecord]:
        position = self.start
        given = 0
        while True:
            params = {"operation": "searchRetrieve", "query": self.query,
                      "startRecord": str(position), **self.extra}
            size = self.page_size
            if self.limit is not None:
                size = min(size, self.limit - given)
            params["maximumRecords"] = str(size)
            if self.schema:
                params["recordSchema"] = self.schema
            root = self.client._request(params)
            diags = _diagnostics(root)
            total = _first(root, "numberOfRecords")
            records_box = next((c for c in root if isinstance(c.tag, str)
                                and etree.QName(c).localname == "records"), None)
            records = _children(records_box, "record") if records_box is not None else []
            if diags and not records and (total is None or _t(total) in ("", "0")):
                raise SRUError(diags)
            self.warnings.extend(diags)
            self.total = int(_t(total) or 0) if total is not None else None
            for rec in records:
                yield self.client._record(rec)
                given += 1
                if self.limit is not None and given >= self.limit:
                    return
            nxt = next((c for c in root if isinstance(c.tag, str)
                        and etree.QName(c).localname == "nextRecordPosition"), None)
            if not records:
                return
            if nxt is not None and _t(nxt).isdigit():
                position = int(_t(nxt))
            elif self.total is not None and position + len(records) <= self.total:
                # Some servers (Zebra) leave nextRecordPosition out: count ourselves.
                position += len(records)
            else:
                return


class Client:
    """A client of one SRU endpoint (``version`` 1.1, 1.2 or 2.0)."""

    def __init__(self, url: str, *, version: str = "1.2", timeout: float = 30.0,
                 session: requests.Session | None = None, method: str = "GET",
                 max_bytes: int = 256 << 20) -> None:
        self.url = url
        self.version = version
        self.timeout = timeout
        self.session = session or requests.Session()
        self.method = method.upper()
        self.max_bytes = max_bytes
        """The largest answer read (decompressed); a larger one is an :class:`SRUError`."""

    def _request(self, params: dict[str, str]) -> etree._Element:
        if not self.version.startswith("2"):
            params = {"version": self.version, **params}
        else:
            params = {k: v for k, v in params.items() if k != "operation"}
        # (What our decoder reads, asked of each request: a session given to us is
        # the caller's, its headers theirs.)
        headers = {"Accept-Encoding": "gzip, deflate"}
        if self.method == "POST":
            resp = self.session.post(self.url, data=params, timeout=self.timeout, stream=True,
                                     headers=headers)
        else:
            resp = self.session.get(self.url, params=params, timeout=self.timeout, stream=True,
                                    headers=headers)
        # Read a step at a time and no further than max_bytes, decompressed by our
        # own bounded decoder (a compression bomb is refused, not inflated).
        with resp:
            try:
                body = read_limited(resp, self.max_bytes)
            except UnknownCoding as exc:
                raise SRUError([], f"{self.url} answered compressed as {str(exc)!r}, which "
                               "cannot be read (gzip and deflate can)") from None
        if len(body) > self.max_bytes:
            raise SRUError([], f"{self.url} answered with more than {self.max_bytes >> 20} MB "
                           "(Client(max_bytes=...) reads more)")
        # Some servers (Zebra) send a diagnostic with an HTTP error status (SRU 2.0
        # allows it): an SRU body is read whatever the status.
        try:
            root = etree.fromstring(body, SAFE_PARSER)
        except etree.XMLSyntaxError:
            root = None
        if root is None or etree.QName(root).namespace not in (_NS1, _NS2, _SCAN2):
            raise SRUError([], f"{self.url} did not answer with SRU (HTTP {resp.status_code}, "
                           f"{resp.headers.get('Content-Type', 'no content type')})")
        return root

    def _record(self, rec: etree._Element) -> SRURecord:
        parts = {etree.QName(c).localname: c for c in rec if isinstance(c.tag, str)}
        schema = _t(parts.get("recordSchema"))
        pos = _t(parts.get("recordPosition"))
        data = parts.get("recordData")
        element = None
        if data is not None:
            kids = [c for c in data if isinstance(c.tag, str)]
            if kids:
                element = kids[0]
            elif (data.text or "").strip():
                # recordPacking=string / recordXMLEscaping=string: the record is text.
                element = etree.fromstring(data.text.strip().encode("utf-8"), SAFE_PARSER)
        diagnostic = None
        if schema == _DIAG_SCHEMA and element is not None:
            fields = {etree.QName(c).localname: _t(c) for c in element if isinstance(c.tag, str)}
            diagnostic = ServerDiagnostic(fields.get("uri", ""), fields.get("details", ""),
                                          fields.get("message", ""))
            element = None
        return SRURecord(int(pos) if pos.isdigit() else None, schema, element, diagnostic)

    def search(self, query: str, *, schema: str | None = "dc", page_size: int = 10,
               start: int = 1, limit: int | None = None, plain_words: bool = True,
               **extra: str) -> SearchResults:
        """Iterate the records a query finds, across pages.

        ``query`` is CQL or, when it is not valid CQL, plain words: ``Ha Noi`` is
        sent as ``cql.serverChoice all "Ha Noi"`` (``results.read_as_words`` is then
        the reason it was not CQL; ``plain_words=False`` sends it as it is).
        ``page_size`` is ``maximumRecords`` per request (always sent: some servers
        return no records without it); ``limit`` stops after that many records; ``extra`` are more SRU
        parameters (``sortKeys``, ``x-…``).

            >>> client.search("Truyện Kiều Nguyễn Du").query                 # doctest: +SKIP
            'cql.serverChoice all "Truyện Kiều Nguyễn Du"'
        """
        words: str | None = None
        if plain_words:
            read = cql.people_query(query)
            if read.as_words:
                query, words = read.cql, read.problem or "not CQL"
        results = SearchResults(self, query, schema, page_size, start, limit, extra)
        results.read_as_words = words
        return results

    def count(self, query: str) -> int:
        """``numberOfRecords`` of a query (no records fetched)."""
        root = self._request({"operation": "searchRetrieve", "query": query, "maximumRecords": "0"})
        total = _first(root, "numberOfRecords")
        diags = _diagnostics(root)
        if diags and (total is None or _t(total) in ("", "0")):
            raise SRUError(diags)
        return int(_t(total) or 0)

    def scan(self, clause: str, *, position: int = 1, maximum: int = 20) -> list[ScanEntry]:
        """The terms of an index around a start term (``dc.title = ha``), with counts."""
        root = self._request({"operation": "scan", "scanClause": clause,
                              "responsePosition": str(position), "maximumTerms": str(maximum)})
        diags = _diagnostics(root)
        if diags:
            raise SRUError(diags)
        out = []
        for term in root.iter():
            if isinstance(term.tag, str) and etree.QName(term).localname == "term":
                parts = {etree.QName(c).localname: _t(c) for c in term if isinstance(c.tag, str)}
                if "value" not in parts:
                    continue
                count = parts.get("numberOfRecords")
                out.append(ScanEntry(parts["value"], int(count) if count and count.isdigit() else None,
                                     parts.get("displayTerm")))
        return out

    def explain(self) -> ExplainInfo:
        """The server's explain record, read into titles, indexes and schemas."""
        root = self._request({"operation": "explain"})
        diags = _diagnostics(root)
        zr = next(root.iter(f"{{{_ZR}}}explain"), None)
        if zr is None:
            raise SRUError(diags, f"{self.url} sent no explain record")
        titles = {t.get("lang", ""): _t(t) for t in zr.iter(f"{{{_ZR}}}title")
                  if t.getparent().tag == f"{{{_ZR}}}databaseInfo"}
        indexes = {}
        for ix in zr.iter(f"{{{_ZR}}}index"):
            name = ix.get("id")
            if not name:
                n = next(ix.iter(f"{{{_ZR}}}name"), None)
                name = f"{n.get('set', '')}.{_t(n)}" if n is not None else ""
            title = next((_t(t) for t in ix.findall(f"{{{_ZR}}}title")
                          if t.get("lang") in (None, "en")), "")
            indexes[name] = title
        schemas = {s.get("name", ""): s.get("identifier", "") for s in zr.iter(f"{{{_ZR}}}schema")}
        return ExplainInfo(titles, indexes, schemas, zr)
