"""``thuvien-interop harvest``: harvest OAI-PMH providers into a store."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import threading
import time
from urllib.parse import urlsplit

import click

from ..model import ListQuery
from ..oai.harvest_http import PoliteClient
from ..oai.harvest_overview import ConsoleConfig, overview
from ..oai.harvest_sources import Source, SourcesError, load_sources
from ..oai.harvester import Harvester, HarvestResult, status_rows
from ..pipeline.items import kept_message
from . import main
from ._common import config_option, load_settings, open_or_fail, store_option


class _Board:
    """Progress on a terminal: one bar per provider being harvested (records so
    far, of completeListSize when the provider gives it, and the rate); a
    provider that finishes leaves one line above the bars. Log lines are
    written above the bars too. Silent when not a terminal."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.running: dict[str, tuple[int, int | None, float]] = {}
        self.drawn = 0
        self.lock = threading.RLock()

    def _width(self) -> int:
        return max(40, shutil.get_terminal_size((100, 20)).columns - 1)

    def _erase(self) -> None:
        if self.drawn:
            # Up to the first bar, then clear to the end of the screen.
            self.stream.write(f"\033[{self.drawn}F\033[J")
            self.drawn = 0

    def _draw(self) -> None:
        width = self._width()
        now = time.monotonic()
        for who, (n, size, started) in self.running.items():
            rate = n / (now - started) if now > started and n else 0.0
            speed = f" {rate:,.0f} rec/s" if rate else ""
            if size:
                bar = 20
                filled = min(bar, n * bar // max(size, 1))
                line = f"{who} [{'#' * filled}{'.' * (bar - filled)}] {n:,}/{size:,}{speed}"
            else:
                line = f"{who} {n:,} records{speed}"
            self.stream.write(line[:width] + "\n")
        self.drawn = len(self.running)
        self.stream.flush()

    def update(self, name: str, set_spec: str | None, done: int, total: int | None) -> None:
        if not self.live:
            return
        key = name if not set_spec else f"{name} ({set_spec})"
        with self.lock:
            started = self.running.get(key, (0, None, time.monotonic()))[2]
            self.running[key] = (done, total, started)
            self._erase()
            self._draw()

    def finished(self, result: HarvestResult) -> None:
        if not self.live:
            return
        with self.lock:
            for key in [k for k in self.running
                        if k == result.source.name or k.startswith(result.source.name + " (")]:
                del self.running[key]
            self._erase()
            n = result.added + result.updated + result.unchanged + result.deleted
            mark = "done" if result.ok else "FAILED"
            self.stream.write(f"{result.source.name}: {mark}, {n:,} records in "
                              f"{result.seconds:.1f} s\n")
            self._draw()

    def log(self, text: str) -> None:
        """Write a log line above the bars."""
        with self.lock:
            self._erase()
            self.stream.write(text + "\n")
            self._draw()

    def clear(self) -> None:
        if self.live:
            with self.lock:
                self._erase()
                self.running.clear()
                self.stream.flush()


class _BoardHandler(logging.Handler):
    """Log lines, written above the progress bars on a terminal."""

    def __init__(self, board: _Board, stream) -> None:
        super().__init__()
        self.board = board
        self.stream = stream
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if self.board.live:
                self.board.log(text)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()
        except Exception:  # noqa: BLE001 - logging must never stop a harvest
            self.handleError(record)


def _default_name(url: str) -> str:
    host = urlsplit(url).hostname or "provider"
    return re.sub(r"[^A-Za-z0-9\-_.]", "-", host)


def _summary(results: list[HarvestResult]) -> None:
    head = ("Provider", "Result", "Pages", "New", "Updated", "Unchanged", "Deleted",
            "Quarantined", "Requests", "Seconds")
    rows = [(r.source.name, "ok" if r.ok else "FAILED", r.pages, r.added, r.updated,
             r.unchanged, r.deleted, r.quarantined, r.requests, f"{r.seconds:.1f}")
            for r in results]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    click.echo(line.format(*head))
    for row in rows:
        click.echo(line.format(*row))
    kept = kept_message(sum(r.kept for r in results))
    if kept:
        click.echo(kept)
    for r in results:
        for err in r.errors:
            click.echo(f"{r.source.name}: {err}", err=True)


@main.command("harvest")
@click.argument("target", required=False, metavar="URL|status")
@store_option
@config_option
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False), default=None,
              help="A TOML file listing providers ([[provider]] name, url, prefix, sets, "
                   "delay, username, password_env); harvests them all.")
@click.option("--name", default=None,
              help="The provider's name in the union (set source:NAME); default: its host name.")
@click.option("--prefix", default="oai_dc", show_default=True,
              help="Metadata prefix to harvest (oai_dc or marc21 go through our crosswalks).")
@click.option("--set", "sets", multiple=True, metavar="SPEC",
              help="Harvest only this set (repeatable; each set is checkpointed on its own).")
@click.option("--from", "from_", default=None, metavar="DATE",
              help="Only records changed since DATE (default: since the last successful run).")
@click.option("--until", default=None, metavar="DATE", help="Only records changed until DATE.")
@click.option("--full", is_flag=True,
              help="Forget checkpoints and the last run's date: harvest everything again.")
@click.option("--by-identifier", is_flag=True,
              help="ListIdentifiers + GetRecord, for providers whose ListRecords keeps failing.")
@click.option("--delay", default=0.0, show_default=True, type=float,
              help="Seconds between two requests to the provider.")
@click.option("--workers", default=None, type=int,
              help="Providers harvested at once with --sources (default 4, or the file's "
                   "[harvest] workers). One request at a time per host whatever this says.")
@click.option("--retries", default=5, show_default=True, type=int,
              help="Retries of a request on timeouts, dropped connections and 5xx.")
