"""Benchmark of the readers' search with facets, on SQLite and PostgreSQL.

Builds a union of N Library of Congress records (``BooksAll.2016.part01.utf8``
from pymarc 5.4.0's source distribution, fetched as in ``bench/oai_provider.py``)
from K providers in 3 provinces — every record in one provider, every third one
again in a second (same record, the second library's identifier and 852), so
that clusters hold several libraries — through the one write path
(``pipeline.build.build_record`` and ``pipeline.build.write_batch``, so the
store keeps its clusters as a harvest leaves them), serves the reader's app over
the store's own clusters with waitress in a separate process, and prints, for
each store:

- the search page ``/?q=…`` (results, one line a cluster, and the 7 facets
  counted over the whole result) and the same with a province chosen:
  requests/s, p50/p95 latency, page weight;
- beside it, the peer: the same words as SRU 2.0 searchRetrieve without facets
  and with ``facetLimit=10`` (what the facets cost);
- a record page (a cluster's page with its holdings and JSON-LD): requests/s,
  p50/p95, page weight.

Beside each row, the server's CPU ms a request (on a machine others load, the
figure that moves least). On PostgreSQL a fresh load is vacuumed as autovacuum
would soon after.

    python bench/reader.py                          # 50,000 records, SQLite only
    python bench/reader.py --records 200000 --postgres postgresql://postgres@127.0.0.1/bench
    python bench/reader.py --records 20000 --requests 50 --providers 12
    # the same store measured by an earlier checkout's server first (before/after, same run);
    # --store loads the store when it is empty, and keeps it:
    python bench/reader.py --records 20000 --store sqlite:///union.db --before-src ../old/src

It prints figures; it asserts nothing (performance is not a test).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oai_provider import free_port, marc_file  # noqa: E402

PROVINCES = ("Đắk Lắk", "Hà Nội", "Lâm Đồng")
WORDS = ["history", "poetry", "france", "education", "music", "economic", "children",
         "china", "law", "religion", "science", "art", "united states", "war"]

SERVER = """
import sys, waitress
sys.path.insert(0, sys.argv[4])
if len(sys.argv) > 5:
    sys.path.insert(0, sys.argv[5])     # an earlier checkout's src/
from reader import libraries
from thuvien_interop.store import open_store
from thuvien_interop.union.clusters import open_index
from thuvien_interop.web import create_app
store = open_store(sys.argv[1])
app = create_app(store, libraries=libraries(int(sys.argv[3])), clusters=open_index(store))
print("ready", flush=True)
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=4, _quiet=True)
"""


def libraries(k: int) -> dict:
    from thuvien_interop.union.holdings import Library

    kinds = ("public", "school", "university")
    return {f"p{i}": Library(f"p{i}", f"Thư viện {i}", PROVINCES[i % 3], kinds[i % 3]) for i in range(k)}


def load(url: str, marc: Path, n: int, k: int) -> tuple[float, int]:
    import pymarc

    from thuvien_interop.formats import default_registry
    from thuvien_interop.pipeline.build import build_record, write_batch
    from thuvien_interop.store import open_store

    store = open_store(url)
    reg = default_registry()
    t, batch, written = time.perf_counter(), [], 0
    with open(marc, "rb") as fh:
        for i, rec in enumerate(pymarc.MARCReader(fh, to_unicode=True, force_utf8=True)):
            if i >= n:
                break
            if rec is None:
                continue
            holders = [i % k] + ([(i + 1) % k] if i % 3 == 0 else [])
            for p in holders:
                copy = pymarc.Record(leader=rec.leader, force_utf8=True)
                for f in rec.fields:
                    if f.tag != "852":
                        copy.add_field(f)
                copy.add_field(pymarc.Field("852", pymarc.Indicators(" ", " "), [
                    pymarc.Subfield("b", "Kho đọc"), pymarc.Subfield("h", f"{i % 1000}.{p}")]))
                batch.append(build_record(copy, f"oai:p{p}:{i}", reg, (f"source:p{p}",)))
            if len(batch) >= 1000:
                write_batch(store, batch)
                written += len(batch)
                batch = []
    if batch:
        write_batch(store, batch)
        written += len(batch)
    if hasattr(store, "refresh_statistics"):
        store.refresh_statistics(written)   # as a harvest's end does
    elif url.startswith("postgres"):
        store._conn().execute("ANALYZE")    # (an earlier checkout: as autovacuum would, soon after)
    if url.startswith("postgres"):
        # What autovacuum does soon after a load (its visibility map lets the searches'
        # key look-ups be index-only scans): done here, for a server that has it off.
        import psycopg

        from thuvien_interop.store.postgres import split_schema

        base, schema = split_schema(url)
        with psycopg.connect(base, autocommit=True) as conn:
            for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                         (schema or "public",)).fetchall():
                conn.execute(f'VACUUM (ANALYZE) "{schema or "public"}"."{table}"')
    store.close()
    return time.perf_counter() - t, written


def server_cpu(pid: int) -> float:
    """The CPU seconds (user + system) a process has used so far (Linux's /proc; 0
    elsewhere): on a machine others load, what a request costs the server."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(session: requests.Session, urls: list[str], pid: int | None = None
          ) -> tuple[float, float, float, int, float]:
    """(requests/s, p50 ms, p95 ms, mean bytes, the server's CPU ms a request) of
    fetching urls one after another."""
    times, sizes = [], []
    cpu = server_cpu(pid) if pid else 0.0
    start = time.perf_counter()
    for u in urls:
        t = time.perf_counter()
        r = session.get(u, headers={"Accept": "text/html", "Sec-Fetch-Dest": "document"}
                        if "/sru" not in u else {})
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(r.content))
        if r.status_code != 200:
            raise SystemExit(f"{u}: HTTP {r.status_code}")
    wall = time.perf_counter() - start
    cpu = (server_cpu(pid) - cpu) * 1000 / len(urls) if pid else 0.0
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return len(urls) / wall, statistics.median(times), p95, int(statistics.mean(sizes)), cpu


