"""Harvested records into store records: the crosswalk half of the harvester.

Turning a harvested page into store records (MARCXML or DC read and cleaned,
every exposed format rendered, the search entries computed) is most of a
harvest's work, and it needs nothing but the record itself. So it is done here,
apart from the wire and the store, on as many processes as the machine has
cores (:class:`~thuvien_interop.workers.WorkerPool`), while the harvester
fetches the next page and commits the previous one.

A :class:`Job` is everything one record needs (plain data, so it crosses
process boundaries): the pipeline's incoming item of a harvest carries it as its
deferred source (:class:`~thuvien_interop.pipeline.Deferred`), read into MARC or
Dublin Core where the item is built (:meth:`Job.read`), then rendered, indexed
and written by the pipeline as any other door's records are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from .. import dates
from .. import xml as ns
from ..crosswalk.dc import DC_NS, OAI_DC_NS, XSI_NS, parse_dc
from ..crosswalk.marcview import fields_of
from ..crosswalk.marcxml import MARC_NS, element_to_record
from ..crosswalk.text import normalize
from ..ingest.marcxml import normalize_record
from ..ingest.result import DCRecord, Source
from ..pipeline import Incoming, Unreadable
from ..xml import PROVENANCE as PROVENANCE_NS
from ..xml import PROVENANCE_SCHEMA, SAFE_PARSER, local

_DC_NAMES = frozenset(("title", "creator", "subject", "description", "publisher", "contributor",
                       "date", "type", "format", "identifier", "source", "language", "relation",
                       "coverage", "rights"))


@dataclass(slots=True)
class Job:
    """One harvested record, as plain data.

    ``metadata`` and ``abouts`` are the provider's XML (bytes, or live lxml
    elements when the job is converted in the process that read the page);
    ``sets`` are the record's sets in the union, already checked."""

    identifier: str
    position: int
    deleted: bool
    sets: list[str]
    datestamp: int
    harvest_date: int
    metadata: bytes | etree._Element | None = None
    abouts: list[bytes | etree._Element] = field(default_factory=list)
    base_url: str = ""
    prefix: str = ""

    def incoming(self, origin: str) -> Incoming:
        """The pipeline's item for this record (``origin``: the provider's set)."""
        return Incoming(f"record {self.position} ({self.identifier})", self.identifier,
                        source=self, deleted=self.deleted, sets=tuple(self.sets), origin=origin)

    def read(self, item: Incoming, notes: list[str]) -> Source | None:
        """The harvested record as MARC or Dublin Core (``None`` for a deletion),
        with its provenance in ``item.about`` (and, without the harvest date, in
        ``item.about_key``: re-harvested unchanged, it keeps its first harvest date).
        Raises :class:`~thuvien_interop.pipeline.Unreadable`."""
        abouts = [_element(a) for a in self.abouts]
        if self.deleted:
            namespace = namespace_of(None, self.prefix)
            out: Source | None = None
        else:
            if self.metadata is None:
                raise Unreadable("the record is not deleted but has no metadata")
            kind, elem = metadata_kind(_element(self.metadata), self.prefix)
            if kind == "marc21":
                marc = element_to_record(elem)
                if not fields_of(marc):
                    raise Unreadable("the MARCXML record has no fields")
                found: list[str] = []
                normalize_record(marc, found)
                notes.extend(n for n in found if not n.startswith("text normalized"))
                out = marc
            elif kind == "oai_dc":
                elements = dc_elements(elem)
                if not elements:
                    raise Unreadable("the Dublin Core record has no elements")
                out = DCRecord(elements)
            else:
                raise Unreadable(
                    f"metadata in namespace {etree.QName(elem).namespace or '(none)'} cannot be "
                    "crosswalked (marc21 and oai_dc can)")
            namespace = etree.QName(elem).namespace or namespace_of(kind, self.prefix)
        item.about = provenance(self.base_url, self.identifier, self.datestamp,
                                self.harvest_date, namespace, abouts)
        item.about_key = _HARVEST_DATE.sub(b"", item.about)
        return out


