"""The registry of exposed metadata formats: prefix, schema, namespace and the
function that renders a record in it, once, at write time.

A developer adds a format without touching the engine::

    registry = default_registry()
    registry.register(MetadataFormat("my_fmt", "https://ex.org/my.xsd", "https://ex.org/ns"),
                      render=lambda source: b"<my:rec xmlns:my='https://ex.org/ns'/>")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import pymarc

from . import xml as ns
from .crosswalk import dc, marcxml
from .ingest.result import DCRecord, Source
from .model import MetadataFormat

Renderer = Callable[[Source], bytes | None]
"""Renders a source record (pymarc.Record or DCRecord) as one XML element, or
``None`` when the record cannot be disseminated in that format."""

OAI_DC = MetadataFormat("oai_dc", ns.OAI_DC_SCHEMA, ns.OAI_DC)
MARC21 = MetadataFormat("marc21", ns.MARC21_SCHEMA, ns.MARC21)
MODS = MetadataFormat("mods", ns.MODS_SCHEMA, ns.MODS)


@dataclass(frozen=True, slots=True)
class RegisteredFormat:
    format: MetadataFormat
    render: Renderer


class FormatRegistry:
    """Formats by prefix, in registration order."""

    def __init__(self) -> None:
        self._formats: dict[str, RegisteredFormat] = {}

    def register(self, fmt: MetadataFormat, render: Renderer) -> None:
        self._formats[fmt.prefix] = RegisteredFormat(fmt, render)

    def get(self, prefix: str) -> MetadataFormat | None:
        entry = self._formats.get(prefix)
        return entry.format if entry else None

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._formats

    def all(self) -> list[MetadataFormat]:
        return [e.format for e in self._formats.values()]

    def render(self, prefix: str, source: Source) -> bytes | None:
        """One format of one record (``None``: not available in that format)."""
        entry = self._formats.get(prefix)
        return entry.render(source) if entry else None

    def render_all(self, source: Source, problems: list[str] | None = None) -> dict[str, bytes]:
        """Every format this record can be disseminated in.

        A renderer that fails leaves that one format out and, when ``problems``
        is given, says why there: a crosswalk bug costs one format, not the record.
        """
        out = {}
        for prefix, entry in self._formats.items():
            try:
                xml = entry.render(source)
            except Exception as exc:  # noqa: BLE001 - reported, never swallowed
                if problems is None:
                    raise
                problems.append(f"could not render {prefix}: {exc!r}")
                continue
            if xml is not None:
                out[prefix] = xml
        return out


def as_marc(source: Source) -> pymarc.Record:
    """A record as MARC: Dublin Core through the DC→MARC crosswalk (once per
    record while its elements stay the same; renderers must not change it)."""
    if isinstance(source, DCRecord):
        from .crosswalk.dc2marc import dc_to_marc

        elements = tuple(source.elements)
        if source._marc is None or source._marc[0] != elements:
            source._marc = (elements, dc_to_marc(source.elements))
        return source._marc[1]
    return source


def render_oai_dc(source: Source) -> bytes:
    if isinstance(source, DCRecord):
        return dc.dc_to_xml(source.elements, "oai_dc")
    return dc.marc_to_oai_dc(source)


def render_marc21(source: Source) -> bytes:
    return marcxml.record_to_marcxml(as_marc(source))


def render_mods(source: Source) -> bytes:
    return _mods().marc_to_mods(as_marc(source))


@cache
def _mods() -> ModuleType:
    # Loaded when first used (converting to oai_dc does not load MODS), once: an
    # import statement run record by record cost 3% of a conversion.
    from .crosswalk import mods

    return mods


def canonical(source: Source, rendered: dict[str, bytes] | None = None) -> tuple[str, bytes]:
    """The form a record is kept in: MARCXML, or oai_dc for DC-only records.

    ``rendered`` are formats already rendered for this record: their bytes are
    reused rather than rendered a second time.
    """
    rendered = rendered or {}
    if isinstance(source, DCRecord):
        return "oai_dc", rendered.get("oai_dc") or dc.dc_to_xml(source.elements, "oai_dc")
    return "marc21", rendered.get("marc21") or marcxml.record_to_marcxml(source)


def from_canonical(fmt: str, data: bytes) -> Source:
    """A stored record's canonical form (see :func:`canonical`) as a source record
    again: MARCXML as MARC, oai_dc as Dublin Core."""
    if fmt == "marc21":
        return marcxml.parse_marcxml_record(data)
    from lxml import etree

    from .crosswalk.dc import parse_dc
    from .xml import SAFE_PARSER

    return DCRecord(parse_dc(etree.fromstring(data, SAFE_PARSER)))


def default_registry() -> FormatRegistry:
    """oai_dc (mandatory), marc21 (MARCXML) and mods."""
    registry = FormatRegistry()
    registry.register(OAI_DC, render_oai_dc)
    registry.register(MARC21, render_marc21)
    registry.register(MODS, render_mods)
    return registry
