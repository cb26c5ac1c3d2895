"""Benchmark: how fast a harvest recovers from being killed.

Prints, for a harvest killed with SIGKILL in the middle of a list (after its
second page is committed), the time from the kill to the first page the rerun
asks for, and from the kill to the rerun's end; and the same after SIGTERM
(which the harvest handles as Ctrl-C: it stops between pages and releases its
lease). Before leases named their holder, the rerun after a kill -9 claimed
nothing for the lease's 900 s and exited 0. A benchmark, not a test: it prints
figures.

    python bench/faults.py                    # 5,000 records, pages of 100
    python bench/faults.py --records 20000 --page-size 500 --processes 2

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


def _serve(app):
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}/oai"


def _count(db: Path) -> int:
    from thuvien_interop.model import ListQuery
    from thuvien_interop.store import open_store

    s = open_store(f"sqlite:///{db}")
    try:
        return s.count(ListQuery(set="source:bench"))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--processes", default="1")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "thuvien-bench-faults"))
    args = ap.parse_args()
    from thuvien_interop.oai.config import ProviderConfig
    from thuvien_interop.web import create_app

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    store = _provider_store(workdir / f"provider-{args.records}.db", args.records)
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
