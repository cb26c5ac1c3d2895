"""Harvested records into store records: the crosswalk half of the harvester.

Turning a harvested page into store records (MARCXML or DC read and cleaned,
every exposed format rendered, the search entries computed) is most of a
harvest's work, and it needs nothing but the record itself. So it is done here,
apart from the wire and the store, on as many processes as the machine has
cores (:class:`~thuvien_interop.workers.WorkerPool`), while the harvester
fetches the next page and commits the previous one.

A :class:`Job` is everything one record needs (plain data, so it crosses
process boundaries); :func:`convert` turns it into a :class:`Converted`: a
store :class:`~thuvien_interop.model.Record`, or the reason it cannot be one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from lxml import etree

from .. import dates
from ..crosswalk.dc import DC_NS, OAI_DC_NS, XSI_NS, parse_dc
from ..crosswalk.marcxml import MARC_NS, element_to_record
from ..crosswalk.text import normalize
from ..formats import FormatRegistry
from ..ingest.loader import build_record
from ..ingest.marcxml import normalize_record
from ..ingest.result import DCRecord
from ..model import Record, WriteSummary
from ..store import search_plan
from ..workers import in_turn, pack_record, split_written, store_for, unpack_record
from .harvest_page import local

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile
    from ..store.base import Repository

PROVENANCE_NS = "http://www.openarchives.org/OAI/2.0/provenance"
PROVENANCE_SCHEMA = "http://www.openarchives.org/OAI/2.0/provenance.xsd"
_DC_NAMES = frozenset(("title", "creator", "subject", "description", "publisher", "contributor",
                       "date", "type", "format", "identifier", "source", "language", "relation",
                       "coverage", "rights"))
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True, remove_blank_text=False)


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


@dataclass(slots=True)
class Converted:
    """What became of a :class:`Job`: a record, or ``error`` (why not) with the
    record's XML for the quarantine. ``notes`` are repairs worth reporting."""

    identifier: str
    position: int
    datestamp: int
    record: Record | None = None
    error: str | None = None
    text: str = ""
    notes: list[str] = field(default_factory=list)


class Unreadable(Exception):
    """A harvested record that cannot become a store record (quarantined)."""


def _element(data: bytes | etree._Element) -> etree._Element:
    if isinstance(data, bytes):
        return etree.fromstring(data, _PARSER)
    return data


def _text(data: bytes | etree._Element | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return etree.tostring(data, encoding="unicode", with_tail=False)


def convert(job: Job, registry: FormatRegistry, base_url: str, prefix: str,
            index_profile: IndexProfile | None = None) -> Converted:
    """One harvested record into a store record (never raises for a bad record)."""
    out = Converted(job.identifier, job.position, job.datestamp)
    try:
        out.record = _convert(job, registry, base_url, prefix, out.notes, index_profile)
    except Unreadable as exc:
        out.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a crosswalk bug costs one record, kept in quarantine
        out.error = f"could not be converted: {exc!r}"
    if out.error is not None:
        out.text = _text(job.metadata)
    return out


def _convert(job: Job, registry: FormatRegistry, base_url: str, prefix: str,
             notes: list[str], index_profile: IndexProfile | None = None) -> Record:
    abouts = [_element(a) for a in job.abouts]
    if job.deleted:
        about = provenance(base_url, job.identifier, job.datestamp, job.harvest_date,
                           namespace_of(None, prefix), abouts)
        return Record(job.identifier, deleted=True, sets=tuple(job.sets), about=about)
    if job.metadata is None:
        raise Unreadable("the record is not deleted but has no metadata")
    kind, elem = metadata_kind(_element(job.metadata), prefix)
    found: list[str] = []
    if kind == "marc21":
        marc = element_to_record(elem)
        if not marc.fields:
            raise Unreadable("the MARCXML record has no fields")
        normalize_record(marc, found)
        record = build_record(marc, job.identifier, registry, job.sets, found, index_profile)
    elif kind == "oai_dc":
        elements = dc_elements(elem)
        if not elements:
            raise Unreadable("the Dublin Core record has no elements")
        record = build_record(DCRecord(elements), job.identifier, registry, job.sets, found,
                              index_profile)
    else:
        raise Unreadable(
            f"metadata in namespace {etree.QName(elem).namespace or '(none)'} cannot be "
            "crosswalked (marc21 and oai_dc can)")
    notes.extend(f"record {job.identifier}: {n}" for n in found
                 if not n.startswith("text normalized"))
    record.about = provenance(base_url, job.identifier, job.datestamp, job.harvest_date,
                              etree.QName(elem).namespace or namespace_of(kind, prefix), abouts)
    # The store's search entries, computed here rather than in the writer (the
    # index itself need not travel back to the harvester with them).
    record.entries = list(search_plan.index_entries(record.index))
    record.index = {}
    return record


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
        f"<baseURL>{escape(base_url)}</baseURL><identifier>{escape(identifier)}</identifier>"
        f"<datestamp>{dates.format_utc(datestamp)}</datestamp>"
        f"<metadataNamespace>{escape(namespace)}</metadataNamespace>{nested}"
        "</originDescription></provenance>").encode()


