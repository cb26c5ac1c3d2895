"""``thuvien-interop clusters``: what a union's clusters are, and why a record is in its own."""

from __future__ import annotations

import json

import click

from . import main
from ._common import config_option, load_settings, open_or_fail, plural, say, store_option


@main.command("clusters")
@store_option
@config_option
@click.option("--top", default=10, show_default=True, metavar="N",
              type=click.IntRange(0, 10_000), help="How many of the largest clusters to list.")
@click.option("--why", "why", metavar="RECORD", default=None,
              help="Why a record is in its cluster: its cluster's members, and for every "
                   "candidate its keys found, which key and which checks passed or failed.")
@click.option("--json", "as_json", is_flag=True,
              help='For scripts: one JSON object a line per cluster of two or more records, '
                   '{"cluster": "oai:…", "members": ["oai:…", …]} (with --why: the explanation '
                   "as one object).")
@click.option("--build", is_flag=True,
              help="Cluster every record of the store again, from its stored MARC (after "
                   "changing the [union] settings, or for a union harvested before clusters "
                   "existed). Each batch is one transaction; harvests may go on meanwhile.")
def clusters(store_url: str | None, config_path: str | None, top: int, why: str | None,
             as_json: bool, build: bool) -> None:
    """Show the clusters of a union catalogue: records of different providers that
    describe one edition. The pipeline keeps them up to date as records are
    harvested, imported, synced and deleted; a single library's store has none.

    \b
    Examples:
      thuvien-interop clusters --store postgresql://thuvien@localhost/union
      thuvien-interop clusters --why oai:thuvien-buonho.edu.vn:1234
      thuvien-interop clusters --json > clusters.jsonl
      thuvien-interop clusters --build --config thuvien.toml
    """
    from ..union.clusters import Clusterer, open_index, stored_config

    settings = load_settings(config_path, store_url)
    store = open_or_fail(settings.store, settings)
    try:
        index = open_index(store)
        if index is None:
            raise click.ClickException(say("clusters.none"))
        if build:
            from ..union.clusters import rebuild

            n = rebuild(store)
            click.echo(say("clusters.rebuilt", records=plural(n, "record")), err=as_json)
        if why is not None:
            explained = Clusterer(index, stored_config(store)).why(why)
            if explained.cluster is None and index.facts(why) is None:
                raise click.ClickException(
                    f"{why} is not clustered: no such record, deleted, or not from a provider "
                    "(only harvested records are clustered)")
            if as_json:
                click.echo(json.dumps(explained.to_dict(), ensure_ascii=False))
            else:
                click.echo("\n".join(explained.lines()))
            return
        if as_json:
            for cluster, members in index.iter_clusters(2):
                click.echo(json.dumps({"cluster": cluster, "members": members}, ensure_ascii=False))
            return
        counts = index.counts()
        click.echo(say("clusters.summary", records=plural(counts.records, "record"),
                       providers=plural(counts.providers, "provider"),
                       clusters=plural(counts.clusters, "cluster"),
                       clustered=plural(counts.clustered, "record")))
        largest = index.largest(top) if top else []
        if largest:
            click.echo(say("clusters.largest"))
        for cluster, size in largest:
            facts = index.facts(cluster)
            title = f"  {facts.title}" + (f" ({facts.year})" if facts.year else "") if facts else ""
            click.echo(f"  {cluster}  {plural(size, 'record')}{title}")
        if not stored_config(store).enabled:
            click.echo(say("clusters.off"))
    finally:
        store.close()
