"""Streaming MARCXML reader: a ``<collection>`` or one ``<record>``, with or
without the MARC21 slim namespace.

    >>> for result in read_marcxml(open("catalogue.xml", "rb")):   # doctest: +SKIP
    ...     print(result.where, result.error or result.record.title)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pymarc
from lxml import etree

from ..crosswalk.marcxml import element_to_record
from ..crosswalk.text import normalize
from .result import ReadResult
from .xmlsplit import parse_chunk, split_records


def read_marcxml(stream: BinaryIO) -> Iterator[ReadResult]:
    """Read every MARCXML record of a stream; a broken one is reported, not fatal."""
    for position, line, chunk, error, repairs in split_records(stream, "record"):
        result = ReadResult(position, f"line {line}", warnings=repairs)
        if chunk is None:
            result.error = error
            yield result
            continue
        try:
            elem = parse_chunk(chunk)
        except etree.XMLSyntaxError as exc:
            result.error = f"not well-formed XML: {_relative(exc, line)}"
            yield result
            continue
        record = element_to_record(elem)
        if not record.fields and not str(record.leader).strip():
            result.error = "the <record> element holds no leader and no fields"
            yield result
            continue
        normalize_record(record, result.warnings)
        result.record = record
        yield result


def _relative(exc: etree.XMLSyntaxError, first_line: int) -> str:
    msg = str(exc.msg if hasattr(exc, "msg") else exc)
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return f"{msg.split(', line')[0]} (line {first_line + lineno - 1})"
    return msg


def normalize_record(record: pymarc.Record, warnings: list[str]) -> None:
    """Put every value of a record into clean NFC, in place; say so in ``warnings``
    if anything changed."""
    changed = False
    for field in record.fields:
        if field.is_control_field():
            new = normalize(field.data or "")
            changed |= new != field.data
            field.data = new
        else:
            for i, sf in enumerate(field.subfields):
                new = normalize(sf.value or "")
                if new != sf.value:
                    changed = True
                    field.subfields[i] = sf._replace(value=new)
    if changed:
        warnings.append("text normalized to Unicode NFC")
