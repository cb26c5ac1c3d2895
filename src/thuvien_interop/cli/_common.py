"""Options shared by several commands.

Light on purpose: every command (and ``--help``) imports this module, so the
settings, the stores and the profiles are imported where they are used, not
here (they cost most of a light command's start-up)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from ..paths import DEFAULT_STORE
from ..wording import plural as plural  # the one home of counted nouns, re-exported
from ..wording import say as say  # the one home of messages, re-exported

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store.base import Repository, StoreError

F = TypeVar("F", bound=Callable[..., Any])

store_option = click.option(
    "--store", "store_url", envvar="THUVIEN_STORE", default=None, metavar="URL",
    help=f"Where records are kept: sqlite:///file.db or postgresql://user@host/db "
         f"(default: $THUVIEN_STORE, the settings file, or {DEFAULT_STORE}).")
config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None, envvar="THUVIEN_CONFIG",
    help="A TOML settings file (repository name, identifier, e-mail, …).")


def processes_option(work: str, *, default: int = 0) -> Callable[[F], F]:
    """``--processes`` of a door of the one write path (import, harvest, sync):
    ``work`` says what the processes do, and while what."""
    return click.option(
        "--processes", default=default, show_default="one per core" if default == 0 else True,
        type=click.IntRange(min=0), metavar="N",
        help=work + ("; 1 does everything in this process." if default == 0
                     else "; 0: one per core."))


def replace_option(incoming: str = "A Dublin Core record") -> Callable[[F], F]:
    """``--replace``: the poorer incoming record replaces the richer stored one."""
    return click.option(
        "--replace", is_flag=True,
        help=f"{incoming} replaces the MARC record stored under its identifier (by default "
             "the richer MARC record is kept, and the summary says so).")


def mojibake_options(f: F) -> F:
    """``--repair-mojibake`` and ``--min-confidence`` (import and convert)."""
    f = click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.8,
                     show_default=True,
                     help="How sure the detector must be before --repair-mojibake changes a "
                          "field.")(f)
    return click.option(
        "--repair-mojibake", is_flag=True,
        help="Repair text that is already Unicode but reads as a legacy Vietnamese encoding "
             "shown through the wrong code page ('Hµ Néi' → 'Hà Nội'); each repair is listed.")(f)


class ProfileParam(click.ParamType):
    """A ``--profile``/``--columns`` value: the path of a file, or else the name of a
    shipped profile of ``kind`` (``koha``). Checked here, so that a wrong name is a
    usage error listing the shipped ones; the command gets the value as given."""

    name = "profile"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..profiles import ProfileFileError, find

        try:
            find(value, self.kind)
        except ProfileFileError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


class HttpURL(click.ParamType):
    """A server's base URL given on the command line: http:// or https://, or a usage
    error saying so (``example`` shows one)."""

    name = "url"

    def __init__(self, example: str) -> None:
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not str(value).startswith(("http://", "https://")):
            self.fail(say("not-a-base-url", value=value, example=self.example), param, ctx)
        return str(value)


class SettingParam(click.ParamType):
    """An option that stands for a setting (``--repository-id`` for ``[repository]
    identifier``): checked as the settings file's value is, by the same check of
    :data:`~thuvien_interop.settings.SETTINGS`, so that the two cannot disagree.
    The check is looked up when a value comes, not when the option is declared:
    declaring it must not import the settings (see this module's docstring)."""

    def __init__(self, section: str, key: str, metavar: str) -> None:
        self.section, self.key = section, key
        self.name = metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..settings import SETTINGS

        try:
            SETTINGS[self.section][self.key](value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


repository_id_type = SettingParam("repository", "identifier", "DOMAIN")


class BadSettings(click.ClickException):
    """A settings file that cannot be used: one line (no usage text, which would be
    about the command line, not the file), and the exit status of a usage error."""

    exit_code = 2


def load_settings(config_path: str | None, store_url: str | None) -> Settings:
    """The settings of ``--config`` (a wrong file is one line saying where and why)."""
    from ..settings import Settings, SettingsError

    try:
        settings = Settings.load(config_path)
    except SettingsError as exc:
        raise BadSettings(str(exc)) from None
    if store_url:
        settings.store = store_url
    return settings


def open_or_fail(url: str, settings: Settings | None = None) -> Repository:
    """The store at ``url`` (a store that cannot be opened is one line). With the
    ``settings`` of a command that writes, their ``[union]`` section is kept in
    the store, so that every writer of a union clusters alike."""
    from ..store import open_store
    from ..store.base import StoreError

    try:
        store = open_store(url)
        if settings is not None and settings.union is not None and hasattr(store, "cluster_tables"):
            from ..union.clusters import configure

            configure(store, settings.union)
        return store
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


#: Exit statuses of a command stopped by Ctrl-C or SIGTERM (128 + the signal's number).
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


@contextmanager
def stop_on_signals(stopped_by: list[int]) -> Iterator[None]:
    """SIGTERM (what ``timeout``, systemd and docker send) stops a command as Ctrl-C
    does: a KeyboardInterrupt in the main thread, so that what was handed over is
    committed (a harvest stops every list between two pages and releases its
    leases; an import lets its batches in hand finish) and the worker processes
    are stopped, rather than the process vanishing mid-batch.
    ``stopped_by`` gets the signal's number."""
    def on_signal(signum: int, _frame: object) -> None:
        first = not stopped_by
        stopped_by.append(signum)
        if first:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stopped(stopped_by: list[int], what: str) -> NoReturn:
    """After :func:`stop_on_signals` raised: say so on one line (``what`` says
    what was kept and how to go on) and exit 143 after SIGTERM, 130 after Ctrl-C."""
    term = bool(stopped_by) and stopped_by[0] == signal.SIGTERM
    click.echo(say("stopped.sigterm" if term else "stopped.interrupted", what=what), err=True)
    raise SystemExit(EXIT_SIGTERM if term else EXIT_SIGINT)


def stopped_writing(command: str, exc: StoreError, how_to_go_on: str) -> str:
    """The one line a command ends with when its store failed it mid-run (full,
    read-only, locked, gone): the store and the cause (the error's message), what
    was written before, and how to go on."""
    w = exc.written
    done = (say("writing.nothing") if w is None or not (w.added or w.updated or w.deleted
                                                         or w.unchanged)
            else say("writing.before", added=w.added, updated=w.updated, unchanged=w.unchanged,
                     deleted=w.deleted))
    return say("writing.stopped", command=command, cause=exc, done=done,
               how_to_go_on=how_to_go_on)


def progress_shown(quiet: bool) -> bool:
    """A progress bar only on a terminal: written to a file or a pipe, click would
    print the bar's label alone ("Importing") and nothing after it."""
    import sys

    return not quiet and sys.stderr.isatty()


def problem_line(problem: Any) -> str:
    """A problem as the report shows it: ``file: place: reason``, or ``file: reason``
    for a reader's note about the whole file (:class:`~thuvien_interop.ingest.result.FileNote`)."""
    from ..ingest.result import about_file

    reason = getattr(problem, "reason", None)
    if about_file(reason):
        source = getattr(problem, "file", None) or getattr(problem, "source", None)
        return f"{source}: {reason}" if source else str(reason)
    return str(problem)


def echo_problems(title: str, problems: list, max_problems: int) -> None:
    """A titled list of problems, the first ``max_problems`` of them (all are
    counted); ``title`` is the id of a message with ``{n}`` for their number."""
    if not problems:
        return
    click.echo(say(title, n=len(problems)))
    for p in problems[:max_problems]:
        click.echo(f"  {problem_line(p)}")
    if len(problems) > max_problems:
        click.echo(say("more", n=len(problems) - max_problems))
