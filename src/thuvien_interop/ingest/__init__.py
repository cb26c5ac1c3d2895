"""Reading records from files we do not control: ISO 2709, MARCXML, Dublin Core.

Every reader is an iterator of :class:`ReadResult` over a file: a broken record
does not end the file; the caller gets its position, the reason, and goes on.

    >>> from thuvien_interop.ingest import read_file
    >>> for result in read_file("catalogue.mrc"):            # doctest: +SKIP
    ...     print(result.position, result.error or result.record["245"]["a"])
"""

from __future__ import annotations

from .detect import detect_format, read_file
from .result import DCRecord, ReadResult

__all__ = ["DCRecord", "ReadResult", "detect_format", "read_file"]
