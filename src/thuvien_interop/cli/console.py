"""``thuvien-interop console-password``: the lines of the settings file that turn
the harvest console on, with the password hashed."""

from __future__ import annotations

import click

from ..wording import say
from . import main


@main.command("console-password")
@click.option("--user", default="admin", show_default=True, help="The console's user name.")
@click.password_option("--password", help="The password (asked for when not given).")
def console_password(user: str, password: str) -> None:
    """Print a [console] table for the settings file: the harvest console
    (/admin/harvest of `serve`) on, behind this user and password.

    \b
    Example:
      thuvien-interop console-password --user thuvien >> thuvien-interop.toml
    """
    from werkzeug.security import generate_password_hash

    if len(password) < 8:
        raise click.UsageError(say("console.short-password"))
    click.echo("[console]")
    click.echo("enabled = true")
    click.echo(f'user = "{user}"')
    click.echo(f'password_hash = "{generate_password_hash(password)}"')
