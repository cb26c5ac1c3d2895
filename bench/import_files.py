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
from contextlib import contextmanager
from pathlib import Path

import pymarc

from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.store import open_store

SAMPLE = Path(__file__).resolve().parent.parent / "src/thuvien_interop/data/samples/vietnamese-catalogue.mrc"


_PROBE = "THUVIEN_BENCH_CPU_DIR"


def _install_cpu_probe(folder: str) -> None:
    """In each worker process: CPU seconds spent in chunks, and inside the store's
    write turn (``workers.in_turn``), written to ``folder/<pid>`` after each chunk.
    Installed at import, so the forkserver (which imports this script again)
    hands it to every worker."""
    from thuvien_interop import workers

    spent = {"chunk": 0.0, "write": 0.0, "wait": 0.0}
    run, in_turn = workers._run, workers.in_turn

    def _save() -> None:
        Path(folder, str(os.getpid())).write_text(json.dumps(spent))

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
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        src, db, processes = args.child
        run(Path(src), Path(src).stat().st_size, Path(db), int(processes) or None)
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
        for round_ in range(args.rounds):
            for processes in args.processes.split(","):
                for name, checkout in checkouts:
                    db = Path(tmp) / f"bench-{round_}-{processes}-{name}.db"
                    print(f"[{name}: {checkout}]", flush=True)
                    subprocess.run([sys.executable, __file__, "--child", str(src), str(db),
                                    processes], env={**os.environ, "PYTHONPATH": str(checkout)},
                                   check=True)


def run(src: Path, size: int, db: Path, processes: int | None) -> None:
    store = open_store(f"sqlite:///{db}")
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
    print(*marks, sep="\n")
    print(f"  peak RSS at the end: {rss_mb():.0f} MB (this process; workers apart), of which "
          f"private now {private_mb()} (the rest is the store file, mapped)")
    print(f"  store size: {db.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
