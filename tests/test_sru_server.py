"""The SRU engine without HTTP: every operation in every version validated against
the published schemas, every diagnostic the engine gives, the parameters."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import SCHEMA_LOCATIONS, XSD, schema
from lxml import etree

from thuvien_interop.sru.config import SRUConfig
from thuvien_interop.sru.server import SRU1_NS, SRU2_NS, SRU2_SCAN_NS, Server

S1 = "{" + SRU1_NS + "}"
S2 = "{" + SRU2_NS + "}"
DIAG1 = "{http://www.loc.gov/zing/srw/diagnostic/}"
DIAG2 = "{http://docs.oasis-open.org/ns/search-ws/diagnostic}"


@cache
def sru2_schema():
    """SRU 2.0 schemas import each other by OASIS URLs: map them to xsd/sru2."""
    import xmlschema

    locations = dict(SCHEMA_LOCATIONS)
    for name in ("diagnostic", "facetedResults", "searchResultAnalysis", "xcql", "scan",
                 "sruResponse"):
        locations[f"http://docs.oasis-open.org/ns/search-ws/{name}"] = str(XSD / "sru2" / f"{name}.xsd")
    return xmlschema.XMLSchema(str(XSD / "sru2" / "sruResponse.xsd"), locations=locations)


def check(resp):
    """Validate a response against its version's schema; return the parsed document."""
    sch = sru2_schema() if resp.version == "2.0" else schema("sru1/srw-types.xsd")
    sch.validate(resp.body.decode("utf-8"))
    return etree.fromstring(resp.body)


def diag_numbers(doc) -> list[int]:
    uris = [e.text for e in doc.iter(f"{DIAG1}uri", f"{DIAG2}uri")]
    return [int(u.rsplit("/", 1)[1]) for u in uris]


@pytest.fixture
def server(sample_store):
    return Server(sample_store, SRUConfig(default_records=5, max_records=20))


def sr(version: str, **params):
    out = [("version", version)] if version != "none" else []
    if version.startswith("1") or "query" not in params:
        out.append(("operation", "searchRetrieve"))
    return out + list(params.items())


