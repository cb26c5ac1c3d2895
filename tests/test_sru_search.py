"""Searching the store through CQL: folding, phrases, truncation, ranges, not, prox,
sorting, and exact counts checked against a plain scan of the same records."""

from __future__ import annotations

import pymarc
import pytest
from conftest import SAMPLES

from thuvien_interop.ingest.loader import IdentifierRule
from thuvien_interop.model import Record
from thuvien_interop.sru.cql import parse
from thuvien_interop.sru.diagnostics import Diagnostic
from thuvien_interop.sru.indexing import default_profile, index_source, load_profile
from thuvien_interop.sru.translate import to_plan
from thuvien_interop.store.search_plan import key_of, words


def run(store, cql: str, start: int = 1, limit: int = 1000, prefix: str = "oai_dc"):
    return store.search(to_plan(parse(cql)), start, limit, prefix=prefix)


def ids(store, cql: str) -> set[str]:
    return {i.header.identifier for i in run(store, cql).items}


@pytest.fixture(scope="module")
def plain():
    """Every sample MARC record's index, computed by the indexer alone: the
    independent side of the count checks (Python, no SQL)."""
    rule = IdentifierRule("thuvien-interop.vn")
    out = {}
    with open(SAMPLES / "vietnamese-catalogue.mrc", "rb") as fh:
        for rec in pymarc.MARCReader(fh, to_unicode=True, force_utf8=True):
            if rec is None:
                continue
            identifier = rule.identifier(rule.local_id(rec))
            out[identifier] = index_source(rec, identifier=identifier)
    return out


def plain_match(plain, pred) -> set[str]:
    return {i for i, index in plain.items() if pred(index)}


def _phrase_in(values: list[str], phrase: list[str]) -> bool:
    for v in values:
        ws = words(v)
        for k in range(len(ws) - len(phrase) + 1):
            if ws[k:k + len(phrase)] == phrase:
                return True
    return False


def _marc_ids(store, cql):
    return {i for i in ids(store, cql) if "VN-TV" in i}


def test_shipped_sru_indexes_profile_is_the_default():
    from importlib import resources

    from thuvien_interop.profiles import shipped_profile

    with resources.as_file(shipped_profile("sru-indexes", "sru-indexes").resource) as path:
        assert load_profile(path) == default_profile()


@pytest.mark.parametrize("spelling", ['"Hà Nội"', '"Ha Noi"', '"HÀ NỘI"', '"ha noi"',
                                      '"Ha\u0300 No\u0323\u0302i"'])
def test_every_spelling_of_ha_noi_finds_the_same_records(sample_store, spelling):
    found = ids(sample_store, f"dc.title = {spelling}")
    assert found == ids(sample_store, 'dc.title = "Hà Nội"')
    assert len(found) >= 3


def test_dj_folds_to_d(sample_store):
    assert ids(sample_store, 'dc.subject = "Đắk Lắk"') == ids(sample_store, 'dc.subject = "dak lak"')
    assert ids(sample_store, 'dc.subject = "dak lak"')


@pytest.mark.parametrize("phrase", ["ha noi", "viet nam", "lich su", "van hoc"])
def test_phrase_count_matches_a_plain_scan(sample_store, plain, phrase):
    expected = plain_match(plain, lambda ix: _phrase_in(ix.get("dc.title", []), phrase.split()))
    assert _marc_ids(sample_store, f'dc.title = "{phrase}"') == expected
    assert expected


def test_all_any_and_not_counts_match_a_plain_scan(sample_store, plain):
    def has(ix, index, word):
        return any(word in words(v) for v in ix.get(index, []))

    all_words = plain_match(plain, lambda ix: has(ix, "dc.title", "viet") and has(ix, "dc.title", "nam"))
    assert _marc_ids(sample_store, 'dc.title all "nam viet"') == all_words
    any_words = plain_match(plain, lambda ix: has(ix, "dc.title", "tho") or has(ix, "dc.title", "truyen"))
    assert _marc_ids(sample_store, 'dc.title any "tho truyen"') == any_words
    minus = plain_match(plain, lambda ix: has(ix, "dc.title", "viet") and not has(ix, "dc.subject", "lich"))
    assert _marc_ids(sample_store, 'dc.title = viet not dc.subject = lich') == minus


def test_date_ranges_match_a_plain_scan(sample_store, plain):
    def years(ix):
        return [int(v[:4]) for v in ix.get("dc.date", [])]

    assert _marc_ids(sample_store, "dc.date >= 2015") == plain_match(plain, lambda ix: any(y >= 2015 for y in years(ix)))
    assert _marc_ids(sample_store, "dc.date < 2000") == plain_match(plain, lambda ix: any(y < 2000 for y in years(ix)))
    assert _marc_ids(sample_store, 'dc.date within "2005 2010"') == plain_match(
        plain, lambda ix: any(2005 <= y <= 2010 for y in years(ix)))
    assert _marc_ids(sample_store, "dc.date = 2013") == plain_match(plain, lambda ix: 2013 in years(ix))


def test_truncation_and_masking_match_a_plain_scan(sample_store, plain):
    def word_match(ix, index, pred):
        return any(pred(w) for v in ix.get(index, []) for w in words(v))

    assert _marc_ids(sample_store, "dc.creator = nguy*") == plain_match(
        plain, lambda ix: word_match(ix, "dc.creator", lambda w: w.startswith("nguy")))
    assert _marc_ids(sample_store, "dc.title = *oc") == plain_match(
        plain, lambda ix: word_match(ix, "dc.title", lambda w: w.endswith("oc")))
    assert _marc_ids(sample_store, "dc.title = h?c") == plain_match(
        plain, lambda ix: word_match(ix, "dc.title", lambda w: len(w) == 3 and w[0] == "h" and w[2] == "c"))


