"""``thuvien-interop search``: query any SRU server and print what it finds."""

from __future__ import annotations

import json

import click

from . import main
from ._common import HttpURL, plural, say


@main.command()
@click.argument("url", type=HttpURL("http://127.0.0.1:8000/sru"))
@click.argument("query", nargs=-1, required=True)
@click.option("--schema", default="dc", show_default=True,
              help="Record schema to ask for: dc, marcxml, mods (or a schema URI).")
@click.option("--max", "limit", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many records to print (pages are fetched as needed).")
@click.option("--version", "sru_version", default="1.2", show_default=True,
              type=click.Choice(["1.1", "1.2", "2.0"]), help="SRU version to speak.")
@click.option("--cql", "strict", is_flag=True,
              help="The query must be CQL: no reading of plain words.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def search(url: str, query: tuple[str, ...], schema: str, limit: int, sru_version: str,
           strict: bool, as_json: bool) -> None:
    """Search the SRU server at URL for QUERY: plain words, or CQL.

    Words that are not CQL are looked for all together in any field (with or
    without diacritics: Ha Noi finds Hà Nội); the command says when it read them
    so. CQL is run as it is.

    \b
    Examples:
      thuvien-interop search http://127.0.0.1:8000/sru Ha Noi
      thuvien-interop search http://127.0.0.1:8000/sru 'dc.title = "Hà Nội" and dc.date >= 2000'
      thuvien-interop search http://127.0.0.1:8000/sru 'dc.creator = nguyen*' --json
    """
    import requests

    from ..oai.harvest_http import describe_failure
    from ..sru.client import Client, SRUError

    text = " ".join(query)
    client = Client(url, version=sru_version)
    results = client.search(text, schema=schema, page_size=min(max(limit, 1), 50), limit=limit,
                            plain_words=not strict)
    if results.read_as_words is not None:
        click.echo(say("search.read-as-words", text=text, why=results.read_as_words,
                       query=results.query), err=True)
    shown = 0
    try:
        for record in results:
            shown += 1
            if as_json:
                click.echo(json.dumps(_as_dict(record), ensure_ascii=False))
            else:
                _print(record)
    except SRUError as exc:
        raise click.ClickException(str(exc)) from None
    except requests.RequestException as exc:
        what, hint = describe_failure(exc)
        raise click.ClickException(say("search.cannot", url=url, what=what)
                                   + (f". {hint[0].upper()}{hint[1:]}" if hint else "")
                                   + ("" if hint.endswith(("?", ".")) else ".")) from None
    if not as_json:
        found = (plural(results.total, "record") if results.total is not None
                 else say("search.unknown-total"))
        click.echo(say("search.found", found=found, shown=shown), err=True)


def _as_dict(record) -> dict:
    out: dict = {"position": record.position, "schema": record.schema}
    if record.diagnostic is not None:
        out["diagnostic"] = str(record.diagnostic)
        return out
    dc = {}
    for name in ("title", "creator", "subject", "publisher", "date", "identifier", "type", "language"):
        values = record.values(name)
        if values:
            dc[name] = values
    if dc:
        out["dc"] = dc
    else:
        out["xml"] = record.xml.decode("utf-8")
    return out


def _print(record) -> None:
    if record.diagnostic is not None:
        click.echo(f"{record.position}. [{record.diagnostic}]")
        return
    titles = record.values("title")
    if titles:
        click.echo(f"{record.position}. {titles[0]}")
        for name in ("creator", "date", "subject", "identifier"):
            values = record.values(name)
            if values:
                click.echo(say(f"search.{name}", values="; ".join(values[:3])))
    else:
        click.echo(f"{record.position}. ({record.schema})")
        click.echo("    " + record.xml.decode("utf-8")[:500])
