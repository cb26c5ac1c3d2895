"""Benchmark the stores: load N records into SQLite and PostgreSQL, then harvest
them all through the OAI-PMH provider; then PostgreSQL behind several server
workers with several concurrent harvesters. Prints figures; asserts nothing.

    python bench/stores.py                        # 250,000 LoC records
    python bench/stores.py --records 20000 --skip-sqlite
    python bench/stores.py --marc my-catalogue.mrc --postgres postgresql://me@db/bench

Records come from the Library of Congress file shipped in pymarc's source
distribution (fetched with ``pip download`` into a cache folder), or from
``--marc``; when the file holds fewer than N records it is read again with
distinct identifiers. Rendering (oai_dc, marc21, mods) is done once, before the
clocks start, so "load" measures the store alone.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

# BATCH: what `thuvien-interop import` hands the store at a time.
from thuvien_interop.pipeline import BATCH

PG_URL = os.environ.get("THUVIEN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
LOC_MEMBER = "BooksAll.2016.part01.utf8"
TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")
RECORD = re.compile(rb"<record>")


def loc_file(cache: Path) -> Path:
    """The LoC MARC file from pymarc 5.4.0's sdist (downloaded once into ``cache``)."""
    target = cache / LOC_MEMBER
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                    "pymarc==5.4.0", "-d", str(cache)], check=True)
    with tarfile.open(cache / "pymarc-5.4.0.tar.gz") as tar:
        member = tar.getmember(f"pymarc-5.4.0/{LOC_MEMBER}")
        with tar.extractfile(member) as src, open(target, "wb") as dst:  # type: ignore[union-attr]
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    return target


def _render_part(args: tuple[str, int, int, int]) -> list:
    """Records ``part``, ``part + parts``, … of the first ``n`` (repeating the file)."""
    from thuvien_interop.formats import default_registry
    from thuvien_interop.ingest.detect import read_stream
    from thuvien_interop.ingest.loader import build_record

    path, n, part, parts = args
    registry = default_registry()
    out, i, round_ = [], 0, 0
    while i < n:
        before = i
        with open(path, "rb") as f:
            for result in read_stream(f, "iso2709"):
                if result.record is None:
                    continue
                if i % parts == part:
                    ident = f"oai:bench.thuvien-interop.vn:{i}" + (f"-r{round_}" if round_ else "")
                    try:
                        out.append(build_record(result.record, ident, registry))
                    except Exception:  # noqa: BLE001 — a record the crosswalks reject is skipped
                        pass
                i += 1
                if i >= n:
                    break
        if i == before:
            raise SystemExit(f"{path} holds no readable MARC record")
        round_ += 1
    return out


def render(path: Path, n: int) -> list:
    parts = max(1, os.cpu_count() or 1)
    with mp.get_context("fork" if sys.platform != "win32" else "spawn").Pool(parts) as pool:
        chunks = pool.map(_render_part, [(str(path), n, p, parts) for p in range(parts)])
    return list(itertools.chain.from_iterable(chunks))


#: CPU seconds of this process in the last load or harvest_engine (the clock on a
#: shared machine moves with the load; CPU time much less).
CPU = {"last": 0.0}


def load(store, records: list) -> float:
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, len(records), BATCH):
        store.write(records[i:i + BATCH])
    CPU["last"] = time.process_time() - c
    return time.perf_counter() - t


