"""Search for people: plain words wherever a person types (Client.search, the
``search`` command, the search page), a result line in words, a record page per
hit with its holdings, sorting, narrowing, one line per cluster."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests
from click.testing import CliRunner
from conftest import live_server
from union_fixtures import F, Ind, S, book

from thuvien_interop.cli import main
from thuvien_interop.formats import default_registry
from thuvien_interop.model import Record
from thuvien_interop.pipeline.build import write_batch
from thuvien_interop.sru import Client, SRUError
from thuvien_interop.sru.cql import parse, people_query, words_query
from thuvien_interop.sru.indexing import index_source
from thuvien_interop.store import open_store
from thuvien_interop.union.clusters import open_index
from thuvien_interop.union.holdings import Library
from thuvien_interop.web import create_app
from thuvien_interop.web.reader import SearchForm

BROWSER = {"Sec-Fetch-Dest": "document", "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
VI = {**BROWSER, "Accept-Language": "vi"}
EN = {**BROWSER, "Accept-Language": "en"}


@pytest.fixture(scope="module")
def site(sample_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "samples.db"
    shutil.copy(sample_db, path)
    app = create_app(f"sqlite:///{path}")
    with live_server(app) as url:
        yield url
    app.config["REPOSITORY"].close()


def _visible(html: str) -> str:
    """The text a reader sees (no markup, no stylesheet)."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _titles(html: str) -> list[str]:
    return re.findall(r'<a class="t" href="[^"]*">([^<]*)</a>', html)


# -- plain words -------------------------------------------------------------------------

def test_words_that_are_not_cql_become_all_of_them_in_any_field_quoted_and_escaped():
    q = people_query('Truyện "Kiều" của ai?')
    assert q.as_words and q.problem
    assert parse(q.cql).root.term == 'Truyện \\"Kiều\\" của ai\\?'
    assert str(parse(q.cql).root.relation) == "all"
    assert not people_query('dc.title = "Hà Nội" and dc.date >= 2000').as_words
    # three words parse as "index relation term": an unknown relation is a person's words
    assert people_query("Tiếng Việt 1").cql == 'cql.serverChoice all "Tiếng Việt 1"'
    assert words_query("a\\b", "dc.title") == 'dc.title all "a\\\\b"'


def test_the_client_reads_plain_words_and_finds_ha_noi(site):
    client = Client(site + "/sru")
    expected = client.count('cql.serverChoice all "Hà Nội"')
    results = client.search("Ha Noi", limit=100, page_size=50)
    found = list(results)
    assert results.read_as_words and results.query == 'cql.serverChoice all "Ha Noi"'
    assert len(found) == expected > 0
    assert any("Hà Nội" in t for r in found for t in r.values("title"))
    # a question mark is a character, not a mask
    assert client.count(people_query("Ha Noi?").cql) == expected
    with pytest.raises(SRUError) as e:
        list(client.search("Ha Noi", plain_words=False))
    assert e.value.number == 10


def test_the_command_takes_unquoted_words_and_says_it_read_them_as_words(site):
    result = CliRunner().invoke(main, ["search", site + "/sru", "Ha", "Noi", "--max", "2"])
    assert result.exit_code == 0, result.output
    assert "read as words: Ha Noi" in result.stderr
    assert "Hà Nội" in result.stdout and "2. " in result.stdout
    strict = CliRunner().invoke(main, ["search", site + "/sru", "Ha", "Noi", "--cql"])
    assert strict.exit_code != 0 and "10" in strict.output
    cql = CliRunner().invoke(main, ["search", site + "/sru", 'dc.title = "Hà Nội"', "--max", "1"])
    assert cql.exit_code == 0 and "read as words" not in cql.stderr


