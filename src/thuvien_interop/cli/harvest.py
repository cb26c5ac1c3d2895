"""``thuvien-interop harvest``: harvest OAI-PMH providers into a store."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import threading
import time
from collections.abc import Collection
from urllib.parse import urlsplit

import click

from ..model import ListQuery
from ..oai.harvest_http import PoliteClient
from ..oai.harvest_lease import DEFAULT_LEASE, MIN_LEASE, Holder
from ..oai.harvest_overview import ConsoleConfig, overview
from ..oai.harvest_sources import Source, SourcesError, load_sources
from ..oai.harvester import DEFAULT, MAX_PAGES, Harvester, HarvestResult, status_rows
from ..pipeline.items import kept_message
from ..wording import language, number, speaking
from . import main
from ._common import (
    config_option,
    load_settings,
    open_or_fail,
    plural,
    processes_option,
    replace_option,
    say,
    stop_on_signals,
    stopped,
    store_option,
)


class _Bar:
    """One list's progress. The rate counts only what this run received since its
    first page (a resumed list starts at the records of the runs before)."""

    __slots__ = ("done", "total", "first", "since")

    def __init__(self, done: int, total: int | None, now: float) -> None:
        self.done = done
        self.total = total
        self.first = done
        self.since = now

    def rate(self, now: float) -> float | None:
        """Records a second, once there is a second of this run to measure."""
        if now - self.since < 1.0 or self.done <= self.first:
            return None
        return (self.done - self.first) / (now - self.since)

    def line(self, who: str, now: float) -> str:
        rate = self.rate(now)
        speed = say("harvest.rate", rate=rate) if rate else ""
        if self.total:
            width = 20
            filled = min(width, self.done * width // max(self.total, 1))
            left = ""
            if rate and self.total > self.done:
                left = say("harvest.left", duration=_duration((self.total - self.done) / rate))
            return (f"{who} [{'#' * filled}{'.' * (width - filled)}] "
                    f"{number(self.done)}/{number(self.total)}{speed}{left}")
        return say("harvest.count", who=who, records=plural(self.done, "record"), speed=speed)


def _duration(seconds: float) -> str:
    """``about 40 s``, ``about 12 min``, ``about 3 h 10 min``."""
    if seconds < 60:
        return say("harvest.seconds", n=max(1, round(seconds)))
    minutes = round(seconds / 60)
    if minutes < 60:
        return say("harvest.minutes", n=minutes)
    return say("harvest.hours", h=minutes // 60, m=minutes % 60)


class _Board:
    """Progress on a terminal: one bar per provider being harvested (records so
    far, of completeListSize when the provider gives it, the rate and the time
    left); a provider that finishes leaves one line above the bars. Log lines are
    written above the bars too. Silent when not a terminal."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.running: dict[str, _Bar] = {}
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
        for who, bar in self.running.items():
            self.stream.write(bar.line(who, now)[:width] + "\n")
        self.drawn = len(self.running)
        self.stream.flush()

    def update(self, name: str, set_spec: str | None, done: int, total: int | None) -> None:
        if not self.live:
            return
        key = name if not set_spec else f"{name} ({set_spec})"
        with self.lock:
            bar = self.running.get(key)
            if bar is None:
                # The first update comes after the first page: the rate is measured
                # from there, never from a page that took no time to count.
                self.running[key] = _Bar(done, total, time.monotonic())
            else:
                bar.done, bar.total = done, total
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
            if result.held_by is None:
                mark = {"FAILED": say("harvest.failed"),
                        "interrupted": say("harvest.interrupted-mark")}.get(
                    _outcome(result), say("harvest.done"))
                self.stream.write(say("harvest.finished", name=result.source.name, mark=mark,
                                      records=plural(result.records, "record"),
                                      seconds=result.seconds) + "\n")
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
        # Said in the command's language, from whichever thread logs.
        self.language = language()
        self.board = board
        self.stream = stream
        self.errors_shown: set[str] = set()
        """Errors already written, which the summary does not write again."""
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with speaking(self.language):
                text = self.format(record)
            if record.levelno >= logging.ERROR:
                self.errors_shown.add(record.getMessage())
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


