"""Converting MARC, ours beside the reference pipeline (pymarc + the LoC XSLT in lxml), one run.

    python bench/crosswalk.py                        # 20,000 LoC records (pymarc 5.4.0's sdist)
    python bench/crosswalk.py --n 5000 --file catalogue.mrc --verify
    python bench/crosswalk.py --before-src ../main/src   # another checkout's convert beside

Prints records per CPU-second (CPU time, not wall time: other jobs share the
machine) for:

* the whole process, one core (``taskset -c 0`` where there is one):
  ``thuvien-interop convert FILE --to oai_dc|marcxml|mods`` beside a script
  doing the same with pymarc's reader, ``pymarc.record_to_xml`` and the Library
  of Congress stylesheets (MARC21slim2DC.xsl, MARC21slim2MODS.xsl, as shipped
  with YAZ) applied record by record, start-up and writing the file included
  (each program's bytecode compiled in a warm-up run first, as an installed
  package has its ``.pyc`` files, PYTHONDONTWRITEBYTECODE or not);
* in-process: the readers alone, our crosswalks alone on read records, and
  read + crosswalk, beside pymarc + XSLT per record, the garbage collector set
  as ``convert`` sets it.

``--verify`` also checks that the light read path gives, over the whole input
and for every ``convert`` target, the very bytes the full parser gives.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pymarc
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from oai_provider import first_records, marc_file  # noqa: E402

from thuvien_interop.cli.convert import TARGETS, convert_stream  # noqa: E402
from thuvien_interop.collector import fewer_collections  # noqa: E402
from thuvien_interop.crosswalk.dc import marc_to_dc, marc_to_oai_dc  # noqa: E402
from thuvien_interop.crosswalk.marcxml import record_to_marcxml  # noqa: E402
from thuvien_interop.crosswalk.mods import marc_to_mods  # noqa: E402
from thuvien_interop.ingest import iso2709  # noqa: E402
from thuvien_interop.ingest.marcxml import read_marcxml  # noqa: E402

_clock = time.process_time
XSLT_DIRS = [Path("/usr/share/yaz/etc")]
STYLESHEETS = {"oai_dc": "MARC21slim2DC.xsl", "mods": "MARC21slim2MODS.xsl"}

# The reference pipeline as a program: pymarc reads, pymarc writes MARCXML, the
# LoC stylesheet transforms it, record by record (streaming, like ours).
REFERENCE = r"""
import sys
import pymarc
from lxml import etree
src, out, sheet = sys.argv[1], sys.argv[2], sys.argv[3]
transform = etree.XSLT(etree.parse(sheet)) if sheet != "-" else None
with open(src, "rb") as fh, open(out, "wb") as dst:
    for record in pymarc.MARCReader(fh, to_unicode=True, force_utf8=True):
        if record is None:
            continue
        xml = pymarc.record_to_xml(record, namespace=True)
        dst.write(bytes(transform(etree.fromstring(xml))) if transform is not None else xml)