def _valid_origin(origin: etree._Element) -> bool:
    names = [local(c.tag) for c in origin if isinstance(c.tag, str)]
    return (names[:4] == ["baseURL", "identifier", "datestamp", "metadataNamespace"]
            and origin.get("harvestDate") is not None and origin.get("altered") is not None)


_HARVEST_DATE = re.compile(rb'harvestDate="[^"]*"')


def settle(store: Repository, set_spec: str, record: Record) -> Record:
    """What only the store can tell about a converted record: an identifier
    another source already holds is a collision (:class:`Unreadable`); an
    unchanged record keeps its first harvest date."""
    existing = store.get(record.identifier)
    if existing is None:
        return record
    if set_spec not in existing.header.sets:
        raise Unreadable(
            f"identifier collision: {record.identifier} is already in the store from another "
            f"source (sets: {', '.join(existing.header.sets) or 'none'}); not overwritten")
    if existing.about is not None and record.about is not None and \
            _HARVEST_DATE.sub(b"", existing.about) == _HARVEST_DATE.sub(b"", record.about):
        # Same origin, same original datestamp: keep the first harvest date, so
        # that re-harvesting an unchanged record leaves it unchanged.
        record.about = existing.about
    return record


def settle_and_write(store: Repository, set_spec: str,
                     converted: Sequence[Converted]) -> WriteSummary:
    """Settle the converted records of a page (a collision turns into an
    ``error``: quarantined) and write them in one batch."""
    batch: dict[str, Record] = {}
    for c in converted:
        if c.record is None:
            continue
        try:
            batch[c.identifier] = settle(store, set_spec, c.record)
        except Unreadable as exc:
            c.record, c.error = None, str(exc)
    return store.write(batch.values()) if batch else WriteSummary()


# -- on several processes (thuvien_interop.workers) --------------------------------

def convert_chunk(registry: FormatRegistry, jobs: Sequence[Job], base_url: str,
                  prefix: str, index_profile: IndexProfile | None = None,
                  target: str | None = None, set_spec: str = "") -> list[tuple]:
    """The chunk function of :class:`~thuvien_interop.workers.WorkerPool`: each job
    converted, packed for the trip back (:func:`unpack`).

    With a store ``target`` (a URL every process can open), the chunk is also
    settled and written there, in its turn (:func:`~thuvien_interop.workers.in_turn`),
    by the worker itself: only what the harvester needs to know comes back (the
    records' fate, not the records), and the chunk's
    :class:`~thuvien_interop.model.WriteSummary` after them.
    """
    done = [convert(job, registry, base_url, prefix, index_profile) for job in jobs]
    if target is None:
        return [_pack(c) for c in done]
    store = store_for(target)
    with in_turn():
        summary = settle_and_write(store, set_spec, done)
    for c in done:
        c.record = None
    return [*map(_pack, done), summary]


def unpack_results(results: Sequence[tuple]) -> tuple[list[Converted], WriteSummary | None]:
    """What :func:`convert_chunk` sent back (every chunk of a page, in order):
    the converted records, and what was written when the chunks wrote themselves
    (``None`` when the caller is to settle and write the records)."""
    items, written = split_written(results)
    return [unpack(t) for t in items], written


def _pack(c: Converted) -> tuple:
    record = None if c.record is None else pack_record(c.record)  # half the pickling time
    return c.identifier, c.position, c.datestamp, record, c.error, c.text, c.notes


def unpack(t: tuple) -> Converted:
    identifier, position, datestamp, record, error, text, notes = t
    rec = None if record is None else unpack_record(record)
    return Converted(identifier, position, datestamp, rec, error, text, notes)


def serialize(elem: etree._Element | None) -> bytes | None:
    """A live element as bytes a worker process can parse again."""
    return None if elem is None else etree.tostring(elem, encoding="utf-8", with_tail=False)
