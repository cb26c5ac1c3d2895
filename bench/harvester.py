"""Benchmark: harvest N records (oai_dc and marc21) from a local provider into SQLite.

Prints records/s end to end (wire, parse, crosswalks, store) and the harvester's
peak RSS after 10,000 records and at the end, and the same list iterated by a
plain Sickle loop that stores nothing, and by the harvester's own wire loop (its
HTTP client and streaming page reader) that stores nothing either. A benchmark,
not a test: it prints figures.

    python bench/harvester.py                  # 100,000 records
    python bench/harvester.py --records 20000 --page-size 500
    python bench/harvester.py --processes 1,0  # conversion in-process, then on every core
    python bench/harvester.py --union 'postgresql://postgres@127.0.0.1/test?schema=bench_union'

The provider runs in its own process (waitress over a SQLite store built once
and kept in --workdir); each harvest runs in a fresh process so that its peak
RSS is its own; the worker processes' peak RSS (each converts and writes one
page at a time) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARC_NS = "http://www.loc.gov/MARC21/slim"


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_provider(path: Path, n: int) -> None:
    """A provider store of n records with Vietnamese MARC and oai_dc renderings
    (formatted directly: building the fixture is not what is measured)."""
    from xml.sax.saxutils import escape

    from thuvien_interop.model import Record, Set
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{path}")
    store.put_sets([Set("sach", "Sách")])
    towns = ["Hà Nội", "Huế", "Đà Nẵng", "Buôn Ma Thuột", "Cần Thơ"]
    batch = []
    for i in range(n):
        title = f"Lịch sử văn hoá Việt Nam, tập {i}"
        town = towns[i % len(towns)]
        marc = (f'<record xmlns="{MARC_NS}"><leader>00000nam a2200000 a 4500</leader>'
                f'<controlfield tag="001">VN{i:07d}</controlfield>'
                f'<controlfield tag="008">150101s2015    vm            000 0 vie d</controlfield>'
                f'<datafield tag="100" ind1="1" ind2=" "><subfield code="a">Nguyễn Văn {i % 97},'
                f'</subfield></datafield>'
                f'<datafield tag="245" ind1="1" ind2="0"><subfield code="a">{escape(title)} /'
                f'</subfield><subfield code="c">Nguyễn Văn {i % 97}.</subfield></datafield>'
                f'<datafield tag="260" ind1=" " ind2=" "><subfield code="a">{town} :</subfield>'
                f'<subfield code="b">Nxb. Văn hoá,</subfield><subfield code="c">2015.</subfield>'
                f'</datafield><datafield tag="650" ind1=" " ind2="7"><subfield code="a">Văn hoá'
                f'</subfield><subfield code="z">Việt Nam</subfield></datafield></record>')
        dc = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
              'xmlns:dc="http://purl.org/dc/elements/1.1/">'
              f"<dc:title>{escape(title)}</dc:title><dc:creator>Nguyễn Văn {i % 97}</dc:creator>"
              f"<dc:publisher>Nxb. Văn hoá</dc:publisher><dc:date>2015</dc:date>"
              f"<dc:subject>Văn hoá -- Việt Nam</dc:subject><dc:language>vie</dc:language>"
              f"<dc:identifier>VN{i:07d}</dc:identifier></oai_dc:dc>")
        batch.append(Record(f"oai:bench.thuvien.vn:{i}", marc.encode(), "marc21",
                            ("sach",) if i % 3 == 0 else (),
                            rendered={"marc21": marc.encode(), "oai_dc": dc.encode()}))
        if len(batch) == 5000:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)
    store.close()


def serve(db: str, port: int, page_size: int) -> None:
    import waitress

    from thuvien_interop.oai.config import ProviderConfig
    from thuvien_interop.store import open_store
    from thuvien_interop.web import create_app

    app = create_app(open_store(f"sqlite:///{db}"), ProviderConfig(page_size=page_size))
    waitress.serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)


def child_harvest(url: str, prefix: str, target: str, processes: str = "0",
                  clusters: str = "on") -> dict:
    from thuvien_interop.oai.harvest_sources import Source
    from thuvien_interop.oai.harvester import Harvester
    from thuvien_interop.store import open_store

    marks: dict[str, object] = {}
    start = time.perf_counter()
    workers_mb = 0.0
    pools: list = []  # the harvester's worker pool, once it exists

    def workers_peak() -> float:
        # The worker processes' own peak RSS (VmHWM), the largest of them.
        nonlocal workers_mb
        pool = pools[0]._pool if pools else None
        for pid in list(getattr(pool, "_processes", None) or {}):
            try:
                with open(f"/proc/{pid}/status", encoding="ascii") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            workers_mb = max(workers_mb, int(line.split()[1]) / 1024)
            except OSError:
                pass
        return workers_mb

    def progress(name, set_spec, done, total):
        if done >= 10_000 and "at_10k" not in marks:
            marks["at_10k"] = {"records": done, "seconds": time.perf_counter() - start,
                               "rss_mb": _rss_mb(), "workers_mb": workers_peak()}
        if total and done >= total // 2 and "at_half" not in marks:
            marks["at_half"] = {"records": done, "seconds": time.perf_counter() - start,
                                "rss_mb": _rss_mb(), "workers_mb": workers_peak()}
        if total and done >= total - 1000:
            workers_peak()

    cpu = _cpu()
    store = open_store(target if "://" in target else f"sqlite:///{target}")
    if clusters == "off":
        try:
            from thuvien_interop.union.clusters import configure
        except ImportError:  # a checkout from before the union kept clusters
            pass
        else:
            configure(store, {"enabled": False})
    with Harvester(store, diagnostics=None, progress=progress,
                   processes=int(processes) or None) as harvester:
        pools.append(harvester.converter)
        result = harvester.harvest(Source("bench", url, prefix=prefix))
        seconds = time.perf_counter() - start
        workers_peak()
    store.close()
    n = result.added + result.updated + result.unchanged + result.deleted
    return {"ok": result.ok, "errors": result.errors, "records": n, "seconds": seconds,
            "cpu": _cpu() - cpu, "rss_mb": _rss_mb(), "workers_mb": workers_mb,
            "pages": result.pages,
            "quarantined": result.quarantined, **marks}


def child_sickle(url: str, prefix: str) -> dict:
    from sickle import Sickle

    start = time.perf_counter()
    n = 0
    marks: dict[str, object] = {}
    for _record in Sickle(url).ListRecords(metadataPrefix=prefix):
        n += 1
        if n == 10_000:
            marks["at_10k"] = {"records": n, "seconds": time.perf_counter() - start,
                               "rss_mb": _rss_mb()}
    return {"ok": True, "records": n, "seconds": time.perf_counter() - start,
            "rss_mb": _rss_mb(), **marks}


def child_wire(url: str, prefix: str) -> dict:
    """The harvester's own wire loop over the same list (its HTTP client and its
    streaming page reader, every record's header and metadata read), storing
    nothing: what the plain Sickle loop does, done the harvester's way."""
    from thuvien_interop.oai.harvest_http import PoliteClient
    from thuvien_interop.oai.harvest_page import PageReader

    client = PoliteClient()
    start = time.perf_counter()
    n = 0
    marks: dict[str, object] = {}
    params = {"verb": "ListRecords", "metadataPrefix": prefix}
    while True:
        fetched = client.get(url, params)
        try:
            reader = PageReader(fetched.body, "ListRecords")
            for _item in reader.items():
                n += 1
                if n == 10_000 and "at_10k" not in marks:
                    marks["at_10k"] = {"records": n, "seconds": time.perf_counter() - start,
                                       "rss_mb": _rss_mb()}
        finally:
            fetched.close()
        token = reader.page.token
        if token is None or not token.value:
            break
        params = {"verb": "ListRecords", "resumptionToken": token.value}
    return {"ok": True, "records": n, "seconds": time.perf_counter() - start,
            "rss_mb": _rss_mb(), **marks}