_HARVEST_DATE = re.compile(rb'harvestDate="[^"]*"')


def _element(data: bytes | etree._Element) -> etree._Element:
    if isinstance(data, bytes):
        return etree.fromstring(data, SAFE_PARSER)
    return data


def xml_text(data: bytes | etree._Element | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return etree.tostring(data, encoding="unicode", with_tail=False)


def metadata_kind(elem: etree._Element, prefix: str) -> tuple[str, etree._Element]:
    """Which crosswalk reads this metadata: by its namespace, by its name when the
    provider forgot the namespace, by the prefix asked for as a last resort."""
    ns = etree.QName(elem).namespace
    name = local(elem.tag)
    if name == "collection" and (ns == MARC_NS or ns is None):
        first = next((c for c in elem if local(c.tag) == "record"), None)
        if first is not None:
            return "marc21", first
    if ns == MARC_NS or (ns is None and name == "record"):
        return "marc21", elem
    if ns == OAI_DC_NS or (name == "dc" and ns in (None, "info:srw/schema/1/dc-schema")):
        return "oai_dc", elem
    if ns is None and prefix.lower() in ("marc21", "marcxml", "marc"):
        return "marc21", elem
    if ns is None and prefix.lower() in ("oai_dc", "dc"):
        return "oai_dc", elem
    return "other", elem


def namespace_of(kind: str | None, prefix: str) -> str:
    if kind == "marc21" or (kind is None and prefix.lower() in ("marc21", "marcxml", "marc")):
        return MARC_NS
    return OAI_DC_NS


def dc_elements(elem: etree._Element) -> list[tuple[str, str]]:
    elements = parse_dc(elem)
    if elements:
        return elements
    # Providers that forget the DC namespace: take DC element names as they come.
    out = []
    for child in elem:
        name = local(child.tag)
        if name in _DC_NAMES and etree.QName(child).namespace in (None, DC_NS):
            text = "".join(child.itertext()).strip()
            if text:
                out.append((name, normalize(" ".join(text.split()))))
    return out


def provenance(base_url: str, identifier: str, datestamp: int, harvest_date: int,
               namespace: str, abouts: list[etree._Element]) -> bytes:
    """The OAI-PMH ``about`` payload of a harvested record (provenance.xsd)."""
    nested = ""
    for about in abouts:
        if local(about.tag) == "provenance" and etree.QName(about).namespace == PROVENANCE_NS:
            origin = next((c for c in about if local(c.tag) == "originDescription"), None)
            if origin is not None and _valid_origin(origin):
                # Provenance of a record harvested again: the chain nests (guidelines §2).
                nested = etree.tostring(origin, encoding="unicode", with_tail=False)
            break
    return (
        f'<provenance xmlns="{PROVENANCE_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{PROVENANCE_NS} {PROVENANCE_SCHEMA}">'
        f'<originDescription harvestDate="{dates.format_utc(harvest_date)}" altered="true">'
        f"<baseURL>{ns.xml_text(base_url)}</baseURL><identifier>{ns.xml_text(identifier)}</identifier>"
        f"<datestamp>{dates.format_utc(datestamp)}</datestamp>"
        f"<metadataNamespace>{ns.xml_text(namespace)}</metadataNamespace>{nested}"
        "</originDescription></provenance>").encode()


def _valid_origin(origin: etree._Element) -> bool:
    names = [local(c.tag) for c in origin if isinstance(c.tag, str)]
    return (names[:4] == ["baseURL", "identifier", "datestamp", "metadataNamespace"]
            and origin.get("harvestDate") is not None and origin.get("altered") is not None)


def serialize(elem: etree._Element | None) -> bytes | None:
    """A live element as bytes a worker process can parse again."""
    return None if elem is None else etree.tostring(elem, encoding="utf-8", with_tail=False)
