"""Where the write of one record goes: load N rendered records (three formats and
their search entries) into SQLite and PostgreSQL in batches (one transaction each:
the pipeline's, 2,000, unless ``--batch`` says), and print the cost per record of
each phase of the store's write. Prints figures; asserts nothing.

    python bench/store_write.py --records 10000
    python bench/store_write.py --records 20000 --batch 500,2000   # both, same run
    python bench/store_write.py --records 10000 --compare ../main/src   # another checkout, same run

Records are rendered once, before any clock starts (as bench/stores.py does), and
handed to each run in a child process, so that with ``--compare`` both checkouts
load the very same records, turn about, on the same machine at the same time. The
phase breakdown needs a checkout with the one SQL store (store/sql.py); an older one
prints its total only.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from thuvien_interop.store.base import WRITE_BATCH

sys.path.insert(0, str(Path(__file__).parent))
from import_files import _ticks  # noqa: E402 - bench/ is not a package

PHASES = ("_known", "_plan", "_update_records", "_unindex", "_load", "_index", "_restamp")


def _child(data: Path, backend: str, pg_url: str, batch: int) -> dict:
    from thuvien_interop.model import Record
    from thuvien_interop.store import open_store

    with open(data, "rb") as f:
        rows = pickle.load(f)
    records = [Record(i, c, fmt, tuple(s), rendered=r, index=x) for i, c, fmt, s, r, x in rows]
    with tempfile.TemporaryDirectory() as tmp:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        url = f"sqlite:///{Path(tmp) / 'w.db'}" if backend == "sqlite" else f"{pg_url}?schema={schema}"
        store = open_store(url)
        store.batch_size = batch  # one transaction a batch
        spent: dict[str, float] = {}
        if hasattr(store, "_apply"):
            for name in PHASES:
                _time(store, name, spent)
            _time_entries(spent)
        # CPU too: on a shared machine wall time moves with the load, CPU much less
        # (PostgreSQL's: its backend process's, read from /proc, on this machine).
        backend_pid = store._conn().info.backend_pid if backend == "postgres" else None  # noqa: SLF001
        try:
            t, cpu = time.perf_counter(), time.process_time()
            server = _ticks(backend_pid) if backend_pid else 0.0
            for i in range(0, len(records), batch):
                store.write(records[i:i + batch])
            total = time.perf_counter() - t
            cpu = time.process_time() - cpu
            server = (_ticks(backend_pid) - server) if backend_pid else 0.0
            t = time.perf_counter()
            for i in range(0, len(records), batch):  # the same again: all unchanged
                store.write(records[i:i + batch])
            again = time.perf_counter() - t
        finally:
            if backend == "postgres":
                store._conn().execute(f"DROP SCHEMA {schema} CASCADE")  # noqa: SLF001
            store.close()
    return {"n": len(records), "batch": batch, "total": total, "cpu": cpu, "server": server,
            "again": again, "phases": spent}


def _time(store: object, name: str, spent: dict[str, float]) -> None:
    real = getattr(store, name)

    def timed(*a, **k):
        # Bulk loads by table; the search rows' own are inside "index" already.
        key = f"load {a[1]}" if name == "_load" else name.strip("_")
        t = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            if not key.startswith("load search_"):
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t

    setattr(store, name, timed)


def _time_entries(spent: dict[str, float]) -> None:
    """The search entries made from ``Record.index`` (folding, keys): inside "index"."""
    from thuvien_interop.store import search_plan

    real = search_plan.record_entries

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return iter(list(real(*a, **k)))
        finally:
            spent["(index: entries)"] = spent.get("(index: entries)", 0.0) + time.perf_counter() - t

    search_plan.record_entries = timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--postgres", default=os.environ.get(
        "THUVIEN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--compare", type=Path, help="the src folder of another checkout")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--batch", default=str(WRITE_BATCH),
                    help="records a transaction; comma-separated to run several in turn")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(Path(args.child[0]), args.child[1], args.postgres,
                                int(args.child[2]))))
        return

    from stores import loc_file, render

    path = loc_file(Path.home() / ".cache" / "thuvien-interop-bench")
    records = render(path, args.records)
    here = Path(__file__).resolve().parents[1] / "src"
    checkouts = [("this", here)] + ([("compare", args.compare.resolve())] if args.compare else [])
    backends = ["sqlite"] + ([] if args.skip_postgres else ["postgres"])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.pickle"
        with open(data, "wb") as f:
            pickle.dump([(r.identifier, r.canonical, r.canonical_format, r.sets, r.rendered, r.index)
                         for r in records], f)
        best: dict[tuple[str, str, int], dict] = {}
        batches = [int(b) for b in args.batch.split(",")]
        for _ in range(args.rounds):
            for backend in backends:
                for batch in batches:
                    for name, src in checkouts:
                        out = subprocess.run(
                            [sys.executable, __file__, "--postgres", args.postgres,
                             "--child", str(data), backend, str(batch)],
                            env={**os.environ, "PYTHONPATH": str(src)}, check=True,
                            capture_output=True, text=True).stdout
                        got = json.loads(out.strip().splitlines()[-1])
                        run = (name, backend, batch)
                        if run not in best or (got["cpu"] + got["server"]
                                               < best[run]["cpu"] + best[run]["server"]):
                            best[run] = got
    for (name, backend, batch), got in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][2],
                                                                          kv[0][0])):
        n = got["n"]
        print(f"{backend:8} {name:8} batch {batch:>6,} write: {got['total'] / n * 1e6:6.0f} µs/record "
              f"({n / got['total']:,.0f} records/s), unchanged again: "
              f"{got['again'] / n * 1e6:5.0f} µs/record; write CPU "
              f"{(got['cpu'] + got['server']) / n * 1e6:5.0f} µs/record"
              + (f" (client {got['cpu'] / n * 1e6:.0f}, server {got['server'] / n * 1e6:.0f})"
                 if backend == "postgres" else ""))
        phases = got["phases"]
        if phases:
            accounted = sum(v for k, v in phases.items() if not k.startswith("("))
            parts = [f"{k} {v / n * 1e6:.0f}" for k, v in phases.items()]
            parts.append(f"rest (transaction, commit) {(got['total'] - accounted) / n * 1e6:.0f}")
            print(f"{'':30} µs/record: " + ", ".join(parts))
    print(f"best of {args.rounds} rounds; {len(records):,} records "
          f"(LoC, oai_dc + marc21 + mods rendered, search entries) on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