VERSIONS = ["1.1", "1.2", "2.0"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("schema_name", ["dc", "marcxml", "mods", "info:srw/schema/1/dc-v1.1",
                                         "info:srw/schema/1/marcxml-v1.1", "http://www.loc.gov/mods/v3"])
def test_search_retrieve_is_valid_in_every_version_and_schema(server, version, schema_name):
    resp = server.handle(sr(version, query='"Hà Nội"', recordSchema=schema_name))
    doc = check(resp)
    S = S2 if version == "2.0" else S1
    total = int(doc.findtext(f"{S}numberOfRecords"))
    records = doc.findall(f"{S}records/{S}record")
    assert total > 5 and len(records) == 5
    assert doc.findtext(f"{S}nextRecordPosition") == "6"
    assert [r.findtext(f"{S}recordPosition") for r in records] == ["1", "2", "3", "4", "5"]
    if version != "2.0":
        assert doc.findtext(f"{S}version") == version
        assert doc.find(f"{S}echoedSearchRetrieveRequest/{S}xQuery") is not None
    data = records[0].find(f"{S}recordData")[0]
    expected = {"dc": "info:srw/schema/1/dc-schema", "marcxml": "http://www.loc.gov/MARC21/slim",
                "mods": "http://www.loc.gov/mods/v3"}
    short = next(k for k in expected if k in schema_name or expected[k].startswith(schema_name)
                 or (k == "dc" and "dc" in schema_name) or (k == "marcxml" and "marc" in schema_name))
    assert etree.QName(data).namespace == expected[short]


@pytest.mark.parametrize("version", VERSIONS)
def test_explain_and_scan_are_valid_in_every_version(server, version):
    ops = [("operation", "explain")] if version != "2.0" else []
    doc = check(server.handle([("version", version), *ops]))
    zr = doc.find(".//{http://explain.z3950.org/dtd/2.0/}explain")
    ids = {ix.get("id") for ix in zr.iter("{http://explain.z3950.org/dtd/2.0/}index")}
    assert {"dc.title", "bath.isbn", "rec.identifier", "local.callNumber", "cql.serverChoice"} <= ids
    titles = {t.get("lang"): t.text for t in zr.iter("{http://explain.z3950.org/dtd/2.0/}title")}
    assert "vi" in titles and "en" in titles
    scan_ops = [("operation", "scan")] if version != "2.0" else []
    resp = server.handle([("version", version), *scan_ops, ("scanClause", "dc.title = ha"),
                          ("responsePosition", "2"), ("maximumTerms", "4")])
    doc = check(resp)
    values = [e.text for e in doc.iterfind(".//{*}terms/{*}term/{*}value")]
    assert len(values) == 4 and values == sorted(values)
    assert values[0] < "ha" <= values[1]
    # The request as the server read it, after the terms (both schemas' order).
    echo = doc.find(".//{*}echoedScanRequest")
    assert [etree.QName(e).localname for e in echo] == \
        ([] if version == "2.0" else ["version"]) + \
        ["scanClause", "xScanClause", "responsePosition", "maximumTerms"]
    assert echo.findtext("{*}scanClause") == "dc.title = ha"
    x = echo.find("{*}xScanClause")
    assert [x.findtext("{*}index"), x.findtext("{*}relation/{*}value"), x.findtext("{*}term")] \
        == ["dc.title", "=", "ha"]
    assert echo.getprevious() is not None and etree.QName(echo.getprevious()).localname == "terms"


def test_a_scan_that_cannot_be_read_is_not_echoed(server):
    doc = check(server.handle([("version", "1.2"), ("operation", "scan"),
                               ("scanClause", "dc.title = ")]))
    assert doc.find(".//{*}echoedScanRequest") is None
    assert doc.find(".//{*}diagnostics") is not None


def test_version_2_by_accept_header_and_implied_operation(server):
    resp = server.handle([("query", "viet")], accept="application/sru+xml")
    assert resp.version == "2.0" and resp.operation == "searchRetrieve"
    assert resp.content_type.startswith("application/sru+xml")
    check(resp)
    assert server.handle([("scanClause", "dc.title = a")]).operation == "scan"
    assert server.handle([]).operation == "explain"


def test_record_packing_string_escapes_the_record(server):
    doc = check(server.handle(sr("1.2", query="viet", recordPacking="string", maximumRecords="1")))
    data = doc.find(f"{S1}records/{S1}record/{S1}recordData")
    assert len(data) == 0 and data.text.startswith("<srw_dc:dc")
    doc = check(server.handle(sr("2.0", query="viet", recordXMLEscaping="string", maximumRecords="1")))
    assert doc.find(f"{S2}records/{S2}record/{S2}recordData").text.startswith("<srw_dc:dc")


def test_maximum_records_default_cap_and_zero(server):
    doc = check(server.handle(sr("1.2", query="cql.allRecords = 1")))
    assert len(doc.findall(f"{S1}records/{S1}record")) == 5
    doc = check(server.handle(sr("1.2", query="cql.allRecords = 1", maximumRecords="1000")))
    assert len(doc.findall(f"{S1}records/{S1}record")) == 20
    doc = check(server.handle(sr("1.2", query="cql.allRecords = 1", maximumRecords="0")))
    assert doc.find(f"{S1}records") is None and int(doc.findtext(f"{S1}numberOfRecords")) > 20
    assert doc.find(f"{S1}nextRecordPosition") is None


def test_last_page_has_no_next_position_and_large_start_is_61(server):
    total = int(check(server.handle(sr("1.2", query='"ha noi"'))).findtext(f"{S1}numberOfRecords"))
    doc = check(server.handle(sr("1.2", query='"ha noi"', startRecord=str(total))))
    assert len(doc.findall(f"{S1}records/{S1}record")) == 1
    assert doc.find(f"{S1}nextRecordPosition") is None
    doc = check(server.handle(sr("1.2", query='"ha noi"', startRecord="1000000000")))
    assert diag_numbers(doc) == [61]
    assert doc.findtext(f"{S1}numberOfRecords") == str(total)


def test_sort_keys_in_1_1_and_2_0_sort_by_in_all(server):
    def dates(doc, S):
        return [r.findtext(".//{http://purl.org/dc/elements/1.1/}date") or ""
                for r in doc.findall(f"{S}records/{S}record")]

    d11 = dates(check(server.handle(sr("1.1", query="viet", sortKeys="dc.date,,0"))), S1)
    assert d11 == sorted(d11, reverse=True)
    d20 = dates(check(server.handle(sr("2.0", query="viet", sortKeys="dc.date,,1"))), S2)
    assert d20 == sorted(d20)
    d12 = dates(check(server.handle(sr("1.2", query="viet sortBy dc.date/sort.descending"))), S1)
    assert d12 == d11
    doc = check(server.handle(sr("1.2", query="viet", sortKeys="dc.date")))
    assert diag_numbers(doc) == [8]


def test_stylesheet_is_named_in_the_response(server):
    body = server.handle(sr("1.2", query="viet", stylesheet="/static/sru.xsl")).body
    assert b'<?xml-stylesheet type="text/xsl" href="/static/sru.xsl"?>' in body


def test_extra_request_data_and_extension_parameters_are_ignored(server):
    doc = check(server.handle(sr("1.2", query="viet", extraRequestData="<x/>", **{"x-debug": "1"})))
    assert diag_numbers(doc) == []


def test_result_set_ttl_is_accepted(server):
    doc = check(server.handle(sr("1.2", query="viet", resultSetTTL="300")))
    assert diag_numbers(doc) == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("params, number", [
    ({}, 7),
    ({"query": "(viet"}, 13),
    ({"query": '"viet'}, 14),
    ({"query": "viet and"}, 10),
    ({"query": "dc.colour = x"}, 16),
    ({"query": "zz.title = x"}, 15),
    ({"query": "dc.title foo x"}, 19),
    ({"query": "dc.title =/respectCase x"}, 20),
    ({"query": 'dc.title = ""'}, 27),
    ({"query": "viet", "startRecord": "0"}, 6),
    ({"query": "viet", "maximumRecords": "many"}, 6),
    ({"query": "viet", "recordSchema": "bibtex"}, 66),
    ({"query": "viet", "recordXPath": "/x"}, 72),
    ({"query": "viet", "colour": "red"}, 8),
    ({"query": "viet sortBy dc.colour"}, 88),
])
def test_diagnostics_of_search_retrieve(server, version, params, number):
    if number == 72 and version == "2.0":
        number = 8  # recordXPath is not an SRU 2.0 parameter at all
    resp = server.handle(sr(version, **params))
    doc = check(resp)
    assert diag_numbers(doc) == [number]
    S = S2 if version == "2.0" else S1
    assert doc.findtext(f"{S}numberOfRecords") == "0"
    assert doc.find(f"{S}records") is None
    diag = next(doc.iter(f"{DIAG1}diagnostic", f"{DIAG2}diagnostic"))
    assert diag.findtext(f"{DIAG1}message") or diag.findtext(f"{DIAG2}message")


def test_packing_diagnostics(server):
    assert diag_numbers(check(server.handle(sr("1.2", query="viet", recordPacking="zip")))) == [71]
    assert diag_numbers(check(server.handle(sr("2.0", query="viet", recordPacking="unpacked")))) == [71]


def test_unknown_operation_and_version_are_diagnostic_responses(server):
    doc = check(server.handle([("version", "1.2"), ("operation", "update")]))
    assert diag_numbers(doc) == [4]
    assert doc.tag == f"{S1}explainResponse"
    resp = server.handle([("version", "9.9"), ("operation", "searchRetrieve"), ("query", "x")])
    doc = check(resp)
    assert resp.version == "2.0" and diag_numbers(doc) == [5]
    resp = server.handle([("version", "1.0"), ("operation", "searchRetrieve"), ("query", "x")])
    assert resp.version == "1.2" and diag_numbers(check(resp)) == [5]


def test_repeated_parameter_is_6(server):
    doc = check(server.handle([("version", "1.2"), ("operation", "searchRetrieve"),
                               ("query", "a"), ("query", "b")]))
    assert diag_numbers(doc) == [6]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("params, number", [
    ({}, 7),
    ({"scanClause": "dc.title = a and dc.title = b"}, 10),
    ({"scanClause": "cql.serverChoice = a"}, 16),
    ({"scanClause": "dc.colour = a"}, 16),
    ({"scanClause": "dc.title = a", "maximumTerms": "0"}, 6),
    ({"scanClause": "dc.title = a", "maximumTerms": "3", "responsePosition": "9"}, 120),
])
def test_diagnostics_of_scan(server, version, params, number):
    ops = [("operation", "scan")] if version != "2.0" else [("operation", "scan")]
    doc = check(server.handle([("version", version), *ops, *params.items()]))
    assert diag_numbers(doc) == [number]


def test_scan_response_position_zero_starts_after_the_term(server):
    doc = check(server.handle([("version", "1.2"), ("operation", "scan"),
                               ("scanClause", "dc.date = 2000"), ("responsePosition", "0"),
                               ("maximumTerms", "3")]))
    values = [e.text for e in doc.iter(f"{S1}value")]
    assert values and all(v > "2000" for v in values)


def test_scan_counts_are_search_counts(server, sample_store):
    doc = check(server.handle([("version", "1.2"), ("operation", "scan"),
                               ("scanClause", "dc.language = a"), ("maximumTerms", "5")]))
    for term in doc.iter(f"{S1}term"):
        value = term.findtext(f"{S1}value")
        count = int(term.findtext(f"{S1}numberOfRecords"))
        q = server.handle(sr("1.2", query=f'dc.language == "{value}"'))
        assert int(etree.fromstring(q.body).findtext(f"{S1}numberOfRecords")) == count


def test_2_0_scan_uses_its_own_namespace(server):
    doc = check(server.handle([("scanClause", "dc.title = ha")]))
    assert doc.tag == "{" + SRU2_SCAN_NS + "}scanResponse"


class _Broken:
    """A store whose search fails: a fault a real store does not produce on demand."""

    def __init__(self, real):
        self.real = real

    def search(self, *a, **k):
        raise RuntimeError("disk on fire")

    def scan(self, *a, **k):
        raise RuntimeError("disk on fire")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_failing_store_is_diagnostic_1_not_an_exception(sample_store, version):
    server = Server(_Broken(sample_store))
    doc = check(server.handle(sr(version, query="viet")))
    assert diag_numbers(doc) == [1]
    ops = [("operation", "scan")]
    doc = check(server.handle([("version", version), *ops, ("scanClause", "dc.title = a")]))
    assert diag_numbers(doc) == [1]


def _all_kinds(version: str) -> list[list[tuple[str, str]]]:
    """searchRetrieve and scan requests of every kind, the failing ones included."""
    queries = ["viet", '"Hà Nội"', "dc.title = ha*", "viet and dc.date >= 2000", "viet not nam",
               "viet sortBy dc.title/sort.descending", "(viet", "dc.colour = x", "viet and",
               'dc.title = ""', "cql.allRecords = 1", " or ".join(f"w{i}" for i in range(150))]
    out = []
    for q in queries:
        for schema_name in ("dc", "marcxml", "mods"):
            out.append(sr(version, query=q, recordSchema=schema_name, maximumRecords="3"))
        out.append(sr(version, query=q, startRecord="0"))  # diagnostic 6 before the query's own
    for clause in ("dc.title = ha", "dc.title = (x", "viet and nam", "dc.colour = x"):
        out.append([("version", version), ("operation", "scan"), ("scanClause", clause)])
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_a_query_asked_again_is_answered_as_the_first_time(sample_store, version):
    """Query texts are parsed, translated and echoed once (Server._Compiled): the
    second asking, and a server with that cache warm from other requests, answer
    byte for byte what a fresh server answers; errors are not kept."""
    warm = Server(sample_store, SRUConfig(default_records=5, max_records=20))
    requests = _all_kinds(version)
    for params in requests:
        warm.handle(params)
    for params in requests:
        fresh = Server(sample_store, SRUConfig(default_records=5, max_records=20))
        first = fresh.handle(params).body
        assert fresh.handle(params).body == first, params
        assert warm.handle(params).body == first, params
    # A new configuration is a new cache: its own default context set applies.
    assert diag_numbers(etree.fromstring(warm.handle(sr(version, query="title = viet")).body)) == []
    warm.config = SRUConfig(default_context_set="bath")
    assert diag_numbers(etree.fromstring(warm.handle(sr(version, query="title = viet")).body)) == [16]
