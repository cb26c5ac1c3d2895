"""How fast `import` loads, and whether its memory stays flat.

    python bench/import_files.py [--n 100000] [--file big.mrc]

Without --file it writes a file of N records by repeating the sample catalogue
with distinct 001s. Prints records/s for reading alone and for the whole import
(read, crosswalk to every format, write), in one process and with worker
processes (--processes), and the peak RSS after 10% and 100%.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pymarc

from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import IdentifierRule, import_files
from thuvien_interop.store import open_store

SAMPLE = Path(__file__).resolve().parent.parent / "src/thuvien_interop/data/samples/vietnamese-catalogue.mrc"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_file(path: Path, n: int) -> None:
    with open(SAMPLE, "rb") as fh:
        records = list(pymarc.MARCReader(fh, to_unicode=True, force_utf8=True))
    with open(path, "wb") as out:
        for i in range(n):
            rec = records[i % len(records)]
            rec["001"].data = f"BENCH-{i:08d}"
            out.write(rec.as_marc())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--processes", default="1,0",
                    help="comma-separated runs: 1 = all in this process, 0 = one worker per core")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = args.file
        if src is None:
            src = Path(tmp) / "bench.mrc"
            make_file(src, args.n)
        size = src.stat().st_size
        t = time.perf_counter()
        n = sum(1 for r in read_file(src) if r.record is not None)
        read_s = time.perf_counter() - t
        print(f"file: {size / 1e6:.1f} MB, {n} records")
        print(f"read only (ISO 2709 → pymarc):    {n / read_s:10,.0f} records/s")
        for processes in args.processes.split(","):
            run(src, size, Path(tmp) / f"bench-{processes}.db", int(processes) or None)


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

    t = time.perf_counter()
    report = import_files(store, [src], IdentifierRule("bench.vn"), progress=progress,
                          processes=processes)
    total_s = time.perf_counter() - t
    store.close()
    label = "in this process" if processes == 1 else "worker processes, one per core"
    print(f"import, {label}:\n  read+crosswalk+write: {report.read / total_s:10,.0f} records/s "
          f"({report.written.added} added, {len(report.rejected)} rejected)")
    print(*marks, sep="\n")
    print(f"  peak RSS at the end: {rss_mb():.0f} MB (this process; workers apart)")
    print(f"  store size: {db.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
