"""The union catalogue as readers and search engines see it: facets with counts
(combined, removed, over SQLite and PostgreSQL), the same facets over SRU 2.0
(valid against the OASIS schema), a cluster's page with every library that holds
it and its schema.org JSON-LD, the sitemap and the OpenSearch description, a
single library's own search page, and the page in a real headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from conftest import fresh_store_url, live_server
from lxml import etree
from test_sru_server import check, diag_numbers
from union_fixtures import F, Ind, S, book

from thuvien_interop.formats import default_registry
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.pipeline.build import build_record, write_batch
from thuvien_interop.sru.config import SRUConfig
from thuvien_interop.sru.server import Server
from thuvien_interop.store import open_store
from thuvien_interop.union.clusters import open_index
from thuvien_interop.union.holdings import Library
from thuvien_interop.web import create_app
from thuvien_interop.web.app import reader_config

EN = {"Accept": "text/html", "Sec-Fetch-Dest": "document", "Accept-Language": "en"}
LIBRARIES = {"daklak": Library("daklak", "Thư viện tỉnh Đắk Lắk", "Đắk Lắk", "public"),
             "buonho": Library("buonho", "Thư viện THCS Buôn Hồ", "Đắk Lắk", "school"),
             "hanoi": Library("hanoi", "Thư viện Hà Nội", "Hà Nội", "public")}


def _shelf(place: str, call: str) -> list:
    return [F("852", Ind(" ", " "), [S("b", place), S("h", call), S("p", "A1")])]


def _subject(text: str) -> list:
    return [F("650", Ind(" ", "7"), [S("a", text)])]


def union_records():
    """Three libraries; "Tiếng Việt 1" held by all three (one cluster), a map of
    Việt Nam (1995) in two, a history of Việt Nam (1998) in Đắk Lắk only."""
    reg = default_registry()
    tv = dict(isbn=["978-604-123456-7"], year=2020)
    made = [
        ("oai:daklak:1", "daklak", book("Tiếng Việt 1", author="Bộ Giáo dục", **tv,
                                        extra=_shelf("Kho đọc", "372.6 T306V") + _subject("Tiếng Việt"))),
        ("oai:buonho:1", "buonho", book("TIENG VIET 1", author="Bo Giao duc", isbn=["6041234567"], year=2020,
                                        extra=_shelf("Kho mở", "372.6 TV1"))),
        ("oai:hanoi:1", "hanoi", book("Tiếng Việt 1", author="Bộ Giáo dục", **tv, extra=_shelf("Kho sách", "372.6"))),
        ("oai:daklak:2", "daklak", book("Bản đồ Việt Nam", year=1995, leader="00000nem a22000007a 4500")),
        ("oai:hanoi:2", "hanoi", book("Bản đồ Việt Nam", year=1995, leader="00000nem a22000007a 4500")),
        ("oai:daklak:3", "daklak", book("Lịch sử Việt Nam", year=1998, extra=_subject("Lịch sử"))),
    ]
    return [build_record(marc, ident, reg, (f"source:{provider}",)) for ident, provider, marc in made]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def union(request, tmp_path_factory):
    """(store, its cluster index) of the union above, on each backend, written as a
    harvest writes it (the clusters kept by the store, in the records' transaction)."""
    url = fresh_store_url(request, request.param, tmp_path_factory.mktemp("reader"), "union")
    store = open_store(url)
    write_batch(store, union_records())
    yield store, open_index(store)
    store.close()


@pytest.fixture(scope="module")
def site(union):
    store, index = union
    app = create_app(store, ProviderConfig(repository_name="Mục lục liên hợp Tây Nguyên"),
                     libraries=LIBRARIES, clusters=index)
    with live_server(app) as url:
        yield url


def _visible(page: str) -> str:
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _facets(page: str) -> dict[str, dict[str, int]]:
    """What the facet column shows: facet → {value: count}, and each value's link."""
    out: dict[str, dict[str, int]] = {}
    for section in re.findall(r'<section class="facet"><h2>(.*?)</h2><ul>(.*?)</ul>', page, re.S):
        out[html.unescape(section[0])] = {
            html.unescape(v): int(n.replace(",", ""))
            for v, n in re.findall(r'<a href="[^"]*">([^<]*)</a> <span class="muted">([\d,]+)</span>', section[1])}
    return out


def _link(page: str, text: str) -> str:
    m = re.search(r'<a href="(\?[^"]*)"[^>]*>' + re.escape(html.escape(text, quote=False)), page)
    assert m, f"no link '{text}'"
    return html.unescape(m.group(1))


# -- facets ---------------------------------------------------------------------------------

def test_results_and_facets_count_works_the_libraries_holding_each_once(site):
    # Six records, three works: "Tiếng Việt 1" in all three libraries, the map in two.
    page = requests.get(site + "/", params={"q": "viet"}, headers=EN).text
    f = _facets(page)
    assert f["Library"] == {"Thư viện tỉnh Đắk Lắk": 3, "Thư viện Hà Nội": 2, "Thư viện THCS Buôn Hồ": 1}
    # Two libraries of Đắk Lắk hold "Tiếng Việt 1": it counts once there.
    assert f["Province"] == {"Đắk Lắk": 3, "Hà Nội": 2}
    assert f["Kind of library"] == {"Public library": 3, "School library": 1}
    assert f["Document type"] == {"Books and texts": 2, "Maps": 1}
    assert f["Year"] == {"1990–1999": 2, "2020–2029": 1}
    assert f["Language"] == {"Vietnamese": 3}
    assert f["Subject"] == {"Lịch sử": 1, "Tiếng Việt": 1}
    text = _visible(page)
    assert "3 results" in text and "showing 1–3" in text
    assert sorted(re.findall(r'<a class="t" href="[^"]*">([^<]*)</a>', page)) == [
        "Bản đồ Việt Nam", "Lịch sử Việt Nam", "Tiếng Việt 1"]
    assert "in 3 libraries" in text and "in 2 libraries" in text and "in 1 library" in text


def test_every_facet_count_is_the_count_of_the_search_narrowed_to_it(site):
    # The facets counted together (one statement on PostgreSQL, one a part on SQLite)
    # say what each value's own search finds: the same works, counted the same way.
    page = requests.get(site + "/", params={"q": "viet"}, headers=EN).text
    terms = re.findall(r'<a href="(\?[^"]*)">([^<]*)</a> <span class="muted">([\d,]+)</span>', page)
    assert len(terms) == sum(len(v) for v in _facets(page).values()) == 14
    for href, value, count in terms:
        narrowed = _visible(requests.get(site + "/" + html.unescape(href), headers=EN).text)
        found = re.search(r"(\d+) results?", narrowed)
        assert found and found.group(1) == count, (value, count, found)


def test_facets_combine_and_each_one_can_be_removed(site):
    first = requests.get(site + "/", params={"q": "viet"}, headers=EN).text
    by_province = requests.get(site + "/" + _link(first, "Đắk Lắk"), headers=EN).text
    assert "3 results" in _visible(by_province)
    both = requests.get(site + "/" + _link(by_province, "1990–1999"), headers=EN).text
    text = _visible(both)
    assert "2 results" in text and "Province: Đắk Lắk ×" in text and "Year: 1990–1999 ×" in text
    assert {"Bản đồ Việt Nam", "Lịch sử Việt Nam"} == set(re.findall(r'<a class="t" href="[^"]*">([^<]*)</a>', both))
    assert _facets(both)["Document type"] == {"Maps": 1, "Books and texts": 1}
    # Removing the province keeps the decade: the map Hà Nội holds too is still one work.
    m = re.search(r'<a href="(\?[^"]*)" title="Remove this condition">Province', both)
    without = requests.get(site + "/" + html.unescape(m.group(1)), headers=EN).text
    assert "2 results" in _visible(without) and "Year: 1990–1999 ×" in _visible(without)
    assert _facets(without)["Library"] == {"Thư viện tỉnh Đắk Lắk": 2, "Thư viện Hà Nội": 1}
    assert ("f", "dc.date:199") in parse_qsl(urlsplit(html.unescape(m.group(1))).query)


@pytest.fixture(params=["sqlite", "postgres"])
def far_apart(request, tmp_path):
    """A union site where one work's two records sort first and last: "Aa"'s copy
    of a book and another library's copy without an author (one ISBN), among
    twelve other works."""
    url = fresh_store_url(request, request.param, tmp_path, "far")
    reg = default_registry()
    made = [("oai:daklak:0", "daklak", book("Sách mẫu", author="Aa", isbn=["978-604-123456-7"])),
            ("oai:hanoi:0", "hanoi", book("Sách mẫu", isbn=["978-604-123456-7"]))]
    made += [(f"oai:daklak:{i}", "daklak", book(f"Sách số {i}", author=f"B{i:02}", year=2000 + i))
             for i in range(1, 13)]
    store = open_store(url)
    # One record a batch, the work's two records first and last: ids far apart too.
    for ident, provider, marc in [made[0], *made[2:], made[1]]:
        write_batch(store, [build_record(marc, ident, reg, (f"source:{provider}",))])
    app = create_app(store, ProviderConfig(), libraries=LIBRARIES, clusters=open_index(store))
    with live_server(app) as site:
        yield site, store
    store.close()


def _pages(site: str, params: dict) -> list[str]:
    """Every results page of a search, following "Next"."""
    pages = [requests.get(site + "/", params=params, headers=EN).text]
    while (m := re.search(r'<a href="(\?[^"]*)" rel="next">', pages[-1])) and len(pages) < 5:
        pages.append(requests.get(site + "/" + html.unescape(m.group(1)), headers=EN).text)
    return pages


@pytest.mark.parametrize("sort", ["author", ""])
def test_a_work_is_one_hit_on_one_page_however_far_apart_its_records_are(far_apart, sort):
    far_apart, _ = far_apart
    pages = _pages(far_apart, {"q": "sach", "sort": sort})
    assert len(pages) == 2 and all("13 results" in _visible(p) for p in pages)
    lines = [re.findall(r'<a class="t" href="([^"]*)">', p) for p in pages]
    assert [len(x) for x in lines] == [10, 3]
    hits = [h.rsplit("/", 1)[1] for x in lines for h in x]
    assert len(set(hits)) == 13 and not {"oai:daklak:0", "oai:hanoi:0"} <= set(hits)
    assert _visible("".join(pages)).count("in 2 libraries") == 1
    if sort == "author":
        assert hits[0] == "oai:daklak:0" and "in 2 libraries" in _visible(pages[0])
    assert "showing 11–13" in _visible(pages[1])
    back = re.search(r'<a href="(\?[^"]*)" rel="prev">', pages[1])
    assert back and ("start", "1") in parse_qsl(urlsplit(html.unescape(back.group(1))).query)
    # Facets count the work once; the protocol for machines still counts records.
    assert _facets(pages[0])["Library"] == {"Thư viện tỉnh Đắk Lắk": 13, "Thư viện Hà Nội": 1}
    sru = requests.get(far_apart + "/sru", params={"query": "sach", "maximumRecords": "0"})
    assert b"numberOfRecords>14<" in sru.content


def test_past_the_sample_size_facet_counts_are_estimates_and_the_page_says_so(far_apart, monkeypatch):
    from thuvien_interop.sru.cql import parse
    from thuvien_interop.sru.translate import to_plan
    from thuvien_interop.store.search_plan import FacetSpec
    from thuvien_interop.web import reader

    site, store = far_apart
    plan = to_plan(parse("sach"), SRUConfig().profile)
    spec = [FacetSpec("local.library", 5)]
    exact = store.facets(plan, spec, works=True)
    assert not exact.estimated and [(t.key, t.count) for t in exact["local.library"]] == [("daklak", 13), ("hanoi", 1)]
    assert store.facets(plan, spec, works=True, sample=14) == exact
    assert not store.facets(plan, spec, works=True, sample=14).estimated
    half = store.facets(plan, spec, works=True, sample=7)
    assert half.estimated and 5 <= sum(t.count for t in half["local.library"]) <= 30
    # The page marks its estimates; SRU's facets (for machines) stay exact.
    monkeypatch.setattr(reader, "FACET_SAMPLE", 7)
    page = requests.get(site + "/", params={"q": "sach"}, headers=EN).text
    assert re.search(r'<span class="muted">≈\d+</span>', page) and "estimated from a sample" in page
    assert "13 results" in _visible(page)
    sru = requests.get(site + "/sru", params={"query": "sach", "facetLimit": "5:local.library"}).text
    assert "≈" not in sru and ">13<" in sru


def test_a_sampled_facet_counts_the_records_the_hash_picks_scaled_to_the_whole(far_apart):
    from thuvien_interop.sru.cql import parse
    from thuvien_interop.sru.translate import to_plan
    from thuvien_interop.store.search_plan import FacetSpec
    from thuvien_interop.store.sql import _HASH_RANGE, _HASH_STEP

    _site, store = far_apart
    plan = to_plan(parse("sach"), SRUConfig().profile)
    ids = dict(store._conn().execute("SELECT identifier, id FROM records").fetchall())
    assert len(ids) == 14
    for sample in (3, 7, 13):
        # The sample the store documents: of 14 matches, the records whose id hashes
        # under the least cut that keeps about ``sample`` of them, counted and scaled.
        cut = -(-_HASH_RANGE * sample // 14)
        picked = [ident for ident, rid in ids.items() if rid * _HASH_STEP % _HASH_RANGE < cut]
        expected: dict[str, int] = {}
        for ident in picked:
            expected[ident.split(":")[1]] = expected.get(ident.split(":")[1], 0) + 1
        got = store.facets(plan, [FacetSpec("local.library", 5)], sample=sample)
        assert got.estimated
        assert {t.key: t.count for t in got["local.library"]} == {
            lib: round(n * _HASH_RANGE / cut) for lib, n in expected.items()}


def test_a_chosen_value_also_narrows_a_plain_words_search_in_the_sru_view(site):
    r = requests.get(site + "/sru", params=[("q", "viet"), ("f", "local.libraryKind:school")], headers=EN)
    assert "1 results" in _visible(r.text) and "TIENG VIET 1" in r.text


# -- the same over SRU ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sru(union):
    store, _ = union
    return Server(store, reader_config(SRUConfig(), ProviderConfig(), LIBRARIES))


def test_sru_indexes_for_library_province_and_kind_narrow_any_client(sru):
    def count(query: str) -> int:
        doc = check(sru.handle([("version", "1.2"), ("operation", "searchRetrieve"), ("query", query)]))
        return int(doc.findtext("{http://www.loc.gov/zing/srw/}numberOfRecords"))

    assert count('local.province = "Dak Lak"') == 4
    assert count("local.province = hà*") == 2
    assert count('local.libraryKind = school') == 1
    assert count('local.library = hanoi and dc.type = cartographic') == 1
    assert count('viet not local.province = "Hà Nội"') == 4
    assert count('local.province = "Lâm Đồng"') == 0
    # A province beside other parts is its libraries' keys checked per record
    # (one semi-join with their keys or-ed), in either order and with other keys.
    assert count('viet and local.province = "Dak Lak"') == 4
    assert count('local.province = "Dak Lak" and viet') == 4
    assert count('viet and local.province = hà* and dc.date >= 2000') == 1
    assert count('viet not local.province = "Dak Lak"') == 2
    assert count('local.province = "Dak Lak" or local.province = "Hà Nội"') == 6
    assert count('(local.library = hanoi or local.library = buonho) and dc.date >= 1990') == 3
    assert count('sach and (local.library = hanoi or local.library = buonho)') == 0


def test_sru_2_facets_are_valid_against_the_oasis_schema_and_lead_to_their_query(sru):
    resp = sru.handle([("query", "viet"), ("facetLimit", "10:local.province,2:dc.date,5:local.library"),
                       ("facetSort", "alphanumeric:dc.date"), ("maximumRecords", "1")])
    doc = check(resp)
    fr = "{http://docs.oasis-open.org/ns/search-ws/facetedResults}"
    facets = {f.findtext(f"{fr}index"): [(t.findtext(f"{fr}actualTerm"), int(t.findtext(f"{fr}count")),
                                          t.findtext(f"{fr}query"))
                                         for t in f.iter(f"{fr}term")]
              for f in doc.iter(f"{fr}facet")}
    assert facets["local.province"][0][:2] == ("Đắk Lắk", 4)
    assert [t[:2] for t in facets["dc.date"]] == [("1990–1999", 3), ("2020–2029", 3)]
    assert {t[0] for t in facets["local.library"]} == {"daklak", "buonho", "hanoi"}
    echoed = doc.findtext(".//{http://docs.oasis-open.org/ns/search-ws/sruResponse}facetParameters")
    assert "facetLimit=10:local.province" in echoed
    # Each term's query finds exactly its count.
    for _name, n, query in facets["local.province"] + facets["dc.date"]:
        narrowed = check(sru.handle([("query", query), ("maximumRecords", "0")]))
        assert int(narrowed.findtext("{http://docs.oasis-open.org/ns/search-ws/sruResponse}numberOfRecords")) == n


def test_facet_parameters_in_error_are_diagnostics(sru):
    assert diag_numbers(check(sru.handle([("query", "viet"), ("facetLimit", "many")]))) == [6]
    assert diag_numbers(check(sru.handle([("query", "viet"), ("facetLimit", "3:dc.colour")]))) == [16]
    assert diag_numbers(check(sru.handle([("query", "viet"), ("facetSort", "recordCount")]))) == [6]
    one_two = sru.handle([("version", "1.2"), ("operation", "searchRetrieve"), ("query", "viet"),
                          ("facetLimit", "3")])
    assert diag_numbers(check(one_two)) == [8]       # an SRU 2.0 parameter only
    # A count alone: every facet readers have.
    doc = check(sru.handle([("query", "viet"), ("facetLimit", "1")]))
    names = [e.text for e in doc.iter("{http://docs.oasis-open.org/ns/search-ws/facetedResults}index")]
    assert names == ["local.library", "local.province", "local.libraryKind", "dc.type", "dc.date",
                     "dc.language", "dc.subject"]


def _holdings(doc) -> dict[str, list]:
    """recordIdentifier-less SRU records of the holdings schema: each one's
    <holdings>, validated against the ISO 20775 structure, by its first library."""
    from test_union_holdings import ISO, iso20775_structure

    structure = iso20775_structure()
    out: dict[str, list] = {}
    for h in doc.iter(f"{ISO}holdings"):
        assert structure.validate(etree.fromstring(etree.tostring(h))), structure.error_log
        holding = h.find(f"{ISO}holding")
        out.setdefault(holding.findtext(f"{ISO}institutionIdentifier/{ISO}value"), []).append(holding)
    return out


@pytest.mark.parametrize("version", ["1.1", "1.2", "2.0"])
def test_the_holdings_record_schema_says_which_library_holds_each_record_where(sru, version):
    names = ["holdings", "info:ofi/fmt:xml:xsd:iso20775"]
    for name in names:
        params = [("version", version), ("query", '"tieng viet 1"'), ("recordSchema", name)]
        if version != "2.0":
            params.append(("operation", "searchRetrieve"))
        doc = check(sru.handle(params))
        schemas = {e.text for e in doc.iter() if isinstance(e.tag, str) and e.tag.endswith("}recordSchema")
                   and e.getparent().tag.endswith("}record")}
        assert schemas == {"info:ofi/fmt:xml:xsd:iso20775"}
        found = _holdings(doc)
        assert sorted(found) == ["buonho", "daklak", "hanoi"]
        [tinh] = found["daklak"]
        ISO = "{info:ofi/fmt:xml:xsd:iso20775}"
        assert tinh.findtext(f"{ISO}physicalLocation") == "Thư viện tỉnh Đắk Lắk"
        assert tinh.findtext(f"{ISO}physicalAddress/{ISO}text") == "Đắk Lắk"
        info = tinh.find(f"{ISO}holdingSimple/{ISO}copyInformation")
        assert info.findtext(f"{ISO}sublocation") == "Kho đọc"
        assert info.findtext(f"{ISO}shelfLocator") == "372.6 T306V"
        assert info.findtext(f"{ISO}pieceIdentifier/{ISO}value") == "A1"
    # A record without item data: its library holds it.
    doc = check(sru.handle([("query", 'dc.title = "Lịch sử Việt Nam"'), ("recordSchema", "holdings")]))
    [bare] = _holdings(doc)["daklak"]
    assert bare.find("{info:ofi/fmt:xml:xsd:iso20775}holdingStructured") is not None


def test_explain_lists_the_holdings_schema_only_where_it_is_written(sru, union):
    store, _ = union
    zr = "{http://explain.z3950.org/dtd/2.0/}"
    served = check(sru.handle([("version", "1.2"), ("operation", "explain")]))
    assert "holdings" in [s.get("name") for s in served.iter(f"{zr}schema")]
    plain = Server(store, SRUConfig())          # a Server built without saying who holds what
    doc = check(plain.handle([("version", "1.2"), ("operation", "explain")]))
    assert "holdings" not in [s.get("name") for s in doc.iter(f"{zr}schema")]
    asked = check(plain.handle([("version", "1.2"), ("operation", "searchRetrieve"), ("query", "viet"),
                                ("recordSchema", "holdings")]))
    assert diag_numbers(asked) == [66]


# -- a cluster's page -----------------------------------------------------------------------------

def _jsonld(page: str) -> dict:
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def test_a_cluster_page_has_the_holdings_of_every_provider_nearest_first(site):
    for member in ("oai:daklak:1", "oai:buonho:1", "oai:hanoi:1"):
        page = requests.get(f"{site}/record/{member}", params={"province": "Hà Nội"}, headers=EN).text
        text = _visible(page)
        order = [text.index(lib.label) for lib in (LIBRARIES["hanoi"], LIBRARIES["daklak"], LIBRARIES["buonho"])]
        assert order[0] < min(order[1:]), member
        for call in ("372.6 T306V", "372.6 TV1", "Kho mở", "Kho sách"):
            assert call in text
        assert f'<link rel="canonical" href="{site}/record/oai:buonho:1">' in page  # the cluster's head


def test_a_record_page_keeps_an_abbreviations_period_and_an_initial():
    from thuvien_interop.web.reader import describe

    marc = book("Toán 1 /", author="Smith, J.", pages="120 tr. :", edition="Tái bản lần thứ 2, có sửa chữa.",
                extra=[F("300", Ind(" ", " "), [S("a", "1 t. (96 tr.) :"), S("b", "minh họa ;"),
                                                S("c", "21 cm.")])])
    rows = {label[1]: value for label, value in describe(marc, "oai:x:1", 1).rows}
    assert rows["Physical description"] == "120 tr.; 1 t. (96 tr.) : minh họa ; 21 cm"
    assert rows["Author"] == "Smith, J." and rows["Title"] == "Toán 1"
    assert rows["Edition"] == "Tái bản lần thứ 2, có sửa chữa"


def test_the_record_page_json_ld_is_a_book_with_its_libraries_as_offers(site):
    doc = _jsonld(requests.get(site + "/record/oai:hanoi:1", headers=EN).text)
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Book"
    assert doc["name"] == "Tiếng Việt 1" and doc["datePublished"] == "2020"
    assert doc["author"] == {"@type": "Person", "name": "Bộ Giáo dục"}
    assert doc["isbn"] == "978-604-123456-7" and doc["inLanguage"] == "vie"
    offers = doc["offers"]
    assert {o["@type"] for o in offers} == {"Offer"}
    assert {o["offeredBy"]["name"] for o in offers} == {lib.label for lib in LIBRARIES.values()}
    assert all(o["offeredBy"]["@type"] == "Library" for o in offers)
    daklak = next(o for o in offers if o["offeredBy"]["name"] == "Thư viện tỉnh Đắk Lắk")
    assert daklak["sku"] == "372.6 T306V" and daklak["availableAtOrFrom"]["name"] == "Kho đọc"
    assert daklak["offeredBy"]["address"]["addressRegion"] == "Đắk Lắk"
    assert _jsonld(requests.get(site + "/record/oai:daklak:2", headers=EN).text)["@type"] == "Map"


def test_the_sitemap_lists_each_cluster_once_and_the_pages_link_the_opensearch_description(site):
    doc = etree.fromstring(requests.get(site + "/sitemap.xml").content)
    locs = [e.text for e in doc.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert sorted(locs) == sorted(f"{site}/record/{i}" for i in ("oai:buonho:1", "oai:daklak:2", "oai:daklak:3"))
    assert all(requests.get(loc, headers=EN).status_code == 200 for loc in locs)
    page = requests.get(site + "/", headers=EN).text
    assert '<link rel="search" type="application/opensearchdescription+xml"' in page
    osd = requests.get(site + "/opensearch.xml")
    assert osd.headers["Content-Type"].startswith("application/opensearchdescription+xml")
    ns = "{http://a9.com/-/spec/opensearch/1.1/}"
    urls = {u.get("type"): u.get("template") for u in etree.fromstring(osd.content).iter(f"{ns}Url")}
    search = urls["text/html"].replace("{searchTerms}", "Tieng Viet")
    assert "Tiếng Việt 1" in requests.get(search, headers=EN).text
    sru = requests.get(urls["application/sru+xml"].replace("{searchTerms}", "Tieng Viet"))
    assert b"numberOfRecords>3<" in sru.content
    assert requests.get(site + "/sitemap.xml", params={"after": "x"}).status_code == 400


def test_a_large_sitemap_is_an_index_of_sitemaps_continuing_by_key(union):
    from thuvien_interop.web.reader import sitemap_response

    store, index = union
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    top = etree.fromstring(sitemap_response(store, "https://lib.example", None, index, per_file=2))
    assert top.tag == f"{ns}sitemapindex"
    files = [e.text for e in top.iter(f"{ns}loc")]
    assert len(files) == 3 and files[0] == "https://lib.example/sitemap.xml?after=0.0"
    locs = []
    for f in files:
        after = dict(parse_qsl(urlsplit(f).query))["after"]
        doc = etree.fromstring(sitemap_response(store, "https://lib.example", after, index, per_file=2))
        locs += [e.text for e in doc.iter(f"{ns}loc")]
    assert sorted(locs) == [f"https://lib.example/record/{i}" for i in ("oai:buonho:1", "oai:daklak:2", "oai:daklak:3")]


# -- one library ------------------------------------------------------------------------------------

def test_a_single_library_gets_the_same_page_titled_with_its_name_and_its_own_holdings(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    marc = book("Đất rừng phương Nam", author="Đoàn Giỏi", year=2019, extra=_shelf("Kho thiếu nhi", "895.9223 Đ406G"))
    store.write([build_record(marc, "oai:krongpac:1", default_registry())])
    app = create_app(store, ProviderConfig(repository_name="Thư viện huyện Krông Pắc"))
    with live_server(app) as url:
        page = requests.get(url + "/", params={"q": "dat rung"}, headers=EN).text
        assert "<title>dat rung – Thư viện huyện Krông Pắc</title>" in page
        assert "Library" not in _facets(page) and "Province" not in _facets(page)
        assert 'href="/oai?verb=Identify"' in page
        record = _visible(requests.get(url + "/record/oai:krongpac:1", headers=EN).text)
        assert "Thư viện huyện Krông Pắc" in record and "895.9223 Đ406G" in record and "Kho thiếu nhi" in record
        sru = requests.get(url + "/sru", params={"version": "1.2", "operation": "searchRetrieve",
                                                 "query": "\"dat rung\"", "recordSchema": "holdings"})
        iso = "{info:ofi/fmt:xml:xsd:iso20775}"
        [own] = etree.fromstring(sru.content).iter(f"{iso}holding")
        assert own.findtext(f"{iso}physicalLocation") == "Thư viện huyện Krông Pắc"
        assert own.findtext(f"{iso}holdingSimple/{iso}copyInformation/{iso}shelfLocator") == "895.9223 Đ406G"
    store.close()


# -- in a real browser --------------------------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
SHOTS = Path(os.environ.get("THUVIEN_SCREENSHOTS", "")) if os.environ.get("THUVIEN_SCREENSHOTS") else None

MEASURE = """<!DOCTYPE html><html><body style="margin:0"><pre id="result">pending</pre><script>
const f = document.createElement("iframe");
f.style.cssText = "width:%dpx;height:900px;border:0";
f.onload = () => {
  const d = f.contentDocument;
  document.getElementById("result").textContent = JSON.stringify({
    scroll: d.documentElement.scrollWidth, client: d.documentElement.clientWidth,
    facets: d.querySelectorAll("aside .facet").length, hits: d.querySelectorAll(".hits li").length,
    aside: d.querySelector("aside") ? d.querySelector("aside").getBoundingClientRect().left : null,
    scripts: d.querySelectorAll("script:not([type='application/ld+json'])").length, title: d.title, url: d.URL});
};
f.src = %s;
document.body.appendChild(f);
</script></body></html>"""


@pytest.fixture(scope="module")
def browser_site(union):
    """The union site with a page that measures another in a frame of the same origin."""
    from flask import Response, request

    store, index = union
    app = create_app(store, ProviderConfig(repository_name="Mục lục liên hợp Tây Nguyên"),
                     libraries=LIBRARIES, clusters=index)

    @app.route("/measure")
    def measure() -> Response:
        return Response(MEASURE % (int(request.args["width"]), json.dumps(request.args["page"])),
                        content_type="text/html; charset=utf-8")

    with live_server(app) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
@pytest.mark.parametrize("width", [360, 1280])
def test_the_search_page_in_headless_chromium(browser_site, width, tmp_path):
    page = "/?q=viet&lang=en&f=local.province:Đắk Lắk"
    weight = len(requests.get(browser_site + page, headers=EN).content)
    assert weight < 60_000, f"the results page weighs {weight:,} bytes"
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"search-{width}.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},1600", f"--screenshot={shot}", browser_site + page],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--window-size={width},900", "--virtual-time-budget=30000", "--dump-dom",
                          f"{browser_site}/measure?width={width}&page={requests.utils.quote(page)}"],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found and found.group(1) != "pending", dom[-2000:]
    m = json.loads(html.unescape(found.group(1)))
    assert m["scroll"] <= m["client"] == width, f"{m['scroll']} px wide at {width} px"
    assert (m["hits"], m["facets"] >= 4, m["scripts"]) == (3, True, 0), json.dumps(m)
    if width == 1280:
        assert m["aside"] > width / 2          # the facets beside the results
    record = "/record/oai:hanoi:1?lang=en&province=Hà Nội"
    weight = len(requests.get(browser_site + record, headers=EN).content)
    assert weight < 60_000, f"the record page weighs {weight:,} bytes"
    shot = shots / f"record-{width}.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},1600", f"--screenshot={shot}", browser_site + record],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000


# -- serve --providers ----------------------------------------------------------------------------

PROVIDERS = """
[[provider]]
name = "daklak"
url = "http://127.0.0.1:1/oai"
library = { name = "Thư viện tỉnh Đắk Lắk", province = "Đắk Lắk", kind = "public" }

[[provider]]
name = "buonho"
url = "http://127.0.0.1:1/oai"
library = { name = "Thư viện THCS Buôn Hồ", province = "Đắk Lắk", kind = "school" }

[[provider]]
name = "hanoi"
url = "http://127.0.0.1:1/oai"
library = { name = "Thư viện Hà Nội", province = "Hà Nội", kind = "public" }
"""


def test_serve_with_the_harvests_providers_file_names_libraries_provinces_and_kinds(tmp_path):
    from conftest import free_port
    from test_ux_serve import running

    store = open_store(f"sqlite:///{tmp_path / 'union.db'}")
    store.write(union_records())
    store.close()
    providers = tmp_path / "providers.toml"
    providers.write_text(PROVIDERS, encoding="utf-8")
    port = free_port()
    with running("serve", "--store", f"sqlite:///{tmp_path / 'union.db'}", "--providers", str(providers),
                 "--port", str(port), "--access-log", "off") as r:
        banner = r.until("Stop with Ctrl-C.")
        assert "  Libraries: 3 (from --providers: names, provinces, kinds)" in banner
        page = requests.get(f"http://127.0.0.1:{port}/", params={"q": "viet"}, headers=EN, timeout=30).text
        f = _facets(page)
        assert f["Province"] == {"Đắk Lắk": 4, "Hà Nội": 2}
        assert f["Library"]["Thư viện THCS Buôn Hồ"] == 1
        sru = requests.get(f"http://127.0.0.1:{port}/sru", timeout=30,
                           params={"query": "local.libraryKind = school", "version": "1.2",
                                   "operation": "searchRetrieve"})
        assert b"numberOfRecords>1<" in sru.content


def test_a_broken_providers_file_is_one_line_saying_what_is_wrong(tmp_path):
    from click.testing import CliRunner

    from thuvien_interop.cli import main

    bad = tmp_path / "providers.toml"
    bad.write_text('[[provider]]\nname = "x"\nurl = "http://h/oai"\nlibrary = { kind = "castle" }\n',
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--store", f"sqlite:///{tmp_path / 's.db'}",
                                       "--providers", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "kind 'castle' is not one of" in result.output and len(result.output.strip().splitlines()) == 1


def _textbook_union(path: Path, libraries: int):
    """A textbook held by ``libraries`` libraries (one cluster), on SQLite."""
    reg = default_registry()
    store = open_store(f"sqlite:///{path}")
    write_batch(store, [build_record(book("Tiếng Việt 1", isbn=["978-604-123456-7"],
                                          extra=_shelf("Kho đọc", f"372.6 T{k}")),
                                     f"oai:school{k:02d}:1", reg, (f"source:school{k:02d}",))
                        for k in range(libraries)])
    return store


def _statements(store, render) -> tuple[int, object]:
    """How many SQL statements ``render()`` runs (SQLite's own trace), and its result."""
    seen: list[str] = []
    conn = store._conn()
    conn.set_trace_callback(seen.append)
    try:
        got = render()
    finally:
        conn.set_trace_callback(None)
    return len(seen), got


def test_a_cluster_page_and_the_sitemap_read_a_few_statements_however_many_libraries(tmp_path):
    from thuvien_interop.web.reader import render_record, sitemap_response

    counts = []
    for n in (3, 30):
        store = _textbook_union(tmp_path / f"u{n}.db", n)
        index = open_index(store)
        page_reads, page = _statements(store, lambda s=store, i=index: render_record(
            s, "oai:school01:1", clusters=i, libraries={}))
        map_reads, body = _statements(store, lambda s=store, i=index: sitemap_response(s, "http://x", None, i))
        # Every library's shelf, and the cluster's page once in the sitemap.
        assert len(set(re.findall(r"372\.6 T\d+", page))) == n and body.count(b"<url>") == 1
        counts.append((page_reads, map_reads))
        store.close()
    assert counts[0] == counts[1]
