"""The OAI-PMH endpoint over real HTTP (waitress on 127.0.0.1): GET and POST,
compression, reverse proxies, content negotiation, and two independent real
harvesters (Sickle over GET, pyoai over POST) harvesting everything."""

from __future__ import annotations

import gzip
import zlib

import pytest
import requests
from conftest import live_server, schema
from lxml import etree
from oai_fixtures import T3, fill, identifier

from thuvien_interop.oai import ProviderConfig
from thuvien_interop.web import create_app
from thuvien_interop.web.oai import choose_encoding, wants_html

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "m": "http://www.loc.gov/MARC21/slim"}
JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"
CHROME_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                 "image/webp,*/*;q=0.8")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('web') / 'oai.db'}")
    fill(store)
    app = create_app(store, ProviderConfig(page_size=7))
    # A fixed clock: responses (responseDate, token expiry) are then byte-comparable.
    app.extensions["thuvien_oai"].clock = lambda: T3 + 86400
    with live_server(app) as root:
        yield root + "/oai"
    store.close()


def identical(a: bytes, b: bytes) -> bool:
    return a == b


def test_get_and_post_give_the_same_response(served):
    args = {"verb": "GetRecord", "identifier": identifier(4), "metadataPrefix": "oai_dc"}
    got = requests.get(served, params=args, timeout=10)
    posted = requests.post(served, data=args, timeout=10)
    assert got.status_code == posted.status_code == 200
    assert got.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert identical(got.content, posted.content)
    assert b'<request verb="GetRecord"' in posted.content


def test_errors_are_200_with_valid_xml(served):
    r = requests.get(served, params=[("verb", "ListRecords"), ("verb", "ListSets")], timeout=10)
    assert r.status_code == 200
    assert not list(schema("OAI-PMH.xsd").iter_errors(r.text))
    assert b'code="badVerb"' in r.content


def test_harvesters_get_xml_byte_for_byte_whatever_their_accept(served):
    params = {"verb": "ListRecords", "metadataPrefix": "marc21"}
    plain = requests.get(served, params=params, headers={"Accept-Encoding": "identity"}, timeout=10)
    for accept in (JAVA_ACCEPT, "text/html", "*/*", "application/xml", "text/xml"):
        r = requests.get(served, params=params, headers={"Accept": accept, "Accept-Encoding": "identity"},
                         timeout=10)
        assert r.headers["Content-Type"] == "text/xml; charset=utf-8", accept
        assert identical(r.content, plain.content), accept
        assert "Accept" in r.headers["Vary"] and "Sec-Fetch-Dest" in r.headers["Vary"]


def test_a_browser_gets_html_linking_to_the_same_xml(served):
    params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    page = requests.get(served, params=params, timeout=10,
                        headers={"Accept": CHROME_ACCEPT, "Sec-Fetch-Dest": "document",
                                 "Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8"})
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in page.headers["Vary"]
    html = etree.HTML(page.content)
    raw = html.xpath("//a[@id='raw-xml']/@href")[0]
    assert raw.startswith(served + "/xml?")
    xml = requests.get(raw, headers={"Accept": CHROME_ACCEPT, "Sec-Fetch-Dest": "document"}, timeout=10)
    assert xml.headers["Content-Type"] == "text/xml; charset=utf-8"
    harvester = requests.get(served, params=params, timeout=10)
    assert identical(xml.content, harvester.content), "the raw link serves the harvester's XML"
    titles = [t.text for t in etree.fromstring(harvester.content).iterfind(".//dc:title", NS)]
    assert titles[0] in page.text
    nxt = html.xpath("//a[@id='next-page']/@href")[0]
    assert "resumptionToken=" in nxt


def test_browser_error_page_explains_in_both_languages(served):
    page = requests.get(served, params={"verb": "Nonsense"}, headers={"Sec-Fetch-Dest": "document"},
                        timeout=10)
    assert "badVerb" in page.text
    assert "không phải động từ OAI-PMH" in page.text and "not an OAI-PMH verb" in page.text


def test_compression_follows_accept_encoding(served):
    params = {"verb": "ListRecords", "metadataPrefix": "marc21"}
    plain = requests.get(served, params=params, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers
    for enc, unpack in (("gzip", gzip.decompress), ("deflate", zlib.decompress)):
        r = requests.get(served, params=params, headers={"Accept-Encoding": enc}, timeout=10, stream=True)
        assert r.headers["Content-Encoding"] == enc
        body = unpack(r.raw.read())
        assert identical(body, plain.content)
    assert choose_encoding("gzip;q=0, deflate;q=0.5", ["gzip", "deflate"]) == "deflate"
    assert choose_encoding("br", ["gzip", "deflate"]) is None
    assert choose_encoding("*", ["gzip"]) == "gzip"


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate"])
def test_harvesters_get_from_the_engine_what_the_blueprint_answers(served, encoding):
    """GETs at /oai skip Flask (web.oai.HarvesterPath); /oai/xml goes through the
    blueprint: the same bytes, status and headers, for every kind of answer."""
    queries = ["verb=Identify", "verb=ListSets", "verb=ListMetadataFormats", "verb=Nope", "",
               "verb=ListRecords&metadataPrefix=oai_dc", "verb=ListIdentifiers&metadataPrefix=marc21",
               f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(3)}",
               "verb=ListRecords&metadataPrefix=oai_dc&from=2099-01-01",
               "verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=forged",
               "verb=GetRecord&identifier=a%FF&metadataPrefix=oai_dc"]
    for q in queries:
        answers = []
        for path in ("", "/", "/xml"):
            r = requests.get(f"{served}{path}?{q}", headers={"Accept-Encoding": encoding}, timeout=10,
                             stream=True)
            answers.append((r.status_code, r.raw.read(), sorted(
                (k, v) for k, v in r.headers.items() if k not in ("Date", "Server"))))
        assert answers[0] == answers[2], q
        # At /oai/ the request element (and baseURL) keep the slash, as before.
        assert answers[1][0] == answers[0][0], q
        assert [h for h in answers[1][2] if h[0] != "Content-Length"] == [
            h for h in answers[0][2] if h[0] != "Content-Length"], q


