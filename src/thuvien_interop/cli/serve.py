"""``thuvien-interop serve`` and ``demo``: publish a store over HTTP."""

from __future__ import annotations

import errno
import logging
import re
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click

from ..ingest.loader import IdentifierRule, import_files
from ..oai.setrules import SetRules
from ..settings import Settings
from ..store.base import Repository
from . import main
from ._common import (
    ProfileParam,
    config_option,
    load_settings,
    open_or_fail,
    plural,
    say,
    store_option,
)

# socket.create_server re-raises a name that does not resolve as a plain OSError
# carrying getaddrinfo's code, not as a gaierror.
_NOT_AN_ADDRESS = {errno.EADDRNOTAVAIL, socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None),
                   getattr(socket, "EAI_ADDRFAMILY", None)} - {None}


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, or one line saying why not and what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = say("serve.port-busy", port=port, host=host, next=port + 1)
        elif exc.errno == errno.EACCES:
            why = say("serve.port-privileged", port=port)
        elif isinstance(exc, socket.gaierror) or exc.errno in _NOT_AN_ADDRESS:
            why = say("serve.not-an-address", host=host)
        else:
            why = say("serve.cannot-listen", host=host, port=port, cause=exc.strerror or exc)
        raise click.ClickException(why) from None


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^/:@]+:)[^/@]*@", r"\1***@", url)


def access_log_stream(where: str) -> IO[str] | None:
    """Where ``--access-log`` writes: a file (appended to), ``-`` (this terminal), or
    ``off`` (nowhere: None)."""
    if where == "off":
        return None
    if where == "-":
        return sys.stdout
    try:
        return open(where, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - the server's life
    except OSError as exc:
        raise click.ClickException(say("serve.access-log-unwritable", where=where,
                                       cause=exc.strerror or exc)) from None


def run_server(settings: Settings, host: str, port: int, threads: int, workers: int = 1,
               open_repository: Callable[[], Repository] | None = None, *,
               access_log: str = "-", sock: socket.socket | None = None,
               served: str | None = None, libraries: dict | None = None) -> None:
    """Serve until stopped: listen (or use ``sock``), say what is served, log requests.

    ``open_repository`` opens what is served (a live source, for serve --source;
    default: the settings' store), once here and once in every worker process;
    ``served`` names it in the start-up lines (default: the store URL);
    ``libraries``: a union's libraries (provider name → ``Library``), for its pages.
    """
    import waitress.server

    from ..web import create_app
    from ..web.accesslog import AccessLog
    from ..web.oai import can_search
    from ..web.workers import gunicorn_available, serve_workers

    opener = open_repository or (lambda: open_or_fail(settings.store))
    access_log_stream(access_log)  # a log that cannot be written stops us before we listen
    store = opener()

    def logged(app):
        stream = access_log_stream(access_log)
        if stream is not None:
            # Inside ProxyFix's changes (it edits the environ in place): a proxied
            # harvester is logged by its own address when the proxy is trusted.
            app.wsgi_app = AccessLog(app.wsgi_app, stream)
        return app

    def make_app(repository: Repository):
        return create_app(repository, settings.oai, sru_config=settings.sru, console=settings.console,
                          libraries=libraries, clusters=_clusters(repository, libraries))

    app = make_app(store)
    info = store.info()
    searchable = can_search(store)
    sock = sock or listen(host, port)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    root = f"http://{shown}:{sock.getsockname()[1]}"
    c = settings.oai
    click.echo(say("serve.serving", name=c.repository_name, identifier=c.repository_identifier))
    click.echo(say("serve.source" if served else "serve.store",
                   store=served or _hide_password(settings.store),
                   records=plural(info.record_count, "record"),
                   deleted=say("serve.deleted", n=info.deleted_count) if info.deleted_count else ""))
    click.echo(say("serve.oai", root=root))
    if searchable:
        click.echo(say("serve.search", root=root))
        click.echo(say("serve.sru", root=root))
        if libraries:
            click.echo(say("serve.libraries", n=len(libraries)))
    else:
        click.echo(say("serve.no-sru"))
    if workers > 1 and gunicorn_available():
        click.echo(say("serve.workers-gunicorn", workers=workers, threads=threads))
    elif workers > 1:
        click.echo(say("serve.workers-no-gunicorn", threads=workers * threads))
    else:
        click.echo(say("serve.workers-waitress", threads=threads))
    if settings.console.enabled:
        click.echo(say("serve.console", root=root, user=settings.console.user))
    log_to = ({"-": say("serve.log-here"), "off": say("serve.log-off")}
              .get(access_log, access_log))
    click.echo(say("serve.access-log", where=log_to))
    click.echo(say("serve.stop-with"))
    if workers > 1:
        # The app above has migrated the store and stored the token secret once;
        # each worker opens its own store after the fork.
        store.close()
        serve_workers(lambda: logged(make_app(opener())),
                      host, port, workers=workers, threads=threads, sock=sock)
        return
    # waitress drops X-Forwarded-* by default; behind a configured proxy it passes
    # them on and ProxyFix (create_app) reads exactly as many hops as trusted.
    # waitress warns "Task queue depth is 1" whenever a request waits a moment for a
    # thread, which says nothing useful to a librarian; real errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = waitress.server.create_server(
        logged(app), sockets=[sock], threads=threads, ident="thuvien-interop",
        clear_untrusted_proxy_headers=settings.oai.trusted_proxies == 0)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo(say("serve.stopped"))
    finally:
        server.close()