def harvest_engine(store, page_size: int) -> tuple[int, float]:
    """A full ListRecords oai_dc harvest through the provider engine (no HTTP)."""
    from thuvien_interop.oai.config import ProviderConfig
    from thuvien_interop.oai.provider import Provider

    provider = Provider(store, ProviderConfig(page_size=page_size))
    t, c = time.perf_counter(), time.process_time()
    n, params = 0, [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")]
    while True:
        body = provider.handle(params)
        n += len(RECORD.findall(body))
        m = TOKEN.search(body)
        if not m:
            CPU["last"] = time.process_time() - c
            return n, time.perf_counter() - t
        params = [("verb", "ListRecords"), ("resumptionToken", m.group(1).decode())]


def _harvest_http(url: str) -> int:
    import requests

    n, params = 0, {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    with requests.Session() as s:
        while True:
            body = s.get(url, params=params, timeout=300).content
            n += len(RECORD.findall(body))
            m = TOKEN.search(body)
            if not m:
                return n
            params = {"verb": "ListRecords", "resumptionToken": m.group(1).decode()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_harvest(url: str, workers: int, harvesters: int, page_size: int) -> tuple[int, float]:
    """``harvesters`` processes harvesting everything from ``serve --workers``."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(f"[oai]\npage_size = {page_size}\n", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from thuvien_interop.cli import main; main()", "serve",
             "--store", url, "--config", str(cfg), "--port", str(port),
             "--workers", str(workers), "--threads", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            oai = f"http://127.0.0.1:{port}/oai"
            _harvest_http_first_page(oai)
            t = time.perf_counter()
            with mp.get_context("spawn").Pool(harvesters) as pool:
                counts = pool.map(_harvest_http, [oai] * harvesters)
            return sum(counts), time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def _harvest_http_first_page(url: str) -> None:
    import requests

    for _ in range(50):  # gunicorn's workers come up after the socket does
        try:
            requests.get(url, params={"verb": "Identify"}, timeout=30).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.2)


def rate(n: int, seconds: float, cpu: float | None = None) -> str:
    text = f"{n:,} records in {seconds:.1f} s = {n / seconds:,.0f} records/s"
    if cpu is not None and n:
        text += f", CPU of this process {cpu / n * 1e6:,.1f} µs/record"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=250_000)
    ap.add_argument("--marc", type=Path, help="an ISO 2709 file (default: LoC records from pymarc)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "thuvien-interop-bench")
    ap.add_argument("--postgres", default=PG_URL, help="database for the PostgreSQL runs")
    ap.add_argument("--page-size", type=int, default=200)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--harvesters", type=int, default=4)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    args = ap.parse_args()

    from thuvien_interop.store import open_store

    path = args.marc or loc_file(args.cache)
    t = time.perf_counter()
    records = render(path, args.records)
    print(f"rendered (not timed below): {rate(len(records), time.perf_counter() - t)} "
          f"on {os.cpu_count()} cores, from {path.name}")
    n = len(records)

    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            print(f"sqlite   load:    {rate(n, load(store, records), CPU['last'])}")
            got, secs = harvest_engine(store, args.page_size)
            print(f"sqlite   harvest: {rate(got, secs, CPU['last'])} (provider engine, page size {args.page_size})")
            size = (Path(tmp) / "bench.db").stat().st_size
            print(f"sqlite   size:    {size / 2**20:,.0f} MiB, {size / n / 1024:,.1f} KiB a record")
            store.close()

    if not args.skip_postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        url = f"{args.postgres}?schema={schema}"
        store = open_store(url)
        try:
            print(f"postgres load:    {rate(n, load(store, records), CPU['last'])}")
            records.clear()  # the served run needs the memory more
            store._conn().execute("VACUUM ANALYZE records")  # type: ignore[attr-defined]
            got, secs = harvest_engine(store, args.page_size)
            print(f"postgres harvest: {rate(got, secs, CPU['last'])} (provider engine, page size {args.page_size})")
            size = store._conn().execute(  # type: ignore[attr-defined]
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s "
                "ON s.oid = c.relnamespace WHERE s.nspname = %s AND c.relkind = 'r'",
                (schema,)).fetchone()[0]
            print(f"postgres size:    {size / 2**20:,.0f} MiB, {size / n / 1024:,.1f} KiB a record "
                  "(tables and their indexes)")
            from thuvien_interop.web.workers import gunicorn_available

            server = "gunicorn" if gunicorn_available() else "waitress threads (no gunicorn)"
            got, secs = served_harvest(url, args.workers, args.harvesters, args.page_size)
            print(f"postgres served:  {rate(got, secs)} in all, {args.workers} workers ({server}), "
                  f"{args.harvesters} concurrent full harvests over HTTP")
        finally:
            if not args.keep:
                from psycopg import sql

                store._conn().execute(  # type: ignore[attr-defined]
                    sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            store.close()


if __name__ == "__main__":
    main()
