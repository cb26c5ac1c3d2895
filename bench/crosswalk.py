"""Throughput of the crosswalks on one core.

    python bench/crosswalk.py                 # the sample catalogue, repeated to 50,000
    python bench/crosswalk.py --n 50000 --file BooksAll.2016.part01.utf8

Prints records/s for: pymarc ISO 2709 parsing, MARC→DC (element list),
MARC→oai_dc bytes, MARC→MODS bytes, and the whole pipeline (parse + oai_dc +
MODS), per CPU-second of this process.  Without a sample file it generates Vietnamese-looking records.
"""

from __future__ import annotations

import argparse
import gc
import io
import itertools
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pymarc
from pymarc import Field, Indicators, Record, Subfield

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from thuvien_interop.crosswalk.dc import marc_to_dc, marc_to_oai_dc  # noqa: E402
from thuvien_interop.crosswalk.marcxml import record_to_marcxml  # noqa: E402
from thuvien_interop.crosswalk.mods import marc_to_mods  # noqa: E402
from thuvien_interop.crosswalk.text import fold  # noqa: E402
from thuvien_interop.ingest.iso2709 import read_iso2709  # noqa: E402
from thuvien_interop.ingest.marcxml import read_marcxml  # noqa: E402

# CPU time of this process, not wall time: "records/s on one core" stays
# meaningful on a shared machine where other jobs compete for the cores.
_clock = time.process_time

SAMPLE = ROOT / "src" / "thuvien_interop" / "data" / "samples" / "vietnamese-catalogue.mrc"


def generated(n: int) -> bytes:
    """ISO 2709 bytes of ``n`` synthetic Vietnamese book records (fallback input)."""
    out = io.BytesIO()
    authors = ["Nguyễn Nhật Ánh", "Tô Hoài", "Nam Cao", "Xuân Diệu", "Bảo Ninh"]
    for i in range(n):
        r = Record(leader="00000nam a2200000 i 4500", force_utf8=True)
        r.add_field(Field("001", data=f"VN-{i:06d}"), Field("003", data="VN-TVQG"),
                    Field("008", data=f"170305s{1990 + i % 30}    vm a          000 f vie d"))
        s = Subfield
        r.add_field(
            Field("020", Indicators(" ", " "), [s("a", "9786041691926")]),
            Field("082", Indicators("0", "4"), [s("a", "895.92234"), s("2", "23")]),
            Field("100", Indicators("0", " "), [s("a", authors[i % 5] + ","), s("e", "tác giả.")]),
            Field("245", Indicators("1", "0"), [s("a", f"Truyện ngắn tuyển chọn tập {i} :"),
                                                s("b", "truyện /"), s("c", authors[i % 5] + ".")]),
            Field("264", Indicators(" ", "1"), [s("a", "Hà Nội :"), s("b", "Nhà xuất bản Văn học,"),
                                                s("c", f"{1990 + i % 30}.")]),
            Field("300", Indicators(" ", " "), [s("a", "262 tr. ;"), s("c", "21 cm")]),
            Field("520", Indicators(" ", " "), [s("a", "Tuyển tập truyện ngắn về làng quê Việt Nam.")]),
            Field("650", Indicators(" ", "7"), [s("a", "Văn học hiện đại"), s("v", "Truyện ngắn"),
                                                s("2", "Bộ TK TVQG")]),
            Field("651", Indicators(" ", "7"), [s("a", "Việt Nam"), s("2", "Bộ TK TVQG")]),
            Field("852", Indicators(" ", " "), [s("a", "TVQG"), s("h", "895.92234 TR-N")]),
        )
        out.write(r.as_marc())
    return out.getvalue()


