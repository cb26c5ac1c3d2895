"""Streaming reader of Dublin Core records: ``oai_dc:dc`` elements (alone, in
an OAI-PMH response, or in any wrapper), ``srw_dc:dc``, or ``<record>``
elements holding ``dc:*`` children.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..crosswalk.dc import DC_NS, OAI_DC_NS, SRW_DC_NS, parse_dc
from ..wording import Note
from .detect import head_of
from .result import DCRecord, ReadResult
from .xmlsplit import read_elements

_DC_CONTAINER = re.compile(rb"<(?:[\w.-]+:)?dc[\s>]")
_DC_CONTAINERS = (f"{{{OAI_DC_NS}}}dc", f"{{{SRW_DC_NS}}}dc")


def read_dc(stream: BinaryIO) -> Iterator[ReadResult]:
    """Read every DC record of a stream."""
    head = head_of(stream)
    element = "dc" if _DC_CONTAINER.search(head) else "record"
    for result, elem in read_elements(stream, element):
        if elem is not None:
            # The DC elements may sit deeper than the record (OAI-PMH's
            # record/metadata/oai_dc:dc): read them under whoever holds them.
            holders = list(dict.fromkeys(
                child.getparent() for child in elem.iter(f"{{{DC_NS}}}*")))
            elements = [pair for holder in holders for pair in parse_dc(holder)]
            if elements:
                result.record = DCRecord(elements)
            else:
                result.error = Note("read.no-dc")
        yield result


def _qualified(elem: etree._Element) -> str:
    local = etree.QName(elem).localname
    return f"{elem.prefix}:{local}" if elem.prefix else local


def read_dc_as_written(stream: BinaryIO) -> Iterator[tuple[ReadResult, list[tuple[str, str]],
                                                        list[str]]]:
    """Like :func:`read_dc`, but the text as the file holds it (not NFC'd,
    empty elements kept); with each record, the names of children of an
    oai_dc:dc / srw_dc:dc that are not in the DC namespace (import drops them)."""
    head = head_of(stream)
    element = "dc" if _DC_CONTAINER.search(head) else "record"
    dc_any = f"{{{DC_NS}}}*"
    for result, elem in read_elements(stream, element):
        elements: list[tuple[str, str]] = []
        foreign: list[str] = []
        if elem is not None:
            holders = list(dict.fromkeys(child.getparent() for child in elem.iter(dc_any)))
            for holder in holders:
                for child in holder.iterchildren(dc_any):
                    elements.append((etree.QName(child).localname, "".join(child.itertext())))
            for container in (e for e in [elem, *holders] if e.tag in _DC_CONTAINERS):
                foreign.extend(_qualified(c) for c in container.iterchildren(tag=etree.Element)
                               if etree.QName(c).namespace != DC_NS)
            foreign = list(dict.fromkeys(foreign))
            if not any(text.strip() for _, text in elements):
                # What import says of it: the record cannot be loaded.
                result.error = Note("read.no-dc")
                if elements:
                    result.error += " (every one is empty)"
                elif foreign:
                    result.error += (f" (<{'>, <'.join(foreign[:5])}> are not in the Dublin Core "
                                     f"namespace {DC_NS})")
        yield result, elements, foreign