@click.option("--timeout", default=120.0, show_default=True, type=float,
              help="Seconds to wait for a provider's answer.")
@click.option("--diagnostics", default="harvest-diagnostics", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for offending responses and quarantined records (one folder "
                   "per provider).")
@click.option("--skip-recent", default=0, show_default=True, type=int, metavar="SECONDS",
              help="Skip providers harvested successfully less than SECONDS ago: when several "
                   "machines run the same --sources list over one store, each provider is "
                   "harvested once per round.")
@click.option("--processes", default=0, show_default="one per core", type=int, metavar="N",
              help="Processes that convert harvested records (MARC and DC read, every format "
                   "rendered, search keys computed) and write them to the store, a page each, "
                   "while the next pages are fetched; 1 does everything in this process.")
@click.option("--replace", is_flag=True,
              help="A harvested Dublin Core record replaces the MARC record stored under its "
                   "identifier (by default the richer MARC record is kept, and the summary "
                   "says so).")
@click.option("--quiet", "-q", is_flag=True, help="Warnings and the summary only.")
@click.option("--json", "as_json", is_flag=True,
              help="With status: every provider as JSON (state, records, last run, errors, "
                   "quarantine, validation, alerts), as the harvest console shows them.")
def harvest(target: str | None, store_url: str | None, config_path: str | None,
            sources_file: str | None, name: str | None, prefix: str, sets: tuple[str, ...],
            from_: str | None, until: str | None, full: bool, by_identifier: bool, delay: float,
            workers: int | None, retries: int, timeout: float, diagnostics: str,
            skip_recent: int, processes: int, replace: bool, quiet: bool,
            as_json: bool) -> None:
    """Harvest OAI-PMH providers into a store, incrementally and resumably.

    \b
    One provider:
      thuvien-interop harvest https://thuvien.daklak.gov.vn/oai --prefix marc21 \\
          --store sqlite:///union.db
    Many providers (see docs/harvesting.md for the file):
      thuvien-interop harvest --sources providers.toml --store sqlite:///union.db
    What happened so far (exit status 1 when a provider is flagged: it failed
    [alerts] failed_runs runs in a row, or lost more than lost_percent % of its
    records in one run):
      thuvien-interop harvest status --store sqlite:///union.db
      thuvien-interop harvest status --json

    \b
    The next run asks only for what changed since the last successful one; an
    interrupted run goes on from the last committed page. Several harvesters
    (processes or machines) over one store share a --sources list by leasing
    providers: none is harvested twice at once. The exit status is 0 when every
    provider succeeded, 1 otherwise.
    """
    settings = load_settings(config_path, store_url)
    if target == "status":
        _status(settings.store, as_json, settings.console)
        return
    if bool(target) == bool(sources_file):
        raise click.UsageError("give a provider's base URL, or --sources FILE (not both)")
    try:
        if sources_file:
            sources, options = load_sources(sources_file)
            pool = workers or options.workers
        else:
            assert target is not None
            sources = [Source(name or _default_name(target), target, prefix=prefix,
                              sets=tuple(sets), delay=delay, from_=from_, until=until)]
            pool = 1
    except SourcesError as exc:
        raise click.UsageError(str(exc)) from None
    err = sys.stderr
    board = _Board(err) if not quiet else _Board(_NotATerminal())
    handler = _BoardHandler(board, err)
    logger = logging.getLogger("thuvien_interop.harvest")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    store = open_or_fail(settings.store)
    try:
        harvester = Harvester(store, client=PoliteClient(retries=retries, read_timeout=timeout),
                              diagnostics=diagnostics, progress=board.update,
                              processes=processes or None, on_result=board.finished,
                              index_profile=settings.sru.profile, replace=replace)
        try:
            results = harvester.harvest_many(sources, workers=pool, full=full,
                                             by_identifier=by_identifier or None,
                                             skip_recent=skip_recent)
        except KeyboardInterrupt:
            board.clear()
            click.echo("Interrupted. Every page received before is stored; run the same "
                       "command again to go on from there.", err=True)
            raise SystemExit(130) from None
        finally:
            harvester.close()
    finally:
        board.clear()
        logger.removeHandler(handler)
        store.close()
    _summary(results)
    if not all(r.ok for r in results):
        raise SystemExit(1)


class _NotATerminal:
    def isatty(self) -> bool:
        return False


def _status(store_url: str, as_json: bool = False, console: ConsoleConfig | None = None) -> None:
    console = console or ConsoleConfig()
    store = open_or_fail(store_url)
    try:
        rows = status_rows(store)
        watched = overview(store, console.alerts, console.diagnostics)
        if as_json:
            click.echo(json.dumps([w.as_dict() for w in watched], ensure_ascii=False, indent=2))
            rows = []
        elif not rows:
            click.echo("No harvests recorded in this store yet.")
            return
        head = ("Provider", "Last success", "Last run", "In store", "Added", "Deleted",
                "Quarantined", "Last error")
        table = [(s.name, s.last_success or "never", s.last_run or "-",
                  store.count(ListQuery(set=f"source:{s.name}")), s.added, s.deleted,
                  s.quarantined, (s.last_error or "")[:120]) for s in rows]
    finally:
        store.close()
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table, strict=False)]
    line = "  ".join(f"{{:<{w}}}" if i in (0, 1, 2, 7) else f"{{:>{w}}}"
                     for i, w in enumerate(widths))
    if rows:
        click.echo(line.format(*head).rstrip())
        for row in table:
            click.echo(line.format(*row).rstrip())
    flagged = [w for w in watched if w.alerts]
    for w in flagged:
        click.echo(f"ALERT {w.name}: {'; '.join(w.alerts)}", err=True)
    if flagged:
        raise SystemExit(1)
