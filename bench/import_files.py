"""How fast `import` loads, and whether its memory stays flat.

    python bench/import_files.py [--n 100000] [--file big.mrc]

Without --file it writes a file of N records (100,000 unless --n says) by
repeating the sample catalogue with distinct 001s; with --file it reads that
file, or its first N records when --n is given too. Prints records/s for reading alone and for the whole import
(read, crosswalk to every format, write), in one process and with worker
processes (--processes), and the peak RSS after 10% and 100%.

Beside each rate it prints the CPU time spent per record, by this process and
by the worker processes (split into building the records and writing them in
turn): on a machine shared with other work, wall-clock rates move with the
load, CPU time much less.

    python bench/import_files.py --n 20000 --compare ../before/src   # another checkout, same run

``--compare`` runs the same file through another checkout's ``import_files`` in
a child process, turn about with this one (``--rounds`` times).

    python bench/import_files.py --file ~/.cache/thuvien-interop-bench/BooksAll.2016.part01.utf8 \
        --n 20000 --processes 0 --batch 500,2000 --postgres postgresql://postgres@127.0.0.1/bench

``--batch`` runs the import with each write batch in turn (records a transaction,
a worker's chunk: ``store.base.WRITE_BATCH`` unless given, set for the bench's
own processes only); ``--postgres`` imports into that database too (a schema of
its own each run, dropped after), beside the SQLite file. The store's write
CPU is the CPU inside ``store.write``, and on PostgreSQL the server's CPU for
it too (its backend processes', read from /proc: the server must run on this
machine); a worker's peak RSS is the largest of the workers'.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pymarc

from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.store import open_store

SAMPLE = Path(__file__).resolve().parent.parent / "src/thuvien_interop/data/samples/vietnamese-catalogue.mrc"


_PROBE = "THUVIEN_BENCH_CPU_DIR"
_BATCH = "THUVIEN_BENCH_BATCH"  # read by this bench only, in each of its processes


def _use_batch(n: int) -> None:
    """Records a write transaction and a worker's chunk, in this process (the
    pipeline's batch, the workers' ordered chunk and the stores' own split, which
    the package takes from ``store.base.WRITE_BATCH`` when its modules load)."""
    import thuvien_interop.pipeline.run as pipeline_run
    from thuvien_interop import workers
    from thuvien_interop.store import sql

    workers.ORDERED_CHUNK = n
    sql.SQLStore.batch_size = n
    pipeline_run.Pipeline.__init__.__kwdefaults__["batch"] = n
    try:
        from thuvien_interop.store import postgres
    except ImportError:
        return
    if hasattr(postgres, "BATCH"):  # a checkout where PostgreSQL had a batch of its own
        postgres.BATCH = n


def _ticks(pid: int) -> float:
    """CPU seconds of process ``pid`` so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _install_cpu_probe(folder: str) -> None:
    """In each worker process: CPU seconds spent in chunks, and inside the store's
    write turn (``workers.in_turn``), written to ``folder/<pid>`` after each chunk;
    in every process, CPU inside ``store.write`` (and the PostgreSQL server's for
    it). Installed at import, so the forkserver (which imports this script again)
    hands it to every worker."""
    from thuvien_interop import workers
    from thuvien_interop.store import sql

    spent = {"chunk": 0.0, "write": 0.0, "wait": 0.0, "store": 0.0, "server": 0.0, "rss": 0.0}
    run, in_turn = workers._run, workers.in_turn
    write = sql.SQLStore.write

    def _save() -> None:
        spent["rss"] = rss_mb()
        Path(folder, str(os.getpid())).write_text(json.dumps(spent))

    def store_write(self, *args, **kwargs):
        backend = None
        if hasattr(self, "_conninfo"):  # PostgreSQL: its server process's CPU too
            backend = self._conn().info.backend_pid
            server = _ticks(backend)
        t = time.process_time()
        try:
            return write(self, *args, **kwargs)
        finally:
            spent["store"] += time.process_time() - t
            if backend is not None:
                spent["server"] += _ticks(backend) - server
            _save()

    sql.SQLStore.write = store_write

    def timed(real):
        def chunk(*args):
            t = time.process_time()
            try:
                return real(*args)
            finally:
                spent["chunk"] += time.process_time() - t
                _save()
        chunk.__module__, chunk.__qualname__ = real.__module__, real.__qualname__
        return chunk

    @contextmanager
    def turn():
        w = time.perf_counter()
        with in_turn():
            spent["wait"] += time.perf_counter() - w
            t = time.process_time()
            try:
                yield
            finally:
                spent["write"] += time.process_time() - t

    workers._run, workers.in_turn = timed(run), turn


