"""What a command imports before it runs: ``--help`` and the light commands load
only what they use (the settings, the stores and the worker pool cost most of a
command's start-up). Imports are checked in a fresh interpreter, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from thuvien_interop.cli import _COMMANDS, main
from thuvien_interop.cli._common import SettingParam
from thuvien_interop.settings import SETTINGS
from thuvien_interop.wording.messages import MESSAGES

_PROBE = """
import json, sys
from thuvien_interop.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("thuvien_interop", "lxml",
                                                                "multiprocessing")))),
      file=sys.stderr)
"""


def imported_by(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          check=True)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_lists_every_command_without_importing_one():
    modules = imported_by("--help")
    assert not {m for m in modules if m.startswith("thuvien_interop.cli.")} - {
        "thuvien_interop.cli._common"}
    assert not {"thuvien_interop.settings", "thuvien_interop.store", "lxml.etree"} & modules


def test_convert_imports_neither_settings_stores_nor_the_worker_pool(tmp_path):

    source = tmp_path / "one.xml"
    source.write_text('<collection xmlns="http://www.loc.gov/MARC21/slim"><record>'
                      '<leader>00000nam a2200000 a 4500</leader>'
                      '<datafield tag="245" ind1="0" ind2="0"><subfield code="a">Truyện Kiều'
                      '</subfield></datafield></record></collection>', encoding="utf-8")
    modules = imported_by("convert", str(source), "--to", "oai_dc", "-q", "-o",
                          str(tmp_path / "out.xml"))
    assert (tmp_path / "out.xml").read_text(encoding="utf-8").count("<dc:title>Truyện Kiều</dc:title>") == 1
    assert "thuvien_interop.cli.convert" in modules
    assert not {"thuvien_interop.settings", "thuvien_interop.store", "thuvien_interop.workers",
                "multiprocessing"} & modules


def test_the_table_lists_every_command_with_its_one_line_help():
    commands = main.commands  # imports every command module
    assert sorted(commands) == sorted(_COMMANDS)
    for name, command in commands.items():
        assert command.short_help == MESSAGES[f"help.{name}"]["en"]
        assert command.callback.__module__ == f"thuvien_interop.cli.{_COMMANDS[name]}"


def test_every_option_that_stands_for_a_setting_names_one():
    def params(command: click.Command):
        yield from command.params
        for sub in getattr(command, "commands", {}).values():
            yield from params(sub)

    settings = [p.type for p in params(main) if isinstance(p.type, SettingParam)]
    assert settings, "--repository-id and --id-field are such options"
    for t in settings:
        assert callable(SETTINGS[t.section][t.key])
