"""What an SRU server says about itself and what it allows: limits, defaults,
titles, the record schemas it serves.

    >>> SRUConfig(max_records=50).max_records
    50
    >>> schema_by_name("info:srw/schema/1/dc-v1.1").name
    'dc'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import xml
from ..model import Header
from .facets import LibraryGroups
from .indexing import IndexProfile, default_profile


@dataclass(frozen=True, slots=True)
class RecordSchema:
    """A record schema: short name, URI(s), the stored OAI prefix it comes from."""

    name: str
    uri: str
    prefix: str
    title: str
    location: str
    aliases: tuple[str, ...] = ()


SCHEMAS: tuple[RecordSchema, ...] = (
    RecordSchema("dc", "info:srw/schema/1/dc-v1.1", "oai_dc", "Dublin Core (srw_dc)",
                 "http://www.loc.gov/standards/sru/recordSchemas/dc-schema.xsd",
                 ("info:srw/schema/1/dc-schema", "srw_dc", "oai_dc", "dc-v1.1")),
    RecordSchema("marcxml", "info:srw/schema/1/marcxml-v1.1", "marc21", "MARC 21 XML",
                 xml.MARC21_SCHEMA, (xml.MARC21, "marc21", "marcxml-v1.1", "MARC21-xml")),
    RecordSchema("mods", "info:srw/schema/1/mods-v3.7", "mods", "MODS 3.7",
                 xml.MODS_SCHEMA, (xml.MODS, "info:srw/schema/1/mods-v3.6",
                  "info:srw/schema/1/mods-v3.5", "info:srw/schema/1/mods-v3.4", "mods-v3.7")),
    # Who holds the record, written from its MARCXML by SRUConfig.holdings (a union's
    # libraries, or a single library's own): served where that is set.
    RecordSchema("holdings", xml.ISO20775, "marc21", "ISO 20775 holdings", xml.ISO20775_SCHEMA,
                 ("iso20775", "isoholdings")),
)


def served_schemas(config: SRUConfig) -> tuple[RecordSchema, ...]:
    """The record schemas this server writes: every one, holdings where
    :attr:`SRUConfig.holdings` says how."""
    return tuple(s for s in SCHEMAS if s.name != "holdings" or config.holdings is not None)


def schema_by_name(name: str) -> RecordSchema | None:
    """A schema by short name, URI or alias (case-insensitive)."""
    key = name.strip().lower()
    for s in SCHEMAS:
        if key in (s.name, s.uri.lower()) or key in (a.lower() for a in s.aliases):
            return s
    return None


@dataclass(slots=True)
class SRUConfig:
    """Configuration of the SRU server (``[sru]`` in the settings file)."""

    title: dict[str, str] = field(default_factory=lambda: {
        "vi": "Tra cứu trực tuyến — thuvien-interop", "en": "Online catalogue — thuvien-interop"})
    description: dict[str, str] = field(default_factory=lambda: {
        "vi": "Tìm biểu ghi thư mục bằng SRU/CQL, có dấu hoặc không dấu.",
        "en": "Search the catalogue with SRU/CQL, with or without diacritics."})
    default_records: int = 10
    max_records: int = 100
    default_terms: int = 20
    max_terms: int = 200
    default_schema: str = "dc"
    default_version: str = "1.2"
    """The version of a 1.x request that names no version (2.0 requests carry none)."""
    versions: tuple[str, ...] = ("1.1", "1.2", "2.0")
    default_context_set: str = "dc"
    base_url: str = ""
    html_view: bool = True
    time_budget: float | None = 10.0
    """Seconds one searchRetrieve (with its facets) or scan may spend in the store
    (:meth:`~thuvien_interop.store.sql.SQLStore.time_budget`); past it the answer
    is diagnostic 47. None: no bound."""
    profile: IndexProfile = field(default_factory=default_profile)
    groups: LibraryGroups = field(default_factory=LibraryGroups)
    """Each library's province and kind (a union's ``local.province`` and
    ``local.libraryKind``; :func:`thuvien_interop.web.create_app` fills it from
    its ``libraries``)."""
    holdings: Callable[[Header, bytes], str] | None = None
    """How the ``holdings`` record schema (ISO 20775) is written from a record's
    header and MARCXML (:func:`thuvien_interop.union.holdings.holdings_writer`,
    which :func:`thuvien_interop.web.create_app` sets with its libraries); None:
    the schema is not served."""

    @classmethod
    def from_dict(cls, data: dict) -> SRUConfig:
        """From the ``[sru]`` table of the settings file (its values checked by
        :mod:`thuvien_interop.settings`; docs/deploying.md lists them)::

            [sru]
            default_records = 10
            max_records = 100
            time_budget = 10                 # seconds a search may take in the store
            default_version = "1.2"
            profile = "my-indexes.toml"      # a file, or a shipped name (default: sru-indexes)
            title = { vi = "Thư viện tỉnh", en = "Provincial library" }

        Raises ValueError when two values contradict each other, or the profile
        cannot be read.
        """
        from .indexing import load_profile

        c = cls()
        for key in ("default_records", "max_records", "default_terms", "max_terms"):
            if key in data:
                setattr(c, key, int(data[key]))
        for key in ("default_schema", "default_version", "default_context_set", "base_url"):
            if key in data:
                setattr(c, key, str(data[key]))
        for key in ("title", "description"):
            if key in data:
                setattr(c, key, dict(data[key]) if isinstance(data[key], dict) else {"vi": str(data[key])})
        if "html_view" in data:
            c.html_view = bool(data["html_view"])
        if "time_budget" in data:
            c.time_budget = float(data["time_budget"])
        if "profile" in data:
            c.profile = load_profile(data["profile"])
        if c.default_records > c.max_records:
            raise ValueError(f"default_records ({c.default_records}) is larger than "
                             f"max_records ({c.max_records})")
        if c.default_terms > c.max_terms:
            raise ValueError(f"default_terms ({c.default_terms}) is larger than "
                             f"max_terms ({c.max_terms})")
        if schema_by_name(c.default_schema) is None:
            raise ValueError(f"default_schema '{c.default_schema}' is not dc, marcxml, mods or holdings")
        return c
