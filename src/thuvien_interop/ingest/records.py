"""The records of a file as ``import`` and ``convert`` read them: the format's
reader, an ISO 2709 source encoding when the leader cannot be trusted, and
mojibake repaired on request.

    >>> with open("old-tcvn3.mrc", "rb") as fh:                        # doctest: +SKIP
    ...     for result in read_records(fh, "iso2709", source_encoding="auto"):
    ...         print(result.where, result.error or result.warnings)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

import pymarc

from .result import DCRecord, ReadResult

if TYPE_CHECKING:
    from .spreadsheet import ColumnMapping


class CountingStream:
    """A read-only binary stream that reports progress in bytes (for a progress bar)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if self._progress and data:
            self._progress(len(data))
        return data

    def read1(self, n: int = -1) -> bytes:
        read1 = getattr(self._raw, "read1", None)
        data = read1(n) if read1 is not None else self._raw.read(n)
        if self._progress and data:
            self._progress(len(data))
        return data

    def peek(self, n: int = 0) -> bytes:
        peek = getattr(self._raw, "peek", None)
        return peek(n) if peek is not None else b""

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._raw.seek(pos, whence)

    def tell(self) -> int:
        return self._raw.tell()


def read_records(stream: BinaryIO, fmt: str, *, source_encoding: str | None = None,
                 repair_mojibake: float | None = None,
                 mapping: ColumnMapping | None = None) -> Iterator[ReadResult]:
    """The records of a file in format ``fmt`` (see :mod:`thuvien_interop.ingest.detect`),
    as ``import`` and ``convert`` read them: ISO 2709 in ``source_encoding`` when
    given, mojibake repaired above the ``repair_mojibake`` confidence (each repair
    among the result's warnings)."""
    from .detect import read_stream
    from .iso2709 import read_iso2709

    if fmt == "iso2709" and source_encoding:
        results = read_iso2709(stream, source_encoding)
    else:
        results = read_stream(stream, fmt, mapping)  # type: ignore[arg-type]
    # No layer of its own when nothing is repaired: every record passes through here.
    return results if repair_mojibake is None else _repaired(results, repair_mojibake)


def _repaired(results: Iterator[ReadResult], min_confidence: float) -> Iterator[ReadResult]:
    for result in results:
        if isinstance(result.record, pymarc.Record):
            from ..crosswalk.lint import repair_mojibake as repair

            result.warnings.extend(repair(result.record, min_confidence))
        elif isinstance(result.record, DCRecord):
            from ..crosswalk.lint import repair_dc_mojibake

            result.warnings.extend(repair_dc_mojibake(result.record.elements, min_confidence))
        yield result
