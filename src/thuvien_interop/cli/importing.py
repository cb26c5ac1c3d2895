"""``thuvien-interop import``: load catalogue files into a store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..ingest.detect import FORMATS, UnknownFormat
from ..ingest.iso2709 import SOURCE_ENCODINGS
from ..ingest.loader import IdentifierRule
from ..oai.setrules import SetRules
from ..pipeline import Report
from ..pipeline.files import import_files
from ..pipeline.items import kept_message
from ..pipeline.sets import remember_rules
from ..store.base import Repository, StoreError
from . import main
from ._common import (
    ProfileParam,
    SettingParam,
    config_option,
    echo_problems,
    load_settings,
    mojibake_options,
    open_or_fail,
    plural,
    processes_option,
    progress_shown,
    replace_option,
    repository_id_type,
    say,
    stop_on_signals,
    stopped,
    stopped_writing,
    store_option,
)


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@store_option
@config_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The files' format; detected from their content when not given.")
@click.option("--repository-id", default=None, metavar="DOMAIN", type=repository_id_type,
              help="Namespace of the OAI identifiers oai:<DOMAIN>:<local id> "
                   "(default: from the settings file).")
@click.option("--id-field", default=None, metavar="TAG[$CODE]",
              type=SettingParam("import", "id_field", "TAG[$CODE]"),
              help="Where the local id is: 001 (default), or e.g. 035$a. For Dublin Core "
                   "files, the first dc:identifier.")
@click.option("--source-encoding", type=click.Choice(SOURCE_ENCODINGS), default=None,
              help="Encoding of ISO 2709 field bytes, for old exports whose leader/09 cannot be "
                   "trusted: tcvn3, vni, viscii, vps, viqr, windows-1258, utf-8, marc-8, or auto "
                   "(detect per file and per field; the guess and its confidence are listed in "
                   "the summary). Without it, records that say MARC-8 but cannot be are read as "
                   "the legacy encoding they surely are, and the summary says so.")
@mojibake_options
@click.option("--columns", "columns_path", type=ProfileParam("columns"), default=None,
              metavar="NAME|FILE",
              help="For CSV/XLSX files: a TOML column mapping, the path of your own file or the "
                   "name of a shipped one (default: spreadsheet-vi, the usual Vietnamese headings "
                   "such as 'Nhan đề', 'Tác giả'; `thuvien-interop profiles show spreadsheet-vi` "
                   "prints it to adapt). A file that exists wins over a name.")
@processes_option("Processes that render the records in every format, index them and write "
                  "them to the store, a batch each, while the file is read")
@replace_option()
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; the summary only.")
@click.option("--max-problems", default=50, show_default=True, type=click.IntRange(min=0),
              help="How many rejected/repaired records to list (all are counted).")
def import_command(files: tuple[str, ...], store_url: str | None, config_path: str | None,
                   fmt: str | None, repository_id: str | None, id_field: str | None,
                   source_encoding: str | None, repair_mojibake: bool, min_confidence: float,
                   columns_path: str | None, processes: int, replace: bool, quiet: bool,
                   max_problems: int) -> None:
    """Load MARC, Dublin Core or spreadsheet FILES into a store.

    Formats: ISO 2709 (.mrc, .dat; MARC-8 or UTF-8, or TCVN3, VNI, VISCII,
    VPS, VIQR or Windows-1258, found or named with --source-encoding), MARCXML
    (a collection or one record), oai_dc / simple Dublin Core XML, and
    spreadsheet catalogues (.csv, .xlsx) with a column mapping. A broken record is reported
    with its position and skipped (or repaired when that is safe); the records
    after it still load. Importing a record again updates it in place; a
    MARC record whose leader/05 is 'd' withdraws it (a deletion, as
    `thuvien-interop delete` does).

    \b
    Example:
      thuvien-interop import catalogue.mrc --store sqlite:///thuvien.db
    """
    settings = load_settings(config_path, store_url)
    store = open_or_fail(settings.store, settings)
    rule = IdentifierRule(repository_id or settings.oai.repository_identifier,
                          id_field or settings.id_field)
    total = sum(os.path.getsize(f) for f in files)
    try:
        sets = SetRules.from_config(settings.raw.get("sets"))
    except ValueError as exc:
        raise click.UsageError(say("settings.bad-sets", cause=exc)) from None
    encoding: dict = {"source_encoding": source_encoding,
                      "repair_mojibake": min_confidence if repair_mojibake else None,
                      "processes": processes or None, "replace": replace,
                      # the search keys the SRU server of these settings will query
                      "index_profile": settings.sru.profile}
    if columns_path:
        from ..ingest.spreadsheet import ColumnMapping
        from ..profiles import read_toml

        try:
            data, where = read_toml(columns_path, "columns")
            encoding["mapping"] = ColumnMapping.from_dict(data, where)
        except ValueError as exc:  # a ProfileFileError or a MappingError
            raise click.UsageError(f"--columns {columns_path}: {exc}") from None
    stopped_by: list[int] = []
    try:
        with stop_on_signals(stopped_by):
            report = _run_import(store, files, rule, fmt, sets, encoding, quiet, total)
    except UnknownFormat as exc:
        raise click.ClickException(str(exc)) from None
    except StoreError as exc:
        raise click.ClickException(stopped_writing("import", exc, say("import.go-on"))) from None
    except KeyboardInterrupt:
        stopped(stopped_by, say("import.interrupted"))
    finally:
        store.close()
    print_report(report, max_problems)
    if report.rejected:
        raise SystemExit(1)


def _run_import(store: Repository, files: tuple[str, ...], rule: IdentifierRule,
                fmt: str | None, sets: SetRules, encoding: dict, quiet: bool,
                total: int) -> Report:
    if not progress_shown(quiet):
        report = import_files(store, files, rule, fmt=fmt, classify=sets.classify, **encoding)
    else:
        records = 0

        def classify(source):
            # Once a record that goes to the store: the bar counts them.
            nonlocal records
            records += 1
            return sets.classify(source)

        with click.progressbar(length=total, label=say("import.progress"), show_percent=True,
                               show_eta=True, file=sys.stderr,
                               item_show_func=lambda _: plural(records, "record")) as bar:
            report = import_files(store, files, rule, fmt=fmt, classify=classify,
                                  progress=bar.update, **encoding)
            bar.render_progress()  # the last count: the file was read before its last records
    store.put_sets(sets.seen_sets())
    remember_rules(store, sets)  # what `reindex --sets` may replace later
    return report


def print_report(report: Report, max_problems: int = 50) -> None:
    w = report.written
    click.echo(say("import.summary", records=plural(report.read, "record"), added=w.added,
                   updated=w.updated, unchanged=w.unchanged, deleted=w.deleted,
                   rejected=len(report.rejected)))
    if report.kept:
        click.echo(kept_message(len(report.kept)))
    echo_problems("import.repaired", report.repaired, max_problems)
    echo_problems("import.rejected", report.rejected, max_problems)


def sample_files() -> list[Path]:
    """The sample catalogue shipped with the package."""
    folder = Path(__file__).resolve().parent.parent / "data" / "samples"
    return sorted(p for p in folder.iterdir() if p.suffix in (".mrc", ".xml") and
                  not p.name.endswith("-catalogue.xml"))