#: Exit statuses of ``harvest`` (also in its --help and docs/harvesting.md).
EXIT_FAILED = 1
EXIT_ALL_HELD = 75  # sysexits' EX_TEMPFAIL: nothing to do now, try again later


def _outcome(r: HarvestResult) -> str:
    if r.held_by is not None:
        return "held elsewhere"
    if r.interrupted:
        return "interrupted"
    if not r.ok:
        return "FAILED"
    return "ok, resumed" if any(lr.resumed for lr in r.lists) else "ok"


_OUTCOME_SAID = {"held elsewhere": "harvest.held", "interrupted": "harvest.interrupted-mark",
                 "FAILED": "harvest.failed", "ok, resumed": "harvest.ok-resumed", "ok": "harvest.ok"}


def _outcome_said(r: HarvestResult) -> str:
    """:func:`_outcome` in the language spoken."""
    return say(_OUTCOME_SAID[_outcome(r)])


def _summary(results: list[HarvestResult], shown: Collection[str] = ()) -> None:
    """This run's figures, one line a provider (``harvest status`` has the totals),
    then the errors (those not in ``shown``, already written as they happened)."""
    head = tuple(say("harvest.columns").split("|"))
    rows = [(r.source.name, _outcome_said(r), number(r.pages), number(r.added),
             number(r.updated), number(r.unchanged), number(r.deleted), number(r.quarantined),
             number(r.requests), number(r.seconds, ",.1f")) for r in results]
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
            if f"{r.source.name}: {err}" not in shown:
                click.echo(f"{r.source.name}: {err}", err=True)
        if r.held_by is not None:
            click.echo(say("harvest.not-harvested", name=r.source.name, holder=r.held_by),
                       err=True)


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
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Providers harvested at once with --sources (default 4, or the file's "
                   "[harvest] workers). One request at a time per host whatever this says.")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(min=0),
              help="Retries of a request on timeouts, dropped connections and 5xx.")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=0.1),
              metavar="SECONDS",
              help="Seconds a provider has for its whole answer to one request, from "
                   "connecting to the last byte (each read also waits at most 120 s).")
@click.option("--diagnostics", default=None, type=click.Path(file_okay=False),
              help="Folder for offending responses and quarantined records, one folder per "
                   "provider (default: beside a SQLite store's file, e.g. "
                   "union-harvest-diagnostics/; for PostgreSQL, in your user data folder).")
@click.option("--lease", "lease_seconds", default=None, type=click.IntRange(min=MIN_LEASE),
              metavar="SECONDS",
              help=f"How long a provider's lease lasts unless renewed (default "
                   f"{DEFAULT_LEASE}, or the file's [harvest] lease). It is renewed three "
                   "times within that while the provider is harvested; a machine that dies frees "
                   "its providers after that long (a process of this machine that died frees "
                   "them at once).")
@click.option("--max-pages", default=None, type=click.IntRange(min=1), metavar="N",
              help=f"Pages of one list this run asks for at most (default {MAX_PAGES:,}, or "
                   "the file's [harvest] max_pages); the next run goes on from there.")
@click.option("--skip-recent", default=0, show_default=True, type=int, metavar="SECONDS",
              help="Skip providers harvested successfully less than SECONDS ago: when several "
                   "machines run the same --sources list over one store, each provider is "
                   "harvested once per round.")
@processes_option("Processes that convert harvested records (MARC and DC read, every format "
                  "rendered, search keys computed) and write them to the store, a page each, "
                  "while the next pages are fetched")
@replace_option("A harvested Dublin Core record")
@click.option("--quiet", "-q", is_flag=True, help="Warnings and the summary only.")
@click.option("--json", "as_json", is_flag=True,
              help="With status: every provider as JSON (state, records, last run, errors, "
                   "quarantine, validation, alerts), as the harvest console shows them.")
