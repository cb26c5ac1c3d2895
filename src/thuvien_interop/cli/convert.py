"""``thuvien-interop convert``: one catalogue file to another format, streaming.

:func:`convert_stream` does the work (typed, usable from Python); the command
opens files, draws the progress bar and prints what was skipped. Records are
read with the same permissive readers as ``import``: a broken record is
reported with its position and the others are converted.

    >>> with open("catalogue.mrc", "rb") as src, open("catalogue.xml", "wb") as out:   # doctest: +SKIP
    ...     report = convert_stream(src, out, "marcxml")
    >>> report.written, [str(p) for p in report.skipped]                               # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import click
import pymarc

from ..crosswalk.marc8 import encode_marc8
from ..crosswalk.marcxml import record_to_marcxml
from ..formats import as_marc, render_mods, render_oai_dc
from ..ingest.detect import FORMATS, UnknownFormat, detect_format
from ..ingest.iso2709 import SOURCE_ENCODINGS
from ..ingest.records import CountingStream, read_records
from ..ingest.result import ReadResult, Source, about_file
from ..pipeline.items import Problem
from ..xml import MARC21 as MARC_NS
from ..xml import MODS as MODS_NS
from ..xml import XSI as XSI_NS
from . import main
from ._common import mojibake_options, plural, progress_shown, say

TARGETS = ("oai_dc", "marcxml", "mods", "marc", "json")
_XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_BATCH = 512  # pieces (records and separators) written at once


@dataclass(slots=True)
class ConvertReport:
    """What :func:`convert_stream` did."""

    read: int = 0
    written: int = 0
    skipped: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)


def _marc8_copy(record: pymarc.Record) -> pymarc.Record:
    """The record with every text as MARC-8 bytes held in a latin-1 str.

    pymarc's writer encodes as ISO 8859-1 when leader/09 is blank, so the
    MARC-8 bytes come out unchanged and the directory counts bytes."""
    def enc(text: str) -> str:
        return encode_marc8(text).decode("latin-1")

    leader = str(record.leader)
    out = pymarc.Record(to_unicode=False, leader=leader[:9] + " " + leader[10:], force_utf8=False)
    for f in record.fields:
        if f.is_control_field():
            out.add_field(pymarc.Field(f.tag, data=enc(f.data or "")))
        else:
            out.add_field(pymarc.Field(f.tag, f.indicators,
                                       [pymarc.Subfield(s.code, enc(s.value or "")) for s in f.subfields]))
    return out


def _utf8_marc(source: Source) -> bytes:
    record = as_marc(source)
    leader = str(record.leader)
    record.leader = pymarc.Leader(leader[:9] + "a" + leader[10:])  # Unicode out, whatever came in
    return record.as_marc()


# Each target: (document head, renderer, separator between records, tail).
_Target = tuple[bytes, Callable[[Source], bytes], bytes, bytes]


def _target(to: str, marc8: bool) -> _Target:
    if to == "marcxml":
        return (_XML_DECL + f'<collection xmlns="{MARC_NS}">\n'.encode(),
                lambda s: record_to_marcxml(as_marc(s), namespace=False), b"\n", b"\n</collection>\n")
    if to == "mods":
        head = (f'<modsCollection xmlns="{MODS_NS}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{MODS_NS} '
                f'http://www.loc.gov/standards/mods/v3/mods-3-7.xsd">\n')
        return _XML_DECL + head.encode(), render_mods, b"\n", b"\n</modsCollection>\n"
    if to == "oai_dc":
        # oai_dc defines no collection element; <records> is what our DC reader reads back.
        return _XML_DECL + b"<records>\n", render_oai_dc, b"\n", b"\n</records>\n"
    if to == "marc":
        if marc8:
            return b"", lambda s: _marc8_copy(as_marc(s)).as_marc(), b"", b""
        return b"", _utf8_marc, b"", b""
    if to == "json":
        import json

        # MARC-in-JSON (code4lib proposal, as pymarc writes it), records in an array.
        return (b"[\n", lambda s: json.dumps(as_marc(s).as_dict(), ensure_ascii=False).encode(),
                b",\n", b"\n]\n")
    raise ValueError(f"unknown target format {to!r}: use one of {', '.join(TARGETS)}")


def convert_stream(src: BinaryIO, out: BinaryIO, to: str, *, fmt: str | None = None,
                   source_encoding: str | None = None, marc8: bool = False,
                   repair_mojibake: float | None = None, name: str = "") -> ConvertReport:
    """Convert every readable record of ``src`` into ``out`` as ``to`` (one of :data:`TARGETS`).

    ``fmt`` is the input format (detected when None); ``source_encoding``
    applies to ISO 2709 input (see the ``import`` command); ``marc8`` writes
    MARC-8 instead of UTF-8 when ``to`` is "marc". ``repair_mojibake`` is a
    confidence (0..1) above which text that reads as legacy-encoding mojibake
    is repaired, as ``import --repair-mojibake`` does; each repair is listed in
    the report's ``repaired``. A record that cannot be read or converted is
    listed in the report's ``skipped``, the rest written.
    """
    from ..collector import fewer_collections

    head, render, sep, tail = _target(to, marc8)
    results = read_records(src, fmt or detect_format(src, name), source_encoding=source_encoding,
                           repair_mojibake=repair_mojibake)
    # Bulk work: millions of short-lived objects, which the collector would walk
    # over and over (about 5% of a conversion's CPU).
    with fewer_collections():
        return _convert_all(results, out, render, head, sep, tail)


def _convert_all(results: Iterator[ReadResult], out: BinaryIO, render: Callable[[Source], bytes],
                 head: bytes, sep: bytes, tail: bytes) -> ConvertReport:
    report = ConvertReport()
    # Records are written a batch at a time: two writes a record to a buffered
    # file cost ~5% of a conversion to oai_dc.
    pending = [head]
    for result in results:
        report.read += 1
        if result.warnings:
            report.repaired.extend(Problem("", result.where, w) for w in result.warnings)
        if result.record is None:
            report.skipped.append(Problem("", result.where, result.error or "unreadable"))
            continue
        try:
            data = render(result.record)
        except Exception as exc:  # noqa: BLE001 - a crosswalk bug costs one record, and is reported
            report.skipped.append(Problem("", result.where, f"could not be converted: {exc!r}"))
            continue
        if report.written:
            pending.append(sep)
        pending.append(data)
        report.written += 1
        if len(pending) >= _BATCH:
            out.write(b"".join(pending))
            pending.clear()
    pending.append(tail)
    out.write(b"".join(pending))
    return report


@main.command("convert")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write (default: standard output).")
@click.option("--to", "to", type=click.Choice(TARGETS), required=True, help="The output format.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The input format; detected from the content when not given.")
@click.option("--source-encoding", type=click.Choice(SOURCE_ENCODINGS), default=None,
              help="Encoding of ISO 2709 field bytes when leader/09 cannot be trusted: tcvn3, "
                   "vni, viscii, vps, viqr, windows-1258, utf-8, marc-8 (forces MARC-8), or auto "
                   "(detect per file and field). Without it, records that say MARC-8 but cannot "
                   "be are read as the legacy encoding they surely are.")
@mojibake_options
@click.option("--marc8", is_flag=True, help="With --to marc: write MARC-8 (leader/09 blank), not UTF-8.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no list of repairs.")
def convert_command(source: str, output: str | None, to: str, fmt: str | None,
                    source_encoding: str | None, repair_mojibake: bool, min_confidence: float,
                    marc8: bool, quiet: bool) -> None:
    """Convert the catalogue file SOURCE to another format, record by record.

    \b
    --to oai_dc   Dublin Core (LoC MARC→DC crosswalk), <oai_dc:dc> elements in <records>
    --to marcxml  a MARCXML <collection>
    --to mods     a MODS 3.7 <modsCollection>
    --to marc     ISO 2709, UTF-8 (or MARC-8 with --marc8)
    --to json     MARC-in-JSON, an array of records
    Broken records are reported on standard error with their position and
    skipped; the others are converted. Exit status 1 if any was skipped.

    \b
    Examples:
      thuvien-interop convert catalogue.mrc --to mods -o catalogue-mods.xml
      thuvien-interop convert old-tcvn3.mrc --source-encoding auto --to marc -o utf8.mrc
      thuvien-interop convert pasted.xml --repair-mojibake --to marcxml -o fixed.xml
    """
    if marc8 and to != "marc":
        raise click.UsageError(say("convert.marc8-only"))
    name = Path(source).name
    options = {"fmt": fmt, "source_encoding": source_encoding, "marc8": marc8, "name": source,
               "repair_mojibake": min_confidence if repair_mojibake else None}
    try:
        with open(source, "rb") as raw:
            if output is None:
                report = convert_stream(raw, sys.stdout.buffer, to, **options)
            else:
                # Write beside the target and rename at the end: a failed run never
                # leaves a half-written file under the real name.
                part = f"{output}.part"
                try:
                    written = open(part, "wb")  # noqa: SIM115 - closed by the with below
                except OSError as exc:
                    raise click.ClickException(say("cannot-write", path=output,
                                                   cause=exc.strerror or exc)) from None
                try:
                    with written as out:
                        if not progress_shown(quiet):
                            report = convert_stream(raw, out, to, **options)
                        else:
                            with click.progressbar(length=os.path.getsize(source), label=say("convert.progress"),
                                                   file=sys.stderr, show_percent=True, show_eta=True) as bar:
                                counting = CountingStream(raw, bar.update)
                                report = convert_stream(counting, out, to,  # type: ignore[arg-type]
                                                        **options)
                    os.replace(part, output)
                finally:
                    if os.path.exists(part):
                        os.remove(part)
    except UnknownFormat as exc:
        raise click.UsageError(str(exc)) from None
    if not quiet:
        for note in report.repaired[:50]:
            click.echo(f"{name}: {note.reason if about_file(note.reason) else note}", err=True)
        if len(report.repaired) > 50:
            click.echo(say("convert.more-repairs", name=name, n=len(report.repaired) - 50),
                       err=True)
    for skipped in report.skipped:
        click.echo(say("convert.skipped-record", name=name, problem=skipped), err=True)
    click.echo(say("convert.summary", written=report.written, records=plural(report.read, "record"),
                   to=to, skipped=say("convert.skipped", n=len(report.skipped))
                   if report.skipped else ""), err=True)
    if report.skipped:
        raise SystemExit(1)