def _empty_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    from thuvien_interop.store.postgres import split_schema

    conninfo, schema = split_schema(url)
    if not schema:
        raise SystemExit("--union postgresql://… needs ?schema=NAME (it is emptied first)")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _cpu() -> float:
    """CPU seconds of this process (user and system): on a shared machine the
    wall-clock rate moves with the load, CPU time much less."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _line(label: str, r: dict) -> str:
    rate = r["records"] / r["seconds"] if r["seconds"] else 0
    text = (f"{label:<36} {r['records']:>8} records {r['seconds']:>8.1f} s {rate:>9.0f} rec/s "
            f"peak RSS {r['rss_mb']:>7.1f} MB")
    if r.get("cpu") and r["records"]:
        text += f" CPU {r['cpu'] / r['records'] * 1e6:>5.0f} µs/record (this process)"
    k = r.get("at_10k")
    if k:
        text += (f"   | at 10,000: {k['records'] / k['seconds']:>7.0f} rec/s, "
                 f"peak RSS {k['rss_mb']:.1f} MB")
    h = r.get("at_half")
    if h:
        text += f" | at {h['records']:,}: peak RSS {h['rss_mb']:.1f} MB"
    if r.get("workers_mb"):
        w = [r[m]["workers_mb"] for m in ("at_10k", "at_half") if r.get(m, {}).get("workers_mb")]
        text += (f" | worker processes' peak RSS {' → '.join(f'{x:.0f}' for x in w)}"
                 f"{' → ' if w else ''}{r['workers_mb']:.0f} MB")
    if not r.get("ok", True):
        text += f"   FAILED: {r.get('errors')}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=500)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "thuvien-bench"))
    ap.add_argument("--prefixes", default="marc21,oai_dc")
    ap.add_argument("--no-sickle", action="store_true")
    ap.add_argument("--union", default=None, metavar="URL",
                    help="harvest into this store instead of a SQLite file in --workdir, e.g. "
                         "postgresql://postgres@127.0.0.1/test?schema=bench_union (the schema "
                         "is emptied first)")
    ap.add_argument("--processes", default="0",
                    help="conversion processes of the harvester, comma-separated runs "
                         "(0: one per core; 1: all in the harvester's process); default 0")
    ap.add_argument("--no-clusters", action="store_true",
                    help="the union store does not cluster ([union] enabled = false): the "
                         "harvest alone, as before the union kept clusters")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "serve":
            serve(rest[0], int(rest[1]), int(rest[2]))
            return
        result = {"harvest": child_harvest, "sickle": child_sickle, "wire": child_wire}[kind](*rest)
        print(json.dumps(result))
        return

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    # The cached provider store is named by this checkout's schema level: a newer checkout
    # would migrate a shared file, and an older one would then refuse it.
    from thuvien_interop.store.sqlite import MIGRATIONS

    db = work / f"provider-{args.records}-m{len(MIGRATIONS)}.db"
    if not db.exists():
        t = time.perf_counter()
        build_provider(db, args.records)
        print(f"built the provider store ({args.records} records) in {time.perf_counter() - t:.1f} s")
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--child", "serve", str(db), str(port),
                               str(args.page_size)])
    url = f"http://127.0.0.1:{port}/oai"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"provider: {url} (page size {args.page_size}); {os.cpu_count()} CPUs")
        for prefix in args.prefixes.split(","):
            for processes in args.processes.split(","):
                if args.union:
                    target, kind = args.union, "PostgreSQL"
                    _empty_postgres(args.union)
                else:
                    target, kind = str(work / f"union-{prefix}.db"), "SQLite"
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{target}{suffix}").unlink(missing_ok=True)
                p = "p=" + processes if processes != "0" else "p=cores"
                if args.no_clusters:
                    p += ", no clusters"
                print(_line(f"harvester {prefix} → {kind} ({p})",
                            _run_child("harvest", url, prefix, target, processes,
                                       "off" if args.no_clusters else "on")), flush=True)
            if not args.no_sickle:
                print(_line(f"plain Sickle loop {prefix}", _run_child("sickle", url, prefix)),
                      flush=True)
                print(_line(f"harvester's wire loop {prefix}", _run_child("wire", url, prefix)),
                      flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
