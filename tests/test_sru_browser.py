"""A browser at any SRU address gets a page for people, rendered from the very XML
an SRU client gets (explain, searchRetrieve with its facets, scan; every version),
linked to that XML and to the search page, and back from it."""

from __future__ import annotations

import html
import re
import shutil

import pytest
import requests
from conftest import live_server
from lxml import etree

from thuvien_interop.web import create_app

BROWSER = {"Sec-Fetch-Dest": "document", "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
EN = {**BROWSER, "Accept-Language": "en"}
VI = {**BROWSER, "Accept-Language": "vi"}


@pytest.fixture(scope="module")
def root(sample_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("sruview") / "samples.db"
    shutil.copy(sample_db, path)
    app = create_app(f"sqlite:///{path}")
    with live_server(app) as url:
        yield url
    app.config["REPOSITORY"].close()


def _page(r: requests.Response):
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), r.text[:300]
    return etree.HTML(r.content)


def _text(doc) -> str:
    return re.sub(r"\s+", " ", "".join(doc.xpath("//main")[0].itertext()))


@pytest.mark.parametrize("version", ["1.1", "1.2", "2.0"])
def test_explain_in_a_browser_lists_the_indexes_in_words_and_links_the_xml(root, version):
    doc = _page(requests.get(root + "/sru", params={"operation": "explain", "version": version}, headers=EN))
    text = _text(doc)
    assert "About this SRU service" in text and "dc.title" in text and "Title" in text
    assert "local.province" in text and "Province of the library" in text
    raw = doc.xpath("//a[@id='raw']/@href")[0]
    xml = requests.get(raw if raw.startswith("http") else root + raw, headers=BROWSER)
    assert xml.headers["Content-Type"].startswith("text/xml") and b"explainResponse" in xml.content
    assert doc.xpath("//a[@id='home']/@href") == ["/"]


def test_search_retrieve_in_a_browser_shows_the_hits_next_page_and_facets(root):
    params = {"version": "2.0", "query": "viet", "maximumRecords": "5", "facetLimit": "3:dc.language"}
    doc = _page(requests.get(root + "/sru", params={**params, "operation": "searchRetrieve"}, headers=EN))
    text = _text(doc)
    assert "Search results (SRU)" in text and "Records found" in text
    assert len(doc.xpath("//ol[@class='hits']/li")) == 5
    nxt = html.unescape(doc.xpath("//a[@rel='next']/@href")[0])
    assert "startRecord=6" in nxt
    second = _page(requests.get(root + "/sru" + nxt, headers=EN))
    assert second.xpath("//a[@rel='prev']")
    facet = doc.xpath("//section[@class='facet']//a")
    assert facet and "vie" in facet[0].text
    narrowed = _page(requests.get(root + "/sru" + html.unescape(facet[0].get("href")), headers=EN))
    assert 'dc.language = "vie"' in _text(narrowed)


def test_a_diagnostic_is_a_message_on_the_page(root):
    doc = _page(requests.get(root + "/sru", params={"operation": "searchRetrieve", "version": "1.2",
                                                    "query": "(viet"}, headers=VI))
    assert doc.xpath("//p[@role='alert']") and "13" in "".join(doc.xpath("//p[@role='alert']")[0].itertext())


def test_scan_in_a_browser_lists_terms_that_lead_to_their_records(root):
    doc = _page(requests.get(root + "/sru", params={"operation": "scan", "version": "1.2",
                                                    "scanClause": 'dc.title = "ha"'}, headers=EN))
    links = doc.xpath("//table//a")
    assert links and "Index terms" in _text(doc)
    hits = _page(requests.get(root + "/sru" + html.unescape(links[0].get("href")), headers=EN))
    count = int(doc.xpath("//table//tr[td]/td[2]")[0].text)
    assert re.search(rf"Records found\s*{count}\b", _text(hits))
    assert doc.xpath("//a[@rel='next']")


def test_clients_still_get_xml_and_a_stylesheet_request_gets_xml(root):
    r = requests.get(root + "/sru", params={"operation": "explain", "version": "1.2"})
    assert r.headers["Content-Type"].startswith("text/xml")
    r = requests.get(root + "/sru", params={"version": "1.2", "operation": "searchRetrieve", "query": "viet",
                                            "stylesheet": "/s.xsl"}, headers=BROWSER)
    assert r.headers["Content-Type"].startswith("text/xml")


def test_the_search_page_links_the_technical_pages_and_they_link_back(root):
    home = _page(requests.get(root + "/", headers=EN))
    oai = home.xpath("//a[@id='oai-pmh']/@href")[0]
    sru = home.xpath("//footer//a[text()='SRU']/@href")[0]
    oai_page = _page(requests.get(root + oai, headers=EN))
    assert oai_page.xpath("//a[@id='sru-search']/@href") == ["/"]
    sru_page = _page(requests.get(root + sru, headers=EN))
    assert sru_page.xpath("//a[@id='home']/@href") == ["/"]
