"""``thuvien-interop reindex``: rebuild the search index of a store."""

from __future__ import annotations

import click

from . import main
from ._common import config_option, load_settings, open_or_fail, store_option


@main.command()
@store_option
@config_option
@click.option("--profile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An SRU index profile (TOML; default: the shipped profiles/sru-indexes.toml).")
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
