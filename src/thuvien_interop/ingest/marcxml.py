"""Streaming MARCXML reader: a ``<collection>`` or one ``<record>``, with or
without the MARC21 slim namespace.

    >>> for result in read_marcxml(open("catalogue.xml", "rb")):   # doctest: +SKIP
    ...     print(result.where, result.error or result.record.title)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pymarc

from ..crosswalk.marcview import fields_of
from ..crosswalk.marcxml import element_to_record
from ..crosswalk.text import normalize
from ..wording import Note
from .result import ReadResult
from .xmlsplit import read_elements


def read_marcxml(stream: BinaryIO, *, normalize_text: bool = True) -> Iterator[ReadResult]:
    """Read every MARCXML record of a stream; a broken one is reported, not fatal.

    ``normalize_text=False`` keeps the text as the file holds it (not NFC'd), for
    ``check``, which must see what is really there."""
    for result, elem in read_elements(stream, "record"):
        if elem is not None:
            record = element_to_record(elem)
            if not fields_of(record) and not str(record.leader).strip():
                result.error = Note("read.empty-marcxml")
            else:
                if normalize_text:
                    normalize_record(record, result.warnings)
                result.record = record
        yield result


def normalize_record(record: pymarc.Record, warnings: list[str]) -> None:
    """Put every value of a record into clean NFC, in place; say so in ``warnings``
    if anything changed."""
    changed = False
    for field in fields_of(record):
        if field.control_field:
            new = normalize(field.data or "")
            changed |= new != field.data
            field.data = new
        else:
            subfields = field.subfields
            for i, (code, value) in enumerate(subfields):
                new = normalize(value or "")
                if new != value:
                    changed = True
                    sf = subfields[i]
                    subfields[i] = sf._replace(value=new) if isinstance(sf, pymarc.Subfield) else (code, new)
    if changed:
        warnings.append(Note("read.nfc"))
