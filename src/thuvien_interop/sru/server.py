"""The SRU engine: explain, searchRetrieve and scan in SRU 1.1, 1.2 and 2.0.

Framework-free like the OAI-PMH provider: it takes the request's (name, value)
pairs and the Accept header and returns the response document. Every problem is
a diagnostic inside a valid response, never an exception or an HTTP error.

    >>> server = Server(store)                                              # doctest: +SKIP
    >>> r = server.handle([("version", "1.2"), ("operation", "searchRetrieve"),
    ...                    ("query", 'dc.title = "Hà Nội"')])                # doctest: +SKIP
    >>> r.content_type, r.body[:38]                                         # doctest: +SKIP
    ('text/xml; charset=utf-8', b'<?xml version="1.0" encoding="UTF-8"?>')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lxml import etree

from .. import xml as ns
from ..store import search_plan
from ..store.base import Repository, StoreUnavailable, time_budget
from ..xml import SAFE_PARSER, xml_text
from . import cql
from .config import RecordSchema, SRUConfig, schema_by_name, served_schemas
from .diagnostics import FATAL_FOR_QUERY, Diagnostic, too_slow
from .explain import ZEEREX_NS, explain_record
from .facets import FACET_PARAMETERS, FacetTerm, parse_facet_parameters
from .facets import count as count_facets
from .facets import label as facet_label
from .translate import clause_index, parse_sort_keys, to_plan

__all__ = ["SRUResponse", "Server", "SRU1_NS", "SRU2_NS", "SRU2_SCAN_NS", "SRU2_MEDIA_TYPE"]

logger = logging.getLogger(__name__)

SRU1_NS = ns.SRU1
DIAG1_NS = ns.DIAG1
SRU2_NS = ns.SRU2
SRU2_SCAN_NS = ns.SRU2_SCAN
SRU2_FACET_NS = ns.SRU2_FACETS
DIAG2_NS = ns.DIAG2
SRU2_MEDIA_TYPE = "application/sru+xml"
DIAG_SCHEMA = "info:srw/schema/1/diagnostics-v1.1"
_SRW_DC_NS = "info:srw/schema/1/dc-schema"

# The parameters each operation takes, by major version (SRU 1.2 §5, SRU 2.0 part 3 §4).
_COMMON = {"operation", "version", "stylesheet", "extraRequestData"}
PARAMETERS: dict[tuple[str, str], frozenset[str]] = {
    ("1", "explain"): frozenset(_COMMON | {"recordPacking"}),
    ("1", "searchRetrieve"): frozenset(_COMMON | {
        "query", "startRecord", "maximumRecords", "recordPacking", "recordSchema", "recordXPath",
        "resultSetTTL", "sortKeys"}),
    ("1", "scan"): frozenset(_COMMON | {"scanClause", "responsePosition", "maximumTerms"}),
    ("2", "explain"): frozenset(_COMMON | {"recordXMLEscaping", "recordPacking", "httpAccept"}),
    ("2", "searchRetrieve"): frozenset(_COMMON | {
        "queryType", "query", "startRecord", "maximumRecords", "recordXMLEscaping", "recordPacking",
        "recordSchema", "resultSetTTL", "sortKeys", "renderedBy", "httpAccept", "responseType",
        *FACET_PARAMETERS}),
    ("2", "scan"): frozenset(_COMMON | {"scanClause", "responsePosition", "maximumTerms",
                                         "httpAccept"}),
}


@dataclass(slots=True)
class SRUResponse:
    """The response document, its media type, and what it answered."""

    body: bytes
    content_type: str
    version: str
    operation: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


_t = xml_text


class _Writer:
    """Element names and envelopes of one SRU version."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.v2 = version.startswith("2")
        self.ns = SRU2_NS if self.v2 else SRU1_NS
        self.p = "sru" if self.v2 else "srw"
        self.diag_ns = DIAG2_NS if self.v2 else DIAG1_NS

    def el(self, name: str, content: str) -> str:
        return f"<{self.p}:{name}>{content}</{self.p}:{name}>"

    def open(self, root: str, ns: str | None = None, prefix: str | None = None) -> str:
        p = prefix or self.p
        head = f"<{p}:{root} xmlns:{p}=\"{ns or self.ns}\""
        if p != self.p:
            head += f" xmlns:{self.p}=\"{self.ns}\""
        head += ">"
        if not self.v2:
            head += self.el("version", self.version)
        return head

    def diagnostic(self, d: Diagnostic) -> str:
        inner = f"<diag:uri>{_t(d.uri)}</diag:uri>"
        if d.details:
            inner += f"<diag:details>{_t(d.details)}</diag:details>"
        inner += f"<diag:message>{_t(d.message)}</diag:message>"
        return f'<diag:diagnostic xmlns:diag="{self.diag_ns}">{inner}</diag:diagnostic>'

    def diagnostics(self, diags: list[Diagnostic], prefix: str | None = None) -> str:
        if not diags:
            return ""
        p = prefix or self.p
        return f"<{p}:diagnostics>" + "".join(self.diagnostic(d) for d in diags) + f"</{p}:diagnostics>"

    def record(self, schema: str, data: str, escaping: str, position: int | None) -> str:
        """One record: 1.x recordPacking xml|string; 2.0 recordXMLEscaping xml|string."""
        parts = [self.el("recordSchema", _t(schema))]
        if self.v2:
            parts.append(self.el("recordPacking", "packed"))
            parts.append(self.el("recordXMLEscaping", escaping))
        else:
            parts.append(self.el("recordPacking", escaping))
        parts.append(self.el("recordData", xml_text(data) if escaping == "string" else data))
        if position is not None:
            parts.append(self.el("recordPosition", str(position)))
        return self.el("record", "".join(parts))


