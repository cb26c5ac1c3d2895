"""SQLite's relevance order and counts, scored and paged inside SQLite, against the
plain computation: every matching index row's bm25 read back, summed per record in
Python, sorted (score, record id), then sliced; and record id order past RANK_LIMIT."""

from __future__ import annotations

import pytest

from thuvien_interop.sru.cql import parse
from thuvien_interop.sru.translate import to_plan
from thuvien_interop.store import sqlite as sqlite_store


def expected(store, plan, start: int, limit: int) -> tuple[list[int], int]:
    """The order as the store computed it before paging moved into SQL."""
    conn = store._conn()
    comp = store._compiler(conn)
    ids_sql, args = comp.node(plan.root)
    if ids_sql is None:
        return [], 0
    rank_expr = comp.rank_match(plan.root)
    if rank_expr is not None and conn.execute(
            "SELECT count(*) FROM search_text WHERE search_text MATCH ?",
            (rank_expr,)).fetchone()[0] > sqlite_store.RANK_LIMIT:
        rank_expr = None
    hits = sorted(r[0] for r in conn.execute(ids_sql, args))
    scores: dict[int, float] = {}
    if rank_expr is not None:
        for rid, score in conn.execute(
                "SELECT rowid >> 7, bm25(search_text, 0.0, 1.0) FROM search_text "
                "WHERE search_text MATCH ?", (rank_expr,)):
            scores[rid] = scores.get(rid, 0.0) + score
        hits.sort(key=lambda i: (i not in scores, scores.get(i, 0.0), i))
    return hits[start - 1:start - 1 + limit], len(hits)


def frequent_words(store, n: int) -> list[str]:
    rows = store._conn().execute(
        "SELECT term FROM search_vocab WHERE term NOT LIKE 'ix%' AND length(term) > 2 "
        "ORDER BY cnt DESC, term LIMIT ?", (n,))
    return [r[0] for r in rows]


@pytest.mark.parametrize("rank_limit", [sqlite_store.RANK_LIMIT, 3])
def test_pages_follow_the_plain_relevance_order(sample_store, monkeypatch, rank_limit):
    # rank_limit 3: most queries take the record-id-order paths (streamed pages).
    monkeypatch.setattr(sqlite_store, "RANK_LIMIT", rank_limit)
    common = frequent_words(sample_store, 6)
    assert len(common) == 6
    queries = [f"dc.title = {common[0]}", common[1], f"{common[2]} or {common[3]}",
               f"dc.title = {common[0]} or dc.subject = {common[1]}",
               f"{common[4]} and dc.date > 1900", f"{common[0]} not dc.title = {common[5]}",
               f"dc.creator = {common[2]}", f'"{common[0]} {common[1]}"', f"{common[3]}*",
               f"dc.title = {common[4]} and {common[5]}",
               # one full-text part narrowed by keys, scored as it is found
               f"dc.title = {common[0]} and dc.date >= 1900 and dc.date < 2000",
               f"dc.date > 1900 and (dc.title = {common[1]} and dc.date < 2020)",
               f"dc.title = {common[2]} not dc.date > 1990",
               f"{common[3]} and dc.date > 1950 not dc.date > 2000",
               # across indexes, on every index (the rows and records counted at once)
               f"{common[0]} and {common[1]}", f"{common[2]} not {common[3]}",
               f'"{common[1]} {common[0]}" or {common[4]}',
               # the left part's rows scored, less the right part's records
               f"{common[0]} not {common[1]}", f"dc.title = {common[1]} not {common[2]}",
               f"{common[3]} not ({common[4]} or dc.creator = {common[5]})",
               f'"{common[0]} {common[1]}" not dc.subject = {common[2]}',
               f"{common[2]} not zzzzqqq"]
    checked = pages_match(sample_store, expected, [to_plan(parse(text)) for text in queries],
                          queries)
    assert checked >= 20  # the queries found records: the comparison compared something


def pages_match(store, oracle, plans, texts) -> int:
    """Each plan's pages (several starts and sizes) as the store gives them equal
    ``oracle``'s, ids and totals; how many of them held records."""
    checked = 0
    for plan, text in zip(plans, texts, strict=True):
        for start, limit in ((1, 10), (2, 3), (5, 100), (1, 0), (10_000, 5)):
            want_ids, want_total = oracle(store, plan, start, limit)
            page = store.search(plan, start, limit, prefix="oai_dc")
            got = [store._conn().execute(store._q("SELECT id FROM records WHERE identifier = ?"),
                                         (i.header.identifier,)).fetchone()[0]
                   for i in page.items]
            assert (got, page.total) == (want_ids, want_total), (text, start, limit)
            checked += bool(want_ids)
    return checked