def load(path: Path | None, n: int) -> tuple[bytes, str]:
    """Raw ISO 2709 of ``n`` records: the first n of a file, or a sample repeated."""
    if path is not None:
        data = path.read_bytes()
        # Records end with 0x1D; take the first n without parsing.
        end, count = 0, 0
        while count < n:
            nxt = data.find(b"\x1d", end)
            if nxt < 0:
                break
            end, count = nxt + 1, count + 1
        return data[:end], f"{path.name} (first {count} records)"
    if SAMPLE.exists():
        one = SAMPLE.read_bytes()
        k = one.count(b"\x1d") or 1
        reps = -(-n // k)
        return one * reps, f"{SAMPLE.name} ({k} records) x{reps}"
    return generated(n), f"{n} generated records"


def rate(label: str, func: Callable[[pymarc.Record], object], records: Iterable[pymarc.Record],
         count: int) -> float:
    start = _clock()
    for r in records:
        func(r)
    secs = _clock() - start
    per_s = count / secs
    print(f"  {label:<34} {per_s:>10,.0f} records/s  ({secs:6.2f} s)")
    return per_s


def parse(raw: bytes) -> list[pymarc.Record]:
    reader = pymarc.MARCReader(io.BytesIO(raw), to_unicode=True, force_utf8=True)
    return [r for r in reader if r is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="number of records (default 50,000)")
    ap.add_argument("--file", type=Path, help="an ISO 2709 file (default: the sample catalogue)")
    args = ap.parse_args(argv)

    raw, what = load(args.file, args.n)
    print(f"input: {what}")

    # Parsing is timed streaming (records dropped as they come, as at import
    # time); holding 50,000 parsed records would time the garbage collector.
    start = _clock()
    count = sum(1 for r in pymarc.MARCReader(io.BytesIO(raw), to_unicode=True, force_utf8=True)
                if r is not None)
    secs = _clock() - start
    print(f"  {'pymarc ISO 2709 parse':<34} {count / secs:>10,.0f} records/s  ({secs:6.2f} s)")
    # Our own permissive readers, as import uses them (decoding, NFC, repairs).
    start = _clock()
    count = sum(1 for r in read_iso2709(io.BytesIO(raw)) if r.record is not None)
    secs = _clock() - start
    print(f"  {'ingest ISO 2709 reader':<34} {count / secs:>10,.0f} records/s  ({secs:6.2f} s)")
    xml = (b'<collection xmlns="http://www.loc.gov/MARC21/slim">'
           + b"".join(record_to_marcxml(r, namespace=False) for r in parse(raw)) + b"</collection>")
    start = _clock()
    count = sum(1 for r in read_marcxml(io.BytesIO(xml)) if r.record is not None)
    secs = _clock() - start
    print(f"  {'ingest MARCXML reader (streaming)':<34} {count / secs:>10,.0f} records/s  ({secs:6.2f} s)")
    del xml

    gc.disable()
    records = parse(raw)
    records = list(itertools.islice(itertools.cycle(records), args.n)) if records else []
    gc.freeze()  # the held records are not what is being measured
    gc.enable()
    n = len(records)
    if not n:
        print("no records", file=sys.stderr)
        return 1
    rate("MARC -> DC elements", marc_to_dc, records, n)
    rate("MARC -> oai_dc bytes", marc_to_oai_dc, records, n)
    rate("MARC -> MODS 3.7 bytes", marc_to_mods, records, n)

    def fold_all(r: pymarc.Record) -> None:
        for f in r.fields:
            if f.is_control_field():
                continue
            for sf in f.subfields:
                fold(sf.value)

    rate("fold() of every subfield", fold_all, records, n)

    # The whole write-time pipeline, measured in one loop: parse, oai_dc, MODS.
    start = _clock()
    done = 0
    for r in pymarc.MARCReader(io.BytesIO(raw), to_unicode=True, force_utf8=True):
        if r is None:
            continue
        marc_to_oai_dc(r)
        marc_to_mods(r)
        done += 1
        if done >= n:
            break
    secs = _clock() - start
    print(f"  {'total (parse + oai_dc + MODS)':<34} {done / secs:>10,.0f} records/s  ({secs:6.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
