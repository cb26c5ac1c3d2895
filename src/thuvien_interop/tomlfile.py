"""Telling a person where their TOML file is wrong: the line of a key, and the
valid key nearest to a misspelt one. ``tomllib`` keeps no positions, so the
lines are found again in the text (headers and ``key =`` lines; a key inside an
inline table is found at its table's line).

    >>> text = '[repository]\\nnmae = "Thư viện"\\n\\n[[sets]]\\nrule = "ddc"\\n'
    >>> line_of(text, ("repository", "nmae")), line_of(text, ("sets", 0, "rule"))
    (2, 5)
    >>> nearest("nmae", ["name", "identifier"])
    'name'
    >>> unknown("nmae", ["name", "identifier"], "in [repository]")
    "unknown key 'nmae' in [repository]; did you mean 'name'?"
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator

__all__ = ["line_of", "nearest", "unknown"]

_HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""")

Path = tuple[str | int, ...]


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None
                 else m.group(0) for m in _PART.finditer(dotted))


def _entries(text: str) -> Iterator[tuple[int, Path]]:
    """(line number, full path) of every table header and key line, in order.
    An array of tables' n-th header is ``(name, n)`` (from 0)."""
    table: Path = ()
    arrays: dict[tuple[str, ...], int] = {}
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        # Lines inside a multi-line string are text, not keys.
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_string = not in_string
            if not in_string:
                continue
        elif in_string:
            continue
        header = _HEADER.match(line)
        if header:
            parts = _parts(header.group(2))
            if header.group(1) == "[[":
                arrays[parts] = arrays.get(parts, -1) + 1
                table = (*parts, arrays[parts])
            else:
                table = parts
            yield number, table
            continue
        key = _KEY.match(line)
        if key:
            yield number, (*table, *_parts(key.group(1)))


def line_of(text: str, path: Path) -> int | None:
    """The line where ``path`` (``("oai", "page_size")``) is written: its own line, else
    the first line of something inside it (``[[sets]]`` for ``("sets",)``), else the
    line of its nearest written ancestor; ``None`` when nothing of it is in the text."""
    best: tuple[int, int] | None = None  # (depth matched, line)
    inside: int | None = None             # the first line of something inside path
    for number, found in _entries(text):
        depth = len(found)
        if depth <= len(path) and tuple(path[:depth]) == found:
            if best is None or depth > best[0]:
                best = (depth, number)
            if depth == len(path):
                return number
        elif inside is None and found[:len(path)] == tuple(path):
            inside = number
    return inside if inside is not None else best[1] if best else None


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt ``word``, if one is close enough."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown(word: str, choices: Iterable[str], where: str, what: str = "key") -> str:
    """The message for an unknown key (or section): the nearest valid one, else all.
    ``what`` is ``key`` or ``section``; ``where`` is said in the language spoken."""
    from .wording import say

    choices = sorted(choices)
    near = nearest(word, choices)
    what = say(f"toml.{what}")
    if near is not None:
        return say("toml.unknown-near", what=what, word=word, where=where, near=near)
    return say("toml.unknown", what=what, word=word, where=where, choices=", ".join(choices))
