"""Streaming reader of Dublin Core records: ``oai_dc:dc`` elements (alone, in
an OAI-PMH response, or in any wrapper), ``srw_dc:dc``, or ``<record>``
elements holding ``dc:*`` children.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from ..crosswalk.dc import DC_NS, parse_dc
from .result import DCRecord, ReadResult
from .xmlsplit import read_elements

_DC_CONTAINER = re.compile(rb"<(?:[\w.-]+:)?dc[\s>]")


def read_dc(stream: BinaryIO) -> Iterator[ReadResult]:
    """Read every DC record of a stream."""
    head = stream.read(1 << 16)
    stream.seek(0)
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
                result.error = "no Dublin Core elements in this record"
        yield result