def test_forwarded_headers_are_ignored_unless_configured(served, tmp_path):
    from thuvien_interop.store import open_store

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "thuvien.daklak.gov.vn",
                 "X-Forwarded-Prefix": "/catalogue"}
    r = requests.get(served, params={"verb": "Identify"}, headers=forwarded, timeout=10)
    assert f"<baseURL>{served}</baseURL>" in r.text, "a client cannot forge the baseURL"
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    fill(store, 3, 1)
    # waitress drops X-Forwarded-* itself unless told not to; `serve` tells it so
    # exactly when trusted_proxies is set, and ProxyFix then reads them.
    app = create_app(store, ProviderConfig(trusted_proxies=1))
    with live_server(app, clear_untrusted_proxy_headers=False) as root:
        r = requests.get(root + "/oai", params={"verb": "Identify"}, headers=forwarded, timeout=10)
        assert "<baseURL>https://thuvien.daklak.gov.vn/catalogue/oai</baseURL>" in r.text
        assert '>https://thuvien.daklak.gov.vn/catalogue/oai</request>' in r.text
    store.close()


def test_wants_html_only_for_browser_navigations():
    assert wants_html({"Sec-Fetch-Dest": "document"})
    assert wants_html({"Accept": CHROME_ACCEPT})
    assert not wants_html({"Accept": JAVA_ACCEPT})
    assert not wants_html({"Accept": "text/html"})
    assert not wants_html({"Sec-Fetch-Dest": "empty", "Accept": "*/*"})


# -- real harvesters -------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["oai_dc", "marc21"])
def test_sickle_harvests_everything_once(served, prefix):
    from sickle import Sickle

    seen: list[str] = []
    texts: list[str] = []
    for rec in Sickle(served, max_retries=1).ListRecords(metadataPrefix=prefix, ignore_deleted=False):
        seen.append(rec.header.identifier)
        texts.append(rec.raw)
    assert sorted(seen) == sorted(identifier(i) for i in range(25))
    assert len(seen) == len(set(seen))
    joined = "".join(texts)
    assert "Dế Mèn phiêu lưu ký" in joined and "Đất rừng phương Nam" in joined
    if prefix == "marc21":
        assert "Chi nhánh Krông Pắc" in joined


def test_sickle_asks_for_gzip_and_reads_it(served):
    from sickle import Sickle

    page = Sickle(served, max_retries=1).harvest(verb="ListRecords", metadataPrefix="marc21")
    assert page.http_response.headers["Content-Encoding"] == "gzip"
    plain = requests.get(served, params={"verb": "ListRecords", "metadataPrefix": "marc21"},
                         headers={"Accept-Encoding": "identity"}, timeout=10)
    assert page.raw.encode("utf-8") == plain.content


@pytest.mark.parametrize("prefix", ["oai_dc", "marc21"])
def test_pyoai_harvests_everything_once_over_post(served, prefix):
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataReader, MetadataRegistry, oai_dc_reader

    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    registry.registerReader("marc21", MetadataReader(
        fields={"title": ("textList", "marc:record/marc:datafield[@tag='245']/marc:subfield[@code='a']/text()")},
        namespaces={"marc": "http://www.loc.gov/MARC21/slim"}))
    client = Client(served, registry)  # pyoai POSTs unless force_http_get
    assert client.identify().repositoryName() == ProviderConfig().repository_name
    seen, titles = [], []
    for header, metadata, _about in client.listRecords(metadataPrefix=prefix):
        seen.append(header.identifier())
        if header.isDeleted():
            assert metadata is None
        else:
            titles += metadata.getField("title")
    assert sorted(seen) == sorted(identifier(i) for i in range(25))
    assert any(t.startswith("Dế Mèn phiêu lưu ký") for t in titles)
    sets = [s[0] for s in client.listSets()]
    assert "library:tvt-dlk:chi-nhanh-buon-ho" in sets


@pytest.mark.parametrize("query", [
    {"verb": "Identify"}, {"verb": "ListSets"}, {"verb": "ListMetadataFormats"},
    {"verb": "ListIdentifiers", "metadataPrefix": "marc21", "set": "type:serial"},
    {"verb": "GetRecord", "identifier": identifier(0), "metadataPrefix": "oai_dc"},
    {"verb": "GetRecord", "identifier": identifier(3), "metadataPrefix": "marc21"},
    {"verb": "GetRecord", "identifier": identifier(3), "metadataPrefix": "mods"},
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "2000-01-01"},
])
def test_every_kind_of_response_has_a_page(served, query):
    page = requests.get(served, params=query, headers={"Sec-Fetch-Dest": "document"}, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = etree.HTML(page.content)
    assert html.xpath("//a[@id='raw-xml']/@href")
    text = "".join(html.itertext())
    expected = {"Identify": "thuvien-interop.vn", "ListSets": "Văn học — Literature",
                "ListMetadataFormats": "http://www.loc.gov/MARC21/slim",
                "ListIdentifiers": identifier(20)}.get(query["verb"])
    if query.get("until"):
        expected = "noRecordsMatch"
    elif query["verb"] == "GetRecord":
        expected = {"oai_dc": "Đã xoá", "marc21": "Chi nhánh Krông Pắc", "mods": "Dế Mèn"}[query["metadataPrefix"]]
    assert expected in text
