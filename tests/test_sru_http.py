"""SRU over real HTTP: our client, the ``search`` command, yaz-client, the browser
page, POST, compression; Index Data's Zebra where it is installed."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests
from click.testing import CliRunner
from conftest import live_server

from thuvien_interop.cli import main
from thuvien_interop.sru import Client, SRUError
from thuvien_interop.web import create_app

BROWSER = {"Sec-Fetch-Dest": "document",
           "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def sru_url(sample_db, tmp_path_factory):
    import shutil as sh

    path = tmp_path_factory.mktemp("sru") / "samples.db"
    sh.copy(sample_db, path)
    app = create_app(f"sqlite:///{path}")
    with live_server(app) as url:
        yield url + "/sru"
    app.config["REPOSITORY"].close()


@pytest.mark.parametrize("version", ["1.1", "1.2", "2.0"])
def test_client_iterates_across_pages(sru_url, version):
    client = Client(sru_url, version=version)
    total = client.count('"Hà Nội"')
    records = list(client.search('"Ha Noi"', page_size=4))
    assert len(records) == total > 4
    assert [r.position for r in records] == list(range(1, total + 1))
    assert all(r.values("title") for r in records)


def test_client_limit_schema_and_post(sru_url):
    client = Client(sru_url, method="POST")
    records = list(client.search("viet", schema="marcxml", limit=3, page_size=2))
    assert len(records) == 3
    assert records[0].element.tag == "{http://www.loc.gov/MARC21/slim}record"


def test_client_raises_diagnostics(sru_url):
    with pytest.raises(SRUError) as e:
        list(Client(sru_url).search("dc.colour = red"))
    assert e.value.number == 16


def test_client_scan_and_explain(sru_url):
    client = Client(sru_url)
    terms = client.scan("dc.title = ha", maximum=5)
    assert len(terms) == 5 and all(t.count and t.display for t in terms)
    info = client.explain()
    assert "dc.title" in info.indexes and info.schemas["dc"] == "info:srw/schema/1/dc-v1.1"
    assert set(info.titles) == {"vi", "en"}


def test_search_command_prints_readable_results(sru_url):
    result = CliRunner().invoke(main, ["search", sru_url, '"Ha Noi"', "--max", "3"])
    assert result.exit_code == 0, result.output
    assert "1. " in result.output and "3. " in result.output and "Hà Nội" in result.output
    result = CliRunner().invoke(main, ["search", sru_url, "dc.title = viet", "--max", "2", "--json"])
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and lines[0]["dc"]["title"]
    result = CliRunner().invoke(main, ["search", sru_url, "dc.colour = x"])
    assert result.exit_code != 0 and "16" in result.output


def test_version_2_by_accept_over_http(sru_url):
    r = requests.get(sru_url, params={"query": "viet"}, headers={"Accept": "application/sru+xml"})
    assert r.headers["Content-Type"].startswith("application/sru+xml")
    assert b"http://docs.oasis-open.org/ns/search-ws/sruResponse" in r.content


def test_gzip_when_asked(sru_url):
    r = requests.get(sru_url, params={"version": "1.2", "operation": "explain"},
                     headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("Content-Encoding") == "gzip" and b"<explain" in r.content
    assert "Accept" in r.headers["Vary"]


#: Requests of every kind an SRU client sends: each operation, every version, each
#: record schema and packing, scan, facets, sorting, stylesheets, and diagnostics.
CLIENT_REQUESTS = [
    "", "operation=explain", "version=1.1&operation=explain&recordPacking=string",
    "version=2.0&operation=explain", "query=viet", "version=1.2&operation=nope",
    "version=9.9&operation=explain", "version=1.2&operation=searchRetrieve&query=(viet",
    "version=1.2&operation=searchRetrieve&query=dc.colour%3Dred",
    "version=1.2&operation=searchRetrieve&query=viet&query=nam",
    "version=1.2&operation=searchRetrieve&query=viet&startRecord=999",
    "version=1.2&operation=searchRetrieve&query=viet&recordSchema=nope",
    "version=1.2&operation=searchRetrieve&query=h%C3%A0%20n%E1%BB%99i&x=%FF",
    "version=1.2&operation=searchRetrieve&query=viet&stylesheet=/s.xsl",
    "version=1.2&operation=scan&scanClause=dc.title%3Dha&maximumTerms=5",
    "version=1.1&operation=scan&scanClause=dc.title%3Dha&responsePosition=0",
    "version=2.0&operation=scan&scanClause=dc.title%3D%22h%C3%A0%22",
    "version=2.0&operation=scan&scanClause=(x",
    "version=2.0&query=viet&facetLimit=5:dc.subject&maximumRecords=2",
    "version=1.1&operation=searchRetrieve&query=viet%20sortBy%20dc.title",
    "version=2.0&query=viet&sortKeys=dc.title&recordXMLEscaping=string",
] + [f"version={v}&operation=searchRetrieve&query=dc.title%3Dviet&maximumRecords=3"
     f"&recordSchema={s}{p}"
     for v in ("1.1", "1.2", "2.0") for s in ("dc", "marcxml", "mods", "holdings")
     for p in ("", "&recordPacking=string" if v != "2.0" else "&recordXMLEscaping=string")]


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate"])
def test_clients_get_from_the_engine_what_the_blueprint_answers(sru_url, encoding):
    """SRU clients' GETs at /sru skip Flask (web.sru.ClientPath); /sru/xml goes
    through the blueprint: the same bytes, status and headers, for every kind of
    answer, in every version and record schema."""
    for q in CLIENT_REQUESTS:
        answers = []
        for path, accept in (("", "*/*"), ("/xml", "*/*"), ("", "application/sru+xml"),
                             ("/xml", "application/sru+xml")):
            r = requests.get(f"{sru_url}{path}?{q}", headers={"Accept-Encoding": encoding,
                                                             "Accept": accept},
                             timeout=10, stream=True)
            answers.append((r.status_code, r.raw.read(), sorted(
                (k, v) for k, v in r.headers.items() if k not in ("Date", "Server"))))
        assert answers[0] == answers[1], q
        assert answers[2] == answers[3], q
        assert answers[0][0] == 200, q
        if "recordSchema=holdings" in q and encoding == "identity":  # served, not a diagnostic
            assert b'<holdings xmlns="info:ofi/fmt:xml:xsd:iso20775">' in answers[0][1] \
                or b'&lt;holdings xmlns="info:ofi/fmt:xml:xsd:iso20775"&gt;' in answers[0][1], q


def test_browser_gets_the_search_page(sru_url):
    r = requests.get(sru_url, headers=BROWSER)
    assert r.headers["Content-Type"].startswith("text/html")
    assert 'name="viewport"' in r.text and "Nhan đề" in r.text
    r = requests.get(sru_url, params={"q": "Ha Noi", "field": "title"},
                     headers={**BROWSER, "Accept-Language": "vi"})
    assert "Tìm thấy" in r.text and "Hà Nội" in r.text
    r = requests.get(sru_url, params={"q": "viet"}, headers=BROWSER)
    assert "start=11" in r.text  # a next link
    r = requests.get(sru_url, params={"q": "viet", "start": "11"}, headers=BROWSER)
    assert 'rel="prev"' in r.text  # a previous link
    r = requests.get(sru_url, params={"query": "(viet"}, headers={**BROWSER, "Accept-Language": "en"})
    assert "SRU 13" in r.text and "role=\"alert\"" in r.text


def test_browser_asking_for_a_stylesheet_gets_xml_and_for_an_operation_its_html_view(sru_url):
    r = requests.get(sru_url, params={"version": "1.2", "operation": "searchRetrieve", "query": "viet",
                                      "stylesheet": "/s.xsl"}, headers=BROWSER)
    assert r.headers["Content-Type"].startswith("text/xml")
    assert b'<?xml-stylesheet type="text/xsl" href="/s.xsl"?>' in r.content
    r = requests.get(sru_url, params={"version": "1.2", "operation": "explain"}, headers=BROWSER)
    assert r.headers["Content-Type"].startswith("text/html") and "dc.title" in r.text
    r = requests.get(sru_url + "/xml", params={"version": "1.2", "operation": "explain"}, headers=BROWSER)
    assert r.headers["Content-Type"].startswith("text/xml") and b"explainResponse" in r.content


def _yaz(commands: list[str]) -> str:
    proc = subprocess.run(["yaz-client"], input="\n".join(commands + ["quit"]) + "\n",
                          capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("yaz-client") is None,
                    reason="yaz-client not installed (Debian: apt-get install yaz; .ci/run does it)")
@pytest.mark.parametrize("transport", ["get 1.1", "get 1.2", "post 1.2", "get 2.0", "post 2.0"])
def test_yaz_client_searches_and_scans_our_server(sru_url, transport):
    expected = Client(sru_url).count('"Hà Nội"')
    out = _yaz([f"sru {transport}", f"open {sru_url}", "querytype cql", 'find "Ha Noi"', "show 1",
                "scan dc.title=ha"])
    assert f"Number of hits: {expected}" in out
    assert "<dc:title>" in out
    assert "Hà Nội bản đồ du lịch" in out  # a scan line: display term and count


@pytest.mark.skipif(shutil.which("zebrasrv") is None or shutil.which("zebraidx") is None,
                    reason="Zebra not installed (Debian: idzebra-2.0)")
def test_client_against_zebra(tmp_path):
    """Our client against another SRU server: Index Data's Zebra over the same MARC file.
    (Zebra folds no diacritics by default, so the query is an unaccented word.)"""
    from conftest import SAMPLES
    from zebra_helper import zebra_server

    with zebra_server(tmp_path, SAMPLES / "vietnamese-catalogue.mrc") as url:
        client = Client(url, version="1.2")
        total = client.count("dc.title = nam")
        assert total > 12
        records = list(client.search("dc.title = nam", schema="marcxml", limit=12, page_size=5))
        assert len(records) == 12  # three pages, though Zebra sends no nextRecordPosition
        assert records[0].element.tag == "{http://www.loc.gov/MARC21/slim}record"
        assert [r.position for r in records] == list(range(1, 13))
        terms = client.scan("dc.title = ha", maximum=3)
        assert len(terms) == 3 and all(t.count for t in terms)
        with pytest.raises(SRUError):
            list(client.search("dc.title = (", limit=1, plain_words=False))