if os.environ.get(_BATCH):
    _use_batch(int(os.environ[_BATCH]))
if os.environ.get(_PROBE):
    _install_cpu_probe(os.environ[_PROBE])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def private_mb() -> str:
    """This process's memory of its own now (Linux): the peak RSS also counts the
    pages of the store file SQLite maps (mmap), which the kernel can drop."""
    try:
        with open("/proc/self/status") as f:
            kb = next(int(ln.split()[1]) for ln in f if ln.startswith("RssAnon:"))
    except (OSError, StopIteration):
        return "n/a"
    return f"{kb / 1024:.0f} MB"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_file(path: Path, n: int) -> None:
    with open(SAMPLE, "rb") as fh:
        records = list(pymarc.MARCReader(fh, to_unicode=True, force_utf8=True))
    with open(path, "wb") as out:
        for i in range(n):
            rec = records[i % len(records)]
            rec["001"].data = f"BENCH-{i:08d}"
            out.write(rec.as_marc())


def first_records(path: Path, n: int, out: Path) -> Path:
    """The first ``n`` records of an ISO 2709 file (each ends with 0x1D), as a new file."""
    taken = 0
    with open(path, "rb") as f, open(out, "wb") as w:
        rest = b""
        while taken < n and (chunk := f.read(1 << 20)):
            parts = (rest + chunk).split(b"\x1d")
            rest = parts.pop()
            for part in parts[:n - taken]:
                w.write(part + b"\x1d")
                taken += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, help="records: the generated file's size (100,000), "
                    "or how many of --file's records to take (all)")
    ap.add_argument("--file", type=Path)
    ap.add_argument("--processes", default="1,0",
                    help="comma-separated runs: 1 = all in this process, 0 = one worker per core")
    ap.add_argument("--compare", type=Path, help="the src folder of another checkout")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--batch", help="comma-separated write batches to run in turn, e.g. "
                    "500,2000 (default: the package's store.base.WRITE_BATCH)")
    ap.add_argument("--postgres", help="a PostgreSQL database to import into too, beside SQLite")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        src, store, processes = args.child
        run(Path(src), Path(src).stat().st_size, store, int(processes) or None)
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = args.file
        if src is None:
            src = Path(tmp) / "bench.mrc"
            make_file(src, args.n or 100_000)
        elif args.n:
            src = first_records(src, args.n, Path(tmp) / "bench.mrc")
        size = src.stat().st_size
        t = time.perf_counter()
        n = sum(1 for r in read_file(src) if r.record is not None)
        read_s = time.perf_counter() - t
        print(f"file: {size / 1e6:.1f} MB, {n} records")
        print(f"read only (ISO 2709 → pymarc):    {n / read_s:10,.0f} records/s")
        here = Path(__file__).resolve().parents[1] / "src"
        checkouts = [("this", here)] + ([("compare", args.compare.resolve())] if args.compare else [])
        batches = args.batch.split(",") if args.batch else [""]
        stores = ["sqlite"] + (["postgres"] if args.postgres else [])
        for round_ in range(args.rounds):
            for kind in stores:
                for processes in args.processes.split(","):
                    for batch in batches:
                        for name, checkout in checkouts:
                            run_name = f"bench-{round_}-{processes}-{batch}-{name}"
                            store = (f"sqlite:///{Path(tmp) / run_name}.db" if kind == "sqlite"
                                     else f"{args.postgres}?schema=bench_{uuid.uuid4().hex[:10]}")
                            print(f"[{name}: {checkout}; {kind}"
                                  f"{f'; batches of {int(batch):,}' if batch else ''}]", flush=True)
                            env = {**os.environ, "PYTHONPATH": str(checkout)}
                            if batch:
                                env[_BATCH] = batch
                            subprocess.run([sys.executable, __file__, "--child", str(src), store,
                                            processes], env=env, check=True)


