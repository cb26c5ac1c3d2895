"""Benchmark at a national library's scale: a store of 1,000,000 records.

Fills a store with the 250,000 Library of Congress records of pymarc 5.4.0's
source distribution (``BooksAll.2016.part01.utf8``, fetched as in
``bench/oai_provider.py``), read four times, the later copies under derived
identifiers (``oai:loc.gov:<001>-2`` …), through the one write path (the
pipeline, worker processes as many as cores), then prints:

- bytes on disk per record, and where they go (tables and indexes);
- load records/s;
- the first and the last ListRecords page (oai_dc, the provider engine), the
  first with its completeListSize counted and again with the count remembered;
- GetRecord p50/p95;
- SRU searchRetrieve p50/p95 (10 records, marcxml) for title-word, author, ISBN
  and any-field queries, and scan p50/p95.

    python bench/scale.py                                   # 1,000,000 records, SQLite
    python bench/scale.py --records 50000 --postgres postgresql://postgres@127.0.0.1/scale
    python bench/scale.py --store-dir /big/disk --keep     # keep the store for later runs
    python bench/scale.py --reuse /big/disk/scale-1000000.db   # measure a store filled before
    python bench/scale.py --reuse postgresql://h/scale --records 50000 \
        --baseline ../main --baseline-store postgresql://h/scale_copy   # SRU before and after

The PostgreSQL database must exist and be empty (it is filled, never dropped).
It prints figures; it asserts nothing (performance is not a test).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oai_provider import marc_file  # noqa: E402
from sru import QUERIES  # noqa: E402

PASS_RECORDS = 250_000
KINDS = ("title-word", "author", "isbn", "any-field")


def items(marc: Path, n: int, progress) -> Iterator:
    """n incoming items: the file read again and again, copy k > 1 under ``<id>-k``."""
    from thuvien_interop.ingest.loader import IdentifierRule
    from thuvien_interop.ingest.records import read_records
    from thuvien_interop.pipeline.files import incoming

    rule = IdentifierRule("loc.gov")
    done, copy = 0, 1
    while done < n:
        with open(marc, "rb") as raw:
            for item in incoming(read_records(raw, "iso2709"), rule):
                if done >= n:
                    return
                if copy > 1 and item.identifier:
                    item.identifier = f"{item.identifier}-{copy}"
                done += 1
                if done % 10_000 == 0:
                    progress(done)
                yield item
        copy += 1


def load(store, marc: Path, n: int, processes: int | None) -> float:
    from thuvien_interop.pipeline import Pipeline

    t0 = time.perf_counter()

    def progress(done: int) -> None:
        if done % 50_000 == 0:
            el = time.perf_counter() - t0
            print(f"  {done:>9,} records read, {el:7.0f} s, {done / el:6.0f} records/s", flush=True)

    with Pipeline(store, processes=processes) as pipeline:
        pipeline.feed("BooksAll.2016.part01.utf8", items(marc, n, progress))
    report = pipeline.report
    elapsed = time.perf_counter() - t0
    w = report.written
    print(f"loaded: {w.added:,} added, {w.updated:,} updated, {len(report.rejected):,} rejected "
          f"in {elapsed:.0f} s: {n / elapsed:.0f} records/s")
    return elapsed


def sqlite_bytes(path: Path) -> tuple[int, list[tuple[str, int]]]:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name "
                            "ORDER BY 2 DESC").fetchall()
    except sqlite3.OperationalError:
        rows = []
    conn.close()
    total = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    return total, rows


def postgres_bytes(store) -> tuple[int, list[tuple[str, int]]]:
    conn = store._conn()
    rows = conn.execute(
        "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN "
        "('r', 'i', 't', 'm') ORDER BY 2 DESC").fetchall()
    toast = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.reltoastrelid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
        "AND c.reltoastrelid <> 0").fetchone()[0]
    rows = [(name, int(size)) for name, size in rows] + [("(toast of all tables)", int(toast))]
    return sum(size for _, size in rows), sorted(rows, key=lambda r: -r[1])


def timed(fn, params_list: list) -> list[float]:
    out = []
    for p in params_list:
        t = time.perf_counter()
        fn(p)
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def pct(lat: list[float]) -> str:
    p95 = lat[max(int(len(lat) * 0.95) - 1, 0)]
    return f"p50 {statistics.median(lat):7.1f} ms   p95 {p95:7.1f} ms   (n={len(lat)})"


def isbns(store, count: int, rng: random.Random) -> list[str]:
    keys = [k.key for k in store.scan("bath.isbn", "0", 1, 2000)]
    keys += [k.key for k in store.scan("bath.isbn", "9", 1, 2000)]
    rng.shuffle(keys)
    return [f"bath.isbn = {k}" for k in keys[:count]]


def measure(store, n: int, requests: int, baseline: tuple[str, str] | None = None) -> None:
    from thuvien_interop.model import ListQuery
    from thuvien_interop.oai.provider import Provider
    from thuvien_interop.oai.tokens import ResumptionState
    from thuvien_interop.sru.server import Server

    rng = random.Random(16)
    provider = Provider(store)
    page = provider.config.page_size

    def first(cold: bool) -> None:
        p = Provider(store) if cold else provider
        p.handle([("verb", "ListRecords"), ("metadataPrefix", "oai_dc")])

    cold = timed(lambda _: first(True), range(max(requests // 20, 3)))
    warm = timed(lambda _: first(False), range(requests // 4))
    conn = store._conn()
    key = tuple(conn.execute("SELECT datestamp, seq FROM records ORDER BY datestamp DESC, seq DESC "
                             f"LIMIT 1 OFFSET {page}").fetchone())
    total = store.count(ListQuery("oai_dc"))
    token = provider.tokens.encode(ResumptionState(
        "ListRecords", "oai_dc", None, None, None, key, total - page, total, int(time.time()) + 3600))
    last = timed(lambda _: provider.handle([("verb", "ListRecords"), ("resumptionToken", token)]),
                 range(requests // 4))
    body = provider.handle([("verb", "ListRecords"), ("resumptionToken", token)])
    assert body.count(b"<record>") == page and b"<resumptionToken " in body, body[-500:]
    print(f"\nListRecords page of {page} (oai_dc), engine in-process:")
    print(f"  first, list size counted   {pct(cold)}")
    print(f"  first, size remembered     {pct(warm)}")
    print(f"  last (cursor {total - page:,})  {pct(last)}   last/first {statistics.median(last) / statistics.median(warm):.2f}x")

    ids = [r[0] for r in conn.execute(
        f"SELECT identifier FROM records WHERE id IN ({','.join(str(rng.randint(1, n)) for _ in range(requests))})")]
    get = timed(lambda i: provider.handle([("verb", "GetRecord"), ("identifier", i),
                                           ("metadataPrefix", "oai_dc")]), ids)
    print(f"GetRecord (oai_dc)           {pct(get)}")

    server = Server(store)
    queries = dict(QUERIES)
    queries["isbn"] = isbns(store, 50, rng)
    print("\nSRU searchRetrieve, 10 records, marcxml, engine in-process"
          + (f" (baseline: {baseline[0]}'s code on {baseline[1]}, kind by kind in turn)"
             if baseline else "") + ":")
    starts = ["a", "his", "mus", "fr", "ch", "w", "po", "ed", "lo", "s"]
    rows = [(kind, [[("version", "1.2"), ("operation", "searchRetrieve"),
                     ("query", rng.choice(queries[kind])), ("maximumRecords", "10"),
                     ("recordSchema", "marcxml")] for _ in range(requests)]) for kind in KINDS]
    rows.append(("scan", [[("version", "1.2"), ("operation", "scan"),
                           ("scanClause", f"dc.title = {rng.choice(starts)}"), ("maximumTerms", "20")]
                          for _ in range(requests)]))
    with _baseline_worker(baseline) as worker:
        for kind, params in rows:
            if worker is not None:
                lat, found = worker(params)
                print(f"  {kind:<12}{pct(lat)}   {found}   baseline")
            lat, found = sru_timed(server, params)
            print(f"  {kind:<12}{pct(lat)}   {found}" + ("   this tree" if worker else ""), flush=True)


def sru_timed(server, params: list) -> tuple[list[float], str]:
    """Latencies of the requests, and how many records a response held."""
    hits: list[int] = []

    def ask(p: list) -> None:
        hits.append(server.handle([tuple(x) for x in p]).body.count(b"<srw:record>"))

    lat = timed(ask, params)
    return lat, (f"{sum(hits) / len(hits):.1f} records a response"
                 if params and params[0][1][1] == "searchRetrieve" else "")


@contextmanager
def _baseline_worker(baseline: tuple[str, str] | None) -> Iterator:
    """A function timing a list of SRU requests with ``baseline``'s (source tree,
    store URL) code in a worker process (``--sru-worker``), or None."""
    if baseline is None:
        yield None
        return
    import json
    import subprocess

    tree, url = baseline
    proc = subprocess.Popen([sys.executable, __file__, "--sru-worker", url], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(Path(tree) / "src")})
    assert proc.stdin and proc.stdout

    def ask(params: list) -> tuple[list[float], str]:
        proc.stdin.write(json.dumps(params) + "\n")
        proc.stdin.flush()
        lat, found = json.loads(proc.stdout.readline())
        return lat, found

    try:
        yield ask
    finally:
        proc.stdin.close()
        proc.wait()


def sru_worker(url: str) -> None:
    """``--sru-worker URL``: the baseline's side of ``--baseline``, run by that tree's
    code: one JSON list of requests a line in, their latencies (and records found) out."""
    import json

    from thuvien_interop.sru.server import Server
    from thuvien_interop.store import open_store

    server = Server(open_store(url))
    for line in sys.stdin:
        print(json.dumps(sru_timed(server, json.loads(line))), flush=True)


def report_bytes(total: int, rows: list[tuple[str, int]], n: int) -> None:
    print(f"\non disk: {total / 1e9:.2f} GB, {total / n:,.0f} bytes a record")
    for name, size in rows[:14]:
        if size:
            print(f"  {name:<34}{size / n:>8,.0f} B/record  {size / 1e6:>9,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--marc", help="path to BooksAll.2016.part01.utf8 (default: fetch/cache)")
    ap.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to fill "
                    "instead of a SQLite file")
    ap.add_argument("--store-dir", help="folder of the SQLite file (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the SQLite file")
    ap.add_argument("--reuse", metavar="PATH_OR_URL", help="measure a store filled before "
                    "(a SQLite file or postgresql:// URL); --records is its size")
    ap.add_argument("--processes", type=int, default=None, help="pipeline worker processes "
                    "(default: one per core)")
    ap.add_argument("--requests", type=int, default=200, help="requests timed per figure")
    ap.add_argument("--baseline", metavar="TREE", help="also time the SRU requests with this "
                    "source tree's code (its src), kind by kind in turn with ours, on "
                    "--baseline-store (a copy of the store that code can open, e.g. made with "
                    "CREATE DATABASE copy TEMPLATE original before this tree migrated it)")
    ap.add_argument("--baseline-store", metavar="PATH_OR_URL", help="with --baseline: its store")
    ap.add_argument("--sru-worker", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sru_worker:
        sru_worker(args.sru_worker)
        return
    if args.baseline and not args.baseline_store:
        ap.error("--baseline needs --baseline-store")

    from thuvien_interop.store import open_store

    n = args.records
    marc = marc_file(args.marc)
    with tempfile.TemporaryDirectory(dir=args.store_dir) as tmp:
        if args.reuse:
            url = args.reuse if "://" in args.reuse else f"sqlite:///{Path(args.reuse).resolve()}"
            store = open_store(url)
        elif args.postgres:
            url = args.postgres
            store = open_store(url)
            if store.info().record_count:
                sys.exit(f"{url} is not empty: give an empty database")
        else:
            folder = Path(args.store_dir) if args.keep and args.store_dir else Path(tmp)
            path = folder / f"scale-{n}.db"
            if path.exists():
                sys.exit(f"{path} exists: measure it with --reuse {path}, or delete it")
            url = f"sqlite:///{path}"
            store = open_store(url)
        print(f"store: {url}, {n:,} records")
        if not args.reuse:
            load(store, marc, n, args.processes)
        if url.startswith("sqlite:///"):
            store.close()
            total, rows = sqlite_bytes(Path(url[len("sqlite:///"):]))
            store = open_store(url)
        else:
            # After a bulk load PostgreSQL plans without statistics and reads heap pages
            # an index-only scan would skip until autovacuum has been (it is off on some
            # test servers): measured as a deployment with autovacuum finds it.
            import psycopg

            with psycopg.connect(url, autocommit=True) as admin:
                t = time.perf_counter()
                admin.execute("VACUUM ANALYZE")
                print(f"VACUUM ANALYZE: {time.perf_counter() - t:.0f} s")
            total, rows = postgres_bytes(store)
        report_bytes(total, rows, n)
        base = args.baseline_store
        measure(store, n, args.requests, None if not args.baseline else (
            args.baseline, base if "://" in base else f"sqlite:///{Path(base).resolve()}"))
        store.close()


if __name__ == "__main__":
    main()