def _srw_dc(data: bytes) -> str:
    """An oai_dc:dc payload as the SRU dc schema's srw_dc:dc (same DC elements)."""
    text = data.decode("utf-8")
    if text.startswith("<oai_dc:dc ") and text.endswith("</oai_dc:dc>"):
        head_end = text.index(">") + 1
        body = text[head_end:-len("</oai_dc:dc>")]
        return (f'<srw_dc:dc xmlns:srw_dc="{_SRW_DC_NS}" xmlns:dc="{ns.DC}">'
                f"{body}</srw_dc:dc>")
    # Stored by another writer: rename the root with a real parser.
    from ..crosswalk.dc import dc_to_xml, parse_dc

    return dc_to_xml(parse_dc(etree.fromstring(data, SAFE_PARSER)), "srw_dc").decode("utf-8")


def _int(args: dict[str, str], name: str, default: int, minimum: int) -> int:
    if name not in args:
        return default
    value = args[name].strip()
    if not value.isdigit() or int(value) < minimum:
        raise Diagnostic(6, name, f"{name} must be a whole number of at least {minimum} "
                         f"(got '{args[name]}')")
    return int(value)


class Server:
    """An SRU server over a :class:`Repository`."""

    def __init__(self, repository: Repository, config: SRUConfig | None = None) -> None:
        self.repository = repository
        self.config = config or SRUConfig()

    # -- entry point --------------------------------------------------------------------
    def negotiate(self, params: list[tuple[str, str]], accept: str = "") -> tuple[str, str]:
        """(version, operation) of a request, before any validation."""
        args = dict(params)
        version = args.get("version", "").strip()
        if not version:
            if SRU2_MEDIA_TYPE in accept.lower():
                version = "2.0"
            elif "operation" in args:
                version = self.config.default_version
            else:
                version = "2.0" if ("query" in args or "scanClause" in args) else self.config.default_version
        operation = args.get("operation", "").strip()
        if not operation:
            if "query" in args:
                operation = "searchRetrieve"
            elif "scanClause" in args:
                operation = "scan"
            else:
                operation = "explain"
        return version, operation

    def handle(self, params: list[tuple[str, str]], *, accept: str = "",
               base_url: str | None = None) -> SRUResponse:
        """Answer one request (the HTTP arguments in order, GET or POST)."""
        base = self.config.base_url or base_url or "http://127.0.0.1:8000/sru"
        version, operation = self.negotiate(params, accept)
        diags: list[Diagnostic] = []
        if version not in self.config.versions:
            requested = version
            version = "2.0" if _version_key(requested) >= (2, 0) else "1.2"
            diags.append(Diagnostic(5, self.config.versions[-1],
                                    f"SRU version '{requested}' is not supported; this server "
                                    f"speaks {', '.join(self.config.versions)}"))
        w = _Writer(version)
        content_type = (f"{SRU2_MEDIA_TYPE}; charset=utf-8" if w.v2 and SRU2_MEDIA_TYPE in accept.lower()
                        else "text/xml; charset=utf-8")
        args: dict[str, str] = {}
        for name, value in params:
            if name in args and not diags:
                diags.append(Diagnostic(6, name, f"The parameter '{name}' is given twice"))
            args.setdefault(name, value)
        if operation not in ("explain", "searchRetrieve", "scan"):
            diags.append(Diagnostic(4, operation, f"'{operation}' is not an SRU operation: use "
                                    "explain, searchRetrieve or scan"))
            operation = "explain"
        elif not diags:
            allowed = PARAMETERS[(version[0], operation)]
            for name in args:
                if name not in allowed and not name.startswith("x-"):
                    diags.append(Diagnostic(8, name, f"The parameter '{name}' is not part of SRU "
                                            f"{version} {operation}"))
                    break
        try:
            if operation == "searchRetrieve":
                body = self._search(w, args, diags, base)
            elif operation == "scan":
                body = self._scan(w, args, diags)
            else:
                body = self._explain(w, args, diags, base)
        except StoreUnavailable:
            raise  # not the query's fault: the web layer answers 503 with Retry-After
        except Exception as exc:  # noqa: BLE001 - a store failure is diagnostic 1, not a 500 page
            logger.exception("SRU %s failed", operation)
            diags.append(_system_error(exc))
            body = self._failure_body(w, operation, args, diags, base)
        return self._response(w, args, body, content_type, operation, diags)

    def failed(self, params: list[tuple[str, str]], exc: BaseException, *, accept: str = "",
               base_url: str | None = None) -> SRUResponse:
        """The diagnostic 1 response to a request whose answer failed outside
        :meth:`handle` (the web layer's HTML view, say); the store is not touched."""
        version, operation = self.negotiate(params, accept)
        if version not in self.config.versions:
            version = "2.0" if _version_key(version) >= (2, 0) else "1.2"
        if operation not in ("explain", "searchRetrieve", "scan"):
            operation = "explain"
        w = _Writer(version)
        content_type = (f"{SRU2_MEDIA_TYPE}; charset=utf-8" if w.v2 and SRU2_MEDIA_TYPE in accept.lower()
                        else "text/xml; charset=utf-8")
        args = dict(reversed(params))
        diags = [_system_error(exc)]
        base = self.config.base_url or base_url or "http://127.0.0.1:8000/sru"
        body = self._failure_body(w, operation, args, diags, base)
        return self._response(w, args, body, content_type, operation, diags)

    def _failure_body(self, w: _Writer, operation: str, args: dict[str, str],
                      diags: list[Diagnostic], base: str) -> str:
        root = {"searchRetrieve": "searchRetrieveResponse", "scan": "scanResponse"}.get(operation)
        if root is None:
            return self._explain(w, args, diags, base)
        if root == "scanResponse" and w.v2:
            return (w.open(root, SRU2_SCAN_NS, "scan") + w.diagnostics(diags, "scan")
                    + "</scan:scanResponse>")
        count = w.el("numberOfRecords", "0") if operation == "searchRetrieve" else ""
        return w.open(root) + count + w.diagnostics(diags) + f"</{w.p}:{root}>"

    @staticmethod
    def _response(w: _Writer, args: dict[str, str], body: str, content_type: str, operation: str,
                  diags: list[Diagnostic]) -> SRUResponse:
        head = '<?xml version="1.0" encoding="UTF-8"?>\n'
        sheet = args.get("stylesheet", "").strip()
        if sheet and '"' not in sheet and "?>" not in sheet:
            # SRU 1.2 §5.1 / 2.0: the client asks the response to name its XSLT.
            head += f'<?xml-stylesheet type="text/xsl" href="{_t(sheet)}"?>\n'
        return SRUResponse((head + body).encode("utf-8"), content_type, w.version, operation, diags)

    # -- explain --------------------------------------------------------------------------
    def _explain(self, w: _Writer, args: dict[str, str], diags: list[Diagnostic], base: str) -> str:
        escaping = self._escaping(w, args, diags, "explain")
        record = explain_record(self.config, base, w.version)
        out = [w.open("explainResponse"),
               w.record(ZEEREX_NS, record, escaping, None),
               w.diagnostics(diags),
               f"</{w.p}:explainResponse>"]
        return "".join(out)

    def _escaping(self, w: _Writer, args: dict[str, str], diags: list[Diagnostic], op: str) -> str:
        if w.v2:
            escaping = args.get("recordXMLEscaping", "xml")
            packing = args.get("recordPacking", "packed")
            if packing != "packed":
                diags.append(Diagnostic(71, packing, "Only recordPacking=packed is supported"))
            if escaping not in ("xml", "string"):
                diags.append(Diagnostic(71, escaping, "recordXMLEscaping is xml or string"))
                escaping = "xml"
            return escaping
        packing = args.get("recordPacking", "xml")
        if packing not in ("xml", "string"):
            diags.append(Diagnostic(71, packing, "recordPacking is xml or string"))
            packing = "xml"
        return packing

    # -- searchRetrieve -------------------------------------------------------------------
    def _search(self, w: _Writer, args: dict[str, str], diags: list[Diagnostic], base: str) -> str:
        fatal = any(d.number in FATAL_FOR_QUERY for d in diags)
        faceted = ""
        query: cql.Query | None = None
        total = 0
        records: list[str] = []
        start = 1
        next_position = None
        escaping = self._escaping(w, args, diags, "searchRetrieve")
        fatal = fatal or any(d.number in FATAL_FOR_QUERY for d in diags)
        try:
            if fatal:
                raise _Stop
            if "query" not in args:
                raise Diagnostic(7, "query", "Type a query: the 'query' parameter is missing")
            text = args["query"]
            query_type = args.get("queryType", "cql")
            if w.v2 and query_type == "searchTerms":
                text = cql.quote(text.replace("\\", "\\\\"), force=True)
            elif query_type != "cql":
                raise Diagnostic(6, "queryType", f"queryType '{query_type}' is not supported (use cql)")
            if not text.strip():
                raise Diagnostic(27, "query", "The query is empty")
            try:
                query = cql.parse(text)
            except cql.CQLError as e:
                raise Diagnostic(e.diagnostic, e.details or str(e.position),
                                 f"{e.message} (at character {e.position + 1})") from None
            start = _int(args, "startRecord", 1, 1)
            maximum = min(_int(args, "maximumRecords", self.config.default_records, 0),
                          self.config.max_records)
            _int(args, "resultSetTTL", 0, 0)
            if "recordXPath" in args:
                raise Diagnostic(72, "recordXPath", "Records are sent whole; recordXPath is not supported")
            schema = self._schema(args.get("recordSchema"))
            facets = parse_facet_parameters(args, {d.name for d in self.config.profile}) if w.v2 else []
            plan = to_plan(query, self.config.profile, default_prefix=self.config.default_context_set,
                           groups=self.config.groups)
            if "sortKeys" in args and args["sortKeys"].strip():
                if w.version == "1.2":
                    raise Diagnostic(8, "sortKeys", "SRU 1.2 sorts with sortBy in the query")
                if plan.sort:
                    diags.append(Diagnostic(94, "sortKeys", "Both sortBy and sortKeys were given: "
                                            "the query's sortBy is used"))
                else:
                    plan = search_plan.Plan(plan.root, parse_sort_keys(args["sortKeys"],
                                                                        self.config.profile))
            try:
                with time_budget(self.repository, self.config.time_budget):
                    page = self.repository.search(plan, start, maximum, prefix=schema.prefix)
                    found = (count_facets(self.repository, plan, facets, self.config.groups)
                             if facets and page.total else None)
            except search_plan.PlanTooBroad as e:
                raise Diagnostic(29, e.term, f"'{e.term}' stands for too many words: give more "
                                 "letters before or after the * or ?") from None
            except search_plan.PlanTooSlow as e:
                raise too_slow(e.seconds) from None
            total = page.total
            if total and start > total:
                diags.append(Diagnostic(61, str(start), f"There are only {total} records; "
                                        f"startRecord {start} is past the end"))
            for i, item in enumerate(page.items):
                records.append(self._record(w, schema, item, escaping, start + i))
            if found is not None:
                faceted = _faceted(found, base, args)
            if records and start + len(records) - 1 < total:
                next_position = start + len(records)
        except _Stop:
            total = 0
        except Diagnostic as d:
            diags.append(d)
            total = 0
            records = []
            next_position = None
        out = [w.open("searchRetrieveResponse"), w.el("numberOfRecords", str(total))]
        if records:
            out.append(w.el("records", "".join(records)))
        if next_position is not None:
            out.append(w.el("nextRecordPosition", str(next_position)))
        if query is not None:
            out.append(self._echo(w, args, query))
        out.append(w.diagnostics(diags))
        out.append(faceted)
        out.append(f"</{w.p}:searchRetrieveResponse>")
        return "".join(out)

    def _schema(self, name: str | None) -> RecordSchema:
        if name is None or not name.strip():
            name = self.config.default_schema
        schema = schema_by_name(name)
        served = served_schemas(self.config)
        if schema is None or schema not in served:
            raise Diagnostic(66, name, f"Unknown record schema '{name}'; use "
                             + ", ".join(f"{s.name} ({s.uri})" for s in served))
        return schema

    def _record(self, w: _Writer, schema: RecordSchema, item, escaping: str, position: int) -> str:
        if item.metadata is None:
            d = Diagnostic(67, item.header.identifier,
                           f"The record {item.header.identifier} is not available as {schema.name}")
            return w.record(DIAG_SCHEMA, w.diagnostic(d), "xml", position)
        if schema.name == "dc":
            data = _srw_dc(item.metadata)
        elif schema.name == "holdings" and self.config.holdings is not None:
            data = self.config.holdings(item.header, item.metadata)
        else:
            data = item.metadata.decode("utf-8")
        return w.record(schema.uri, data, escaping, position)

    def _echo(self, w: _Writer, args: dict[str, str], query: cql.Query) -> str:
        if _nesting(query.root) > _ECHO_NESTING:
            # XCQL nests two elements a boolean: a 1,000-clause chain would be a document
            # 2,000 deep, which libxml2 (lxml, PHP, yaz…) refuses past 256. The echo is
            # optional in SRU 1.x and xQuery in 2.0: left out.
            if not w.v2:
                return ""
            xq = ""
        elif w.v2:
            try:
                xq = to_xcql_string(query, cql.XCQL_NAMESPACE_SRU2, f"{{{SRU2_NS}}}xQuery")
            except ValueError:
                xq = ""
        else:
            xq = to_xcql_string(query, cql.XCQL_NAMESPACE, f"{{{SRU1_NS}}}xQuery")
        parts = [] if w.v2 else [w.el("version", w.version)]
        if w.v2:
            parts.append(w.el("queryType", _t(args.get("queryType", "cql"))))
        parts += [w.el("query", _t(args["query"])), xq]
        order = (["startRecord", "maximumRecords", "recordXMLEscaping", "recordPacking",
                  "recordSchema", "facetParameters", "resultSetTTL", "sortKeys", "stylesheet"] if w.v2 else
                 ["startRecord", "maximumRecords", "recordPacking", "recordSchema", "resultSetTTL",
                  "sortKeys", "stylesheet"])
        minimum = {"startRecord": 1, "maximumRecords": 0, "resultSetTTL": 0}
        given = dict(args)
        if w.v2 and any(n in args for n in FACET_PARAMETERS):
            # One string of "name=value" pieces (sruResponse.xsd, facetParameters).
            given["facetParameters"] = " ".join(f"{n}={args[n]}" for n in FACET_PARAMETERS if n in args)
        for name, value in _echoable(given, order, minimum):
            if name in ("recordPacking", "recordXMLEscaping") and w.v2 and value not in (
                    ("packed", "unpacked") if name == "recordPacking" else ("xml", "string")):
                continue
            parts.append(w.el(name, _t(value)))
        return w.el("echoedSearchRetrieveRequest", "".join(parts))

    # -- scan -----------------------------------------------------------------------------
    def _echo_scan(self, w: _Writer, args: dict[str, str], query: cql.Query) -> str:
        """``echoedScanRequest`` (SRU 1.1/1.2 srw-types.xsd, 2.0 scan.xsd): the scan
        clause, its XCQL form and the other parameters as the server read them."""
        scan_p = "scan" if w.v2 else w.p
        xcql_ns = cql.XCQL_NAMESPACE_SRU2 if w.v2 else cql.XCQL_NAMESPACE
        built = cql.to_xcql(query, xcql_ns, tag="{urn:thuvien-interop:tmp}x")
        clause = next(built.iter(f"{{{xcql_ns}}}searchClause"))
        x = etree.Element(f"{{{SRU2_SCAN_NS if w.v2 else SRU1_NS}}}xScanClause",
                          nsmap={scan_p: SRU2_SCAN_NS if w.v2 else SRU1_NS})
        x.extend(list(clause))
        xscan = etree.tostring(x, encoding="unicode")

        def el(name: str, value: str) -> str:
            return f"<{scan_p}:{name}>{_t(value)}</{scan_p}:{name}>"

        parts = [] if w.v2 else [el("version", w.version)]
        parts += [el("scanClause", args["scanClause"]), xscan]
        names = (["responsePosition", "maximumTerms", "httpAccept", "stylesheet"] if w.v2 else
                 ["responsePosition", "maximumTerms", "stylesheet"])
        minimum = {"responsePosition": 0, "maximumTerms": 1}
        parts += [el(name, value) for name, value in _echoable(args, names, minimum)]
        return f"<{scan_p}:echoedScanRequest>{''.join(parts)}</{scan_p}:echoedScanRequest>"

    def _scan(self, w: _Writer, args: dict[str, str], diags: list[Diagnostic]) -> str:
        terms: list[str] = []
        echo = ""
        scan_p = "scan" if w.v2 else w.p
        try:
            if any(d.number in FATAL_FOR_QUERY for d in diags):
                raise _Stop
            if "scanClause" not in args:
                raise Diagnostic(7, "scanClause", "The 'scanClause' parameter is missing "
                                 "(e.g. dc.title = \"Hà\")")
            try:
                q = cql.parse(args["scanClause"])
            except cql.CQLError as e:
                raise Diagnostic(e.diagnostic, e.details or str(e.position),
                                 f"{e.message} (at character {e.position + 1})") from None
            if not isinstance(q.root, cql.SearchClause) or q.sort_keys:
                raise Diagnostic(10, args["scanClause"], "A scan clause is one index, relation "
                                 "and term, e.g. dc.title = \"Hà\"")
            echo = self._echo_scan(w, args, q)
            index = clause_index(q.root, self.config.profile)
            position = _int(args, "responsePosition", 1, 0)
            count = min(_int(args, "maximumTerms", self.config.default_terms, 1),
                        self.config.max_terms)
            if position > count + 1:
                raise Diagnostic(120, str(position), f"responsePosition {position} is outside a "
                                 f"list of {count} terms")
            start = search_plan.key_of(cql.unescape(q.root.term).replace("*", " "))
            # responsePosition 0 puts the scan term just before the list (SRU 1.2 §7.2).
            try:
                with time_budget(self.repository, self.config.time_budget):
                    found = self.repository.scan(index.name, start, max(position, 1),
                                                 count + (position == 0))
            except search_plan.PlanTooSlow as e:
                raise too_slow(e.seconds) from None
            if position == 0:
                found = [t for t in found if t.key > start][:count] if found else []
            for t in found:
                inner = (f"<{scan_p}:value>{_t(t.key)}</{scan_p}:value>"
                         f"<{scan_p}:numberOfRecords>{t.count}</{scan_p}:numberOfRecords>"
                         f"<{scan_p}:displayTerm>{_t(t.display)}</{scan_p}:displayTerm>")
                terms.append(f"<{scan_p}:term>{inner}</{scan_p}:term>")
        except _Stop:
            pass
        except Diagnostic as d:
            diags.append(d)
            terms = []
        if w.v2:
            out = [w.open("scanResponse", SRU2_SCAN_NS, "scan")]
        else:
            out = [w.open("scanResponse")]
        if terms:
            out.append(f"<{scan_p}:terms>{''.join(terms)}</{scan_p}:terms>")
        out.append(echo)
        out.append(w.diagnostics(diags, scan_p))
        out.append(f"</{scan_p}:scanResponse>")
        return "".join(out)


