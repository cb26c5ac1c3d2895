"""``thuvien-interop validate URL``: is an OAI-PMH provider compliant? Checked
before the first harvest, and again from the harvest console."""

from __future__ import annotations

from pathlib import Path

import click

from ..validate import Options, validate
from ..validate.history import save_validation
from . import main
from ._common import HttpURL, config_option, load_settings, open_or_fail, say, store_option


@main.command("validate")
@click.argument("url", metavar="URL", type=HttpURL("https://thuvien.daklak.gov.vn/oai"))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for machines).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True), default=None,
              metavar="FILE", help="Also write the report as an HTML page to FILE.")
@click.option("--verbose", "-v", is_flag=True, help="List the checks that passed too.")
@click.option("--delay", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between two requests to the provider.")
@click.option("--max-requests", default=300, show_default=True, type=click.IntRange(min=5),
              help="The most requests the run makes (checks it cannot afford are not made).")
@click.option("--list-pages", default=20, show_default=True, type=click.IntRange(min=1),
              help="Pages of a list followed to its end; a longer list is only sampled.")
@click.option("--timeout", default=60.0, show_default=True, type=float,
              help="Seconds to wait for one answer.")
@click.option("--name", default=None,
              help="Keep the result in the store for the harvest console, under this "
                   "provider's name (with --store or the settings' store).")
@store_option
@config_option
def validate_command(url: str, as_json: bool, html_file: str | None, verbose: bool, delay: float,
                     max_requests: int, list_pages: int, timeout: float, name: str | None,
                     store_url: str | None, config_path: str | None) -> None:
    """Check an OAI-PMH provider the way the registration validator and OVAL do,
    and more: every verb and its error codes, both granularities, UTC datestamps,
    schema validity of every response, resumption tokens followed to the end
    (and their lifetime), deletions, sets, Dublin Core and MARC quality, gzip,
    503 Retry-After and response times.

    \b
    Examples:
      thuvien-interop validate https://thuvien.daklak.gov.vn/oai
      thuvien-interop validate https://thuvien.daklak.gov.vn/oai --html report.html
      thuvien-interop validate http://127.0.0.1:8000/oai --delay 0 --json
      thuvien-interop validate https://thuvien.daklak.gov.vn/oai --name daklak \\
          --store sqlite:///union.db            # shown on the harvest console

    \b
    The exit status is 0 when the provider is compliant (warnings allowed), 1
    when it is not.
    """
    # The settings and the store first: a wrong one is said before a long run, not after.
    settings = load_settings(config_path, store_url)
    store = open_or_fail(settings.store) if name else None
    try:
        # Said in the command's language: the findings, the text, the --html page (its
        # <html lang>) and what the console keeps (--name).
        report = validate(url, Options(delay=delay, max_requests=max_requests,
                                       list_pages=list_pages, timeout=timeout))
        if html_file:
            try:
                Path(html_file).write_text(report.to_html(), encoding="utf-8")
            except OSError as exc:
                raise click.ClickException(say("cannot-write", path=html_file,
                                               cause=exc.strerror)) from None
        if store is not None:
            save_validation(store, name, report)
    finally:
        if store is not None:
            store.close()
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(report.to_text(verbose=verbose), nl=False)
    if not report.compliant:
        raise SystemExit(1)
