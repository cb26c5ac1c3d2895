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
_PROGRAM = re.compile(r"(?:^|(?<=[\s/\\]))thuvien-interop(?:\.exe)?[ \t]+"
                      r"(?=--?[a-z]|[a-z][a-z-]*(?:\s|$))")
_OPTION = re.compile(r"^(--?[A-Za-z][\w-]*)")


def run(args: list[str], **kwargs):
    """``thuvien-interop ARGS`` through click's runner."""
    return CliRunner().invoke(main, args, prog_name="thuvien-interop", **kwargs)


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
    (where, words after the program name); an inline span that begins with a
    command's name and names an option (`harvest --name`, `serve --workers 4`) is
    one too, with the program left out."""
    found = []
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            for span in re.findall(r"`([a-z][a-z-]* [^`\n]*--?[A-Za-z][^`\n]*)`", line):
                words = _shell_words(span)
                if words and words[0] in main.commands:
                    found.append((f"{doc.relative_to(ROOT)}:{number}", words))
        for number, code in _code(text):
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
    shown = run([*path, "--help"], terminal_width=100)
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
    # A span that names a command and its option without the program's name.
    assert ["harvest", "--name"] in [words for _, words in lines]
    # A benchmark's option is the benchmark's, not the command's.
    assert not [words for _, words in lines if "--union" in words]


def test_every_option_the_docs_name_is_in_that_commands_help():
    wrong = []
    helps: dict[tuple[str, ...], set[str]] = {}
    checked = 0
    group_options = options_in_help([])
    valued = {o for p in main.params if isinstance(p, click.Option) and not p.is_flag
              for o in p.opts}
    for where, words in command_lines() + option_tables():
        words = list(words)
        while words and words[0].startswith("-"):
            # The group's own, before the command: `--lang vi import …`, `--help`.
            option = _OPTION.match(words.pop(0)).group(1)
            checked += 1
            if option not in group_options:
                wrong.append(f"{where}: thuvien-interop has no {option}")
            if option in valued and words:
                words.pop(0)
        if not words:
            continue
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


def command_paths(command: click.Command = main, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand, as the words that run it."""
    paths = [path] if path else []
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += command_paths(sub, (*path, name))
    return paths


COMMANDS = command_paths()


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for word in path:
        command = command.commands[word]  # type: ignore[attr-defined]
    return command


