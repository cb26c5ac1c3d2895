"""Which reader a file needs, by its extension and its first bytes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..wording import say
from .result import ReadResult

if TYPE_CHECKING:
    from .spreadsheet import ColumnMapping

FORMATS = ("iso2709", "marcxml", "dc", "csv", "xlsx")
_MARC_EXT = {".mrc", ".dat", ".marc", ".iso", ".iso2709", ".usm", ".ldr"}
_SHEET_EXT = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}


class UnknownFormat(ValueError):
    """The file's format could not be recognised."""


def head_of(stream: BinaryIO, size: int = 1 << 16) -> bytes:
    """The first bytes of a stream, left to be read again: up to ``size`` of a
    file; of a pipe (``/dev/stdin``), what its buffer holds (a few kilobytes)."""
    if stream.seekable():
        start = stream.tell()
        head = stream.read(size)
        stream.seek(start)
        return head
    peek = getattr(stream, "peek", None)
    return peek(size)[:size] if peek is not None else b""


def detect_format(stream: BinaryIO, name: str = "") -> str:
    """Return ``iso2709``, ``marcxml``, ``dc``, ``csv`` or ``xlsx`` (nothing of
    the stream is consumed: a pipe's first bytes are peeked at)."""
    head = head_of(stream)
    suffix = Path(name).suffix.lower()
    if head.startswith(b"PK\x03\x04") and suffix in ("", ".xlsx", ".xlsm"):
        return "xlsx"  # a zip container: an Office Open XML workbook
    if suffix in _SHEET_EXT and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _SHEET_EXT[suffix]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        if b"MARC21/slim" in head or re.search(rb"<(\w+:)?leader[\s>]", head):
            return "marcxml"
        if b"purl.org/dc/elements/1.1" in head:
            return "dc"
        raise UnknownFormat(say("format.xml-unknown", name=name or say("format.the-file")))
    if text[:5].isdigit() or Path(name).suffix.lower() in _MARC_EXT:
        return "iso2709"
    raise UnknownFormat(say("format.unknown", name=name or say("format.the-file")))


def read_stream(stream: BinaryIO, fmt: str, mapping: ColumnMapping | None = None) -> Iterator[ReadResult]:
    """Read records from an open binary stream in a known format.

    ``mapping`` is the column mapping of spreadsheets (default: the usual
    Vietnamese headings); other formats ignore it."""
    if fmt == "iso2709":
        from .iso2709 import read_iso2709

        return read_iso2709(stream)
    if fmt == "marcxml":
        from .marcxml import read_marcxml

        return read_marcxml(stream)
    if fmt == "dc":
        from .dc import read_dc

        return read_dc(stream)
    if fmt == "csv":
        from .spreadsheet import read_csv

        return read_csv(stream, mapping)
    if fmt == "xlsx":
        from .spreadsheet import read_xlsx

        return read_xlsx(stream, mapping)
    raise UnknownFormat(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")


def read_file(path: str | Path, fmt: str | None = None) -> Iterator[ReadResult]:
    """Read every record of a file, detecting its format unless given."""
    with open(path, "rb") as stream:
        fmt = fmt or detect_format(stream, str(path))
        yield from read_stream(stream, fmt)
