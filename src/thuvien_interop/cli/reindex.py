"""``thuvien-interop reindex``: rebuild the search index of a store, or evaluate the
set rules again (``--sets``)."""

from __future__ import annotations

import click

from . import main
from ._common import (
    ProfileParam,
    config_option,
    echo_problems,
    load_settings,
    open_or_fail,
    plural,
    say,
    store_option,
)


@main.command()
@store_option
@config_option
@click.option("--profile", type=ProfileParam("sru-indexes"), default=None, metavar="NAME|FILE",
              help="The SRU index profile: the name of a shipped one (default sru-indexes; "
                   "`thuvien-interop profiles show sru-indexes` prints it to adapt) or the path "
                   "of your own TOML file. A file that exists wins over a name.")
@click.option("--sets", "sets", is_flag=True,
              help="Evaluate the [[sets]] rules of the settings file again over the stored "
                   "records instead: records whose sets change are restamped (harvesters see "
                   "them again), the others are left alone; sets no record is in any more "
                   "leave ListSets.")
def reindex(store_url: str | None, config_path: str | None, profile: str | None,
            sets: bool) -> None:
    """Recompute the SRU search index of every record (after changing the index
    profile, or for a store made before search existed). Records and their
    datestamps are not changed, so harvesters see nothing new.

    With --sets, evaluate the set rules again instead (after changing the
    [[sets]] tables of the settings file): no re-import is needed. Harvested
    and synced records keep the sets their source gave them.

    \b
    Examples:
      thuvien-interop reindex --store sqlite:///thuvien.db --profile my-indexes.toml
      thuvien-interop reindex --sets --config thuvien.toml
    """
    from ..sru.indexing import ProfileError, load_profile
    from ..sru.indexing import reindex as run

    settings = load_settings(config_path, store_url)
    if sets:
        if profile:
            raise click.UsageError(say("reindex.sets-not-profile"))
        _sets(settings)
        return
    try:
        prof = load_profile(profile) if profile else None
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from None
    store = open_or_fail(settings.store, settings)
    if not hasattr(store, "reindex"):
        raise click.ClickException(say("reindex.cannot"))
    try:
        n = run(store, prof)
    finally:
        store.close()
    click.echo(say("reindex.summary", records=plural(n, "record")))


def _sets(settings) -> None:
    from ..oai.setrules import SetRules
    from ..pipeline.sets import reevaluate

    try:
        rules = SetRules.from_config(settings.raw.get("sets"))
    except ValueError as exc:
        raise click.UsageError(say("settings.bad-sets", cause=exc)) from None
    store = open_or_fail(settings.store, settings)
    try:
        report = reevaluate(store, rules)
    finally:
        store.close()
    w = report.written
    click.echo(say("reindex.sets-summary", records=plural(report.read, "record"),
                   updated=w.updated, unchanged=w.unchanged))
    echo_problems("reindex.not-classified", report.rejected, 50)
    if report.rejected:
        raise SystemExit(1)