def _faceted(found: dict[str, list[FacetTerm]], base: str, args: dict[str, str]) -> str:
    """``facetedResults`` (OASIS facetedResults.xsd): a facet an index that has
    terms, each term with its count, the CQL that narrows to it and that request's URL."""
    from urllib.parse import urlencode

    facets = []
    for index, terms in found.items():
        if not terms:
            continue
        out = []
        for t in terms:
            narrowed = f"({args['query']}) and {t.clause}"
            url = base + "?" + urlencode({**{k: v for k, v in args.items() if k != "startRecord"},
                                          "query": narrowed})
            out.append(f"<facet:term><facet:actualTerm>{_t(t.display)}</facet:actualTerm>"
                       f"<facet:query>{_t(narrowed)}</facet:query>"
                       f"<facet:requestUrl>{_t(url)}</facet:requestUrl>"
                       f"<facet:count>{t.count}</facet:count></facet:term>")
        name = facet_label(index, 1) or index
        facets.append(f"<facet:facet><facet:facetDisplayLabel>{_t(name)}</facet:facetDisplayLabel>"
                      f"<facet:index>{_t(index)}</facet:index>"
                      f"<facet:relation>{'within' if ' within ' in terms[0].clause else '='}</facet:relation>"
                      f"<facet:terms>{''.join(out)}</facet:terms></facet:facet>")
    if not facets:
        return ""
    return f'<sru:facetedResults xmlns:facet="{SRU2_FACET_NS}">{"".join(facets)}</sru:facetedResults>'


