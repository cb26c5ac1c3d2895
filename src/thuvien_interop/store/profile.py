"""Source profiles: how to read an existing library database, in TOML.

A profile (the shipped ``koha`` and ``generic-sql``, or a library's own file)
gives the SQL that lists records with their change time, the SQL that lists
deletions, the column holding MARCXML / ISO 2709 (or a column mapping that
builds MARC from separate columns), and how records fall into OAI-PMH sets.

    >>> profile = SourceProfile.load("koha")      # or a path: "my-koha.toml"
    >>> profile.name, profile.record_format
    ('koha', 'marcxml')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..ingest.spreadsheet import ColumnMapping, MappingError
from ..profiles import ProfileFileError, read_toml
from .base import StoreError

RECORD_FORMATS = ("marcxml", "iso2709", "columns")
_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")


class ProfileError(StoreError):
    """A source profile cannot be used; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class SetRule:
    """One family of sets: ``spec`` (``branch``) and its members (``branch:CPL``).

    ``members`` is SQL returning ``id`` and ``value`` (a record in the set
    ``<spec>:<value>``); ``deleted_members`` does the same for deleted records;
    ``names`` returns ``value`` and ``name`` for the set list.
    """

    spec: str
    name: str
    members: str
    description: str | None = None
    deleted_members: str | None = None
    names: str | None = None


@dataclass(slots=True)
class SourceProfile:
    """What a profile says; the shipped ``generic-sql`` profile explains every key
    (``thuvien-interop profiles show generic-sql``)."""

    name: str
    records: str
    deleted: str | None = None
    record_format: str = "marcxml"
    timezone: str = "UTC"
    datestamp_type: str = "datetime"
    whole_seconds: bool = False
    id_type: str = "auto"
    on_connect: dict[str, list[str]] = field(default_factory=dict)
    sets: list[SetRule] = field(default_factory=list)
    columns: ColumnMapping | None = None
    description: str = ""
    path: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def load(cls, path: str | Path) -> SourceProfile:
        """Read and check a profile: a file, or else a shipped profile of that name."""
        try:
            data, where = read_toml(path, "source")
        except ProfileFileError as exc:
            raise ProfileError(str(exc)) from None
        profile = cls.from_dict(data, where)
        profile.path = where
        return profile

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "profile") -> SourceProfile:
        head = data.get("profile", {})
        source = data.get("source", {})
        records = data.get("records", {})
        query = _sql(records.get("query"), f"{where}: records.query")
        if query is None:
            raise ProfileError(f"{where}: [records] needs a query (SELECT … AS id, … AS datestamp, …)")
        fmt = records.get("format", "marcxml")
        if fmt not in RECORD_FORMATS:
            raise ProfileError(f"{where}: records.format must be one of {', '.join(RECORD_FORMATS)}")
        columns = None
        if fmt == "columns":
            try:
                columns = ColumnMapping.from_dict(data, where)
            except MappingError as exc:
                raise ProfileError(str(exc)) from None
        tz = str(source.get("timezone", "UTC"))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProfileError(f"{where}: source.timezone '{tz}' is not a time zone such as "
                               "UTC or Asia/Ho_Chi_Minh") from None
        dtype = source.get("datestamp_type", "datetime")
        if dtype not in ("datetime", "epoch"):
            raise ProfileError(f"{where}: source.datestamp_type must be datetime or epoch")
        id_type = source.get("id_type", "auto")
        if id_type not in ("auto", "integer", "text"):
            raise ProfileError(f"{where}: source.id_type must be auto, integer or text")
        raw_connect = source.get("on_connect", [])
        if isinstance(raw_connect, list):
            on_connect = {"*": [str(s) for s in raw_connect]}
        else:
            on_connect = {str(k): [str(s) for s in v] for k, v in raw_connect.items()}
        sets = []
        for i, s in enumerate(data.get("sets", [])):
            w = f"{where}: sets[{i}]"
            spec = str(s.get("spec", ""))
            if not _SPEC.match(spec):
                raise ProfileError(f"{w}: spec '{spec}' is not a valid setSpec (letters, digits, "
                                   "-_.!~*'() separated by colons)")
            members = _sql(s.get("members"), f"{w}.members")
            if members is None:
                raise ProfileError(f"{w}: members (SELECT … AS id, … AS value) is needed")
            sets.append(SetRule(spec, str(s.get("name", spec)), members, s.get("description"),
                                _sql(s.get("deleted_members"), f"{w}.deleted_members"),
                                _sql(s.get("names"), f"{w}.names")))
        return cls(
            name=str(head.get("name", Path(where).stem)),
            description=str(head.get("description", "")),
            records=query,
            deleted=_sql(data.get("deleted", {}).get("query"), f"{where}: deleted.query"),
            record_format=fmt,
            timezone=tz,
            datestamp_type=dtype,
            whole_seconds=bool(source.get("whole_seconds", False)),
            id_type=id_type,
            on_connect=on_connect,
            sets=sets,
            columns=columns,
        )


def _sql(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where} must be a non-empty SQL string")
    # The query becomes a derived table: a trailing semicolon would end it early.
    return value.strip().rstrip(";").strip()
