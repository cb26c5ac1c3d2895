"""Benchmark: how fast a harvest recovers from being killed.

Prints, for a harvest killed with SIGKILL in the middle of a list (after its
second page is committed), the time from the kill to the first page the rerun
asks for, and from the kill to the rerun's end; and the same after SIGTERM
(which the harvest handles as Ctrl-C: it stops between pages and releases its
lease). Before leases named their holder, the rerun after a kill -9 claimed
nothing for the lease's 900 s and exited 0. Then the peak memory (RSS) of a
harvest of one page of --page-mb MB, of the same page not well-formed, and of
a --bomb-mb MB gzip bomb, and the
p50/p95/max of SRU searches by --clients clients while an import of --records
records runs into the same store, on SQLite and (with --postgres URL) on
PostgreSQL. A benchmark, not a test: it prints figures.

    python bench/faults.py                    # 5,000 records, pages of 100
    python bench/faults.py --records 20000 --page-size 500 --processes 2
    python bench/faults.py --page-mb 500 --bomb-mb 1024 \
        --postgres postgresql://postgres@127.0.0.1/test
    python bench/faults.py --only memory --compare ../before/src   # before/after, same run

The provider is our own (waitress over a SQLite store built in --workdir), in
this process; each harvest is a real ``thuvien-interop harvest`` process.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from waitress_loop import serve_until  # noqa: E402 - the tests' server loop, one home


class Clock:
    """WSGI middleware: when each ListRecords request arrived."""

    def __init__(self, app) -> None:
        self.app = app
        self.lists: list[tuple[float, bool]] = []  # (time, with a token)
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        qs = environ.get("QUERY_STRING", "")
        if "verb=ListRecords" in qs:
            with self.lock:
                self.lists.append((time.monotonic(), "resumptionToken" in qs))
        return self.app(environ, start_response)


def _provider_store(path: Path, n: int):
    import pymarc

    from thuvien_interop.formats import default_registry
    from thuvien_interop.ingest.loader import build_record
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{path}")
    if store.info().record_count >= n:
        return store
    reg = default_registry()
    batch = []
    for i in range(n):
        r = pymarc.Record()
        r.add_field(pymarc.Field("001", data=f"VN{i:06d}"))
        r.add_field(pymarc.Field("245", pymarc.Indicators("1", "0"), [
            pymarc.Subfield("a", f"Truyện Kiều, tập {i} /"), pymarc.Subfield("c", "Nguyễn Du.")]))
        batch.append(build_record(r, f"oai:bench.vn:{i}", reg, []))
        if len(batch) == 1000:
            store.write(batch)
            batch = []
    store.write(batch)
    return store


class _Served:
    """A waitress server on 127.0.0.1 in a thread of this process, run by our own
    loop in short slices: ``close()`` stops the loop and everything is closed in
    the loop's thread (waitress's ``close()`` from another thread closed sockets
    under its select and printed "Bad file descriptor")."""

    def __init__(self, app, threads: int) -> None:
        import logging

        from waitress.server import create_server

        # "Task queue depth is N" a line whenever 16 clients outnumber its threads.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=serve_until, args=(self.server, self._stop),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _serve(app, threads: int = 4) -> tuple[_Served, str]:
    served = _Served(app, threads)
    return served, f"http://127.0.0.1:{served.server.effective_port}/oai"


def _count(db: Path, set_spec: str = "source:bench") -> int:
    from thuvien_interop.model import ListQuery
    from thuvien_interop.store import open_store

    s = open_store(f"sqlite:///{db}")
    try:
        return s.count(ListQuery(set=set_spec))
    finally:
        s.close()


def _round(sig: int, url: str, clock: Clock, workdir: Path, page: int, processes: str,
           n: int) -> tuple[float, float, int]:
    db = workdir / f"union-{sig}.db"
    for p in workdir.glob(f"union-{sig}.db*"):
        p.unlink()
    cmd = [sys.executable, "-m", "thuvien_interop", "harvest", url, "--store", f"sqlite:///{db}",
           "--name", "bench", "--prefix", "marc21", "--processes", processes, "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while not db.exists() or _count(db) < 2 * page:
        if proc.poll() is not None:
            raise SystemExit("the harvest ended before it could be killed: use more --records")
        time.sleep(0.01)
    asked = len(clock.lists)
    killed = time.monotonic()
    os.killpg(proc.pid, sig)
    proc.wait()
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    ended = time.monotonic()
    if rerun.returncode != 0:
        raise SystemExit(f"the rerun failed ({rerun.returncode}): {rerun.stderr[-500:]}")
    first = next(t for t, _ in clock.lists[asked:] if t > killed)
    return first - killed, ended - killed, _count(db)


class BigPage:
    """WSGI: Identify, then one ListRecords page of ``mb`` MB (oai_dc records of
    about 10 kB each), streamed, with no resumption token; ``broken``: its first
    record not well-formed (the tolerant reader reads the page, twice: a broken
    page is asked for again once)."""

    def __init__(self, mb: int, broken: bool = False) -> None:
        self.records = max(1, (mb << 20) // 10_000)
        self.broken = broken

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        if "Identify" in environ.get("QUERY_STRING", ""):
            return [IDENTIFY]
        return self._page()

    def _page(self):
        yield (b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.'
               b'org/OAI/2.0/"><responseDate>2024-01-01T00:00:00Z</responseDate><request verb='
               b'"ListRecords">x</request><ListRecords>')
        filler = " ".join(f"từ{j}" for j in range(1200)).encode()
        for i in range(self.records):
            yield (f'<record><header><identifier>oai:big.vn:{i}</identifier><datestamp>'
                   f'2024-01-01</datestamp></header><metadata><oai_dc:dc xmlns:oai_dc="http://'
                   f'www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/'
                   f'1.1/"><dc:title>Sách {i}</dc:title{"" if i or not self.broken else "x"}>'
                   f'<dc:description>').encode() + filler + (
                   b"</dc:description></oai_dc:dc></metadata></record>")
        yield b"</ListRecords></OAI-PMH>"


IDENTIFY = (b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/'
            b'OAI/2.0/"><responseDate>2024-01-01T00:00:00Z</responseDate><request verb="Identify">'
            b'x</request><Identify><repositoryName>big</repositoryName><baseURL>http://x/oai'
            b'</baseURL><protocolVersion>2.0</protocolVersion><adminEmail>a@b.vn</adminEmail>'
            b'<earliestDatestamp>2000-01-01</earliestDatestamp><deletedRecord>no</deletedRecord>'
            b'<granularity>YYYY-MM-DD</granularity></Identify></OAI-PMH>')


class GzipBomb:
    """WSGI: Identify, then a ListRecords answer of ``mb`` MB of spaces, gzipped."""

    def __init__(self, mb: int) -> None:
        import zlib

        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = b" " * (1 << 20)
        parts = [z.compress(IDENTIFY[:120])] + [z.compress(block) for _ in range(mb)]
        self.body = b"".join(parts) + z.flush()

    def __call__(self, environ, start_response):
        if "Identify" in environ.get("QUERY_STRING", ""):
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [IDENTIFY]
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Encoding", "gzip"),
                                  ("Content-Length", str(len(self.body)))])
        return [self.body]


#: Runs ``python -m thuvien_interop ...`` and writes, at its exit, the peak RSS
#: of its own address space (VmHWM). Not the child's ru_maxrss: a child spawned
#: by vfork (as subprocess does) inherits the parent's high-water mark at exec,
#: so a harvest started while this process held a served page "peaked" at what
#: this process had held (a 16 MB bomb read 229 MB; by VmHWM, 58).
_HWM = ("import atexit, os, runpy, sys\n"
        "def _hwm():\n"
        "    with open('/proc/self/status') as f, open(os.environ['BENCH_HWM'], 'w') as out:\n"
        "        out.write(next(x for x in f if x.startswith('VmHWM')).split()[1])\n"
        "atexit.register(_hwm)\n"
        "sys.argv[0] = 'thuvien-interop'\n"
        "runpy.run_module('thuvien_interop', run_name='__main__', alter_sys=True)\n")


def _peak_rss(args: list[str], src: Path | None = None,
              extra: str | None = None) -> tuple[float, int, float]:
    """(peak RSS in MB, exit status, seconds) of ``thuvien-interop args`` (``src``:
    the src folder of the checkout it runs, default this one; ``extra``: folders
    put before the installed packages, e.g. an older urllib3)."""
    started = time.monotonic()
    path = os.pathsep.join(str(p) for p in (src, extra) if p)
    with tempfile.NamedTemporaryFile("r", suffix=".hwm") as hwm:
        env = dict(os.environ, BENCH_HWM=hwm.name, **({"PYTHONPATH": path} if path else {}))
        proc = subprocess.run([sys.executable, "-c", _HWM, *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
        kb = hwm.read().strip()
    if not kb:
        raise SystemExit(f"no peak RSS written by {args[:2]} (exit {proc.returncode})")
    return int(kb) / 1024, proc.returncode, time.monotonic() - started


def _memory(workdir: Path, page_mb: int, bomb_mb: int, compare: Path | None,
            extra: str | None = None) -> None:
    checkouts: list[tuple[str, Path | None]] = [("this", None)]
    if compare is not None:
        checkouts.append(("compare", compare.resolve()))
    for name, app in ((f"one {page_mb} MB page", BigPage(page_mb)),
                      (f"one {page_mb} MB broken page", BigPage(page_mb, broken=True)),
                      (f"a {bomb_mb} MB gzip bomb", GzipBomb(bomb_mb))):
        server, url = _serve(app)
        for label, src in checkouts:
            db = workdir / "memory.db"
            for p in workdir.glob("memory.db*"):
                p.unlink()
            rss, code, seconds = _peak_rss(
                ["harvest", url, "--store",
                 f"sqlite:///{db}", "--name", "big", "--prefix", "oai_dc", "--processes", "1",
                 "--retries", "0", "-q", "--timeout", "3600"], src, extra)
            stored = _count(db, "source:big") if db.exists() else 0
            print(f"{label:7} harvest of {name:29}: peak RSS {rss:7.0f} MB, exit {code}, "
                  f"{seconds:6.1f} s, {stored:,} records stored")
        server.close()


QUERIES = ["dc.title = kieu", "nguyen and du", "dc.title = tap*", "*ology5", "dc.date within "
           "\"1990 2000\"", "kieu or truyen or du", "dc.title any \"ha noi hue\"",
           "cql.allRecords = 1 not dc.title = kieu"]


def _clients_during_import(url: str, label: str, workdir: Path, records: int,
                           clients: int) -> None:
    import urllib.parse
    import urllib.request

    from thuvien_interop.oai.config import ProviderConfig
    from thuvien_interop.store import open_store
    from thuvien_interop.web import create_app

    catalogue = workdir / f"import-{records}.mrc"
    if not catalogue.exists():
        _marc_file(catalogue, records)
    store = open_store(url)
    server, root = _serve(create_app(store, ProviderConfig(page_size=100)), threads=clients)
    root = root[: -len("/oai")]
    proc = subprocess.Popen([sys.executable, "-m", "thuvien_interop", "import", str(catalogue),
                             "--store", url, "--processes", "1", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: list[float] = []
    errors = [0]
    stopped = [0]  # diagnostic 47: past the [sru] time_budget
    lock = threading.Lock()

    def client(n: int) -> None:
        i = n
        while proc.poll() is None:
            q = QUERIES[i % len(QUERIES)]
            i += 1
            target = (f"{root}/sru?version=1.2&operation=searchRetrieve&maximumRecords=10&query="
                      + urllib.parse.quote(q))
            t = time.monotonic()
            try:
                with urllib.request.urlopen(target, timeout=120) as r:
                    body = r.read()
                    ok = r.status == 200 and b"info:srw/diagnostic/1/1<" not in body
            except Exception:  # noqa: BLE001 - counted
                ok, body = False, b""
            with lock:
                times.append(time.monotonic() - t)
                errors[0] += not ok
                stopped[0] += b"info:srw/diagnostic/1/47<" in body

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.close()
    store.close()
    times.sort()
    if not times:
        print(f"SRU during an import, {label}: the import ended before any search")
        return
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]  # noqa: E731
    print(f"SRU by {clients} clients during an import of {records:,} records, {label:10}: "
          f"{len(times):,} searches, p50 {p(0.5):5.2f} s, p95 {p(0.95):5.2f} s, "
          f"max {times[-1]:5.2f} s, {errors[0]} errors (HTTP or diagnostic 1), "
          f"{stopped[0]} stopped at the time budget (import exit {proc.returncode})")


def _marc_file(path: Path, n: int) -> None:
    import pymarc

    with path.open("wb") as f:
        for i in range(n):
            r = pymarc.Record(force_utf8=True)
            r.add_field(pymarc.Field("001", data=f"VN{i:07d}"))
            r.add_field(pymarc.Field("245", pymarc.Indicators("1", "0"), [
                pymarc.Subfield("a", f"Truyện Kiều, tập {i} ology{i % 97} /"),
                pymarc.Subfield("c", "Nguyễn Du.")]))
            r.add_field(pymarc.Field("260", pymarc.Indicators(" ", " "),
                                     [pymarc.Subfield("c", str(1950 + i % 70))]))
            f.write(r.as_marc())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--processes", default="1")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "thuvien-bench-faults"))
    ap.add_argument("--page-mb", type=int, default=500)
    ap.add_argument("--bomb-mb", type=int, default=1024)
    ap.add_argument("--compare", type=Path, metavar="SRC", help="the src folder of another "
                    "checkout: its harvests of the big page and the bomb are measured too, "
                    "in the same run")
    ap.add_argument("--pythonpath", metavar="PATH", help="folders put before the installed "
                    "packages in the memory runs (both checkouts), e.g. an unpacked older "
                    "urllib3 wheel")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--import-records", type=int, default=20000)
    ap.add_argument("--postgres", metavar="URL", help="also measure SRU during an import there "
                    "(a schema of its own is used: ?schema=bench_faults)")
    ap.add_argument("--only", choices=["kill", "memory", "sru"], action="append",
                    help="run only these parts (repeatable)")
    args = ap.parse_args()
    parts = set(args.only or ["kill", "memory", "sru"])
    from thuvien_interop.oai.config import ProviderConfig
    from thuvien_interop.web import create_app

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if "memory" in parts:
        _memory(workdir, args.page_mb, args.bomb_mb, args.compare, args.pythonpath)
    if "sru" in parts:
        for p in workdir.glob("sru.db*"):
            p.unlink()
        _clients_during_import(f"sqlite:///{workdir / 'sru.db'}", "SQLite", workdir,
                               args.import_records, args.clients)
        if args.postgres:
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}schema=bench_faults"
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute("DROP SCHEMA IF EXISTS bench_faults CASCADE")
            _clients_during_import(url, "PostgreSQL", workdir, args.import_records, args.clients)
    if "kill" not in parts:
        return
    from thuvien_interop.store.sqlite import MIGRATIONS  # the cached store named by schema level

    store = _provider_store(workdir / f"provider-{args.records}-m{len(MIGRATIONS)}.db", args.records)
    clock = Clock(create_app(store, ProviderConfig(page_size=args.page_size)))
    server, url = _serve(clock)
    print(f"provider: {url} ({args.records:,} records, pages of {args.page_size}); "
          f"harvest --processes {args.processes}; {os.cpu_count()} CPUs")
    for name, sig in (("kill -9", signal.SIGKILL), ("SIGTERM", signal.SIGTERM)):
        to_first, to_end, stored = _round(sig, url, clock, workdir, args.page_size,
                                          args.processes, args.records)
        print(f"{name:8} → rerun's first page {to_first:6.2f} s, rerun done {to_end:6.2f} s "
              f"after the signal; {stored:,} of {args.records:,} records stored")
    server.close()


if __name__ == "__main__":
    main()
