"""The command line as a person meets it: every command line the README and docs/ show
names commands and options that exist (each in that command's --help); every --help
says what the command does and shows an example; a wrong option, argument or file is
one line saying what is wrong, never a traceback."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from thuvien_interop.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# `thuvien-interop CMD …` as written in a shell line (a path before it, .exe after it).
_PROGRAM = re.compile(r"(?:^|(?<=[\s/\\]))thuvien-interop(?:\.exe)?[ \t]+(?=[a-z][a-z-]*(?:\s|$))")
_OPTION = re.compile(r"^(--?[A-Za-z][\w-]*)")


def _code(text: str) -> list[tuple[int, str]]:
    """The code of a Markdown text with its line numbers: the lines of fenced blocks
    (a line ending in a backslash joined to the next, as the shell does) and each
    inline code span."""
    out: list[tuple[int, str]] = []
    fenced = False
    pending = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            out.append((number, pending + line))
            pending = ""
        else:
            out.extend((number, span) for span in re.findall(r"`([^`\n]+)`", line))
    return out


def command_lines() -> list[tuple[str, list[str]]]:
    """Every `thuvien-interop …` command line of the README and docs/, as
    (where, words after the program name)."""
    found = []
    for doc in DOCUMENTS:
        for number, code in _code(doc.read_text(encoding="utf-8")):
            for start in _PROGRAM.finditer(code):
                words = _shell_words(code[start.end():])
                # Prose in a code block ("… into the thuvien-interop store") is no
                # command line; a line or span that begins with the program is one.
                first = not re.sub(r"^\$\s*", "", code[:start.start()]).strip()
                if first or words[0] in main.commands:
                    found.append((f"{doc.relative_to(ROOT)}:{number}", words))
    return found


def _shell_words(line: str) -> list[str]:
    """The words of a shell command up to where it ends: a pipe, a redirection, a
    second command, a comment."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    try:
        for word in lexer:
            if set(word) <= set("|&;<>()"):
                break
            words.append(word)
    except ValueError:  # a quote the line does not close (an ellipsis in it)
        words = line.split()
    return words


def option_tables() -> list[tuple[str, list[str]]]:
    """The option tables of docs/ (rows beginning ``| `--opt …` |``), each as the
    command line shown last before it followed by the options of its rows: a table
    of options documents the command shown above it."""
    found = []
    for doc in DOCUMENTS:
        last: list[str] | None = None
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for start in _PROGRAM.finditer(line):
                words = line[start.end():].split()
                last = words[:1] if words else last
            row = re.match(r"^\| (`-[^|]*)\|", line)
            if row and last:
                options = [m.group(1).split()[0] for m in re.finditer(r"`(-[^`]+)`", row.group(1))]
                found.append((f"{doc.relative_to(ROOT)}:{number}", [*last, *options]))
    return found


def resolve(words: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The (sub)command a command line runs, its path, and the options it gives."""
    path: list[str] = []
    command: click.Command = main
    options = []
    for word in words:
        if isinstance(command, click.Group) and not options and word in command.commands:
            command = command.commands[word]
            path.append(word)
        elif m := _OPTION.match(word):
            options.append(m.group(1))
    return path, command, options


def options_in_help(path: list[str]) -> set[str]:
    """The options the Options section of `thuvien-interop PATH --help` lists."""
    shown = CliRunner().invoke(main, [*path, "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    section = shown.output.split("\nOptions:\n", 1)[1].split("\nCommands:\n", 1)[0]
    listed = set()
    for line in section.splitlines():
        if re.match(r"^  -", line):
            listed.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", line.split("  ", 2)[1]))
    return listed


def test_the_docs_show_many_command_lines():
    # The extraction itself: it finds the lines a reader would copy.
    lines = command_lines()
    assert len(lines) > 60
    assert ("README.md", ["demo"]) in [(w.split(":")[0], words) for w, words in lines]
    harvest_table = [words for w, words in option_tables() if w.startswith("docs/harvesting.md")]
    assert ["harvest", "--by-identifier"] in harvest_table


def test_every_option_the_docs_name_is_in_that_commands_help():
    wrong = []
    helps: dict[tuple[str, ...], set[str]] = {}
    checked = 0
    for where, words in command_lines() + option_tables():
        if not words or words[0].startswith("-"):
            continue  # `thuvien-interop --help`, `--version`: the group's own
        path, command, options = resolve(words)
        if not path:
            wrong.append(f"{where}: thuvien-interop {words[0]} is not a command")
            continue
        known = helps.setdefault(tuple(path), options_in_help(path))
        for option in options:
            checked += 1
            if option not in known:
                wrong.append(f"{where}: thuvien-interop {' '.join(path)} has no {option} "
                             f"(its --help lists {', '.join(sorted(known))})")
    assert wrong == [], "\n".join(wrong)
    assert checked > 80


def every_option(command: click.Command = main) -> set[str]:
    """The options of every command and subcommand."""
    names = {o for p in command.params if isinstance(p, click.Option) and not p.hidden
             for o in (*p.opts, *p.secondary_opts)}
    for sub in getattr(command, "commands", {}).values():
        names |= every_option(sub)
    return names


def test_an_option_the_prose_names_is_an_option_of_the_command():
    """`--workers N` in a sentence is read as an option of `thuvien-interop`: a
    benchmark's option is written with the benchmark's name before it."""
    known = every_option()
    named = []
    for doc in DOCUMENTS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for span in re.findall(r"`(--?[A-Za-z][^`]*)`", line):
                named.append((f"{doc.relative_to(ROOT)}:{number}", _OPTION.match(span).group(1), span))
    assert len(named) > 50
    wrong = [f"{where}: `{span}` is no option of thuvien-interop" for where, option, span in named
             if option not in known]
    assert wrong == [], "\n".join(wrong)
