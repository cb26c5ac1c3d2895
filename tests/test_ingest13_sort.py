"""sortBy dc.title orders by the title proper (245 without its non-filing
characters), on both stores (issue 13): not by whichever of a record's titles,
uniform or varying, is smallest or largest."""

from __future__ import annotations

import pymarc
import pytest
from conftest import fresh_store_url

from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.sru.cql import parse
from thuvien_interop.sru.translate import parse_sort_keys, to_plan
from thuvien_interop.store import open_store

RECORDS = [
    # (001, 245 indicators, 245 $a, other title fields)
    ("T1", "10", "Algeria, 1830-2000 :", [("240", "10", "Works.")]),
    ("T2", "14", "The Vietnamese revolution /", []),
    ("T3", "10", "Hà Nội xưa /", []),
    ("T4", "10", "Zanzibar tales /", [("246", "3 ", "Aardvark stories")]),
]


@pytest.fixture(params=["sqlite", "postgres"])
def catalogue(request, tmp_path):
    url = fresh_store_url(request, request.param, tmp_path, "sort")
    path = tmp_path / "titles.mrc"
    with open(path, "wb") as out:
        for local, ind, title, others in RECORDS:
            rec = pymarc.Record(leader="00000nam a2200000 a 4500")
            rec.add_field(pymarc.Field("001", data=local))
            for tag, inds, value in others:
                rec.add_field(pymarc.Field(tag, list(inds), [pymarc.Subfield("a", value)]))
            rec.add_field(pymarc.Field("245", list(ind), [pymarc.Subfield("a", title),
                                                          pymarc.Subfield("c", "X.")]))
            rec.fields.sort(key=lambda f: f.tag)
            out.write(rec.as_marc())
    store = open_store(url)
    report = import_files(store, [path], IdentifierRule("sort.test"), processes=1)
    assert report.written.added == len(RECORDS)
    yield store
    store.close()


def order(store, cql: str) -> list[str]:
    page = store.search(to_plan(parse(cql)), 1, 10, prefix="oai_dc")
    return [i.header.identifier.rsplit(":", 1)[1] for i in page.items]


def test_sortby_title_descending_is_by_the_title_proper(catalogue):
    # Before: the 240 "Works." made T1 the largest title, first in a descending list.
    assert order(catalogue, "cql.allRecords = 1 sortBy dc.title/sort.descending") == [
        "T4", "T2", "T3", "T1"]


def test_sortby_title_ascending_skips_the_non_filing_article(catalogue):
    # "The Vietnamese revolution" (245 ind2 4) files under V; the 246 "Aardvark
    # stories" does not put Zanzibar first.
    assert order(catalogue, "cql.allRecords = 1 sortBy dc.title") == ["T1", "T3", "T2", "T4"]


def test_sru11_sortkeys_order_by_the_title_proper_too(catalogue):
    from thuvien_interop.sru.translate import to_plan as plan_of

    plan = plan_of(parse("cql.allRecords = 1"))
    plan = type(plan)(plan.root, parse_sort_keys("dc.title,,0"))
    page = catalogue.search(plan, 1, 10, prefix="oai_dc")
    assert [i.header.identifier.rsplit(":", 1)[1] for i in page.items] == ["T4", "T2", "T3", "T1"]


def test_the_sort_key_finds_nothing_by_itself(catalogue):
    # Keys only: a word of the title proper is found once, through dc.title.
    assert order(catalogue, "zanzibar") == ["T4"]
    assert order(catalogue, "dc.title = works") == ["T1"]
