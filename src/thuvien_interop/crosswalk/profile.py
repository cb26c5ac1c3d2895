"""Crosswalk profiles: let an institution tune MARC → DC / MODS without code.

A profile is a small TOML file (read with :mod:`tomllib`)::

    [dc]
    drop_fields = ["500"]          # MARC tags the DC crosswalk ignores
    drop_elements = ["source"]     # DC elements never emitted

    [[dc.extra]]                   # a local field into a DC element
    field = "990"
    subfields = "a"
    element = "subject"

    [[mods.extra]]
    field = "852"
    subfields = "h"
    element = "identifier"
    type = "local"

    >>> p = profile_from_dict({"dc": {"extra": [{"field": "990", "element": "subject"}]}})
    >>> p.dc_extra[0].field, p.dc_extra[0].subfields
    ('990', 'a')

The shipped profile ``crosswalk-default`` documents every option
(``thuvien-interop profiles show crosswalk-default``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from typing import Any

#: The fifteen DCMES 1.1 elements, in the order oai_dc output uses.
DC_ELEMENTS: tuple[str, ...] = (
    "title", "creator", "subject", "description", "publisher", "contributor", "date",
    "type", "format", "identifier", "source", "language", "relation", "coverage", "rights",
)

#: Top-level MODS elements a ``[[mods.extra]]`` mapping may produce.
MODS_EXTRA_ELEMENTS: tuple[str, ...] = (
    "note", "identifier", "subject", "classification", "genre", "abstract",
)


@dataclass(frozen=True, slots=True)
class ExtraMapping:
    """One local field → one output element.

    ``subfields`` are the codes whose values are kept (joined by ``join``);
    ``prefix`` is put before the joined value; ``ind1``/``ind2`` (if set)
    restrict the mapping to fields with those indicators; ``type`` and
    ``authority``/``display_label`` are MODS attributes (ignored for DC).
    """

    field: str
    element: str
    subfields: str = "a"
    prefix: str = ""
    join: str = " "
    ind1: str | None = None
    ind2: str | None = None
    type: str | None = None
    authority: str | None = None
    display_label: str | None = None


@dataclass(slots=True)
class CrosswalkProfile:
    """Institution-specific tuning of the crosswalks (default: no overrides).

    >>> CrosswalkProfile().is_default()
    True
    """

    dc_extra: list[ExtraMapping] = field(default_factory=list)
    dc_drop_fields: frozenset[str] = frozenset()
    dc_drop_elements: frozenset[str] = frozenset()
    #: Leader/06 code → dc:type label, overriding the LoC crosswalk's DCMI type.
    dc_type_labels: dict[str, str] = field(default_factory=dict)
    isbn_prefix: str = "URN:ISBN:"
    issn_prefix: str = "URN:ISSN:"
    mods_extra: list[ExtraMapping] = field(default_factory=list)
    mods_drop_fields: frozenset[str] = frozenset()
    mods_record_origin: str = "Converted from MARC 21 to MODS version 3.7 by thuvien-interop"
    # Compiled dispatch tables, filled lazily by the crosswalk modules.
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def is_default(self) -> bool:
        """True when the profile changes nothing (the crosswalk's fast path)."""
        return not (self.dc_extra or self.dc_drop_fields or self.dc_drop_elements
                    or self.dc_type_labels or self.mods_extra or self.mods_drop_fields
                    or self.isbn_prefix != "URN:ISBN:" or self.issn_prefix != "URN:ISSN:")


_EXTRA_KEYS = {"field", "element", "subfields", "prefix", "join", "ind1", "ind2", "type",
               "authority", "display_label"}
_DC_KEYS = {"extra", "drop_fields", "drop_elements", "type_labels", "isbn_prefix", "issn_prefix"}
_MODS_KEYS = {"extra", "drop_fields", "record_origin"}


def _tag(value: Any, where: str) -> str:
    tag = str(value)
    if len(tag) != 3 or not tag.isalnum():
        raise ValueError(f"{where}: MARC tag must be 3 characters, got {value!r}")
    return tag


def _extra(raw: Any, where: str, allowed: tuple[str, ...]) -> ExtraMapping:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = set(raw) - _EXTRA_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    if "field" not in raw or "element" not in raw:
        raise ValueError(f"{where}: 'field' and 'element' are required")
    element = str(raw["element"])
    if element not in allowed:
        raise ValueError(f"{where}: element {element!r} not one of {', '.join(allowed)}")
    tag = _tag(raw["field"], where)
    if tag < "010" and tag.isdigit():
        raise ValueError(f"{where}: control fields ({tag}) have no subfields")
    for ind in ("ind1", "ind2"):
        if ind in raw and len(str(raw[ind])) != 1:
            raise ValueError(f"{where}: {ind} must be one character")
    return ExtraMapping(
        field=tag, element=element, subfields=str(raw.get("subfields", "a")) or "a",
        prefix=str(raw.get("prefix", "")), join=str(raw.get("join", " ")),
        ind1=raw.get("ind1"), ind2=raw.get("ind2"), type=raw.get("type"),
        authority=raw.get("authority"), display_label=raw.get("display_label"),
    )


def profile_from_dict(data: dict[str, Any]) -> CrosswalkProfile:
    """Build and validate a profile from parsed TOML (unknown keys are errors,
    so a typo never silently leaves the default crosswalk in place)."""
    unknown = set(data) - {"dc", "mods", "profile"}
    if unknown:
        raise ValueError(f"unknown profile sections {sorted(unknown)}")
    dc = data.get("dc", {})
    mods = data.get("mods", {})
    if set(dc) - _DC_KEYS:
        raise ValueError(f"[dc]: unknown keys {sorted(set(dc) - _DC_KEYS)}")
    if set(mods) - _MODS_KEYS:
        raise ValueError(f"[mods]: unknown keys {sorted(set(mods) - _MODS_KEYS)}")
    drop_elements = frozenset(str(e) for e in dc.get("drop_elements", []))
    if drop_elements - set(DC_ELEMENTS):
        raise ValueError(f"[dc] drop_elements: not DC elements {sorted(drop_elements - set(DC_ELEMENTS))}")
    type_labels = {str(k): str(v) for k, v in dc.get("type_labels", {}).items()}
    if any(len(k) != 1 for k in type_labels):
        raise ValueError("[dc.type_labels]: keys are single Leader/06 codes")
    profile = CrosswalkProfile(
        dc_extra=[_extra(x, f"[[dc.extra]] #{i + 1}", DC_ELEMENTS)
                  for i, x in enumerate(dc.get("extra", []))],
        dc_drop_fields=frozenset(_tag(t, "[dc] drop_fields") for t in dc.get("drop_fields", [])),
        dc_drop_elements=drop_elements,
        dc_type_labels=type_labels,
        isbn_prefix=str(dc.get("isbn_prefix", "URN:ISBN:")),
        issn_prefix=str(dc.get("issn_prefix", "URN:ISSN:")),
        mods_extra=[_extra(x, f"[[mods.extra]] #{i + 1}", MODS_EXTRA_ELEMENTS)
                    for i, x in enumerate(mods.get("extra", []))],
        mods_drop_fields=frozenset(_tag(t, "[mods] drop_fields")
                                   for t in mods.get("drop_fields", [])),
    )
    if "record_origin" in mods:
        profile.mods_record_origin = str(mods["record_origin"])
    return profile


def load_profile(path: str | PathLike[str]) -> CrosswalkProfile:
    """Read a crosswalk profile from a TOML file, or else the shipped profile of
    that name (a file that exists wins).

    >>> load_profile("crosswalk-default").is_default()
    True
    """
    # The profile reader (tomllib, the packaged profiles) only when a profile is
    # read: a third of the start-up of a command that converts without one.
    from ..profiles import read_toml

    data, _ = read_toml(path, "crosswalk")
    return profile_from_dict(data)


DEFAULT_PROFILE = CrosswalkProfile()
