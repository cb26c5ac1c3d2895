"""``thuvien-interop serve`` and ``demo``: publish a store over HTTP."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from ..ingest.loader import IdentifierRule, import_files
from ..oai.setrules import SetRules
from ..settings import Settings
from ..store.base import Repository
from . import main
from ._common import ProfileParam, config_option, load_settings, open_or_fail, store_option


def run_server(settings: Settings, host: str, port: int, threads: int, workers: int = 1,
               open_repository: Callable[[], Repository] | None = None) -> None:
    import waitress

    from ..web import create_app

    # A live source (serve --source) replaces the store; every worker opens its own.
    opener = open_repository or (lambda: open_or_fail(settings.store))
    store = opener()
    app = create_app(store, settings.oai, sru_config=settings.sru, console=settings.console)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    click.echo(f"OAI-PMH: http://{shown}:{port}/oai?verb=Identify")
    click.echo(f"SRU:     http://{shown}:{port}/sru  (tra cứu — open it in a browser)")
    if settings.console.enabled:
        click.echo(f"Console: http://{shown}:{port}/admin/harvest  (user {settings.console.user})")
    click.echo("Stop with Ctrl-C.")
    if workers > 1:
        from ..web.workers import serve_workers

        # The app above has migrated the store and stored the token secret once;
        # each worker opens its own store after the fork.
        store.close()
        serve_workers(lambda: create_app(opener(), settings.oai, sru_config=settings.sru,
                                         console=settings.console),
                      host, port, workers=workers, threads=threads, announce=click.echo)
        return
    # waitress drops X-Forwarded-* by default; behind a configured proxy it passes
    # them on and ProxyFix (create_app) reads exactly as many hops as trusted.
    waitress.serve(app, host=host, port=port, threads=threads, ident="thuvien-interop",
                   _quiet=True, clear_untrusted_proxy_headers=settings.oai.trusted_proxies == 0)


_host = click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on (0.0.0.0 for every interface).")
_port = click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
_threads = click.option("--threads", default=8, show_default=True, type=int,
                        help="Worker threads of the WSGI server (waitress).")
_workers = click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                        help="Server processes (gunicorn, on Linux when installed; elsewhere "
                             "waitress with workers × threads threads). Any worker continues "
                             "any resumption token; use a PostgreSQL store for many.")


@main.command()
@store_option
@config_option
@_host
@_port
@_threads
@_workers
@click.option("--source", "source_url", default=None, envvar="THUVIEN_SOURCE", metavar="URL",
              help="Serve a library's own database live instead of a store (a SQLAlchemy URL, "
                   "e.g. mysql+pymysql://user:pw@host/koha); needs --profile.")
@click.option("--profile", "profile_path", default=None, type=ProfileParam("source"),
              metavar="NAME|FILE",
              help="The source profile for --source: a shipped one by name (koha, generic-sql; "
                   "`thuvien-interop profiles` lists them) or the path of your own TOML file. "
                   "A file that exists wins over a name.")
def serve(store_url: str | None, config_path: str | None, host: str, port: int, threads: int,
          workers: int, source_url: str | None, profile_path: str | None) -> None:
    """Serve a store over OAI-PMH (at /oai) and SRU (at /sru) with a production WSGI server.

    \b
    Example:
      thuvien-interop serve --store sqlite:///thuvien.db --port 8000
      curl 'http://127.0.0.1:8000/oai?verb=ListRecords&metadataPrefix=oai_dc'
      thuvien-interop serve --store postgresql://thuvien@db/union --workers 4 --host 0.0.0.0
      thuvien-interop serve --source mysql+pymysql://oai:PW@127.0.0.1/koha --profile koha
    """
    settings = load_settings(config_path, store_url)
    opener = None
    if source_url or profile_path:
        if not (source_url and profile_path):
            raise click.UsageError("--source and --profile go together")
        from ..store.sqlsource import LiveSourceRepository
        from .sync import open_source

        def opener() -> Repository:
            return LiveSourceRepository(open_source(source_url, profile_path),
                                        settings.oai.repository_identifier)
    run_server(settings, host, port, threads, workers, opener)


def demo_store_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    folder = Path(base) / "thuvien-interop"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="thuvien-demo-"))
    return folder / "demo.db"


@main.command()
@_host
@_port
@_threads
@click.option("--store", "store_url", default=None, metavar="URL",
              help="Where to put the demo store (default: a file in your user data folder).")
@click.option("--no-serve", is_flag=True, help="Load the sample data and stop.")
def demo(host: str, port: int, threads: int, store_url: str | None, no_serve: bool) -> None:
    """Load the sample Vietnamese catalogue and serve it — the whole job in one command.

    \b
    Then open http://127.0.0.1:8000/oai?verb=ListRecords&metadataPrefix=oai_dc
    """
    from .importing import print_report, sample_files

    settings = Settings()
    settings.store = store_url or f"sqlite:///{demo_store_path()}"
    settings.oai.repository_name = "Thư viện mẫu thuvien-interop (demo)"
    store = open_or_fail(settings.store)
    click.echo(f"Demo store: {settings.store}")
    sets = SetRules.default()
    report = import_files(store, sample_files(), IdentifierRule(settings.oai.repository_identifier),
                          classify=sets.classify)
    store.put_sets(sets.seen_sets())
    store.close()
    print_report(report)
    if not no_serve:
        run_server(settings, host, port, threads)
