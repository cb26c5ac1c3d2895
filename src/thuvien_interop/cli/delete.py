"""``thuvien-interop delete``: withdraw records by hand."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from ._common import (
    config_option,
    echo_problems,
    load_settings,
    open_or_fail,
    plural,
    repository_id_type,
    say,
    store_option,
)


@main.command("delete")
@click.argument("identifiers", nargs=-1)
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False),
              default=None, metavar="FILE",
              help="Read the identifiers from FILE, one a line (blank lines and lines starting "
                   "with # are skipped).")
@store_option
@config_option
@click.option("--repository-id", default=None, metavar="DOMAIN", type=repository_id_type,
              help="Namespace of local ids given without oai:<DOMAIN>: (default: the "
                   "settings file).")
@click.option("--max-problems", default=50, show_default=True, type=click.IntRange(min=0),
              help="How many unknown identifiers to list (all are counted).")
def delete_command(identifiers: tuple[str, ...], from_file: str | None, store_url: str | None,
                   config_path: str | None, repository_id: str | None,
                   max_problems: int) -> None:
    """Withdraw records: each IDENTIFIER (an OAI identifier, or a local id such as
    the 001) becomes a deletion, which harvesters see at their next run (the
    identifier, datestamp and sets are kept; OAI-PMH persistent deletions).

    Identifiers the store does not hold are named; the exit status is then 1.

    \b
    Examples:
      thuvien-interop delete VN0012 VN0013 --store sqlite:///thuvien.db
      thuvien-interop delete --from-file withdrawn.txt --store sqlite:///thuvien.db
    """
    from ..ingest.loader import IdentifierRule
    from ..pipeline.withdraw import withdraw

    if not identifiers and not from_file:
        raise click.UsageError(say("delete.nothing-given"))
    settings = load_settings(config_path, store_url)
    rule = IdentifierRule(repository_id or settings.oai.repository_identifier)

    def full(text: str) -> str:
        return text if text.startswith("oai:") else rule.identifier(text)

    pairs = [(f"argument {i}", full(v.strip())) for i, v in enumerate(identifiers, 1)
             if v.strip()]
    name = ""
    if from_file:
        name = Path(from_file).name
        try:
            lines = Path(from_file).read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(say("delete.unreadable", path=from_file, cause=exc)) from None
        pairs += [(f"line {n}", full(line.strip())) for n, line in enumerate(lines, 1)
                  if line.strip() and not line.lstrip().startswith("#")]
    store = open_or_fail(settings.store, settings)
    try:
        report = withdraw(store, pairs, name=name)
    finally:
        store.close()
    w = report.written
    click.echo(say("delete.summary", records=plural(w.deleted, "record"),
                   already=say("delete.already", n=w.unchanged) if w.unchanged else "",
                   unknown=say("delete.unknown-count", n=len(report.rejected))
                   if report.rejected else ""))
    echo_problems("delete.unknown", report.rejected, max_problems)
    if report.rejected:
        raise SystemExit(1)
