"""What a reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field

import pymarc

from ..wording import Note, say


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


class FileNote(Note):
    """A reader's note about the whole file (its headings, its encoding) that rides
    on the first record's warnings: reports print it with the file's name only,
    not the place of the record it came with.

        >>> note = FileNote("read.unknown-columns", row=1, mapping="default", columns="Ghi chú 2")
        >>> isinstance(note, str), about_file(note), about_file("a record's note")
        (True, True, False)
    """


def about_file(note: object) -> bool:
    """True for a :class:`FileNote` (also once carried in a report's problem)."""
    return isinstance(note, FileNote)


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
        """``record 8 (byte 12345)`` — for messages a person reads (in the language spoken)."""
        return say("read.record", n=self.position) + (f" ({self.location})" if self.location else "")