def test_the_command_list_reads_as_whole_sentences():
    shown = run(["--help"], terminal_width=80).output
    listed = shown.split("\nCommands:\n", 1)[1].splitlines()
    assert len(listed) == len(main.commands)
    for line in listed:
        assert not line.rstrip().endswith("..."), f"cut short: {line.strip()}"
    assert len(COMMANDS) > len(main.commands), "profiles show is there too"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_help_says_what_the_command_does_and_shows_an_example(path):
    shown = run([*path, "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    text = shown.output
    usage, what = text.split("\n\n", 2)[:2]
    assert usage.startswith(f"Usage: thuvien-interop {' '.join(path)}")
    assert len(what.split()) >= 5 and what.strip()[0].isupper(), f"what it does: {what!r}"
    examples = re.findall(rf"^\s+thuvien-interop {re.escape(' '.join(path))}\b.*$", text, re.M)
    assert examples, f"thuvien-interop {' '.join(path)} --help shows no example"
    longest = max(text.splitlines(), key=len)
    assert len(longest) <= 100, f"wider than the terminal: {longest}"
    for param in _command(path).params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{param.opts[0]} of {' '.join(path)} says nothing"


def _said(result) -> list[str]:
    """What a person is told, less click's usage lines."""
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"a traceback: {result.exception!r}"
    assert "Traceback" not in result.output
    return [line for line in result.output.splitlines()
            if line.strip() and not line.startswith(("Usage: ", "Try '"))]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_an_unknown_option_is_one_line_naming_it(path):
    result = run([*path, "--sotre", "sqlite:///x.db"])
    assert result.exit_code == 2
    [line] = _said(result)
    assert line.startswith("Error: No such option '--sotre'")


def _configurable() -> list[tuple[str, ...]]:
    return [p for p in COMMANDS
            if any(param.name == "config_path" for param in _command(p).params)]


@pytest.mark.parametrize("path", _configurable(), ids=" ".join)
def test_a_settings_file_that_is_not_toml_or_not_there_is_one_line(path, tmp_path):
    assert len(_configurable()) >= 7
    broken = tmp_path / "thuvien.toml"
    broken.write_text('[repository]\nname = "Thư viện\n', encoding="utf-8")
    for given, said in [(broken, f"Error: {broken}: not valid TOML: "),
                        (tmp_path / "none.toml", f"Error: settings file {tmp_path / 'none.toml'} "
                                                 "does not exist")]:
        # Arguments enough to reach the settings (the command's own are checked first).
        args = {"delete": ["VN1"], "harvest": ["status"], "validate": ["http://127.0.0.1:1/oai"],
                "import": ["README.md"], "sync": ["--profile", "koha", "--source", "sqlite:///x.db"]}
        result = run([*path, *args.get(path[0], []), "--config", str(given),
                                           "--store", f"sqlite:///{tmp_path / 's.db'}"])
        assert result.exit_code == 2, result.output
        [line] = _said(result)
        assert line.startswith(said), line
    assert "line 2" in run([*path, *args.get(path[0], []), "--config",
                                                 str(broken)]).output


@pytest.mark.parametrize(("args", "said"), [
    (["serve", "--port", "99999"], "Error: Invalid value for '--port': 99999 is not in the range"),
    (["demo", "--port", "-1"], "Error: Invalid value for '--port': -1 is not in the range"),
    (["serve", "--threads", "0"], "Error: Invalid value for '--threads': 0 is not in the range"),
    (["serve", "--host", "no-such-host.invalid", "--port", "0"],
     "Error: cannot listen on no-such-host.invalid: it is not an address of this machine; use "
     "--host 127.0.0.1"),
    (["import", "no-such-file.mrc"], "Error: Invalid value for 'FILES...': File 'no-such-file.mrc' "
                                     "does not exist."),
    (["check", "no-such-file.mrc"], "Error: Invalid value for 'FILES...': File 'no-such-file.mrc'"),
    (["convert", "no-such-file.mrc", "--to", "mods"], "Error: Invalid value for 'SOURCE'"),
    (["convert", "README.md", "--to", "pdf"], "Error: Invalid value for '--to': 'pdf' is not one of"),
    (["harvest", "thuvien.daklak.gov.vn/oai"], "is not an http(s) base URL"),
    (["harvest", "--sources", "no-such.toml"], "Error: providers file no-such.toml does not exist"),
    (["validate", "thuvien.daklak.gov.vn/oai"],
     "Error: Invalid value for 'URL': 'thuvien.daklak.gov.vn/oai' is not an http:// or https:// base URL "
     "(such as https://thuvien.daklak.gov.vn/oai)"),
    (["search", "127.0.0.1:8000/sru", "Ha", "Noi"],
     "Error: Invalid value for 'URL': '127.0.0.1:8000/sru' is not an http:// or https:// base URL"),
    (["search", "http://127.0.0.1:8000/sru", "Ha", "Noi", "--max", "0"],
     "Error: Invalid value for '--max': 0 is not in the range x>=1."),
    (["delete"], "Error: give identifiers to delete, or --from-file FILE with one a line"),
    (["profiles", "show", "kohaa"], "Error: there is no shipped profile called 'kohaa'"),
    (["sync", "--profile", "kohaa", "--source", "sqlite:///x.db"],
     "Error: Invalid value for '--profile': 'kohaa' is neither a file nor the name of a shipped"),
    (["reindex", "--profile", "kohaa"], "Error: Invalid value for '--profile': 'kohaa' is neither"),
    (["import", "README.md", "--store", "nonsense://x"], "Error: unknown store URL 'nonsense://x'"),
    (["console-password", "--password", "short"], "Error: the password must have at least 8"),
    (["convert", "README.md", "--to", "mods", "-o", "no/such/folder/out.xml"],
     "Error: cannot write no/such/folder/out.xml: No such file or directory"),
    (["import", "README.md", "--repository-id", "Thư viện tỉnh"],
     "Error: Invalid value for '--repository-id': 'Thư viện tỉnh' is not a domain name"),
    (["sync", "--profile", "koha", "--source", "sqlite:///x.db", "--repository-id", "a b"],
     "Error: Invalid value for '--repository-id': 'a b' is not a domain name"),
    (["import", "README.md", "--id-field", "9999"],
     "Error: Invalid value for '--id-field': '9999' is not a MARC field: write \"001\""),
    (["harvest", "https://thuvien.daklak.gov.vn/oai", "--from", "yesterday"],
     "Error: provider 'thuvien.daklak.gov.vn': from 'yesterday' is not a date of the form "
     "YYYY-MM-DD"),
    (["harvest", "https://thuvien.daklak.gov.vn/oai", "--from", "2024-05-01", "--until",
      "2024-01-01"], "from 2024-05-01 is after until 2024-01-01"),
    (["harvest", "https://thuvien.daklak.gov.vn/oai", "--workers", "0"],
     "Error: Invalid value for '--workers': 0 is not in the range x>=1."),
    (["delete", "VN1", "--max-problems", "-1"], "Error: Invalid value for '--max-problems'"),
    (["import", "README.md", "--processes", "-1"], "Error: Invalid value for '--processes'"),
    (["sync", "--profile", "koha", "--source", "sqlite:///x.db", "--overlap", "-5"],
     "Error: Invalid value for '--overlap': -5 is not in the range x>=0."),
])
def test_a_wrong_argument_or_value_is_one_line_saying_what_is_wrong(args, said, tmp_path,
                                                                   monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("THUVIEN_STORE", f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    result = run(args)
    assert result.exit_code in (1, 2), result.output
    [line] = _said(result)
    assert line.startswith(said) or said in line, line


def test_a_search_of_a_server_that_is_not_there_says_so_in_words():
    from conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/sru"
    result = run(["search", url, "dc.title = hanoi"])
    assert result.exit_code == 1
    assert _said(result) == [f"Error: cannot search {url}: connection refused (nothing answers at "
                             "that address and port). Is the provider's server running, and is "
                             "the URL right?"]


def test_convert_to_dublin_core_keeps_every_publisher_statement(tmp_path):
    """What a librarian converting a record with two publishers (two 264s, and a 260
    with two $a$b pairs) reads in the Dublin Core: each statement, none lost."""
    from pymarc import Field, Indicators, Record, Subfield

    record = Record(force_utf8=True, leader="00000nam a2200000 i 4500")
    record.add_field(Field("001", data="VN-1"))
    record.add_field(Field("245", Indicators("0", "0"), [Subfield("a", "Tuyển tập")]))
    record.add_field(Field("264", Indicators(" ", "1"), [Subfield("a", "Hà Nội :"),
                                                         Subfield("b", "Kim Đồng,")]))
    record.add_field(Field("264", Indicators(" ", "1"), [Subfield("a", "Huế :"),
                                                         Subfield("b", "Thuận Hóa,")]))
    source = tmp_path / "two.mrc"
    source.write_bytes(record.as_marc())
    result = run(["convert", str(source), "--to", "oai_dc"])
    assert result.exit_code == 0, result.output
    assert re.findall(r"<dc:publisher>([^<]*)</dc:publisher>", result.output) == [
        "Hà Nội : Kim Đồng", "Huế : Thuận Hóa"]
