"""``thuvien-interop profiles``: the profiles shipped with the package, and one printed to adapt."""

from __future__ import annotations

import click

from ..profiles import KINDS, ProfileFileError, shipped_folder, shipped_profile, shipped_profiles
from ..wording import say
from . import main

# Where each kind of profile is used, shown above its names.
_USED_BY = {
    "source": "serve --source URL --profile NAME, sync --profile NAME",
    "columns": "import FILE.csv --columns NAME",
    "crosswalk": 'Python: thuvien_interop.crosswalk.profile.load_profile("NAME")',
    "sru-indexes": "SRU search, import, harvest and sync unless the settings file's [sru] "
                   "profile names another; reindex --profile NAME",
}


@main.group(invoke_without_command=True)
@click.pass_context
def profiles(ctx: click.Context) -> None:
    """List the profiles shipped with thuvien-interop, or print one (show NAME).

    A profile is a TOML file that says how to read a library system's database,
    a spreadsheet's headings, or how to tune the crosswalks. Every --profile and
    --columns option takes a shipped profile's name or the path of your own
    file; a file that exists wins over a name. The shipped files are the
    folder profiles/ of the source repository (installed with the package).

    \b
    Example:
      thuvien-interop profiles
      thuvien-interop profiles show koha > my-koha.toml
      thuvien-interop sync --profile my-koha.toml --source URL --store sqlite:///thuvien.db
    """
    if ctx.invoked_subcommand is not None:
        return
    shipped = shipped_profiles()
    width = max(len(p.name) for p in shipped)
    for kind in KINDS:
        of_kind = [p for p in shipped if p.kind == kind]
        if not of_kind:
            continue
        click.echo(say(f"profiles.{kind}", used_by=_USED_BY[kind]))
        for p in of_kind:
            click.echo(f"  {p.name:<{width}}  {p.description}")
    click.echo("\n" + say("profiles.folder", folder=shipped_folder()))
    click.echo(say("profiles.adapt"))


@profiles.command()
@click.argument("name")
def show(name: str) -> None:
    """Print the shipped profile NAME (profiles/NAME.toml of the source repository),
    to copy into a file of your own.

    \b
    Example:
      thuvien-interop profiles show generic-sql > my-library.toml
    """
    try:
        profile = shipped_profile(name)
    except ProfileFileError as exc:
        raise click.ClickException(str(exc)) from None
    # The file's own bytes (UTF-8; click writes bytes as they are), whatever the
    # console's code page, so that a redirected copy on Windows keeps its Vietnamese text.
    click.echo(profile.resource.read_bytes(), nl=False)
