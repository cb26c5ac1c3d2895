"""The ``thuvien-interop`` command. Each subcommand lives in its own module of
this package and registers itself on :data:`main`; this file only gathers them."""

from __future__ import annotations

import gettext
import importlib
import pkgutil
import sys
from typing import Any

import click

from .. import __version__
from ..wording import LANGUAGES, language, language_from_environment, say, set_language, speaking
from ..wording.messages import CLICK, COMMAND_HELP, MESSAGES, OPTION_HELP

# Where each subcommand lives (the line ``--help`` lists it with is the catalogue's
# ``help.NAME``). Running a command imports its module only (a command that
# converts a file does not load the web server), and ``--help`` imports none. A
# module not listed here is still found: an unknown name loads every module of
# this package.
_COMMANDS = {
    "check": "check", "clusters": "clusters", "console-password": "console",
    "convert": "convert", "delete": "delete", "demo": "serve", "harvest": "harvest",
    "import": "importing", "profiles": "profiles", "reindex": "reindex", "search": "search",
    "serve": "serve", "sync": "sync", "validate": "validate",
}


def _click_text(message: str) -> str:
    """click's own message (its gettext id) in the language spoken now."""
    return message if language() == "en" else CLICK.get(message, message)


def _click_plural_text(singular: str, plural: str, n: int) -> str:
    return _click_text(singular if n == 1 else plural)


def _speak_in_clicks_words() -> None:
    """click words its errors and usage lines through gettext's global domain, which
    this package does not use: its modules' ``_`` and ``ngettext`` are given the
    catalogue's texts instead (English unchanged)."""
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if getattr(module, "_", None) is gettext.gettext:
                module._ = _click_text  # type: ignore[attr-defined]
            if getattr(module, "ngettext", None) is gettext.ngettext:
                module.ngettext = _click_plural_text  # type: ignore[attr-defined]


_speak_in_clicks_words()


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # THUVIEN_LANG is spoken from the start (_LazyGroup.main); read again here it is
    # only checked, so that a subcommand's unset --lang does not undo the group's
    # (``--lang vi validate …`` with THUVIEN_LANG=en speaks Vietnamese).
    source = ctx.get_parameter_source(param.name) if param.name else None
    if value is not None and source is click.core.ParameterSource.COMMANDLINE:
        set_language(value.lower())


class _LangOption(click.Option):
    """``--lang``: eager, so that what the other options and arguments say is in
    it; its help is in the language spoken."""

    def __init__(self) -> None:
        super().__init__(["--lang"], type=click.Choice(LANGUAGES, case_sensitive=False),
                         envvar="THUVIEN_LANG", is_eager=True, expose_value=False,
                         callback=_choose_language, help=MESSAGES["cli.lang"]["en"])

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = say("cli.lang")
        return super().get_help_record(ctx)


class _SaysHelp(click.Command):
    """A subcommand whose help is in the language spoken, where the catalogue has
    it (:data:`~thuvien_interop.wording.messages.COMMAND_HELP`, by the words that
    run the command, and ``OPTION_HELP``)."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        english = self.help
        path = " ".join(ctx.command_path.split()[1:])
        if language() != "en" and path in COMMAND_HELP:
            self.help = COMMAND_HELP[path]
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = english

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        english = [(p, p.help) for p in self.get_params(ctx) if isinstance(p, click.Option)]
        if language() != "en":
            for p, text in english:
                p.help = OPTION_HELP.get(text or "", text)
        try:
            super().format_options(ctx, formatter)
        finally:
            for p, text in english:
                p.help = text


class _Command(_SaysHelp):
    """A subcommand of ``thuvien-interop``."""


class _Group(_SaysHelp, click.Group):
    """A group of subcommands of ``thuvien-interop`` (``profiles``)."""

    command_class = _Command


class _LazyGroup(click.Group):
    """Imports a subcommand's module when that command runs; ``commands`` read
    from outside (a test, a documentation tool) still lists them all. Speaks the
    language of ``--lang`` (given before or after the subcommand), else of the
    environment (:func:`~thuvien_interop.wording.language_from_environment`)."""

    command_class = _Command
    group_class = _Group

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with speaking(language_from_environment()):
            return super().main(*args, **kwargs)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        english, self.help = self.help, say("cli.help")
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = english

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listed commands and their lines from the table and the catalogue,
        # without importing their modules (``--help`` costs the start-up of click,
        # not of every command).
        rows = [(name, say(f"help.{name}")) for name in sorted(_COMMANDS)
                if (cmd := self._loaded.get(name)) is None or not cmd.hidden]
        if rows:
            with formatter.section(_click_text("Commands")):
                formatter.write_dl(rows)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        _load_all()
        return self._loaded

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._loaded = value

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        if f"help.{name}" in MESSAGES:  # the command list's line, in the catalogue
            cmd.short_help = MESSAGES[f"help.{name}"]["en"]
        cmd.params.append(_LangOption())
        self._loaded[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._loaded:
            module = _COMMANDS.get(cmd_name)
            if module is not None:
                importlib.import_module(f"{__name__}.{module}")
            if cmd_name not in self._loaded:
                _load_all()
        return self._loaded.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


@click.group(cls=_LazyGroup, help=MESSAGES["cli.help"]["en"],
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="thuvien-interop")
def main() -> None:
    """The ``thuvien-interop`` command (its help is the catalogue's ``cli.help``)."""


main.params.append(_LangOption())