@pytest.mark.skipif(shutil.which("thuvien-interop") is None, reason="console script not installed")
def test_the_installed_command_in_a_real_process(site):
    proc = subprocess.run(["thuvien-interop", "search", site + "/sru", "Ha", "Noi", "--max", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Hà Nội" in proc.stdout and "read as words" in proc.stderr


# -- the page ------------------------------------------------------------------------------

def test_the_landing_page_is_the_search_with_labels_for_people(site):
    r = requests.get(site + "/", headers=VI)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    text = _visible(r.text)
    assert "Mọi trường" in text and "Nhan đề" in text and "Tìm nâng cao (CQL)" in text
    assert "cql.serverChoice" not in r.text and "(dc.title)" not in text
    assert 'id="oai-pmh" href="/oai?verb=Identify"' in r.text and "/sru?operation=explain" in r.text
    assert "<script" not in r.text and len(r.content) < 60_000


def test_plain_words_on_the_page_say_so_and_list_title_author_year_kind(site):
    r = requests.get(site + "/", params={"q": "Ha Noi"}, headers=EN)
    text = _visible(r.text)
    assert "Read as words: Ha Noi" in text
    assert re.search(r"\d+ results, showing 1–10", text)
    titles = _titles(r.text)
    assert len(titles) == 10 and any("Hà Nội" in t for t in titles)
    assert "Book · Vietnamese" in text and "Map · Vietnamese" in text
    hits = _visible(re.search(r'<ol class="hits".*?</ol>', r.text, re.S).group())
    assert " vie " not in hits and "Subject" not in hits
    assert len(r.content) < 60_000
    vi = _visible(requests.get(site + "/", params={"q": "Ha Noi"}, headers=VI).text)
    assert "Đã tìm theo các từ: Ha Noi" in vi and "Sách · Tiếng Việt" in vi


def test_each_hit_has_a_record_page_with_its_description_and_holdings(site):
    r = requests.get(site + "/", params={"q": "Phố cổ Hà Nội", "field": "title"}, headers=VI)
    href = re.search(r'<a class="t" href="([^"]+)">Phố cổ Hà Nội</a>', r.text).group(1)
    page = requests.get(site + href, headers=VI)
    assert page.status_code == 200
    text = _visible(page.text)
    assert "Phố cổ Hà Nội" in text and "Hồ Thanh Nghĩa" in text
    assert "Thư viện có tài liệu này" in text and "959.731 PH-N" in text and "KHO-MUON" in text
    assert "Chủ đề Phố cổ – Hà Nội" in text and "Phân loại DDC 959.731" in text
    assert f'href="{href}"' in page.text   # the permanent link
    missing = requests.get(site + "/record/oai:nowhere:1", headers=VI)
    assert missing.status_code == 404 and "Không có biểu ghi này" in missing.text


def test_sorting_by_title_and_by_year(site):
    by_title = _titles(requests.get(site + "/", params={"q": "Viet", "sort": "title"}, headers=EN).text)
    from thuvien_interop.store.search_plan import key_of
    assert [key_of(t) for t in by_title] == sorted(key_of(t) for t in by_title)
    newest = requests.get(site + "/", params={"q": "Viet", "sort": "newest"}, headers=EN).text
    years = [int(y) for y in re.findall(r"· (\d{4})</div>", newest)]
    assert len(years) >= 5 and years == sorted(years, reverse=True)


def test_narrowing_by_kind_year_and_language(site):
    maps = _visible(requests.get(site + "/", params={"q": "Viet", "kind": "map"}, headers=EN).text)
    kinds = re.findall(r"(Map|Book|Journal|Sound recording|Video) · ", maps)
    assert kinds and set(kinds) == {"Map"}
    ranged = requests.get(site + "/", params={"q": "Viet", "from": "2010", "to": "2015"}, headers=EN).text
    years = [int(y) for y in re.findall(r"· (\d{4})</div>", ranged)]
    assert years and all(2010 <= y <= 2015 for y in years)
    assert "<details open><summary>Narrow the results" in ranged
    english = _visible(requests.get(site + "/", params={"q": "a", "language": "eng"}, headers=EN).text)
    assert "English" in english and "· Vietnamese" not in english


def test_advanced_cql_runs_as_it_is_and_a_broken_query_is_a_message(site):
    r = requests.get(site + "/", params={"query": 'dc.title = "Hà Nội" and dc.date >= 2015'}, headers=EN)
    assert "Read as words" not in r.text and _titles(r.text)
    bad = requests.get(site + "/", params={"query": "(viet"}, headers=VI)
    assert bad.status_code == 200 and 'role="alert"' in bad.text and "SRU 13" in bad.text
    assert "Dấu ngoặc đơn không cân" in bad.text
    unknown = requests.get(site + "/", params={"query": "dc.colour = red"}, headers=EN)
    assert "SRU 16" in unknown.text


def test_previous_and_next_keep_the_search(site):
    first = requests.get(site + "/", params={"q": "Viet", "sort": "title"}, headers=EN).text
    nxt = re.search(r'href="(\?[^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "start=11" in nxt and "sort=title" in nxt and "q=Viet" in nxt
    second = requests.get(site + "/" + nxt, headers=EN).text
    assert re.search(r'href="\?[^"]*start=1\b[^"]*" rel="prev"|href="\?[^"]*" rel="prev"', second)
    assert set(_titles(second)).isdisjoint(_titles(first))


def test_a_browser_at_the_sru_address_gets_the_same_search(site):
    r = requests.get(site + "/sru", params={"q": "Ha Noi"}, headers=EN)
    assert "Read as words: Ha Noi" in _visible(r.text) and 'href="/record/oai:' in r.text
    assert requests.get(site + "/sru", params={"query": "viet"},
                        headers={"Accept": "application/sru+xml"}).headers["Content-Type"].startswith(
        "application/sru+xml")


def test_the_form_makes_cql_for_every_narrowing_and_sort():
    f = SearchForm.from_args({"q": "Tiếng Việt 1", "field": "title", "kind": "text", "language": "vie",
                              "from": "2019", "to": "20x0", "sort": "newest", "start": "-3"})
    assert f.cql() == ('(dc.title all "Tiếng Việt 1") and dc.type = "text" and dc.language = "vie" '
                       'and dc.date >= "2019" sortBy dc.date/sort.descending')
    assert f.start == 1 and f.year_to == ""
    assert SearchForm.from_args({"q": "x", "field": "dc.title; drop"}).field == ""


# -- one line per cluster ---------------------------------------------------------------------

def _stored(identifier: str, provider: str, marc) -> Record:
    return Record(identifier, canonical=default_registry().render("marc21", marc) or b"",
                  canonical_format="marc21", sets=(f"source:{provider}",),
                  rendered=default_registry().render_all(marc), index=index_source(marc))


@pytest.fixture()
def union_site(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'union.db'}")
    shelf = [F("852", Ind(" ", " "), [S("b", "Kho đọc"), S("h", "372.6 T306V"), S("p", "A1"), S("p", "A2")])]
    records = [
        _stored("oai:daklak:1", "daklak", book("Tiếng Việt 1", isbn=["978-604-123456-7"], extra=shelf)),
        _stored("oai:hanoi:7", "hanoi", book("TIENG VIET 1", isbn=["6041234567"])),
        _stored("oai:hanoi:8", "hanoi", book("Tiếng Việt 1", edition="Tái bản lần thứ 1", year=2020)),
    ]
    write_batch(store, records)
    index = open_index(store)
    libraries = {"daklak": Library("daklak", "Thư viện tỉnh Đắk Lắk", "Đắk Lắk", "public"),
                 "hanoi": Library("hanoi", "Thư viện Hà Nội", "Hà Nội", "public")}
    app = create_app(store, libraries=libraries, clusters=index)
    with live_server(app) as url:
        yield url
    store.close()


def test_the_records_of_one_cluster_are_one_line_in_n_libraries(union_site):
    r = requests.get(union_site + "/", params={"q": "Tieng Viet 1"}, headers=EN)
    text = _visible(r.text)
    assert len(_titles(r.text)) == 2
    assert "in 2 libraries" in text and "in 1 library" in text


def test_a_record_page_shows_every_library_of_its_cluster_nearest_first(union_site):
    page = requests.get(union_site + "/record/oai:hanoi:7", params={"province": "Đắk Lắk"}, headers=EN)
    text = _visible(page.text)
    assert text.index("Thư viện tỉnh Đắk Lắk") < text.index("Thư viện Hà Nội")
    assert "372.6 T306V" in text and "Kho đọc" in text
    assert "Kho đọc 372.6 T306V 2" in text          # its place, call number and copies
    assert "Other editions and volumes" in text and 'href="/record/oai:hanoi:8"' in page.text
    far = _visible(requests.get(union_site + "/record/oai:hanoi:7", params={"province": "Hà Nội"},
                                headers=EN).text)
    assert far.index("Thư viện Hà Nội") < far.index("Thư viện tỉnh Đắk Lắk")
