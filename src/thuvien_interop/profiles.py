"""The profiles shipped with the package, found by name.

They are the files of ``profiles/`` at the top of the source repository (one file a
system, the one copy); a wheel carries them inside the package
(:func:`shipped_folder` says where they are on this machine).

A profile is a TOML file that says how to read something: a library database
(source profiles ``koha`` and ``generic-sql``), the headings of a spreadsheet
(``spreadsheet-vi``), local tuning of the crosswalks (``crosswalk-default``,
``crosswalk-example-local``) or the SRU indexes (``sru-indexes``). Wherever a
profile is asked for, the path of a file or the name of a shipped profile will
do: a file that exists wins, so a library's own ``koha`` file beats the shipped one.

    >>> data, where = read_toml("koha", "source")
    >>> data["profile"]["name"], where
    ('koha', 'koha')
    >>> [p.name for p in shipped_profiles("source")]
    ['generic-sql', 'koha']
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path
from typing import Any

from .wording import language, say
from .wording.messages import MESSAGES

__all__ = ["KINDS", "ProfileFileError", "ShippedProfile", "find", "read_toml",
           "shipped_folder", "shipped_profile", "shipped_profiles"]

#: What each kind of profile is called in messages (in English; the catalogue's
#: ``kind.NAME`` in each language), in the order they are listed.
KINDS: dict[str, str] = {kind: MESSAGES[f"kind.{kind}"]["en"]
                         for kind in ("source", "columns", "crosswalk", "sru-indexes")}

_PACKAGED = "data/profiles"   # inside the installed package (setup.py copies them there)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _a(kind: str | None) -> str:
    """What ``kind`` is called, with its article in English: "a source profile",
    "an SRU index profile" (Vietnamese has none: "hồ sơ nguồn dữ liệu")."""
    what = say(f"kind.{kind or 'profile'}")
    if language() != "en":
        return what
    return f"{'an' if what[:1] in 'aeiouAEIOU' or what.startswith('SRU') else 'a'} {what}"


class ProfileFileError(ValueError):
    """A profile cannot be found or read; the message says why and what is shipped."""


@dataclass(frozen=True, slots=True)
class ShippedProfile:
    """One profile of the package: its name (the file's stem), kind, one-line
    description and the packaged file (read it with :meth:`read_text`)."""

    name: str
    kind: str
    description: str
    resource: Traversable

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.resource.read_text(encoding=encoding)


def shipped_profiles(kind: str | None = None) -> list[ShippedProfile]:
    """The shipped profiles (of one kind), grouped by kind in :data:`KINDS` order, then by name."""
    order = list(KINDS)
    found = [p for p in _catalogue().values() if kind is None or p.kind == kind]
    return sorted(found, key=lambda p: (order.index(p.kind), p.name))


def shipped_profile(name: str, kind: str | None = None) -> ShippedProfile:
    """The shipped profile called ``name`` (``koha``; ``koha.toml`` will do too).

    Raises :class:`ProfileFileError` listing the shipped names when there is none
    of that name, or when it is not of ``kind``.
    """
    wanted = kind if kind in KINDS else None
    profile = _lookup(name)
    if profile is None:
        raise ProfileFileError(say("profiles.none-called", what=say(f"kind.{wanted or 'profile'}"),
                                   name=name, shipped=_shipped_names(kind)))
    if kind and profile.kind != kind:
        raise ProfileFileError(say("profiles.wrong-kind", name=profile.name,
                                   is_a=_a(profile.kind), not_a=_a(wanted),
                                   shipped=_shipped_names(kind)))
    return profile


def find(value: str | PathLike[str], kind: str | None = None) -> Path | ShippedProfile:
    """Where a profile given as ``value`` is: the file at that path when there is
    one, else the shipped profile of that name (and of ``kind`` when given).

    Raises :class:`ProfileFileError` with the shipped names when it is neither.
    """
    path = Path(value)
    if path.is_file():
        return path
    if path.is_dir():
        raise ProfileFileError(f"{value} is a folder, not a profile file")
    if _lookup(str(value)) is not None:
        return shipped_profile(str(value), kind)
    wanted = kind if kind in KINDS else "profile"
    raise ProfileFileError(say("profiles.neither", value=value, what=say(f"kind.{wanted}"),
                               shipped=_shipped_names(kind)))


def read_toml(value: str | PathLike[str], kind: str | None = None) -> tuple[dict[str, Any], str]:
    """A profile's parsed TOML and how to name it in messages (the path as given,
    or the shipped profile's name).

    Raises :class:`ProfileFileError` when it cannot be found, read or parsed.
    """
    found = find(value, kind)
    where = str(value) if isinstance(found, Path) else found.name
    try:
        text = found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileFileError(f"cannot read the profile {where}: {exc}") from None
    try:
        return tomllib.loads(text), where
    except tomllib.TOMLDecodeError as exc:
        raise ProfileFileError(f"the profile {where} is not valid TOML: {exc}") from None


def _lookup(name: str) -> ShippedProfile | None:
    stem = name.removesuffix(".toml")
    return _catalogue().get(stem) if _NAME.fullmatch(stem) else None


def _shipped_names(kind: str | None) -> str:
    names = ", ".join(p.name for p in shipped_profiles(kind))
    return say("profiles.shipped", what=say(f"kinds.{kind or 'profile'}"), names=names)


def shipped_folder() -> Traversable:
    """Where the shipped profiles are read from: inside the installed package, or
    ``profiles/`` of the source checkout (an editable install, the tests)."""
    packaged = resources.files("thuvien_interop").joinpath(_PACKAGED)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent.parent / "profiles"
    if checkout.is_dir():
        return checkout
    raise ProfileFileError("the shipped profiles are missing from this installation "
                           "(reinstall thuvien-interop)")


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, ShippedProfile]:
    files = [f for f in shipped_folder().iterdir() if f.name.endswith(".toml")]
    catalogue = {}
    for f in files:
        text = f.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        name = f.name[:-5]
        catalogue[name] = ShippedProfile(name, _kind_of(data, name), _description(data, text), f)
    return catalogue


def _kind_of(data: dict[str, Any], name: str) -> str:
    # The sections each reader requires tell the kinds apart; generic-sql has
    # [columns] too, but [records] makes it a source.
    if "records" in data:
        return "source"
    if "indexes" in data:
        return "sru-indexes"
    if "dc" in data or "mods" in data:
        return "crosswalk"
    if "columns" in data:
        return "columns"
    raise AssertionError(f"shipped profile {name}: no [records], [indexes], [dc], [mods] "
                         "or [columns]: which kind is it?")


def _description(data: dict[str, Any], text: str) -> str:
    described = data.get("profile", {}).get("description")
    if described:
        return str(described)
    # A profile without [profile] (the SRU index profile) opens with a comment saying
    # what it is: "# thuvien-interop SRU index profile: which parts of … feed …".
    first = next((line for line in text.splitlines() if line.startswith("#")), "#")
    said = first.lstrip("# ").partition(": ")[2] or first.lstrip("# ")
    return said[:1].upper() + said[1:].rstrip(".")
