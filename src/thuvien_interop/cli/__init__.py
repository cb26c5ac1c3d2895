"""The ``thuvien-interop`` command. Each subcommand lives in its own module of
this package and registers itself on :data:`main`; this file only gathers them."""

from __future__ import annotations

import importlib
import pkgutil

import click

from .. import __version__

# Where each subcommand lives, and the line ``--help`` lists it with (its one
# home: the command gets it from here). Running a command imports its module
# only (a command that converts a file does not load the web server), and
# ``--help`` imports none. A module not listed here is still found: an unknown
# name loads every module of this package.
_COMMANDS = {
    "check": ("check", "List the problems of MARC, DC or spreadsheet files."),
    "clusters": ("clusters", "Show a union's clusters and why a record is in one."),
    "console-password": ("console", "Make the [console] lines of a settings file."),
    "convert": ("convert", "Convert a file to DC, MARCXML, MODS, MARC or JSON."),
    "delete": ("delete", "Withdraw records (harvesters see them deleted)."),
    "demo": ("serve", "Load sample Vietnamese records and serve them."),
    "harvest": ("harvest", "Harvest OAI-PMH providers into a store (or: status)."),
    "import": ("importing", "Load MARC, Dublin Core or spreadsheet files into a store."),
    "profiles": ("profiles", "List the shipped profiles, or print one to adapt."),
    "reindex": ("reindex", "Rebuild a store's search index (or its sets)."),
    "search": ("search", "Search an SRU server, in plain words or CQL."),
    "serve": ("serve", "Publish a store over OAI-PMH and SRU."),
    "sync": ("sync", "Copy a library system's database (Koha, …) into a store."),
    "validate": ("validate", "Check that an OAI-PMH provider follows the protocol."),
}


class _LazyGroup(click.Group):
    """Imports a subcommand's module when that command runs; ``commands`` read
    from outside (a test, a documentation tool) still lists them all."""

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
        if name in _COMMANDS:
            cmd.short_help = _COMMANDS[name][1]
        self._loaded[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._loaded:
            listed = _COMMANDS.get(cmd_name)
            if listed is not None:
                importlib.import_module(f"{__name__}.{listed[0]}")
            if cmd_name not in self._loaded:
                _load_all()
        return self._loaded.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listed commands from the table, without importing their modules
        # (``--help`` costs the start-up of click, not of every command).
        rows = []
        for name, (_, short) in sorted(_COMMANDS.items()):
            cmd = self._loaded.get(name)
            if cmd is None or not cmd.hidden:
                rows.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="thuvien-interop")
def main() -> None:
    """Library interoperability: OAI-PMH, SRU/CQL, MARC21 and Dublin Core.

    \b
    Load a catalogue and publish it (OAI-PMH at /oai, SRU search at /sru):
      thuvien-interop import catalogue.mrc --store sqlite:///thuvien.db
      thuvien-interop serve --store sqlite:///thuvien.db
    Try it on sample Vietnamese records:
      thuvien-interop demo
    Harvest other libraries into a union catalogue:
      thuvien-interop harvest --sources providers.toml --store sqlite:///union.db
    What a command does, its options and examples:
      thuvien-interop import --help
    """