def run(src: Path, size: int, url: str, processes: int | None) -> None:
    store = open_store(url)
    marks: list[str] = []
    done = 0

    def progress(nbytes: int) -> None:
        nonlocal done
        before = done
        done += nbytes
        if before < size // 10 <= done:
            marks.append(f"  peak RSS after ~10%: {rss_mb():.0f} MB")

    with tempfile.TemporaryDirectory() as probe:
        os.environ[_PROBE] = probe  # for the worker processes started below
        _install_cpu_probe(probe)  # and chunks run here
        cpu = _cpu()
        t = time.perf_counter()
        report = import_files(store, [src], IdentifierRule("bench.vn"), progress=progress,
                              processes=processes)
        total_s = time.perf_counter() - t
        cpu = _cpu() - cpu
        spent = [json.loads(p.read_text()) for p in Path(probe).iterdir()
                 if p.name != str(os.getpid())]
        own = Path(probe, str(os.getpid()))
        here = json.loads(own.read_text()) if own.exists() else {}
    size_line = _store_size(store, url)
    store.close()
    n = report.read
    label = "in this process" if processes == 1 else "worker processes, one per core"
    print(f"import, {label}:\n  read+crosswalk+write: {n / total_s:10,.0f} records/s "
          f"({report.written.added} added, {len(report.rejected)} rejected)")
    us = 1e6 / max(n, 1)
    line = f"  CPU per record: this process {cpu * us:.0f} µs"
    if spent:
        chunk = sum(s["chunk"] for s in spent)
        write = sum(s["write"] for s in spent)
        wait = sum(s["wait"] for s in spent)
        line += (f", {len(spent)} workers {chunk * us:.0f} µs (build {(chunk - write) * us:.0f}, "
                 f"write in turn {write * us:.0f}; waiting for the turn {wait * us:.0f} µs "
                 "wall)")
    print(line)
    store_cpu = sum(s.get("store", 0.0) for s in [*spent, here])
    server_cpu = sum(s.get("server", 0.0) for s in [*spent, here])
    print(f"  store write CPU per record: {(store_cpu + server_cpu) * us:.0f} µs "
          f"(store.write {store_cpu * us:.0f}"
          + (f", PostgreSQL server {server_cpu * us:.0f}" if url.startswith("postgres") else "")
          + ")")
    print(*marks, sep="\n")
    print(f"  peak RSS at the end: {rss_mb():.0f} MB (this process; workers apart), of which "
          f"private now {private_mb()} (the rest is the store file, mapped)")
    if spent:
        print(f"  peak RSS of a worker: {max(s.get('rss', 0.0) for s in spent):.0f} MB "
              f"(the largest of {len(spent)})")
    print(f"  store size: {size_line}")


def _store_size(store, url: str) -> str:
    """The store's size on disk: the SQLite file, or the PostgreSQL schema's tables
    with their indexes and TOAST (the schema is dropped once measured)."""
    if url.startswith("sqlite:"):
        return f"{Path(url.removeprefix('sqlite:///')).stat().st_size / 1e6:.1f} MB"
    conn = store._conn()  # noqa: SLF001 - a bench
    size = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
        (store.schema,)).fetchone()[0]
    size = int(size)
    conn.execute(f'DROP SCHEMA "{store.schema}" CASCADE')
    conn.commit()
    return f"{size / 1e6:.1f} MB"


if __name__ == "__main__":
    main()
