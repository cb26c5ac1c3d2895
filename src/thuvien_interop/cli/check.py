"""``thuvien-interop check``: a quality report on MARC and Dublin Core files, per record.

The work is :func:`check_file` (typed, usable from Python); the command only
prints. Records are read *without* the repairs ``import`` makes (text is not
NFC'd, forbidden XML characters are kept, empty DC elements are kept) so the
report shows what the file really holds; what the reader had to repair is
reported too.

    >>> for report in check_file("catalogue.mrc"):               # doctest: +SKIP
    ...     print(report.position, report.identifier, [str(f) for f in report.findings])
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pymarc

from ..crosswalk.lint import Finding, lint_dc, lint_record, reader_findings
from ..ingest.dc import read_dc_as_written
from ..ingest.detect import UnknownFormat, detect_format, read_stream
from ..ingest.iso2709 import SOURCE_ENCODINGS, read_iso2709
from ..ingest.marcxml import read_marcxml
from ..ingest.result import ReadResult
from ..ingest.spreadsheet import ColumnMapping
from ..wording.messages import MESSAGES
from . import main
from ._common import ProfileParam, plural, say

FORMATS = ("iso2709", "marcxml", "dc", "csv", "xlsx")
_PUNCT = re.compile(r"[\s/:;,.=]+$")


@dataclass(slots=True)
class RecordReport:
    """What :func:`check_file` found in one record (``error``: it could not be read)."""

    file: str
    position: int
    location: str | None
    identifier: str | None = None
    title: str | None = None
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    # What the identifier is, for the text report ("001", "dc:identifier").
    identifier_label: str = "001"

    @property
    def ok(self) -> bool:
        return self.error is None and not self.findings

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "position": self.position, "location": self.location,
                "identifier": self.identifier, "title": self.title, "error": self.error,
                "problems": [f.as_dict() for f in self.findings]}


def check_file(path: str | Path, source_encoding: str | None = "auto", *,
               min_confidence: float = 0.8, fmt: str | None = None,
               mapping: ColumnMapping | None = None) -> Iterator[RecordReport]:
    """Lint every record of a MARC file (ISO 2709 or MARCXML), Dublin Core
    XML file (oai_dc records, simple DC, an OAI-PMH response) or spreadsheet
    catalogue (CSV, XLSX), one report each.

    ``fmt`` is one of :data:`FORMATS` (detected when None). ``source_encoding``
    applies to ISO 2709 (see :data:`thuvien_interop.ingest.iso2709.SOURCE_ENCODINGS`;
    None trusts leader/09). A spreadsheet is read with ``mapping`` (default: the
    usual Vietnamese headings) and each row gets what its import would report.
    Raises :class:`UnknownFormat` for anything else.
    """
    name = Path(path).name
    with open(path, "rb") as stream:
        fmt = fmt or detect_format(stream, str(path))
        if fmt in ("csv", "xlsx"):
            yield from _check_rows(name, read_stream(stream, fmt, mapping))
            return
        if fmt == "dc":
            for result, elements, foreign in read_dc_as_written(stream):
                report = RecordReport(name, result.position, result.location, error=result.error,
                                      identifier_label="dc:identifier")
                if result.error is None:
                    report.identifier = next((v.strip() for e, v in elements
                                              if e == "identifier" and v.strip()), None)
                    report.title = next((v.strip() for e, v in elements
                                         if e == "title" and v.strip()), None)
                    report.findings = lint_dc(elements, result.warnings, foreign=foreign,
                                              min_confidence=min_confidence)
                yield report
            return
        if fmt == "iso2709":
            results = read_iso2709(stream, source_encoding, normalize_text=False)
        elif fmt == "marcxml":
            results = read_marcxml(stream, normalize_text=False)
        else:
            raise UnknownFormat(f"{name} is {fmt}: check reads ISO 2709, "
                                "MARCXML, Dublin Core XML and spreadsheet (CSV, XLSX) files")
        for result in results:
            report = RecordReport(name, result.position, result.location, error=result.error)
            record = result.record
            if isinstance(record, pymarc.Record):
                f001 = record.get("001")
                if f001 is not None:
                    report.identifier = (f001.data or "").strip() or None
                f245 = record.get("245")
                title = f245.get("a") if f245 is not None else None
                report.title = _PUNCT.sub("", title) if title else None
                report.findings = lint_record(record, result.warnings, min_confidence=min_confidence)
            yield report


def _check_rows(name: str, results: Iterator[ReadResult]) -> Iterator[RecordReport]:
    # A row is what import makes of it: its notes (an ISBN check digit, a year
    # that is not one, a language it does not know) or the reason it is not loaded.
    for result in results:
        report = RecordReport(name, result.position, result.location, error=result.error)
        record = result.record
        if isinstance(record, pymarc.Record):
            f001 = record.get("001")
            report.identifier = (f001.data or "").strip() or None if f001 is not None else None
            f245 = record.get("245")
            report.title = f245.get("a") if f245 is not None else None
        report.findings = reader_findings(result.warnings)
        yield report


def _summary(files: int, checked: int, bad: int, counts: Counter[str], severities: Counter[str]) -> dict:
    return {"files": files, "records": checked, "records_with_problems": bad,
            "errors": severities["error"], "warnings": severities["warning"],
            "by_code": dict(sorted(counts.items()))}


@main.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout, for machines.")
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help="JSON lines: one line per record with problems, then a summary line.")
@click.option("--source-encoding", type=click.Choice(SOURCE_ENCODINGS + ("leader",)), default="auto",
              show_default=True,
              help="Encoding of ISO 2709 field bytes: detected per file and field (auto), "
                   "named, or as leader/09 says (leader).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="How sure the detector must be to call a field legacy-encoding mojibake.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The files' format; detected from their content when not given.")
@click.option("--columns", "columns_path", type=ProfileParam("columns"), default=None,
              metavar="NAME|FILE",
              help="For CSV/XLSX files: the column mapping their import uses (default: "
                   "spreadsheet-vi, the usual Vietnamese headings).")
@click.option("--all", "show_all", is_flag=True, help="List clean records too (text output).")
def check_command(files: tuple[str, ...], as_json: bool, as_jsonl: bool, source_encoding: str,
                  min_confidence: float, fmt: str | None, columns_path: str | None,
                  show_all: bool) -> None:
    """Report structural and text problems in MARC, Dublin Core or spreadsheet FILES,
    record by record.

    \b
    MARC (ISO 2709, MARCXML): the leader, 001/008/245, indicators and
    subfield codes, repeated non-repeatable fields, empty subfields, ISBN/ISSN
    check digits, in the spirit of MARC::Lint.
    Dublin Core (oai_dc records, simple DC, an OAI-PMH response): no
    dc:title or dc:identifier, empty elements, elements DC 1.1 does not define,
    dc:date not W3CDTF (2015, 2015-05-01), dc:language not ISO 639 (vi, vie),
    ISBN/ISSN check digits in dc:identifier.
    Both: characters XML 1.0 forbids, text that is not NFC, and text in legacy
    Vietnamese encodings (TCVN3, VNI, VISCII, VPS, VIQR, Windows-1258).
    Spreadsheets (.csv, .xlsx): what their import would report, by row (no
    title, an ISBN check digit, a year or a language it cannot read,
    headings the column mapping does not know).
    Exit status: 0 nothing found, 1 problems found, 2 usage error.

    \b
    Examples:
      thuvien-interop check catalogue.mrc
      thuvien-interop check --json export/*.xml > report.json
      thuvien-interop check harvested-oai_dc.xml
      thuvien-interop check danh-muc-sach.xlsx
    """
    if as_json and as_jsonl:
        raise click.UsageError(say("check.json-or-jsonl"))
    mapping = None
    if columns_path:
        from ..profiles import read_toml

        try:
            data, where = read_toml(columns_path, "columns")
            mapping = ColumnMapping.from_dict(data, where)
        except ValueError as exc:  # a ProfileFileError or a MappingError
            raise click.UsageError(f"--columns {columns_path}: {exc}") from None
    encoding = None if source_encoding == "leader" else source_encoding
    counts: Counter[str] = Counter()
    severities: Counter[str] = Counter()
    checked = bad = 0
    listed: list[dict] = []
    for path in files:
        try:
            reports = check_file(path, encoding, min_confidence=min_confidence, fmt=fmt,
                                 mapping=mapping)
            for report in reports:
                checked += 1
                if report.error:
                    counts["unreadable"] += 1
                    severities["error"] += 1
                for f in report.findings:
                    counts[f.code] += 1
                    severities[f.severity] += 1
                if not report.ok:
                    bad += 1
                if as_json:
                    if not report.ok:
                        listed.append(report.as_dict())
                elif as_jsonl:
                    if not report.ok:
                        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
                elif show_all or not report.ok:
                    _print_report(report)
        except UnknownFormat as exc:
            raise click.UsageError(str(exc)) from None
    summary = _summary(len(files), checked, bad, counts, severities)
    if as_json:
        click.echo(json.dumps({"summary": summary, "records": listed}, ensure_ascii=False, indent=1))
    elif as_jsonl:
        click.echo(json.dumps({"summary": summary}, ensure_ascii=False))
    else:
        _print_summary(summary)
    raise SystemExit(1 if bad else 0)


def _print_report(report: RecordReport) -> None:
    head = say("check.record", file=report.file, position=report.position)
    if report.location:
        head += f" ({report.location})"
    if report.identifier:
        head += f", {report.identifier_label} {report.identifier}"
    if report.title:
        # Control characters would garble the terminal; show them escaped.
        title = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in report.title)
        head += f", “{title}”"
    click.echo(head)
    if report.error:
        click.echo(f"  {say('check.error'):<8} {say('check.unreadable', error=report.error)}")
    for f in report.findings:
        severity = say(f"check.{f.severity}") if f"check.{f.severity}" in MESSAGES else f.severity
        click.echo(f"  {severity:<8} {f}")
    if report.ok:
        click.echo(say("check.ok"))


def _print_summary(summary: dict) -> None:
    files = summary["files"]
    click.echo(say("check.summary", records=plural(summary["records"], "record"),
                   files=plural(files, "file"), bad=summary["records_with_problems"],
                   errors=plural(summary["errors"], "error"),
                   warnings=plural(summary["warnings"], "warning")))
    for code, n in sorted(summary["by_code"].items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {code:<24}{n:>7}")
