"""Benchmark of the OAI-PMH data provider: real records, the real server.

Loads N Library of Congress records (the ``BooksAll.2016.part01.utf8`` file
inside pymarc 5.4.0's source distribution) into a SQLite store with the normal
importer, and prints:

- the server CPU a record of a full oai_dc ListRecords harvest through the real
  ``thuvien-interop serve`` command, uncompressed and gzip, beside the same
  harvest from the ``oaipmh`` 4.0 peer (bench/oai_peer.py) over the same
  records; CPU is the server process's own (all its threads, from /proc), the
  harvest repeated and the least kept;

then, serving the store with waitress in a separate process:

- the import rate;
- records/s of a full ListRecords harvest through HTTP, oai_dc and marc21;
- the time of the first and of the last page of that harvest;
- GetRecord requests/s;
- the server's peak RSS;
- SQLite's query plans for a plain, a set-filtered and a date-filtered page.

    python bench/oai_provider.py                    # 100,000 records
    python bench/oai_provider.py --records 20000 --page-size 500
    python bench/oai_provider.py --marc path/to/BooksAll.2016.part01.utf8
    python bench/oai_provider.py --records 20000 --cpu-only   # the CPU figures alone
    # ... a PostgreSQL store too (loaded with the same records when empty):
    python bench/oai_provider.py --records 20000 --cpu-only --postgres postgresql://localhost/bench
    # ... or serve's instructions a record, counted by valgrind (load does not move them):
    python bench/oai_provider.py --records 20000 --instructions
    # ... and beside them an earlier version's serve over its own store (before/after):
    python bench/oai_provider.py --records 20000 --cpu-only \
        --before-src ../old-checkout/src --before-store old.db

It prints figures; it asserts nothing (performance is not a test).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "thuvien-interop-bench"
MARC_NAME = "BooksAll.2016.part01.utf8"
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")

SERVER = """
import sys, waitress
from thuvien_interop.oai import ProviderConfig
from thuvien_interop.web import create_app
app = create_app("sqlite:///" + sys.argv[1], ProviderConfig(page_size=int(sys.argv[3])))
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=8, _quiet=True)
"""


def marc_file(given: str | None) -> Path:
    """The LoC MARC file: given, cached, or fetched with pip from PyPI."""
    if given:
        return Path(given)
    target = CACHE / MARC_NAME
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "pymarc==5.4.0", "-d", tmp, "-q"], check=True)
        sdist = next(Path(tmp).glob("pymarc-5.4.0.tar.gz"))
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(MARC_NAME))
            with tar.extractfile(member) as src, open(target, "wb") as dst:  # type: ignore[union-attr]
                dst.write(src.read())
    return target


def first_records(source: Path, n: int, dest: Path) -> int:
    """Copy the first n ISO 2709 records (split on the record terminator)."""
    count = 0
    with open(source, "rb") as src, open(dest, "wb") as out:
        buf = b""
        while count < n:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            buf += chunk
            parts = buf.split(b"\x1d")
            buf = parts.pop()
            for p in parts:
                if count >= n:
                    break
                out.write(p + b"\x1d")
                count += 1
    return count


def load(store_path: Path | str, marc: Path, n: int) -> None:
    """The first n records of ``marc`` imported into a SQLite file or a store URL."""
    from thuvien_interop.ingest.loader import IdentifierRule, import_files
    from thuvien_interop.oai.setrules import SetRules
    from thuvien_interop.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / "part.mrc"
        got = first_records(marc, n, part)
        store = open_store(store_url(store_path))
        rules = SetRules.default()
        t = time.perf_counter()
        report = import_files(store, [part], IdentifierRule("thuvien-interop.vn"), classify=rules.classify)
        store.put_sets(rules.seen_sets())
        dt = time.perf_counter() - t
        store.close()
    w = report.written
    print(f"import: {got} records read, {w.added} loaded, {len(report.rejected)} rejected "
          f"in {dt:.1f} s = {got / dt:,.0f} records/s (3 formats rendered per record)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store_path: Path, page_size: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(store_path), str(port), str(page_size)])
    url = f"http://127.0.0.1:{port}/oai"
    for _ in range(100):
        try:
            requests.get(url, params={"verb": "Identify"}, timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a process and of its children (gunicorn's
    workers) so far (Linux: schedstat, in ns)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
            children = (task / "children").read_text().split()
        except (OSError, ValueError):
            continue  # a thread that ended meanwhile
        total += sum(int(cpu_seconds(int(c)) * 1e9) for c in children)
    return total / 1e9


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server {proc.args} ended with status {proc.returncode}")
        try:
            requests.get(url, params={"verb": "Identify"}, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def store_url(store: Path | str) -> str:
    """A SQLite file's store URL; a URL (postgresql://...) as it is."""
    return store if isinstance(store, str) else f"sqlite:///{store}"


