"""``thuvien-interop sync``: copy what changed in a library's database into a store."""

from __future__ import annotations

import click

from ..store.base import StoreError
from . import main
from ._common import (
    ProfileParam,
    config_option,
    echo_problems,
    load_settings,
    open_or_fail,
    plural,
    processes_option,
    repository_id_type,
    say,
    stop_on_signals,
    stopped,
    stopped_writing,
    store_option,
)

profile_option = click.option(
    "--profile", "profile_path", required=True, type=ProfileParam("source"), metavar="NAME|FILE",
    help="The source profile: the name of a shipped one (koha, generic-sql; `thuvien-interop "
         "profiles` lists them) or the path of your own TOML file, e.g. an edited copy of "
         "generic-sql. A file that exists wins over a name.")
source_option = click.option(
    "--source", "source_url", required=True, envvar="THUVIEN_SOURCE", metavar="URL",
    help="The library's database as a SQLAlchemy URL, e.g. "
         "mysql+pymysql://user:pw@host/koha (or $THUVIEN_SOURCE, which keeps the "
         "password out of the process list).")


def open_source(source_url: str, profile_path: str):
    """A SQLSource, or a message a person can act on. ``profile_path`` is a file or
    the name of a shipped profile."""
    from ..store.base import StoreError
    from ..store.profile import SourceProfile
    from ..store.sqlsource import SQLSource

    try:
        return SQLSource(source_url, SourceProfile.load(profile_path))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@profile_option
@source_option
@store_option
@config_option
@click.option("--repository-id", default=None, metavar="DOMAIN", type=repository_id_type,
              help="Namespace of the identifiers oai:<DOMAIN>:<id> (default: the settings file).")
@click.option("--full", is_flag=True,
              help="Read everything again, and mark deleted the records that vanished from "
                   "the source without a deletion row.")
@click.option("--overlap", default=300, show_default=True, type=click.IntRange(min=0), metavar="SECONDS",
              help="Re-read this much before the last mark, for transactions that committed late.")
@processes_option("Processes that render the records in every format, index them and write "
                  "them to the store, a batch each, while the source is read", default=1)
@click.option("--name", default=None, metavar="NAME",
              help="What the store knows this source by: its records and its high-water mark "
                   "are kept under it (default: the profile's name). Give each database "
                   "synced into one store a name of its own; it stays the same source when "
                   "its URL changes.")
@click.option("--max-problems", default=50, show_default=True, type=click.IntRange(min=0),
              help="How many unreadable records to list (all are counted).")
def sync(profile_path: str, source_url: str, store_url: str | None, config_path: str | None,
         repository_id: str | None, full: bool, overlap: int, processes: int,
         name: str | None, max_problems: int) -> None:
    """Copy records changed since the last sync (and deletions) into a store.

    Idempotent: run it as often as you like, from cron, a systemd timer or the
    Windows Task Scheduler (see docs/sources.md). The high-water mark is kept in
    the store, one per source.

    \b
    Example:
      thuvien-interop sync --profile koha \\
          --source mysql+pymysql://oai:PASSWORD@127.0.0.1/koha_library \\
          --store sqlite:///thuvien.db
    """
    from .. import dates
    from ..pipeline.sources import sync as run_sync

    settings = load_settings(config_path, store_url)
    source = open_source(source_url, profile_path)
    store = open_or_fail(settings.store, settings)
    repo_id = repository_id or settings.oai.repository_identifier
    stopped_by: list[int] = []
    try:
        with stop_on_signals(stopped_by):
            report = run_sync(source, store, repo_id, full=full, overlap=overlap, name=name,
                              index_profile=settings.sru.profile, processes=processes or None)
    except click.ClickException:
        raise
    except StoreError as exc:
        line = stopped_writing("sync", exc, say("sync.go-on"))
        raise click.ClickException(line.replace(source_url, source.safe_url)) from None
    except KeyboardInterrupt:
        stopped(stopped_by, say("sync.interrupted"))
    except Exception as exc:  # noqa: BLE001 - shown to the operator, with the URL hidden
        message = str(exc).replace(source_url, source.safe_url).split("\n")[0]
        raise click.ClickException(say("sync.unreadable-source", url=source.safe_url,
                                       profile=profile_path, cause=message)) from None
    finally:
        source.close()
        store.close()
    w = report.written
    unreadable = [p for p in report.rejected if p.code != "collision"]
    refused = [p for p in report.rejected if p.code == "collision"]
    since = say("sync.beginning") if report.since is None else dates.format_utc(report.since)
    click.echo(say("sync.source", url=source.safe_url, profile=source.profile.name, since=since))
    click.echo(say("sync.summary", rows=plural(report.read, "row"), added=w.added,
                   updated=w.updated, unchanged=w.unchanged, deleted=w.deleted,
                   unreadable=len(unreadable),
                   refused=say("sync.refused", n=len(refused)) if refused else "",
                   sets=plural(report.sets, "set")))
    if report.mark is not None:
        click.echo(say("sync.next", date=dates.format_utc(max(0, report.mark - overlap))))
    echo_problems("sync.unreadable", unreadable, max_problems)
    echo_problems("collision", refused, max_problems)
