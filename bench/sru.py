"""Benchmark of SRU search: real records, the real HTTP server.

Loads N Library of Congress records (``BooksAll.2016.part01.utf8`` from pymarc
5.4.0's source distribution, fetched as in ``bench/oai_provider.py``) into a
SQLite store with the normal importer, serves it with the real ``serve`` command
in a separate process (one worker process a core, as zebrasrv forks one a client,
unless ``--workers`` says), and prints:

- the import time, the share of it spent building the search index, and the
  size of the search tables;
- searchRetrieve requests/s and p50/p95 latency for title-word, author, ISBN,
  any-field, phrase, boolean and no-diacritics queries returning 10 records, in
  ``dc``, ``marcxml`` and ``mods``;
- scan requests/s;
- the same queries against Index Data's Zebra (``zebrasrv``) when installed, beside
  ours in one table (Zebra's dc and mods come from the LoC XSLTs YAZ ships), and
  against ``--baseline TREE``'s code (a second ``serve`` run with that source tree's
  ``src``, over a copy of the same store): row by row, each server in turn, so that
  the figures of one row saw the same load.

    python bench/sru.py                      # 100,000 records
    python bench/sru.py --records 20000 --requests 100 --baseline ../main

``--hard`` times instead, in-process through the SRU engine, the queries that
issue 17 found slow or failing (masked terms, 100-term AND, 1,000-term OR, NOT,
``within``) on a SQLite store and, with ``--postgres URL``, a PostgreSQL one of the
same records, side by side; ``--workdir`` keeps the stores between runs, so that
the same data is timed before and after a change (a store made by an older
version is migrated when opened):

    python bench/sru.py --hard --records 50000 --workdir /tmp/sru-hard \
        --postgres postgresql://postgres@127.0.0.1/bench --baseline ../main

``--baseline TREE`` times each query with that source tree's code too (its
``src``, in a worker process), query by query in turn with ours: the before and
the after of a change in one run, on one machine under one load.

``--profile`` breaks the CPU time of one request down by stage (WSGI, CQL parse,
translation, SQL, fetching the stored records, rendering, gzip) through the WSGI
app ``serve`` runs, for the rows Zebra led (marcxml title-word and ISBN, scan) and the
boolean, phrase and any-field rows,
on the stores ``--hard`` keeps in ``--workdir``, with ``--baseline``'s code too:

    python bench/sru.py --profile --records 20000 --workdir /tmp/sru-hard \
        --postgres postgresql://postgres@127.0.0.1/bench --baseline ../main

It prints figures; it asserts nothing (performance is not a test).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oai_provider import first_records, free_port, marc_file  # noqa: E402

QUERIES = {
    "title-word": ["dc.title = history", "dc.title = poetry", "dc.title = france",
                   "dc.title = education", "dc.title = music", "dc.title = economic",
                   "dc.title = children", "dc.title = china", "dc.title = law",
                   "dc.title = religion", "dc.title = science", "dc.title = art"],
    "author": ["dc.creator = smith", "dc.creator = johnson", "dc.creator = brown",
               "dc.creator = miller", "dc.creator = davis", "dc.creator = wilson",
               'dc.creator = "united states"', "dc.creator = taylor", "dc.creator = jones",
               "dc.creator = moore"],
    "isbn": [],  # filled from the records loaded (isbn_queries)
    "any-field": ["history", "poetry", "france", "education", "music", "economic", "children",
                  "china", "law", "religion", "science", "art"],
    "phrase": ['"united states"', '"world war"', '"great britain"', '"new york"',
               '"civil war"', '"public schools"'],
    "boolean": ["history and france", "poetry or drama", "education not children",
                "dc.subject = history and dc.date >= 1990", "music and (germany or austria)"],
    "no-diacritics": ['"francais"', "espana", "dvorak", "bronte", "munchen", "quebec",
                      '"sao paulo"', "goethe"],
}
SCHEMAS = ("dc", "marcxml", "mods")


def isbn_queries(marc: Path, n: int, count: int = 50) -> list[str]:
    """``bath.isbn = …`` for ISBNs (020$a, first word) of records among the first n."""
    import pymarc

    found: list[str] = []
    with open(marc, "rb") as f:
        for i, record in enumerate(pymarc.MARCReader(f, to_unicode=True, force_utf8=True)):
            if i >= n:
                break
            for field in record.get_fields("020") if record else ():
                value = (field.get("a") or "").split()
                if value:
                    found.append(value[0])
                    break
    step = max(len(found) // count, 1)
    return [f"bath.isbn = {v}" for v in found[::step][:count]]


def load(store_path: Path, marc: Path, n: int) -> dict:
    """Import with the normal importer, timing the indexer and the index writes."""
    from thuvien_interop.ingest import loader
    from thuvien_interop.ingest.loader import IdentifierRule, import_files
    from thuvien_interop.sru import indexing
    from thuvien_interop.store import open_store
    from thuvien_interop.store.sqlite import SQLiteRepository

    spent = {"index_source": 0.0, "index_write": 0.0}
    real_index, real_after = indexing.index_source, SQLiteRepository._index

    def timed_index(*a, **k):
        t = time.perf_counter()
        try:
            return real_index(*a, **k)
        finally:
            spent["index_source"] += time.perf_counter() - t

    def timed_after(self, *a, **k):
        t = time.perf_counter()
        try:
            return real_after(self, *a, **k)
        finally:
            spent["index_write"] += time.perf_counter() - t

    indexing.index_source = timed_index
    SQLiteRepository._index = timed_after  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / "part.mrc"
            first_records(marc, n, part)
            store = open_store(f"sqlite:///{store_path}")
            t = time.perf_counter()
            report = import_files(store, [part], IdentifierRule("loc.gov"))
            spent["import"] = time.perf_counter() - t
            store.close()
    finally:
        indexing.index_source = real_index
        SQLiteRepository._index = real_after  # type: ignore[method-assign]
        del loader
    spent["records"] = report.written.added
    return spent


def table_sizes(store_path: Path) -> dict[str, float]:
    conn = sqlite3.connect(store_path)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        pass
    conn.close()
    out: dict[str, float] = {"search (all)": 0.0, "total": 0.0}
    for name, size in rows:
        out["total"] += size / 1e6
        if name.startswith("search"):
            out["search (all)"] += size / 1e6
    return out


def start_server(store_url: str, workers: int, tree: str | None = None
                 ) -> tuple[subprocess.Popen, str]:
    """The real ``serve`` command over the store, with ``workers`` processes (and
    the code of source tree ``tree``, its ``src``, when given)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(tree) / "src")} if tree else None
    proc = subprocess.Popen([sys.executable, "-m", "thuvien_interop", "serve",
                             "--store", store_url, "--port", str(port),
                             "--workers", str(workers), "--access-log", "off"],
                            stdout=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/sru"
    for _ in range(300):
        try:
            requests.get(url, timeout=1)
            return proc, url
        except requests.ConnectionError:
            if proc.poll() is not None:
                raise RuntimeError(f"serve ended with status {proc.returncode}") from None
            time.sleep(0.1)
    raise RuntimeError("server did not start")


THREADS = 4


def measure(urls: dict[str, str], params_list: list[dict], threads: int = THREADS,
            chunk: int = 25) -> dict[str, dict]:
    """For each server (name → URL), p50/p95 of sequential requests, then
    requests/s with ``threads`` clients: request by request and ``chunk`` by
    ``chunk`` each server in turn (the first one turning), so that the servers'
    figures saw the same moments of a busy machine."""
    sessions = {name: requests.Session() for name in urls}
    lat: dict[str, list[float]] = {name: [] for name in urls}
    totals: dict[str, list[int]] = {name: [] for name in urls}
    for p in params_list:
        for name, url in urls.items():
            t = time.perf_counter()
            r = sessions[name].get(url, params=p, timeout=30)
            lat[name].append((time.perf_counter() - t) * 1000)
            # Zebra answers some diagnostics with HTTP 4xx: counted as 0 records, not fatal.
            totals[name].append(r.content.count(b"<srw:record>") + r.content.count(b"<zs:record>"))
    elapsed = dict.fromkeys(urls, 0.0)
    names = list(urls)
    for i in range(0, len(params_list), chunk):
        part = params_list[i:i + chunk]
        for name in names[i // chunk % len(names):] + names[:i // chunk % len(names)]:
            elapsed[name] += _hammer(urls[name], part, threads)
    out = {}
    for name in urls:
        ms = sorted(lat[name])
        out[name] = {"p50": statistics.median(ms), "p95": ms[int(len(ms) * 0.95) - 1],
                     "rps": len(params_list) / elapsed[name],
                     "records": sum(totals[name]) / len(totals[name])}
    return out


def _hammer(url: str, params_list: list[dict], threads: int) -> float:
    """Seconds ``threads`` clients take to send ``params_list`` between them."""
    work = list(params_list)

    def worker() -> None:
        s = requests.Session()
        while True:
            try:
                p = work.pop()
            except IndexError:
                return
            s.get(url, params=p, timeout=30)

    t = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return time.perf_counter() - t


def search_params(kind: str, schema: str, n: int, rng: random.Random) -> list[dict]:
    return [{"version": "1.2", "operation": "searchRetrieve", "query": rng.choice(QUERIES[kind]),
             "maximumRecords": "10", "recordSchema": schema} for _ in range(n)]


def scan_params(n: int, rng: random.Random) -> list[dict]:
    starts = ["a", "his", "mus", "fr", "ch", "w", "po", "ed", "lo", "s"]
    return [{"version": "1.2", "operation": "scan", "scanClause": f"dc.title = {rng.choice(starts)}",
             "maximumTerms": "20"} for _ in range(n)]


def run_all(urls: dict[str, str], requests_per_kind: int, rng: random.Random
            ) -> dict[str, dict[tuple[str, str], dict]]:
    """Every query kind in every schema, then scan, against each server (name →
    URL): row by row, each server in turn with the same requests (:func:`measure`)."""
    out: dict[str, dict[tuple[str, str], dict]] = {name: {} for name in urls}
    for url in urls.values():
        for p in search_params("any-field", "dc", 20, random.Random(1)):  # warm the page cache
            requests.get(url, params=p, timeout=30)
    rows = [((kind, schema), search_params(kind, schema, requests_per_kind, rng))
            for kind in QUERIES for schema in SCHEMAS]
    rows.append((("scan dc.title", ""), scan_params(requests_per_kind, rng)))
    for key, params in rows:
        for name, figures in measure(urls, params).items():
            out[name][key] = figures
    return out


def zebra_input(marc: Path, n: int, tmp: Path) -> Path:
    """The first n records as Zebra's input file in ``tmp``."""
    part = tmp / "zebra.mrc"
    first_records(marc, n, part)
    return part


def print_table(figures: dict[str, dict[tuple[str, str], dict]]) -> None:
    """One line a query kind and schema: each server's p50, p95, requests/s and
    records found, then each other server's requests/s over the first one's."""
    names = list(figures)
    ours = figures[names[0]]
    head = f"{'p50 ms':>7}{'p95 ms':>7}{'req/s':>7}{'recs':>5}"
    print("\n" + f"{'':<25}" + "".join(f"{name[:27]:^27}" for name in names)
          + "".join(f"{names[0][:6] + '/' + name[:6]:>15}" for name in names[1:]))
    print(f"{'query kind':<16}{'schema':<9}" + head * len(names))
    for key, m in ours.items():
        line = f"{key[0]:<16}{key[1]:<9}"
        for name in names:
            f = figures[name].get(key)
            line += (f"{f['p50']:>7.1f}{f['p95']:>7.1f}{f['rps']:>7.0f}{f['records']:>5.1f}" if f
                     else " " * 26)
        for name in names[1:]:
            f = figures[name].get(key)
            line += f"{m['rps'] / f['rps']:>14.2f}x" if f else " " * 15
        print(line)


#: The hard queries of ``--hard`` (``{and100}`` and ``{or1000}``: that many of the
#: commonest title words, ANDed or ORed).
HARD = {
    "leading mask": "*ology",
    "leading mask, title": "dc.title = *ology",
    "trailing mask": "hist*",
    "inner mask": "dc.title = hist*ry",
    "100-term AND": "{and100}",
    "1,000-term OR": "{or1000}",
    "1,000-term OR, title": "{or1000title}",
    "NOT": "education not children",
    "NOT, title": "dc.title = education not dc.title = children",
    "within": 'dc.date within "1990 2000"',
}


def _common_words(sqlite_path: Path, n: int) -> list[str]:
    conn = sqlite3.connect(sqlite_path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT term FROM search_vocab WHERE term GLOB '[a-z]*' AND length(term) > 2 "
            # ixN: the tokens naming an index (SQLite's idx column), not words of a record.
            "AND term NOT GLOB 'ix[0-9]*' ORDER BY doc DESC, term LIMIT ?", (n,))]
    finally:
        conn.close()


def _hard_store(url: str, marc: Path, n: int):
    """A store of the first n records at ``url``, imported unless it holds them already."""
    from thuvien_interop.ingest.loader import IdentifierRule, import_files
    from thuvien_interop.store import open_store

    store = open_store(url)
    if store.get_meta("bench_hard_records") != str(n):
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / "part.mrc"
            first_records(marc, n, part)
            t = time.perf_counter()
            import_files(store, [part], IdentifierRule("loc.gov"))
            print(f"loaded {url.split('?')[0]}: {time.perf_counter() - t:.0f} s")
        store.set_meta("bench_hard_records", str(n))
    return store


def _time_query(server, query: str, repeat: int) -> tuple[float, str]:
    """Median ms of ``repeat`` searchRetrieves of ``query``, and what it found
    (numberOfRecords, or the diagnostic)."""
    from lxml import etree

    params = [("version", "1.2"), ("operation", "searchRetrieve"), ("query", query),
              ("maximumRecords", "10")]
    times, body = [], b""
    for _ in range(repeat):
        t = time.perf_counter()
        body = server.handle(params).body
        times.append((time.perf_counter() - t) * 1000)
    doc = etree.fromstring(body)
    diag = doc.findtext(".//{*}diagnostic/{*}uri")
    return statistics.median(times), (f"diag {diag.rsplit('/', 1)[-1]}" if diag
                                      else doc.findtext("{*}numberOfRecords") or "")


def _store_urls(n: int, workdir: Path, postgres: str | None) -> dict[str, str]:
    urls = {"SQLite": f"sqlite:///{workdir / f'hard-{n}.db'}"}
    if postgres:
        sep = "&" if "?" in postgres else "?"
        urls["PostgreSQL"] = f"{postgres}{sep}schema=bench_hard_{n}"
    return urls


def hard_worker() -> None:
    """``--hard-worker``: the baseline's side of ``--baseline``, run by that source
    tree's code: one JSON request a line in (store URL, query, repeat), one answer out."""
    import json

    from thuvien_interop.sru import Server
    from thuvien_interop.store import open_store

    stores: dict[str, object] = {}
    for line in sys.stdin:
        ask = json.loads(line)
        if ask["url"] not in stores:
            stores[ask["url"]] = open_store(ask["url"])
        ms, shown = _time_query(Server(stores[ask["url"]]), ask["query"], ask["repeat"])
        print(json.dumps([ms, shown]), flush=True)


def hard(marc: Path, n: int, workdir: Path, postgres: str | None, repeat: int,
         baseline: str | None = None, baseline_timeout: float = 60) -> None:
    """Median ms of each HARD query on each store (and its numberOfRecords or
    diagnostic); with ``baseline`` (a source tree: its ``src`` is imported) the
    same queries on the same stores by that code, query by query in turn, so that
    both columns see the same machine."""
    import json
    import os

    from thuvien_interop.sru import Server

    urls = _store_urls(n, workdir, postgres)
    stores = {name: _hard_store(url, marc, n) for name, url in urls.items()}
    words = _common_words(workdir / f"hard-{n}.db", 1000)
    fill = {"and100": " and ".join(words[:100]), "or1000": " or ".join(words),
            "or1000title": " or ".join(f"dc.title = {w}" for w in words)}
    worker = None
    if baseline:
        # The baseline has no time budget of its own: PostgreSQL stops its statements
        # at baseline_timeout (then it answers diagnostic 1), so a run ends.
        env = {**os.environ, "PYTHONPATH": str(Path(baseline) / "src"),
               "PGOPTIONS": f"-c statement_timeout={int(baseline_timeout * 1000)}"}
        worker = subprocess.Popen([sys.executable, __file__, "--hard-worker"], env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
    print(f"\n{n:,} records; median of {repeat} runs, ms (records found, or the diagnostic)"
          + (f"; baseline: {baseline}, its PostgreSQL statements stopped at "
             f"{baseline_timeout:g} s" if baseline else ""))
    columns = [(name, side) for name in stores for side in (("before", "after") if baseline
                                                            else ("",))]
    print(f"{'query':<22}" + "".join(f"{(name + ' ' + side).strip():>24}" for name, side in columns))
    for label, query in HARD.items():
        query = query.format(**fill)
        line = f"{label:<22}"
        for name, store in stores.items():
            if worker is not None:
                assert worker.stdin and worker.stdout
                worker.stdin.write(json.dumps({"url": urls[name], "query": query,
                                               "repeat": repeat}) + "\n")
                worker.stdin.flush()
                ms, shown = json.loads(worker.stdout.readline())
                line += f"{ms:>13.1f} {f'({shown})':>10}"
            ms, shown = _time_query(Server(store), query, repeat)
            line += f"{ms:>13.1f} {f'({shown})':>10}"
        print(line, flush=True)
    if worker is not None:
        assert worker.stdin
        worker.stdin.close()
        worker.wait()
    for store in stores.values():
        store.close()


#: The requests ``--profile`` breaks down: the rows Zebra led (issue 16), and the
#: boolean, phrase and any-field rows.
PROFILED = {
    "marcxml title-word": [{"query": f"dc.title = {w}", "recordSchema": "marcxml"}
                           for w in ("history", "poetry", "france", "education", "music", "law")],
    "marcxml isbn": [],  # filled from the store (isbn_queries)
    "dc title-word": [{"query": f"dc.title = {w}", "recordSchema": "dc"}
                      for w in ("history", "poetry", "france", "education", "music", "law")],
    "scan dc.title": [{"operation": "scan", "scanClause": f"dc.title = {w}", "maximumTerms": "20"}
                      for w in ("a", "his", "mus", "fr", "ch", "w")],
    # The rows Zebra led or whose p95 passed 50 ms after that (issue 16).
    **{f"{schema} {kind}": [{"query": q, "recordSchema": schema} for q in QUERIES[kind]]
       for kind in ("boolean", "phrase", "any-field") for schema in ("marcxml", "dc")},
}


def profile(url: str, isbns: list[str], n: int) -> None:
    """CPU µs a request by stage, through the WSGI app ``serve`` runs (no socket):
    each stage's own functions timed with ``time.thread_time`` (this thread's CPU,
    which the load of a shared machine moves far less than the wall clock)."""
    import functools
    import io
    from collections import defaultdict
    from urllib.parse import urlencode

    from thuvien_interop.sru import cql
    from thuvien_interop.sru import server as srv
    from thuvien_interop.store import open_store
    from thuvien_interop.web import oai as weboai
    from thuvien_interop.web import sru as websru
    from thuvien_interop.web.app import create_app

    store = open_store(url)
    app = create_app(store)
    spent: dict[str, float] = defaultdict(float)

    def timed(obj: object, name: str, label: str) -> None:
        real = getattr(obj, name, None)
        if real is None:
            return

        @functools.wraps(real)
        def wrapper(*a, **k):
            t = time.thread_time()
            try:
                return real(*a, **k)
            finally:
                spent[label] += time.thread_time() - t
        setattr(obj, name, wrapper)

    cls = type(store)
    for obj, name, label in (
            (srv.Server, "handle", "engine (all)"), (cql, "parse", "CQL parse"),
            (srv, "to_plan", "translate to plan"), (srv, "to_xcql_string", "echo (XCQL)"),
            (cls, "_compiler", "compile"), (cls, "_ordered", "SQL: page ids + count"),
            (cls, "_items_by_id", "SQL: fetch records"), (cls, "scan", "SQL: scan"),
            (cls, "_read_transaction", "SQL: begin, budget"), (cls, "_rollback", "SQL: rollback"),
            (srv.Server, "_record", "render records"), (weboai, "compress", "gzip"),
            (websru, "compress", "gzip")):
        timed(obj, name, label)
    PROFILED["marcxml isbn"] = [{"query": q, "recordSchema": "marcxml"} for q in isbns[:8]]
    print(f"\n{url.split('?')[0]}: CPU µs a request ({n} requests a kind, after 20 to warm)")
    for kind, asks in PROFILED.items():
        qss = [urlencode({"version": "1.2", **({"operation": "searchRetrieve", "maximumRecords": "10"}
                                                if "scanClause" not in a else {}), **a})
               for a in asks]

        def run(qs: str) -> None:
            env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/sru", "QUERY_STRING": qs,
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
                   "HTTP_ACCEPT_ENCODING": "gzip, deflate", "HTTP_ACCEPT": "*/*",
                   "SERVER_PROTOCOL": "HTTP/1.1"}
            b"".join(app(env, lambda status, headers: None))

        for i in range(20):
            run(qss[i % len(qss)])
        spent.clear()
        t = time.thread_time()
        for i in range(n):
            run(qss[i % len(qss)])
        total = time.thread_time() - t
        print(f"  {kind}: {total / n * 1e6:.0f} µs in all")
        engine = spent.pop("engine (all)", 0.0)
        for label, sec in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"    {label:<24}{sec / n * 1e6:>7.0f}")
        print(f"    {'rest of the engine':<24}{(engine - sum(v for k, v in spent.items() if k != 'gzip')) / n * 1e6:>7.0f}")
        print(f"    {'WSGI, outside engine':<24}{(total - engine) / n * 1e6:>7.0f}  (gzip included)")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="requests per query kind")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="our server's processes (serve --workers; default: one a core, "
                         "as zebrasrv forks one a client)")
    ap.add_argument("--marc", help="path to BooksAll.2016.part01.utf8 (default: fetch/cache)")
    ap.add_argument("--hard", action="store_true", help="time the hard queries in-process instead")
    ap.add_argument("--postgres", metavar="URL", help="with --hard: a PostgreSQL store too "
                    "(in a schema of its own)")
    ap.add_argument("--workdir", help="with --hard: keep the stores here (default: a temporary folder)")
    ap.add_argument("--repeat", type=int, default=5, help="with --hard: runs of each query")
    ap.add_argument("--baseline", metavar="TREE", help="also time the queries with the code of "
                    "this source tree (e.g. a worktree of main): a second server beside ours, "
                    "row by row (with --hard: query by query in-process)")
    ap.add_argument("--profile", action="store_true", help="CPU µs a request by stage "
                    "(marcxml and dc title-word, ISBN, scan, boolean, phrase, any-field) through "
                    "the WSGI app, on a SQLite "
                    "store in --workdir (and --postgres); with --baseline, by that tree's code too")
    ap.add_argument("--hard-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile-worker", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hard_worker:
        hard_worker()
        return
    marc = marc_file(args.marc)
    if args.profile_worker:
        profile(args.profile_worker, isbn_queries(marc, args.records), args.requests)
        return
    if args.profile:
        workdir = Path(args.workdir or tempfile.mkdtemp())
        workdir.mkdir(parents=True, exist_ok=True)
        for url in _store_urls(args.records, workdir, args.postgres).values():
            _hard_store(url, marc, args.records).close()
            if args.baseline:
                print(f"\nbaseline ({args.baseline}):", end="", flush=True)
                subprocess.run([sys.executable, __file__, "--profile-worker", url, "--records",
                                str(args.records), "--requests", str(args.requests)]
                               + (["--marc", args.marc] if args.marc else []), check=True,
                               env={**os.environ, "PYTHONPATH": str(Path(args.baseline) / "src")})
                print("\nthis tree:", end="")
            profile(url, isbn_queries(marc, args.records), args.requests)
        return
    if args.hard:
        if args.workdir:
            Path(args.workdir).mkdir(parents=True, exist_ok=True)
            hard(marc, args.records, Path(args.workdir), args.postgres, args.repeat, args.baseline)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                hard(marc, args.records, Path(tmp), args.postgres, args.repeat, args.baseline)
        return
    QUERIES["isbn"] = isbn_queries(marc, args.records)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from zebra_helper import available, zebra_server

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        store_path = Path(tmp) / "sru.db"
        spent = load(store_path, marc, args.records)
        print(f"records loaded: {spent['records']}")
        print(f"import: {spent['import']:.1f} s ({spent['records'] / spent['import']:.0f} records/s), "
              f"of which index build {spent['index_source'] + spent['index_write']:.1f} s "
              f"(profile extraction {spent['index_source']:.1f} s, FTS5 + keys {spent['index_write']:.1f} s)")
        sizes = table_sizes(store_path)
        if sizes:
            print(f"search tables: {sizes['search (all)']:.1f} MB of {sizes['total']:.1f} MB store")
        else:
            print(f"store file: {store_path.stat().st_size / 1e6:.1f} MB (dbstat unavailable)")
        servers: dict[str, str] = {}
        if args.baseline:
            # The baseline's own copy, taken before ours opens (and migrates) the store.
            shutil.copy(store_path, Path(tmp) / "baseline.db")
        for name, path, tree in (("thuvien-interop", store_path, None),
                                 ("baseline", Path(tmp) / "baseline.db", args.baseline)):
            if name == "baseline" and not args.baseline:
                continue
            proc, url = start_server(f"sqlite:///{path}", args.workers, tree)
            stack.callback(_stop, proc)
            servers[name] = url
        if available():
            t = time.perf_counter()
            part = zebra_input(marc, args.records, Path(tmp))
            zdir = Path(tmp) / "zebra"
            zdir.mkdir()
            servers["Zebra"] = stack.enter_context(zebra_server(zdir, part))
            print(f"Zebra {args.records} records: index build (zebraidx) and start "
                  f"{time.perf_counter() - t:.1f} s, register "
                  f"{sum(f.stat().st_size for f in (zdir / 'reg').iterdir()) / 1e6:.1f} MB")
        else:
            print("zebrasrv is not installed (Debian: idzebra-2.0): no side-by-side figures.")
        print(f"ours: thuvien-interop serve --workers {args.workers}"
              + (f"; baseline: the same with {args.baseline}" if args.baseline else "")
              + f"; Zebra: zebrasrv, one process a client; {THREADS} clients for req/s; "
              "row by row, each server in turn")
        figures = run_all(servers, args.requests, random.Random(6))
    print_table(figures)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
