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


def test_and_chains_across_indexes_find_what_the_intersection_of_their_parts_finds(
        stores, monkeypatch):
    """``a and b and ...`` on every index is compiled as the records of its rarest
    part checked against each other part on their own rows: the records found are
    those of the intersection of every part's records (the compilation before),
    and of a plain scan of each record's words."""
    from thuvien_interop.store.sql import Compiler

    lite, pg, path = stores
    words = [w for w in vocabulary(path) if w.isalpha() and len(w) > 2]
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT r.identifier, t.body FROM search_text t "
                            "JOIN records r ON r.id = t.rowid >> 7").fetchall()
    finally:
        conn.close()
    per_record: dict[str, set[str]] = {}
    for ident, body in rows:
        per_record.setdefault(ident, set()).update(body.split())
    queries = {" and ".join(words[:k]): words[:k] for k in (2, 3, 5, 100)}
    queries.update(dict.fromkeys([
        f"{words[0]} and {words[1]} and dc.date >= 2000",
        f"{words[0]} and {words[1]} and {words[2][:3]}*",
        f"{words[0]} and ({words[1]} or {words[6]}) and {words[2]}",
        f"{words[0]} and {words[1]} not {words[2]}",
        f'{words[0]} and "{words[1]} {words[3]}" and {words[4]}',
        f"{words[0]} and dc.title = {words[1]} and {words[2]}",
        f"{words[0]} and nosuchwordzz and {words[1]}",
    ]))
    chained = {q: (found(lite, q), found(pg, q)) for q in queries}
    monkeypatch.setattr(Compiler, "_and_chain", lambda self, node: None)
    nonempty = 0
    for q, plain in queries.items():
        before = found(lite, q)
        assert chained[q] == (before, before), q[:200]
        if plain is not None:
            assert before == sorted(i for i, have in per_record.items()
                                    if all(w in have for w in plain)), q[:200]
        nonempty += bool(before)
    assert nonempty >= 4


#: searchRetrieve, scan and explain requests of every kind, failing ones included,
#: in each version and record schema (issue 16: the paths that skip work).
REQUESTS = [
    f"version={v}&operation=searchRetrieve&query={q}&maximumRecords=3&recordSchema={s}"
    for v in ("1.1", "1.2", "2.0") for s in ("dc", "marcxml", "mods")
    for q in ("viet", "dc.title%3D%22h%C3%A0%20n%E1%BB%99i%22", "bath.isbn%3D0", "(viet",
              "dc.colour%3Dx", "viet%20not%20nam", "viet%20sortBy%20dc.title")
] + [f"version={v}&operation=scan&scanClause={c}&responsePosition={p}"
     for v in ("1.1", "1.2", "2.0") for c in ("dc.title%3Dha", "dc.title%3D(x") for p in ("0", "2")
     ] + ["version=1.2&operation=explain", "version=2.0&query=viet&facetLimit=3:dc.subject",
          "version=1.2&operation=searchRetrieve&query=viet&startRecord=0",
          "version=2.0&query=viet&recordXMLEscaping=string&sortKeys=dc.date,,0"]


@pytest.mark.parametrize("side", ["sqlite", "postgres"])
def test_clients_get_the_same_bytes_warm_or_cold_through_either_path(stores, side):
    """On each store: an SRU client's GET at /sru (web.sru.ClientPath, the engine's
    compiled queries warm after the first round) answers byte for byte and header
    for header what the blueprint (/sru/xml) answers, and what a fresh app answers."""
    import requests
    from conftest import live_server

    from thuvien_interop.web import create_app

    store = stores[0] if side == "sqlite" else stores[1]
    answers: list[list[tuple]] = []
    for _ in range(2):  # a fresh app each time: the second one's first round is cold
        with live_server(create_app(store)) as root:
            rounds = []
            for _ in range(2):
                got = []
                for q in REQUESTS:
                    pair = []
                    for path in ("/sru", "/sru/xml"):
                        r = requests.get(f"{root}{path}?{q}", headers={"Accept-Encoding": "identity"},
                                         timeout=30)
                        port = root.rsplit(":", 1)[1]
                        body = r.content.replace(root.encode(), b"ROOT").replace(
                            f"<port>{port}</port>".encode(), b"<port>PORT</port>")
                        pair.append((r.status_code, body,
                                     sorted((k, v) for k, v in r.headers.items()
                                            if k not in ("Date", "Server"))))
                    assert pair[0] == pair[1], q
                    got.append(pair[0])
                rounds.append(got)
            assert rounds[0] == rounds[1]
            answers.append(rounds[0])
    assert answers[0] == answers[1]
    assert sum(b"numberOfRecords>0<" not in a[1] for a in answers[0]) > len(REQUESTS) // 3