def test_server_choice_finds_words_in_any_index(sample_store, plain):
    def anywhere(ix, word):
        return any(word in words(v) for vs in ix.values() for v in vs)

    assert _marc_ids(sample_store, "khoa and 2024") == plain_match(
        plain, lambda ix: anywhere(ix, "khoa") and anywhere(ix, "2024"))


def test_exact_and_anchored_match_whole_values(sample_store, plain):
    title = next(iter(plain.values()))["dc.title"][0]
    exact = plain_match(plain, lambda ix: key_of(title) in {key_of(v) for v in ix.get("dc.title", [])})
    assert _marc_ids(sample_store, f'dc.title == "{title}"') == exact
    first_two = " ".join(words(title)[:2])
    starts = plain_match(plain, lambda ix: any(key_of(v) == first_two or key_of(v).startswith(first_two + " ")
                                               for v in ix.get("dc.title", [])))
    assert _marc_ids(sample_store, f'dc.title = "^{first_two}"') == starts


def test_prox_counts_words_between(sample_store, plain):
    def near(ix, a, b, between):
        for v in ix.get("dc.title", []):
            ws = words(v)
            pa = [i for i, w in enumerate(ws) if w == a]
            pb = [i for i, w in enumerate(ws) if w == b]
            if any(abs(i - j) - 1 <= between for i in pa for j in pb):
                return True
        return False

    got = _marc_ids(sample_store, "dc.title = lich prox/unit=word/distance<=3 dc.title = nam")
    assert got == plain_match(plain, lambda ix: near(ix, "lich", "nam", 2))
    assert _marc_ids(sample_store, "dc.title = viet prox dc.title = nam") == plain_match(
        plain, lambda ix: near(ix, "viet", "nam", 0))


def test_sort_by_date_descending_and_stable_relevance(sample_store):
    page = run(sample_store, "dc.title = ha sortBy dc.date/sort.descending", limit=50)
    years = []
    for item in page.items:
        text = item.metadata.decode()
        years.append(text.split("<dc:date>")[1][:4] if "<dc:date>" in text else "")
    present = [y for y in years if y]
    assert present == sorted(present, reverse=True)
    first = [i.header.identifier for i in run(sample_store, '"viet nam"').items]
    again = [i.header.identifier for i in run(sample_store, '"viet nam"').items]
    assert first == again


def test_pages_partition_the_result(sample_store):
    total = run(sample_store, "viet", limit=0).total
    seen = []
    start = 1
    while start <= total:
        page = run(sample_store, "viet", start=start, limit=7)
        seen += [i.header.identifier for i in page.items]
        start += 7
    assert len(seen) == total == len(set(seen))


def test_updates_and_deletions_follow_the_index(store):
    rec = pymarc.Record()
    rec.add_field(pymarc.Field("001", data="1"))
    rec.add_field(pymarc.Field("245", ["0", "0"], [pymarc.Subfield("a", "Đất nước")]))
    index = index_source(rec, identifier="oai:x:1")
    store.write([Record("oai:x:1", b"<r/>", index=index, rendered={"oai_dc": b"<dc/>"})])
    assert ids(store, '"dat nuoc"') == {"oai:x:1"}
    rec["245"]["a"] = "Biển đảo"
    store.write([Record("oai:x:1", b"<r2/>", index=index_source(rec, identifier="oai:x:1"),
                        rendered={"oai_dc": b"<dc/>"})])
    assert ids(store, '"dat nuoc"') == set()
    assert ids(store, '"bien dao"') == {"oai:x:1"}
    store.write([Record("oai:x:1", deleted=True)])
    assert ids(store, '"bien dao"') == set()
    assert run(store, "cql.allRecords = 1").total == 0


@pytest.mark.parametrize("query, number", [
    ("dc.colour = red", 16),
    ("foo.title = x", 15),
    ('dc.title encloses "x"', 19),
    ("dc.title =/respectCase x", 20),
    ("dc.title =/stem x", 20),
    ('dc.title = ""', 27),
    ("dc.title = *", 29),
    ('dc.title = "a^b"', 32),
    ("a prox/unit=sentence b", 42),
    ("a prox/ordering=ordered b", 43),
    ("a prox/distance=2 b", 40),
    ("a and/foo b", 46),
    ("(a or b) prox c", 48),
    ("dc.title = a prox dc.creator = b", 18),
    ('dc.date within "2000"', 36),
    ("a sortBy dc.title/sort.respectCase", 91),
    ("a sortBy dc.title/sort.missingFail", 92),
    ("a sortBy dc.colour", 88),
    ("cql.serverChoice > 3", 22),
    ('(>dc="x" >dc="y" dc.title = a)', 45),
])
def test_unsupported_features_are_diagnostics(query, number):
    with pytest.raises(Diagnostic) as e:
        to_plan(parse(query))
    assert e.value.number == number
    assert e.value.details


def test_reindex_rebuilds_the_index_without_touching_records(sample_store, tmp_path):
    from click.testing import CliRunner

    from thuvien_interop.cli import main

    before = sample_store.get(next(iter(ids(sample_store, '"ha noi"'))))
    count = run(sample_store, '"ha noi"').total
    conn = sample_store._conn()
    conn.execute("DELETE FROM search_text")
    conn.execute("DELETE FROM search_keys")
    assert run(sample_store, '"ha noi"').total == 0
    result = CliRunner().invoke(main, ["reindex", "--store", f"sqlite:///{sample_store.path}"])
    assert result.exit_code == 0, result.output
    assert "Reindexed" in result.output
    assert run(sample_store, '"ha noi"').total == count
    after = sample_store.get(before.header.identifier)
    assert after.header.datestamp == before.header.datestamp and after.key == before.key
