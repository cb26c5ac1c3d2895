"""The ``thuvien-interop`` command. Each subcommand lives in its own module of
this package and registers itself on :data:`main`; this file only gathers them."""

from __future__ import annotations

import importlib
import pkgutil

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for _mod in pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