# -- PostgreSQL: the same pages as its plain computation ---------------------------------

def expected_postgres(store, plan, start: int, limit: int) -> tuple[list[int], int]:
    """The order as PostgreSQL's store computed it before hits were scored from their
    own rows: every hit read, the scores of the positive leaves (ts_rank summed per
    record) read for them, sorted (scored best first, then unscored, ties by record
    id) here; past RANK_LIMIT hits, record id order."""
    from thuvien_interop.store import postgres

    conn = store._conn()
    comp = store._compiler(conn)
    ids_sql, args = comp.node(plan.root)
    if ids_sql is None:
        return [], 0
    hits = sorted(r[0] for r in conn.execute(store._q(ids_sql), args))
    if len(hits) <= postgres.RANK_LIMIT:
        score_sql, score_args = comp.score(plan.root)
        # (Of the hits alone, as the store reads them: a record's rows on several
        # indexes are summed in real, in the order the plan reads them.)
        scores = ({} if score_sql is None else dict(conn.execute(store._q(
            f"SELECT id, score FROM ({score_sql}) s WHERE id = ANY(?)"),
            [*score_args, hits]).fetchall()))
        hits.sort(key=lambda i: (i not in scores, -scores.get(i, 0.0), i))
    return hits[start - 1:start - 1 + limit], len(hits)


@pytest.fixture(scope="module")
def postgres_samples(request):
    from conftest import SAMPLES, fresh_store_url

    from thuvien_interop.ingest.loader import IdentifierRule, import_files
    from thuvien_interop.store import open_store

    store = open_store(fresh_store_url(request, "postgres", None, "ranking"))
    import_files(store, [SAMPLES / "vietnamese-catalogue.mrc", SAMPLES / "vietnamese-dc.xml"],
                 IdentifierRule("thuvien-interop.vn"))
    yield store
    store.close()


def test_postgres_searches_one_index_through_its_own_full_text_index(postgres_samples):
    # btree_gin is in this server's contrib: the full text is indexed by (index, words).
    names = {r[0] for r in postgres_samples._conn().execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = 'search_text'")}
    assert "search_text_idx_tsv" in names and "search_text_tsv" not in names


@pytest.mark.parametrize("rank_limit", [3000, 3])
def test_postgres_pages_follow_the_plain_relevance_order(postgres_samples, sample_store,
                                                         monkeypatch, rank_limit):
    # rank_limit 3: most queries take the record-id-order path (page and count in one
    # statement); 3000: hits scored from their own rows (one index, with keys or not)
    # and the general path (across indexes, every index).
    from thuvien_interop.sru.config import SRUConfig
    from thuvien_interop.store import postgres

    assert rank_limit == postgres.RANK_LIMIT or rank_limit == 3
    monkeypatch.setattr(postgres, "RANK_LIMIT", rank_limit)
    store = postgres_samples
    common = frequent_words(sample_store, 6)
    queries = [f"dc.title = {common[0]}", common[1], f"{common[2]} or {common[3]}",
               f"dc.title = {common[0]} or dc.subject = {common[1]}",
               f"{common[4]} and dc.date > 1900", f"{common[0]} not dc.title = {common[5]}",
               f"dc.creator = {common[2]}", f'"{common[0]} {common[1]}"', f"{common[3]}*",
               f"dc.title = {common[4]} and {common[5]}",
               f"{common[0]} and {common[1]}", f"{common[2]} not {common[3]}",
               f"{common[4]} and ({common[0]} or {common[5]})",
               # one index narrowed by keys, on either side, negated, nested
               f"dc.subject = {common[0]} and dc.date >= 1990",
               f"dc.title = {common[0]} and dc.date >= 1900 and dc.date < 2000",
               f"dc.date > 1900 and (dc.title = {common[1]} and dc.date < 2020)",
               f"dc.title = {common[2]} not dc.date > 1990",
               f'dc.title = "{common[0]} {common[1]}" and dc.date > 1900',
               f"dc.title = {common[3]} or dc.title = {common[4]}",
               f"{common[3]} and dc.date > 1950 not dc.date > 2000",
               "dc.title = zzzzqqq", "dc.title = zzzzqqq and dc.date > 1900"]
    config = SRUConfig()
    plans = [to_plan(parse(text), config.profile, default_prefix=config.default_context_set)
             for text in queries]
    assert pages_match(store, expected_postgres, plans, queries) >= 40  # the queries found records: the comparison compared something