def _echoable(args: dict[str, str], names: list[str],
              minimum: dict[str, int]) -> list[tuple[str, str]]:
    """The parameters to echo, in ``names`` order: those given, and of numbers only
    those the schema's types allow (at least ``minimum``)."""
    out = []
    for name in names:
        value = args.get(name, "").strip()
        if value and (name not in minimum or (value.isdigit() and int(value) >= minimum[name])):
            out.append((name, value))
    return out


#: Booleans nested deeper than this are not echoed as XCQL (see Server._echo).
_ECHO_NESTING = 100


def _nesting(node: cql.Node) -> int:
    """How deeply booleans nest in a query tree (an explicit stack: chains are deep)."""
    deepest, stack = 0, [(node, 0)]
    while stack:
        n, d = stack.pop()
        if isinstance(n, cql.Prefixed):
            stack.append((n.query, d))
        elif isinstance(n, cql.Boolean):
            deepest = max(deepest, d + 1)
            stack += ((n.left, d + 1), (n.right, d + 1))
    return deepest


def _system_error(exc: BaseException) -> Diagnostic:
    return Diagnostic(1, type(exc).__name__, "The server failed to answer; the administrator "
                      "can find the reason in the server log")


class _Stop(Exception):
    """A fatal diagnostic was already recorded."""


def _version_key(v: str) -> tuple[int, int]:
    try:
        major, _, minor = v.partition(".")
        return int(major), int(minor or 0)
    except ValueError:
        return (0, 0)


def to_xcql_string(query: cql.Query, namespace: str, tag: str) -> str:
    """The XCQL of a query as a string fragment named ``tag``."""
    return etree.tostring(cql.to_xcql(query, namespace, tag=tag), encoding="unicode")