def start_serve_command(store_path: Path | str, page_size: int, workdir: Path,
                        src: str | None = None, *options: str) -> tuple[subprocess.Popen, str]:
    """The real ``thuvien-interop serve`` (its default access log to a pipe nobody reads
    but the operating system: /dev/null); ``src``: the package of another checkout;
    ``options``: more of serve's (``--workers 2``: gunicorn, where it is installed)."""
    port = free_port()
    config = workdir / "bench.toml"
    config.write_text(f"[oai]\npage_size = {page_size}\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=src) if src else None
    proc = subprocess.Popen([sys.executable, "-m", "thuvien_interop", "serve", "--store",
                             store_url(store_path), "--config", str(config), "--port", str(port),
                             *options], stdout=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/oai"
    wait_for(url, proc)
    return proc, url


def instructions_per_record(store: Path | str, page_size: int, encoding: str, workdir: Path,
                            src: str | None = None, prefix: str = "oai_dc") -> float:
    """Instructions of ``serve`` a record of one full ListRecords, counted by valgrind's
    callgrind (every thread, from the warm server's second harvest on): the same
    figure however loaded the machine is, where CPU time is not."""
    port = free_port()
    config = workdir / "bench.toml"
    config.write_text(f"[oai]\npage_size = {page_size}\n", encoding="utf-8")
    out = workdir / "callgrind.out"
    env = dict(os.environ, PYTHONPATH=src) if src else None
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                             f"--callgrind-out-file={out}", sys.executable, "-m", "thuvien_interop",
                             "serve", "--store", store_url(store), "--config", str(config),
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/oai"
    try:
        wait_for(url, proc, seconds=600)
        harvest(Client(url, encoding), "ListRecords", prefix)  # warm: code paths, caches
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        n = harvest(Client(url, encoding), "ListRecords", prefix)["records"]
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    # The dump holds the counted harvest alone (the file without a part number is
    # what followed it, at exit).
    dump = next(workdir.glob("callgrind.out.1"))
    total = next(int(line.split()[1]) for line in dump.read_text().splitlines()
                 if line.startswith("summary:"))
    return total / max(n, 1)


def instruction_figures(store: Path, page_size: int, before: tuple[str, Path, int] | None,
                        postgres: str | None, prefix: str) -> None:
    print(f"serve's instructions a record, full {prefix} ListRecords (callgrind):")
    runs: list[tuple[str, Path | str, int, str | None]] = [("thuvien-interop serve", store, page_size, None)]
    if postgres:
        runs.append(("serve over PostgreSQL", postgres, page_size, None))
    if before:
        runs.append((f"before: serve ({before[2]})", before[1], before[2], before[0]))
        if postgres:
            runs.append((f"before: PostgreSQL ({before[2]})", postgres, before[2], before[0]))
    for name, where, size, src in runs:
        for enc in ("identity", "gzip"):
            with tempfile.TemporaryDirectory() as tmp:
                n = instructions_per_record(where, size, enc, Path(tmp), src, prefix)
            print(f"  {name:<24} {enc:<8}: {n:8,.0f} instructions a record")


def start_peer(store_path: Path, page_size: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    peer = Path(__file__).with_name("oai_peer.py")
    proc = subprocess.Popen([sys.executable, str(peer), str(store_path), str(port), str(page_size)])
    url = f"http://127.0.0.1:{port}/oai"
    wait_for(url, proc)
    return proc, url


def server_cpu_per_record(pid: int, url: str, encoding: str,
                          prefix: str = "oai_dc") -> tuple[float, int, float]:
    """(µs of server CPU a record, records, MB on the wire) of one full ListRecords."""
    client = Client(url, encoding)
    client.get({"verb": "Identify"})
    before = cpu_seconds(pid)
    r = harvest(client, "ListRecords", prefix)
    used = cpu_seconds(pid) - before
    return used / max(r["records"], 1) * 1e6, r["records"], client.wire / 1e6


def disk_bytes_per_record(store_path: Path) -> float:
    """The store file's bytes (its write-ahead log too) a record it holds."""
    import sqlite3

    conn = sqlite3.connect(store_path)
    n = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    conn.close()
    size = sum(p.stat().st_size for p in (store_path, Path(f"{store_path}-wal")) if p.exists())
    return size / max(n, 1)


def cpu_figures(store_path: Path, page_size: int, repeat: int,
                before: tuple[str, Path, int] | None = None, prefix: str = "oai_dc",
                gunicorn: bool = False, postgres: str | None = None) -> None:
    print(f"store: {disk_bytes_per_record(store_path):,.0f} bytes on disk a record ({store_path.name})"
          + (f"; before's store: {disk_bytes_per_record(before[1]):,.0f}" if before else ""))
    print(f"server CPU a record, full {prefix} ListRecords, pages of {page_size} "
          f"(least of {repeat} harvests):")
    with tempfile.TemporaryDirectory() as tmp:
        servers = [("thuvien-interop serve", *start_serve_command(store_path, page_size, Path(tmp)),
                    ("identity", "gzip"))]
        if gunicorn:
            # serve's other HTTP layer (POSIX): gunicorn's threaded workers, with more than one.
            (Path(tmp) / "gunicorn").mkdir()
            servers.append(("serve --workers 2", *start_serve_command(
                store_path, page_size, Path(tmp) / "gunicorn", None, "--workers", "2", "--threads", "4"),
                ("identity", "gzip")))
        if postgres:
            (Path(tmp) / "postgres").mkdir()
            servers.append(("serve over PostgreSQL", *start_serve_command(
                postgres, page_size, Path(tmp) / "postgres"), ("identity", "gzip")))
            if before:
                (Path(tmp) / "before-pg").mkdir()
                servers.append((f"before: PostgreSQL ({before[2]})", *start_serve_command(
                    postgres, before[2], Path(tmp) / "before-pg", before[0]), ("identity", "gzip")))
        if before:
            (Path(tmp) / "before").mkdir()
            servers.append((f"before: serve ({before[2]})", *start_serve_command(
                before[1], before[2], Path(tmp) / "before", before[0]), ("identity", "gzip")))
        if prefix == "oai_dc":  # the peer serves oai_dc alone
            servers.append(("oaipmh 4.0 peer", *start_peer(store_path, page_size), ("identity",)))
        try:
            # Round after round, each server and encoding once a round, the least kept:
            # on a shared machine, load that comes and goes falls on every column alike.
            best: dict[tuple[str, str], tuple[float, int, float]] = {}
            for _ in range(repeat):
                for name, proc, url, encodings in servers:
                    for enc in encodings:
                        got = server_cpu_per_record(proc.pid, url, enc, prefix)
                        if (name, enc) not in best or got[0] < best[name, enc][0]:
                            best[name, enc] = got
            for (name, enc), (us, n, mb) in best.items():
                print(f"  {name:<22} {enc:<8}: {us:5.1f} µs a record ({n:,} records, "
                      f"{mb:.1f} MB on the wire, {mb * 1e6 / max(n, 1):,.0f} bytes a record)")
        finally:
            for _, proc, *_ in servers:
                proc.terminate()
                proc.wait(timeout=10)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    """A keep-alive HTTP client that costs little: the figures are the server's.
    (requests reads bodies in 10 KB chunks and tops out near 150 pages/s of
    300 KB here; http.client reads them whole.)"""

    def __init__(self, url: str, encoding: str = "identity") -> None:
        u = urlsplit(url)
        self.path = u.path
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.headers = {"Accept-Encoding": encoding}
        self.wire = 0

    def get(self, params: dict[str, str]) -> bytes:
        self.conn.request("GET", self.path + "?" + urlencode(params), headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        self.wire += len(body)
        if resp.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        return body


def harvest(client: Client, verb: str, prefix: str) -> dict:
    """A full harvest; per-page times measured from request to last byte."""
    times: list[float] = []
    n = size = 0
    params: dict[str, str] = {"verb": verb, "metadataPrefix": prefix}
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        body = client.get(params)
        times.append(time.perf_counter() - t)
        size += len(body)
        n += body.count(b"<header")
        m = _TOKEN.search(body)
        if not m:
            break
        params = {"verb": verb, "resumptionToken": m.group(1).decode()}
    total = time.perf_counter() - t0
    return {"records": n, "seconds": total, "pages": len(times), "first": times[0],
            "last": times[-1], "median": sorted(times)[len(times) // 2], "mb": size / 1e6}


def get_records(client: Client, ids: list[str], prefix: str) -> float:
    t = time.perf_counter()
    for i in ids:
        client.get({"verb": "GetRecord", "identifier": i, "metadataPrefix": prefix})
    return len(ids) / (time.perf_counter() - t)


def plans(store_path: Path) -> None:
    import sqlite3

    from thuvien_interop.model import ListQuery
    from thuvien_interop.store import keyset
    from thuvien_interop.store.sqlite import SQLiteRepository

    repo = SQLiteRepository(str(store_path))
    conn = sqlite3.connect(store_path)
    spec = conn.execute("SELECT set_spec FROM set_members GROUP BY set_spec ORDER BY count(*) DESC "
                        "LIMIT 1 OFFSET 3").fetchone()
    cases = {"plain page": ListQuery("oai_dc"),
             f"set page ({spec[0] if spec else '-'})": ListQuery("oai_dc", set=spec[0] if spec else None),
             "from/until page": ListQuery("marc21", from_=0, until=2**40)}
    for name, q in cases.items():
        for what, (sql, args) in (
                ("list", keyset.list_sql(keyset.SQLITE, q, (0, 0), 200, metadata=True, count=False)),
                ("count", keyset.list_sql(keyset.SQLITE, q, None, None, metadata=False, count=True))):
            plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
            print(f"  {name:<28} {what:<5}: " + " | ".join(plan))
    repo.close()
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=None,
                    help="records a page (default: serve's own, [oai] page_size)")
    ap.add_argument("--marc", help=f"path to {MARC_NAME} (default: fetched from PyPI with pip)")
    ap.add_argument("--store", help="store file to reuse (default: one per record count in the cache)")
    ap.add_argument("--getrecord", type=int, default=2000, help="GetRecord requests to time")
    ap.add_argument("--repeat", type=int, default=3, help="harvests per CPU figure (the least is kept)")
    ap.add_argument("--cpu-only", action="store_true", help="print the server CPU figures alone")
    ap.add_argument("--gunicorn", action="store_true", help="measure serve --workers 2 (gunicorn, "
                    "its workers' CPU summed) beside waitress")
    ap.add_argument("--prefix", default="oai_dc", help="the format of the CPU figures' harvests "
                    "(the peer serves oai_dc only: it is left out for another)")
    ap.add_argument("--before-src", help="the src/ folder of an earlier checkout: its serve is "
                    "measured too (with --before-store, a store that version made)")
    ap.add_argument("--before-store", help="the store the --before-src version serves")
    ap.add_argument("--postgres", metavar="URL", help="also serve a PostgreSQL store (loaded with "
                    "the same records when it holds none; before's serve over it too)")
    ap.add_argument("--instructions", action="store_true", help="count serve's instructions a "
                    "record with valgrind's callgrind instead of its CPU time (slow; a figure the "
                    "machine's load does not move)")
    ap.add_argument("--before-page-size", type=int,
                    help="records a page of the --before-src version (default: --page-size)")
    a = ap.parse_args()
    if a.page_size is None:
        from thuvien_interop.oai import ProviderConfig

        a.page_size = ProviderConfig().page_size

    store_path = Path(a.store) if a.store else CACHE / f"bench-{a.records}.db"
    if not store_path.exists():
        store_path.parent.mkdir(parents=True, exist_ok=True)
        load(store_path, marc_file(a.marc), a.records)
    else:
        print(f"reusing {store_path}")

    if bool(a.before_src) != bool(a.before_store):
        raise SystemExit("--before-src and --before-store go together")
    before = (a.before_src, Path(a.before_store), a.before_page_size or a.page_size) if a.before_src else None
    if a.postgres:
        from thuvien_interop.store import open_store

        pg = open_store(a.postgres)
        held = pg.info().record_count
        pg.close()
        if held == 0:
            load(a.postgres, marc_file(a.marc), a.records)
        else:
            print(f"reusing {held:,} records in PostgreSQL")
    if a.instructions:
        instruction_figures(store_path, a.page_size, before, a.postgres, a.prefix)
        return
    cpu_figures(store_path, a.page_size, a.repeat, before, a.prefix, a.gunicorn, a.postgres)
    if a.cpu_only:
        return
    proc, url = start_server(store_path, a.page_size)
    try:
        client = Client(url)
        client.get({"verb": "Identify"})
        # The first harvest of a list counts it (completeListSize); the count is
        # then kept until the store changes, so the repeat shows a plain first page.
        for verb, prefix, enc in (("ListRecords", "oai_dc", "identity"), ("ListRecords", "oai_dc", "identity"),
                                  ("ListRecords", "marc21", "identity"),
                                  ("ListIdentifiers", "oai_dc", "identity"), ("ListRecords", "oai_dc", "gzip")):
            r = harvest(Client(url, enc), verb, prefix)
            print(f"{verb} {prefix:<7} {enc:<8}: {r['records']:,} records in {r['seconds']:.2f} s = "
                  f"{r['records'] / r['seconds']:,.0f} records/s ({r['pages']} pages of {a.page_size}, "
                  f"{r['mb']:.0f} MB); first page {r['first'] * 1000:.1f} ms, "
                  f"median {r['median'] * 1000:.1f} ms, last page {r['last'] * 1000:.1f} ms")
        # Identifiers to fetch: a spread over the whole list.
        import sqlite3

        conn = sqlite3.connect(store_path)
        ids = [r[0] for r in conn.execute("SELECT identifier FROM records WHERE deleted = 0")]
        conn.close()
        random.seed(4)
        sample = random.sample(ids, min(a.getrecord, len(ids)))
        for prefix in ("oai_dc", "marc21"):
            print(f"GetRecord {prefix:<7}: {get_records(client, sample, prefix):,.0f} requests/s "
                  f"(one client, keep-alive, {len(sample)} random records)")
        print(f"server peak RSS: {peak_rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print("query plans:")
    plans(store_path)


if __name__ == "__main__":
    main()
