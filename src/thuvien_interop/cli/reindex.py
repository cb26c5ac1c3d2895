"""``thuvien-interop reindex``: rebuild the search index of a store."""

from __future__ import annotations

import click

from . import main
from ._common import ProfileParam, config_option, load_settings, open_or_fail, store_option


@main.command()
@store_option
@config_option
@click.option("--profile", type=ProfileParam("sru-indexes"), default=None, metavar="NAME|FILE",
              help="The SRU index profile: the name of a shipped one (default sru-indexes; "
                   "`thuvien-interop profiles show sru-indexes` prints it to adapt) or the path "
                   "of your own TOML file. A file that exists wins over a name.")
def reindex(store_url: str | None, config_path: str | None, profile: str | None) -> None:
    """Recompute the SRU search index of every record (after changing the index
    profile, or for a store made before search existed). Records and their
    datestamps are not changed, so harvesters see nothing new.

    \b
    Example:
      thuvien-interop reindex --store sqlite:///thuvien.db --profile my-indexes.toml
    """
    from ..sru.indexing import ProfileError, load_profile
    from ..sru.indexing import reindex as run

    settings = load_settings(config_path, store_url)
    try:
        prof = load_profile(profile) if profile else None
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from None
    store = open_or_fail(settings.store)
    if not hasattr(store, "reindex"):
        raise click.ClickException("this store cannot be reindexed")
    try:
        n = run(store, prof)
    finally:
        store.close()
    click.echo(f"Reindexed {n} records.")