def harvest(target: str | None, store_url: str | None, config_path: str | None,
            sources_file: str | None, name: str | None, prefix: str, sets: tuple[str, ...],
            from_: str | None, until: str | None, full: bool, by_identifier: bool, delay: float,
            workers: int | None, retries: int, timeout: float, diagnostics: str | None,
            lease_seconds: int | None, max_pages: int | None,
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
    interrupted run (Ctrl-C, SIGTERM, a crash, kill -9) goes on from the last
    committed page. Several harvesters (processes or machines) over one store
    share a --sources list by leasing providers: none is harvested twice at once.

    \b
    Exit status: 0 every provider harvested (or skipped with --skip-recent);
    1 some provider failed; 75 nothing harvested because other harvesters hold
    every provider; 130 Ctrl-C; 143 SIGTERM (both stop between two pages, keep
    every page received, and the next run goes on from there).
    """
    settings = load_settings(config_path, store_url)
    if target == "status":
        _status(settings.store, as_json, settings.console)
        return
    if bool(target) == bool(sources_file):
        raise click.UsageError(say("harvest.url-or-sources"))
    try:
        if sources_file:
            sources, options = load_sources(sources_file)
            pool = workers or options.workers
            lease_seconds = lease_seconds or options.lease
            max_pages = max_pages or options.max_pages
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
    stopped_by: list[int] = []
    try:
        with stop_on_signals(stopped_by):
            store = open_or_fail(settings.store, settings)
            try:
                harvester = Harvester(
                    store, client=PoliteClient(retries=retries, read_timeout=min(timeout, 120.0),
                                               deadline=timeout),
                    diagnostics=diagnostics if diagnostics is not None else DEFAULT,
                    progress=board.update, processes=processes or None,
                    on_result=board.finished, index_profile=settings.sru.profile,
                    replace=replace, lease_seconds=lease_seconds or DEFAULT_LEASE,
                    max_pages=max_pages or MAX_PAGES)
                try:
                    results = harvester.harvest_many(sources, workers=pool, full=full,
                                                     by_identifier=by_identifier or None,
                                                     skip_recent=skip_recent)
                finally:
                    harvester.close()
            finally:
                board.clear()
                store.close()
    except KeyboardInterrupt:
        board.clear()
        stopped(stopped_by, say("harvest.interrupted"))
    finally:
        logger.removeHandler(handler)
    _summary(results, handler.errors_shown)
    held = [r for r in results if r.held_by is not None]
    if held and len(held) == len(results):
        click.echo(say("harvest.all-held",
                       held=", ".join(f"{r.source.name}: {r.held_by}" for r in held)), err=True)
        raise SystemExit(EXIT_ALL_HELD)
    if not all(r.ok for r in results):
        raise SystemExit(EXIT_FAILED)


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
            click.echo(say("harvest.none-yet"))
            return
        head = tuple(say("harvest.status-columns").split("|"))
        table = [(s.name, s.last_success or say("harvest.never"), s.last_run or "-",
                  number(store.count(ListQuery(set=f"source:{s.name}"))), number(s.added),
                  number(s.deleted), number(s.quarantined), (s.last_error or "")[:120])
                 for s in rows]
        holders = [(s.name, Holder.parse(text), text) for s in rows
                   if (text := store.lease_holder(s.name)) is not None]
    finally:
        store.close()
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table, strict=False)]
    line = "  ".join(f"{{:<{w}}}" if i in (0, 1, 2, 7) else f"{{:>{w}}}"
                     for i, w in enumerate(widths))
    if rows:
        click.echo(line.format(*head).rstrip())
        for row in table:
            click.echo(line.format(*row).rstrip())
    for name, holder, text in holders if not as_json else []:
        if holder is not None and holder.alive() is False:
            click.echo(say("harvest.lease-dead", name=name, holder=holder.describe()))
        else:
            click.echo(say("harvest.being-harvested", name=name,
                           holder=holder.describe() if holder else text))
    flagged = [w for w in watched if w.alerts]
    for w in flagged:
        click.echo(say("harvest.alert", name=w.name, alerts="; ".join(w.alerts)), err=True)
    if flagged:
        raise SystemExit(1)
