"""Streaming XML record reading that survives a broken record: the records of a
file cut by :func:`thuvien_interop.xml.split_records` and parsed one by one, as
read results. A record that is not well-formed is reported and the next one
parsed: one broken record costs one record, not the rest of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..wording import Note, say

# The splitter and the safe parser are the XML home's; named here too for the
# readers that know them from here.
from ..xml import SAFE_PARSER, parse_chunk, safe_parser, split_records
from .result import ReadResult

__all__ = ["SAFE_PARSER", "parse_chunk", "read_elements", "safe_parser", "split_records"]


def read_elements(stream: BinaryIO, element: str) -> Iterator[tuple[ReadResult, etree._Element | None]]:
    """Every ``element`` of a stream, parsed: (result, element), or (result with its
    error, None) for a record that cannot be cut out or is not well-formed. Line
    numbers in errors are the file's, not the chunk's."""
    for position, line, chunk, error, repairs in split_records(stream, element):
        result = ReadResult(position, say("read.line", n=line), warnings=repairs)
        if chunk is None:
            result.error = error
            yield result, None
            continue
        try:
            yield result, parse_chunk(chunk)
        except etree.XMLSyntaxError as exc:
            msg = str(getattr(exc, "msg", None) or exc).split(", line")[0]
            lineno = getattr(exc, "lineno", None)
            where = say("read.at-line", n=line + lineno - 1) if lineno else ""
            result.error = Note("read.not-xml", cause=msg, where=where)
            yield result, None
