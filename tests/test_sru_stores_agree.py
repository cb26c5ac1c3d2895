"""The same query finds the same records on SQLite and on PostgreSQL (issue 17):
masked terms (leading, trailing, inside), long OR chains (compiled on PostgreSQL
into one tsquery), NOT, and a mask beside a NOT, on the sample catalogue loaded
into a real SQLite file and the real PostgreSQL; and each store agrees with a
plain scan of the records' words where one is easy to write."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import SAMPLES, fresh_store_url

from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.sru import cql
from thuvien_interop.sru.config import SRUConfig
from thuvien_interop.sru.translate import to_plan
from thuvien_interop.store import open_store, search_plan

FILES = [SAMPLES / "vietnamese-catalogue.mrc", SAMPLES / "vietnamese-dc.xml"]


@pytest.fixture(scope="module")
def stores(request, tmp_path_factory):
    pg_url = fresh_store_url(request, "postgres", None, "agree")
    path = tmp_path_factory.mktemp("agree") / "store.db"
    lite, pg = open_store(f"sqlite:///{path}"), open_store(pg_url)
    for store in (lite, pg):
        import_files(store, FILES, IdentifierRule("thuvien-interop.vn"))
    yield lite, pg, path
    lite.close()
    pg.close()


def found(store, query: str) -> list[str]:
    plan = to_plan(cql.parse(query), SRUConfig().profile, default_prefix="dc")
    page = store.search(plan, 1, 10_000)
    return sorted(item.header.identifier for item in page.items)


def vocabulary(path) -> list[str]:
    """Every indexed word, commonest first (from the SQLite store's FTS5 vocabulary)."""
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT term FROM search_vocab WHERE term NOT GLOB 'ix[0-9]*' ORDER BY doc DESC, term")]
    finally:
        conn.close()


def test_masked_terms_find_the_same_records_on_both_stores(stores):
    lite, pg, path = stores
    words = vocabulary(path)
    # Masks built from real words: a leading mask on a common ending, a trailing one
    # on a common beginning, one inside, and the same on an index.
    long = [w for w in words if len(w) >= 5 and w.isalpha()][:8]
    queries = []
    for w in long:
        queries += [f"*{w[-3:]}", f"{w[:3]}*", f"{w[:2]}*{w[-2:]}", f"dc.title = *{w[-3:]}",
                    f"dc.subject = {w[:2]}?{w[3:]}"]
    queries += ["*ology", "hist*", "*noi", "dc.title = *oc", "*nam not dc.title = viet"]
    nonempty = 0
    for q in queries:
        a = found(lite, q)
        assert found(pg, q) == a, q
        nonempty += bool(a)
    assert nonempty >= len(queries) // 2


def test_a_leading_mask_matches_a_plain_scan_of_the_words(stores):
    lite, pg, path = stores
    ending = next(w for w in vocabulary(path) if len(w) >= 5 and w.isalpha())[-3:]
    conn = sqlite3.connect(path)
    try:
        # Each record's indexed text, any index: the plain truth of "*ending".
        bodies = conn.execute(
            "SELECT r.identifier, t.body FROM search_text t JOIN records r ON r.id = t.rowid >> 7"
        ).fetchall()
    finally:
        conn.close()
    truth = sorted({ident for ident, body in bodies
                    if any(w.endswith(ending) for w in body.split())})
    assert truth
    assert found(lite, f"*{ending}") == truth
    assert found(pg, f"*{ending}") == truth


def test_long_or_chains_and_not_find_the_same_records_on_both_stores(stores):
    lite, pg, path = stores
    words = [w for w in vocabulary(path) if w.isalpha()]
    many = words[:search_plan.MAX_LEAVES]
    queries = [
        " or ".join(many),
        " or ".join(f"dc.title = {w}" for w in many),
        " or ".join(f"dc.title = {w}*" for w in many[:300]),
        " and ".join(f"dc.title = {w}" for w in words[:3]),
        f"dc.title = {words[0]} not dc.title = {words[1]}",
        f"{words[0]} not {words[1]}",
        f"({words[0]} or {words[5]}) not ({words[1]} or dc.date >= 2000)",
        f"(dc.title = {words[0]} or dc.title = {words[2]}) and dc.subject = {words[3]}",
        f'dc.title = "{words[0]} {words[1]}" or dc.title = {words[4]}',
    ]
    for q in queries:
        assert found(pg, q) == found(lite, q), q[:200]
    assert found(lite, queries[0])  # the chains do find something
