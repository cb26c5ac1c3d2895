"""Streaming reader of Dublin Core records: ``oai_dc:dc`` elements (alone, in
an OAI-PMH response, or in any wrapper), ``srw_dc:dc``, or ``<record>``
elements holding ``dc:*`` children.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..crosswalk.text import normalize
from .result import DCRecord, ReadResult
from .xmlsplit import parse_chunk, split_records

DC_NS = "http://purl.org/dc/elements/1.1/"
_DC_CONTAINER = re.compile(rb"<(?:[\w.-]+:)?dc[\s>]")


def read_dc(stream: BinaryIO) -> Iterator[ReadResult]:
    """Read every DC record of a stream."""
    head = stream.read(1 << 16)
    stream.seek(0)
    element = "dc" if _DC_CONTAINER.search(head) else "record"
    for position, line, chunk, error, repairs in split_records(stream, element):
        result = ReadResult(position, f"line {line}", warnings=repairs)
        if chunk is None:
            result.error = error
            yield result
            continue
        try:
            elem = parse_chunk(chunk)
        except etree.XMLSyntaxError as exc:
            result.error = f"not well-formed XML: {exc}"
            yield result
            continue
        elements: list[tuple[str, str]] = []
        for child in elem.iter():
            if not isinstance(child.tag, str) or child is elem:
                continue
            q = etree.QName(child)
            if q.namespace in (DC_NS, "http://purl.org/dc/terms/") and child.text and child.text.strip():
                elements.append((q.localname, normalize(" ".join(child.text.split()))))
        if not elements:
            result.error = "no Dublin Core elements in this record"
        else:
            result.record = DCRecord(elements)
        yield result