"""


def stylesheet(target: str, given: Path | None) -> Path | None:
    name = STYLESHEETS.get(target)
    if name is None:
        return None
    for folder in ([given] if given else []) + XSLT_DIRS:
        if (folder / name).exists():
            return folder / name
    return None


def child_cpu(cmd: list[str], src: Path = ROOT / "src", pycache: str | None = None) -> float:
    """CPU seconds (user + system) of one child process, run to its end.

    ``pycache``: a folder the child keeps its compiled bytecode in (and finds
    it there next time), as an installed package has its ``.pyc`` files, even
    where PYTHONDONTWRITEBYTECODE is set."""
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    # The child runs this checkout's code (or the one given), as this process does.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src),
                                                                     os.environ.get("PYTHONPATH")]))}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache  # (it mirrors each module's full path)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")  # type: ignore[union-attr]
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeat))


def timed(func: Callable[[], object]) -> float:
    # The collector as ``convert`` runs it (fewer_collections), for ours and the
    # reference alike: the in-process figures measure what the command does.
    with fewer_collections():
        start = _clock()
        func()
        return _clock() - start


def line(label: str, n: int, secs: float, peer: float | None = None) -> float:
    rate = n / secs
    ratio = f"   {rate / peer:5.1f}x the reference" if peer else ""
    print(f"  {label:<46} {rate:>9,.0f} records/s ({secs:6.2f} s){ratio}")
    return rate


def whole_process(path: Path, n: int, repeat: int, xslt_dir: Path | None,
                  before_src: Path | None = None) -> None:
    print("whole process, CPU seconds of the child, one core, bytecode compiled once "
          "(as installed):")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out")
        one = Path(tmp) / "one.mrc"
        first_records(path, 1, one)
        pycache = str(Path(tmp) / "pycache")

        def child(cmd: list[str], src: Path = ROOT / "src") -> float:
            return child_cpu(cmd, src, pycache)

        # One record through each program first: its bytecode is compiled then,
        # not in the runs measured (the reference's modules have theirs installed).
        for src in filter(None, (ROOT / "src", before_src)):
            child([sys.executable, "-c", REFERENCE, str(one), out, "-"], src)
            for target in ("oai_dc", "marcxml", "mods"):
                child([sys.executable, "-m", "thuvien_interop", "convert", str(one), "--to", target,
                       "-q", "-o", out], src)
        for target in ("oai_dc", "marcxml", "mods"):
            sheet = stylesheet(target, xslt_dir)
            peer = None
            if target == "marcxml" or sheet is not None:
                secs = best_of(repeat, lambda s=sheet: child(
                    [sys.executable, "-c", REFERENCE, str(path), out, str(s) if s else "-"]))
                what = f"pymarc + {sheet.name}" if sheet else "pymarc.record_to_xml"
                peer = line(f"{target:<7} reference ({what})", n, secs)
            else:
                print(f"  {target:<7} reference: {STYLESHEETS[target]} not found (apt-get install yaz)")
            for label, src in (("thuvien-interop convert", ROOT / "src"),
                               ("  the same, before", before_src)):
                if src is None:
                    continue
                secs = best_of(repeat, lambda t=target, s=src: child(
                    [sys.executable, "-m", "thuvien_interop", "convert", str(path), "--to", t, "-q",
                     "-o", out], s))
                line(f"{target:<7} {label}", n, secs, peer)
        for label, src in (("", ROOT / "src"), (" (before)", before_src)):
            if src is not None:
                startup = best_of(repeat, lambda s=src: child(
                    [sys.executable, "-m", "thuvien_interop", "convert", str(one), "--to", "oai_dc",
                     "-q", "-o", out], s))
                print(f"  start-up: converting one record{label}: {startup:.2f} s")


def reference_records(raw: bytes) -> Iterable[pymarc.Record]:
    return (r for r in pymarc.MARCReader(io.BytesIO(raw), to_unicode=True, force_utf8=True)
            if r is not None)


def in_process(raw: bytes, n: int, repeat: int, xslt_dir: Path | None) -> None:
    print("in-process, CPU seconds of this process:")
    pymarc_rate = line("pymarc MARCReader", n, best_of(repeat, lambda: timed(
        lambda: sum(1 for _ in reference_records(raw)))))
    line("our ISO 2709 reader (read_iso2709)", n, best_of(repeat, lambda: timed(
        lambda: sum(1 for _ in iso2709.read_iso2709(io.BytesIO(raw))))), pymarc_rate)
    xml = (b'<collection xmlns="http://www.loc.gov/MARC21/slim">'
           + b"".join(record_to_marcxml(r.record, namespace=False)
                      for r in iso2709.read_iso2709(io.BytesIO(raw)) if r.record is not None)
           + b"</collection>")
    line("our MARCXML reader (read_marcxml)", n, best_of(repeat, lambda: timed(
        lambda: sum(1 for _ in read_marcxml(io.BytesIO(xml))))))

    def crosswalk_alone(func: Callable[[pymarc.Record], object]) -> float:
        # Records read anew each round (their light fields split on first use, as in a run).
        records = [r.record for r in iso2709.read_iso2709(io.BytesIO(raw)) if r.record is not None]
        return timed(lambda: [func(r) for r in records])

    line("marc_to_dc (elements) alone", n, best_of(repeat, lambda: crosswalk_alone(marc_to_dc)))
    for target, func in (("oai_dc", marc_to_oai_dc), ("marcxml", record_to_marcxml),
                         ("mods", marc_to_mods)):
        sheet = stylesheet(target, xslt_dir)
        peer = None
        if target == "marcxml" or sheet is not None:
            transform = etree.XSLT(etree.parse(str(sheet))) if sheet else None

            def reference(transform: etree.XSLT | None = transform) -> None:
                for record in reference_records(raw):
                    xml = pymarc.record_to_xml(record, namespace=True)
                    if transform is not None:
                        bytes(transform(etree.fromstring(xml)))

            peer = line(f"{target:<7} reference, read + convert", n, best_of(repeat, lambda: timed(reference)))
        line(f"{target:<7} ours, crosswalk alone", n, best_of(repeat, lambda f=func: crosswalk_alone(f)), peer)
        line(f"{target:<7} ours, convert_stream (read + convert)", n, best_of(repeat, lambda t=target: timed(
            lambda: convert_stream(io.BytesIO(raw), io.BytesIO(), t, fmt="iso2709"))), peer)


def verify(raw: bytes) -> bool:
    """The light path against the full parser, every target, the whole input."""
    ok = True
    light_parse = iso2709._parse_light
    for to in TARGETS:
        for options in ({"marc8": True}, {}) if to == "marc" else ({},):
            outs = []
            for light in (True, False):
                iso2709._parse_light = light_parse if light else (lambda raw, decoder: None)
                try:
                    buf = io.BytesIO()
                    report = convert_stream(io.BytesIO(raw), buf, to, fmt="iso2709", **options)
                    outs.append((buf.getvalue(), [str(p) for p in report.skipped],
                                 [str(p) for p in report.repaired]))
                finally:
                    iso2709._parse_light = light_parse
            same = outs[0] == outs[1]
            ok &= same
            label = to + (" --marc8" if options else "")
            print(f"  {label:<14} {'byte-identical' if same else 'DIFFERENT'} "
                  f"({len(outs[0][0]):,} bytes, {len(outs[0][1])} skipped, {len(outs[0][2])} repairs)")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="number of records (default 20,000)")
    ap.add_argument("--file", type=Path, help="an ISO 2709 file (default: the LoC records)")
    ap.add_argument("--xslt-dir", type=Path, help="where MARC21slim2DC.xsl and MARC21slim2MODS.xsl are")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each figure; the best is printed")
    ap.add_argument("--verify", action="store_true", help="also check light path == full parser")
    ap.add_argument("--skip-whole", action="store_true", help="in-process figures only")
    ap.add_argument("--before-src", type=Path,
                    help="another checkout's src/: its convert beside ours, same run")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.mrc"
        n = first_records(args.file or marc_file(None), args.n, path)
        raw = path.read_bytes()
        print(f"input: {n:,} records of {(args.file or marc_file(None)).name}, "
              f"{len(raw) / 1e6:.1f} MB; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if not args.skip_whole:
            whole_process(path, n, args.repeat, args.xslt_dir, args.before_src)
        in_process(raw, n, args.repeat, args.xslt_dir)
        if args.verify:
            print("light path vs the full parser:")
            if not verify(raw):
                return 1
    print(f"(max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