def _clusters(repository: Repository, libraries: dict | None):
    """The clusters a union's store keeps, for its pages (none for one library's)."""
    if not libraries:
        return None
    try:
        from ..union.clusters import open_index  # type: ignore[attr-defined]
    except ImportError:
        return None
    return open_index(repository)


def libraries_from(path: str | None) -> dict | None:
    """The libraries of a providers file (``[provider.library]``), or one line
    saying what is wrong with it."""
    if path is None:
        return None
    from ..oai.harvest_sources import SourcesError, load_sources
    from ..union.holdings import libraries_of

    try:
        sources, _ = load_sources(path)
        return libraries_of(sources)
    except (SourcesError, ValueError) as exc:
        raise click.ClickException(say("serve.bad-providers", cause=exc)) from None


_host = click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on (0.0.0.0 for every interface).")
_port = click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
                     help="TCP port (0: any free one, said at start-up).")
_threads = click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1),
                        help="Worker threads of the WSGI server (waitress).")
_access_log = click.option(
    "--access-log", default="-", show_default=True, metavar="FILE|-|off",
    help="One line a request, in the combined log format (Apache, nginx): appended to FILE, "
         "written here (-), or off.")
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
@click.option("--providers", "providers_path", default=None, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="A union catalogue's providers file (the harvest's): each library's name, "
                   "province and kind, for the search page's facets and the record pages' holdings.")
@_access_log
def serve(store_url: str | None, config_path: str | None, host: str, port: int, threads: int,
          workers: int, source_url: str | None, profile_path: str | None,
          providers_path: str | None, access_log: str) -> None:
    """Serve a store over OAI-PMH (at /oai) and SRU (at /sru) with a production WSGI server.

    \b
    Example:
      thuvien-interop serve --store sqlite:///thuvien.db --port 8000
      curl 'http://127.0.0.1:8000/oai?verb=Identify'
      thuvien-interop serve --store postgresql://thuvien@db/union --workers 4 --host 0.0.0.0
      thuvien-interop serve --source mysql+pymysql://oai:PW@127.0.0.1/koha --profile koha
      thuvien-interop serve --store postgresql://thuvien@db/union --providers providers.toml
    """
    settings = load_settings(config_path, store_url)
    libraries = libraries_from(providers_path)
    opener = None
    served = None
    if source_url or profile_path:
        if not (source_url and profile_path):
            raise click.UsageError(say("serve.source-and-profile"))
        from ..store.sqlsource import LiveSourceRepository
        from .sync import open_source

        def opener() -> Repository:
            return LiveSourceRepository(open_source(source_url, profile_path),
                                        settings.oai.repository_identifier)
        served = f"{_hide_password(source_url)} (read live, profile {profile_path})"
    run_server(settings, host, port, threads, workers, opener, access_log=access_log,
               served=served, libraries=libraries)


def demo_store_path() -> Path:
    from ..paths import user_data_dir

    folder = user_data_dir()
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
@_access_log
def demo(host: str, port: int, threads: int, store_url: str | None, no_serve: bool,
         access_log: str) -> None:
    """Load the sample Vietnamese catalogue and serve it — the whole job in one command.

    The server keeps this terminal until you stop it with Ctrl-C; use another
    terminal (or a browser) meanwhile.

    \b
    Examples:
      thuvien-interop demo
      thuvien-interop demo --host 0.0.0.0 --port 8080   # phones on the same network too
    Then open (on the default port)
      http://127.0.0.1:8000/oai?verb=ListRecords&metadataPrefix=oai_dc  the records
      http://127.0.0.1:8000/sru                                        the search page
    """
    from .importing import print_report, sample_files

    settings = Settings()
    settings.store = store_url or f"sqlite:///{demo_store_path()}"
    settings.oai.repository_name = "Thư viện mẫu thuvien-interop (demo)"
    # The port first: a busy one is said before the import, not after it.
    sock = None if no_serve else listen(host, port)
    store = open_or_fail(settings.store)
    click.echo(say("demo.store", store=settings.store))
    sets = SetRules.default()
    report = import_files(store, sample_files(), IdentifierRule(settings.oai.repository_identifier),
                          classify=sets.classify)
    store.put_sets(sets.seen_sets())
    store.close()
    print_report(report)
    if sock is not None:
        run_server(settings, host, port, threads, access_log=access_log, sock=sock)