def run(url: str, label: str, args: argparse.Namespace, marc: Path | None) -> None:
    from thuvien_interop.store import open_store

    store = open_store(url)
    count = store.info().record_count
    store.close()
    if count:
        print(f"\n== {label}: {count:,} records already in {url}", flush=True)
    else:
        print(f"\n== {label}: loading {args.records:,} records from {args.providers} providers …", flush=True)
        seconds, written = load(url, marc or marc_file(args.marc), args.records, args.providers)
        print(f"   {written:,} records written in {seconds:.0f} s ({written / seconds:,.0f} records/s)")
    servers = ([(f"before ({args.before_src})", args.before_src)] if args.before_src else []) + [("this", None)]
    print(f"   {'':36} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8} {'CPU ms':>7}  results")
    for name, src in servers:
        print(f"   -- {name}", flush=True)
        measure(url, args, src)


def measure(url: str, args: argparse.Namespace, src: str | None) -> None:
    """One server (this checkout's, or ``src``'s) over the store: every row."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port), str(args.providers),
                             str(Path(__file__).resolve().parent), *([src] if src else [])],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "ready" not in line:
            raise SystemExit("the server did not start")
        root = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(root + "/sru", params={"operation": "explain", "version": "1.2"}, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        rnd = random.Random(7)
        words = [rnd.choice(WORDS) for _ in range(args.requests)]
        session = requests.Session()
        rows = [
            ("search page with facets", [f"{root}/?q={w}" for w in words]),
            ("… and a province chosen", [f"{root}/?q={w}&f=local.province:{PROVINCES[i % 3]}"
                                         for i, w in enumerate(words)]),
            ("… its 5th page", [f"{root}/?q={w}&start=41" for w in words]),
            ("peer: SRU 2.0, no facets", [f"{root}/sru?query={w}&maximumRecords=10" for w in words]),
            ("SRU 2.0 with facetLimit=10", [f"{root}/sru?query={w}&maximumRecords=10&facetLimit=10"
                                            for w in words]),
        ]
        timed(session, rows[0][1][:3])        # warm the caches
        for name, urls in rows:
            rps, p50, p95, size, cpu = timed(session, urls, proc.pid)
            print(f"   {name:36} {rps:7.1f} {p50:8.1f} {p95:8.1f} {size:8,} {cpu:7.1f}  "
                  f"{_results(session, urls[0])}")
        ids = [f"oai:p{i % args.providers}:{i}" for i in rnd.sample(range(args.records), min(args.requests,
                                                                                         args.records))]
        rps, p50, p95, size, cpu = timed(session, [f"{root}/record/{i}" for i in ids], proc.pid)
        print(f"   {'record page (cluster)':36} {rps:7.1f} {p50:8.1f} {p95:8.1f} {size:8,} {cpu:7.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _results(session: requests.Session, url: str) -> str:
    """What the first request of a row found: the page's "N results", SRU's numberOfRecords."""
    import re

    text = session.get(url, headers={"Accept": "text/html", "Sec-Fetch-Dest": "document",
                                     "Accept-Language": "en"} if "/sru" not in url else {}).text
    m = re.search(r"([\d,.]+) results", text) or re.search(r"numberOfRecords>(\d+)<", text)
    return f"{url.rsplit('?', 1)[-1][:28]}: {m.group(1) if m else '?'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000, help="LoC records to load (default 50,000)")
    ap.add_argument("--providers", type=int, default=20, help="libraries (default 20)")
    ap.add_argument("--requests", type=int, default=100, help="requests a row (default 100)")
    ap.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database "
                    "(a fresh schema in it, dropped after)")
    ap.add_argument("--marc", help="the LoC MARC file (default: cached, or fetched with pip)")
    ap.add_argument("--store", metavar="URL", help="measure this store (loaded first when it is "
                    "empty, and kept) instead of fresh ones")
    ap.add_argument("--before-src", metavar="DIR", help="the src/ folder of an earlier checkout: its "
                    "server is measured first over the same store (before/after, same run)")
    args = ap.parse_args()
    if args.store:
        run(args.store, args.store.split(":", 1)[0], args, None)
        return
    marc = marc_file(args.marc)
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/union.db", "SQLite", args, marc)
    if args.postgres:
        import uuid

        import psycopg
        from psycopg import sql

        schema = f"bench_reader_{uuid.uuid4().hex[:8]}"
        try:
            run(f"{args.postgres}?schema={schema}", "PostgreSQL", args, marc)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
