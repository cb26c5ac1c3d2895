"""What a reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field

import pymarc


@dataclass(slots=True)
class DCRecord:
    """A Dublin Core record: (element local name, value) pairs in document order."""

    elements: list[tuple[str, str]]
    # Its MARC form (formats.as_marc), kept with the elements it was made from:
    # marc21 and mods both start from it.
    _marc: tuple[tuple[tuple[str, str], ...], pymarc.Record] | None = field(
        default=None, repr=False, compare=False)

    def values(self, element: str) -> list[str]:
        return [v for e, v in self.elements if e == element]


Source = pymarc.Record | DCRecord


@dataclass(slots=True)
class ReadResult:
    """One record read from a file, or the reason it could not be.

    ``position`` is the record's number in the file (1-based); ``location`` says
    where it starts ("byte 12345", "line 230") where known. ``warnings`` are repairs
    made on the way (a wrong leader length, forbidden XML characters, …).
    """

    position: int
    location: str | None
    record: Source | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """``record 8 (byte 12345)`` — for messages a person reads."""
        return f"record {self.position}" + (f" ({self.location})" if self.location else "")
