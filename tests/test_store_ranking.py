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
               f"{common[3]} and dc.date > 1950 not dc.date > 2000"]
    checked = 0
    for text in queries:
        plan = to_plan(parse(text))
        for start, limit in ((1, 10), (2, 3), (5, 100), (1, 0), (10_000, 5)):
            want_ids, want_total = expected(sample_store, plan, start, limit)
            page = sample_store.search(plan, start, limit, prefix="oai_dc")
            got = [sample_store._conn().execute(
                "SELECT id FROM records WHERE identifier = ?", (i.header.identifier,)).fetchone()[0]
                for i in page.items]
            assert (got, page.total) == (want_ids, want_total), (text, start, limit)
            checked += bool(want_ids)
    assert checked >= 20  # the queries found records: the comparison compared something
