"""The indexer: which parts of a record feed which CQL index, from a TOML profile.

At write time every record gets ``Record.index`` (index name → its values, NFC,
ISBD punctuation trimmed); the store folds them into search keys. The default
profile is the shipped ``sru-indexes`` (``thuvien-interop profiles show
sru-indexes`` prints it, to copy and adapt).

    >>> import pymarc
    >>> r = pymarc.Record()
    >>> r.add_field(pymarc.Field("245", ["0", "0"], [pymarc.Subfield("a", "Hà Nội xưa /")]))
    >>> index_source(r, default_profile())["dc.title"]
    ['Hà Nội xưa']
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from os import PathLike
from typing import Any, Literal

import pymarc

from ..crosswalk.dc import chop
from ..crosswalk.marcview import fields_of
from ..crosswalk.text import normalize
from ..ingest.result import DCRecord, Source
from ..store.search_plan import SORT_KEY

__all__ = ["IndexDef", "IndexProfile", "ProfileError", "default_profile", "index_source",
           "load_profile"]

Kind = Literal["text", "key", "date"]
_KINDS = ("text", "key", "date")
_SPEC = re.compile(r"^(?:(?P<tag>\d{3})(?:\$(?P<codes>[0-9a-z]+))?|(?P<ctl>LDR|00\d)/(?P<a>\d\d)(?:-(?P<b>\d\d))?)$")
_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_ISO_DATE = re.compile(r"^\d{4}(-\d\d(-\d\d(T[\d:]+Z?)?)?)?$")
_KEYS = {"kind", "title", "marc", "dc", "values", "normalize", "sort", "scan", "join", "sort_key"}
# Fields whose indicator counts the characters a sort skips ("The ", "L'"):
# MARC 21 Bibliographic, non-filing characters (tag → indicator 1 or 2).
_NONFILING = {"130": 1, "222": 2, "240": 2, "242": 2, "243": 2, "245": 2, "440": 2,
              "630": 1, "730": 1, "740": 1, "830": 2}


class ProfileError(ValueError):
    """An index profile that cannot be used; the message names the entry."""


@dataclass(frozen=True, slots=True)
class _Source:
    tag: str
    codes: str = ""
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class IndexDef:
    """One CQL index: ``name`` (``dc.title``), ``kind``, titles by language, sources."""

    name: str
    kind: Kind
    titles: dict[str, str]
    marc: tuple[_Source, ...] = ()
    dc: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)
    normalize: str | None = None
    sort: bool = False
    scan: bool = True
    join: str = " "
    # What sortBy orders by, when not every value of the index: the first of
    # these sources a record has, without its non-filing characters.
    sort_marc: tuple[_Source, ...] = ()
    sort_dc: tuple[str, ...] = ()

    @property
    def context_set(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def sort_index(self) -> str | None:
        """The keys-only index its ``sort_key`` feeds (``dc.title/sortKey``), if it has one."""
        return self.name + SORT_KEY if (self.sort_marc or self.sort_dc) else None

    def title(self, lang: str = "en") -> str:
        return self.titles.get(lang) or self.titles.get("en") or self.name


@dataclass(frozen=True, slots=True)
class IndexProfile:
    """Indexes by name, in profile order, and the context sets they use."""

    indexes: dict[str, IndexDef]
    context_sets: dict[str, str]

    def get(self, name: str) -> IndexDef | None:
        return self.indexes.get(name)

    def __iter__(self):
        return iter(self.indexes.values())


def _parse_spec(spec: str, where: str) -> _Source:
    m = _SPEC.match(spec)
    if m is None:
        raise ProfileError(f"{where}: '{spec}' is not a MARC source (write 245$abc, 008/07-10 or 001)")
    if m.group("ctl"):
        a = int(m.group("a"))
        b = int(m.group("b") or a)
        return _Source(m.group("ctl"), "", a, b + 1)
    return _Source(m.group("tag"), m.group("codes") or "")


def profile_from_dict(data: dict[str, Any]) -> IndexProfile:
    """An :class:`IndexProfile` from parsed TOML; unknown keys are errors."""
    indexes: dict[str, IndexDef] = {}
    for name, entry in (data.get("indexes") or {}).items():
        where = f"indexes.{name}"
        if "." not in name:
            raise ProfileError(f"{where}: an index name is <context set>.<name>, e.g. dc.title")
        unknown = set(entry) - _KEYS
        if unknown:
            raise ProfileError(f"{where}: unknown key(s) {sorted(unknown)}")
        kind = entry.get("kind", "text")
        if kind not in _KINDS:
            raise ProfileError(f"{where}: kind must be one of {_KINDS}")
        titles = entry.get("title", {})
        if isinstance(titles, str):
            titles = {"en": titles}
        sort_key = entry.get("sort_key", {})
        if not isinstance(sort_key, dict) or set(sort_key) - {"marc", "dc"}:
            raise ProfileError(f"{where}: sort_key is a table {{ marc = [\"245$anp\"], dc = "
                               "[\"title\"] }")
        if sort_key and not entry.get("sort", False):
            raise ProfileError(f"{where}: sort_key needs sort = true")
        indexes[name] = IndexDef(
            name, kind, dict(titles),
            tuple(_parse_spec(s, where) for s in entry.get("marc", [])),
            tuple(entry.get("dc", [])), dict(entry.get("values", {})),
            entry.get("normalize"), bool(entry.get("sort", False)), bool(entry.get("scan", True)),
            str(entry.get("join", " ")),
            tuple(_parse_spec(s, f"{where}.sort_key") for s in sort_key.get("marc", [])),
            tuple(sort_key.get("dc", [])))
    if not indexes:
        raise ProfileError("the profile defines no [indexes.\"set.name\"] table")
    return IndexProfile(indexes, dict(data.get("context_sets", {})))


def load_profile(path: str | PathLike[str]) -> IndexProfile:
    """Read an index profile: a TOML file, or the name of a shipped one.

        >>> load_profile("sru-indexes").get("dc.title").title("vi")
        'Nhan đề'
    """
    from ..profiles import ProfileFileError, read_toml

    try:
        data, _ = read_toml(path, "sru-indexes")
    except ProfileFileError as exc:
        raise ProfileError(str(exc)) from None
    return profile_from_dict(data)


@lru_cache(maxsize=1)
def default_profile() -> IndexProfile:
    """The profile shipped with the package (``sru-indexes``)."""
    from ..profiles import shipped_profile

    return profile_from_dict(tomllib.loads(shipped_profile("sru-indexes").read_text()))


# ----------------------------------------------------------------------------- extraction


@lru_cache(maxsize=4096)  # values repeat across records: the common ones are cleaned once
def _clean(value: str) -> str:
    return chop(normalize(value).strip()).strip()


def _marc_values(record: pymarc.Record, src: _Source, join: str,
                 by_tag: dict[str, list] | None = None) -> list[str]:
    fields = by_tag.get(src.tag, ()) if by_tag is not None else \
        [f for f in fields_of(record) if f.tag == src.tag]
    if src.start is not None:
        if src.tag == "LDR":
            data = str(record.leader or "")
            return [data[src.start:src.end]] if len(data) >= (src.end or 0) else []
        out = []
        for f in fields:
            data = f.data or ""
            if len(data) >= (src.end or 0):
                out.append(data[src.start:src.end])
        return out
    out = []
    for f in fields:
        if f.is_control_field():
            out.append(f.data or "")
            continue
        if src.codes:
            parts = [v for c, v in f.subfields if c in src.codes and v and v.strip()]
        else:
            parts = [v for c, v in f.subfields if c not in "0123456789" and v and v.strip()]
        if parts:
            out.append(join.join(chop(p.strip()) for p in parts))
    return out


def _finish(d: IndexDef, raw: list[str], marc: bool) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in raw:
        if d.values and marc:
            # A code table (LDR/06 → type): codes it does not list are not indexed.
            value = d.values.get(value.strip(), "")
        if d.kind == "date":
            candidates = [value.strip()] if _ISO_DATE.match(value.strip()) else _YEAR.findall(value)
        elif d.normalize in ("isbn", "issn"):
            first = value.strip().split(" ")[0] if value.strip() else ""
            candidates = ["".join(c for c in first.upper() if c.isdigit() or c == "X")]
        else:
            candidates = [_clean(value)]
        for c in candidates:
            if c and c not in seen:
                seen.add(c)
                out.append(c)
    return out


def _sort_value(source: Source, d: IndexDef, by_tag: dict[str, list] | None) -> str | None:
    """The one value ``d``'s sort key orders by: the first source a record has,
    without the non-filing characters its indicator counts ("The ", "Les ")."""
    if isinstance(source, DCRecord):
        return next((_clean(v) for e in d.sort_dc for v in source.values(e) if v.strip()), None)
    for src in d.sort_marc:
        for f in (by_tag or {}).get(src.tag, ()):
            if f.is_control_field():
                continue
            parts = [v for c, v in f.subfields if (c in src.codes if src.codes else c.isalpha())
                     and v and v.strip()]
            if not parts:
                continue
            skip = f.indicators[_NONFILING[src.tag] - 1] if src.tag in _NONFILING else "0"
            if skip.isdigit() and int(skip):
                parts[0] = parts[0][int(skip):]
            value = _clean(d.join.join(chop(p.strip()) for p in parts))
            if value:
                return value
    return None


def index_source(source: Source, profile: IndexProfile | None = None,
                 identifier: str | None = None) -> dict[str, list[str]]:
    """``Record.index`` for a source record (MARC or Dublin Core).

    ``identifier`` (the OAI identifier) is added to ``rec.identifier``.
    """
    profile = profile or default_profile()
    out: dict[str, list[str]] = {}
    is_dc = isinstance(source, DCRecord)
    by_tag: dict[str, list] = {}
    if not is_dc:
        # One pass over the fields instead of one get_fields() per index source.
        for f in fields_of(source):  # type: ignore[arg-type]
            by_tag.setdefault(f.tag, []).append(f)
    for d in profile:
        if is_dc:
            raw = [v for e in d.dc for v in source.values(e)]  # type: ignore[union-attr]
        else:
            raw = [v for s in d.marc if s.tag in by_tag or s.tag == "LDR"
                   for v in _marc_values(source, s, d.join, by_tag)]  # type: ignore[arg-type]
        values = _finish(d, raw, not is_dc) if raw else []
        if d.name == "rec.identifier" and identifier:
            values.insert(0, identifier)
        if values:
            out[d.name] = values
        if d.sort_index is not None:
            key = _sort_value(source, d, by_tag)
            if key:
                out[d.sort_index] = [key]
    return out


def reindex(store, profile: IndexProfile | None = None) -> int:
    """Recompute every live record's index from its canonical form and store it
    (after a profile change, or for a store written before search existed).

        >>> reindex(open_store("sqlite:///thuvien.db"))                  # doctest: +SKIP
        300
    """
    from ..formats import from_canonical
    from ..model import ListQuery

    def entries():
        for item in store.iter(ListQuery(), metadata=False):
            if item.header.deleted:
                continue
            found = store.canonical(item.header.identifier)
            if found is None:
                continue
            yield item.header.identifier, index_source(from_canonical(*found), profile,
                                                       item.header.identifier)

    return store.reindex(entries())
