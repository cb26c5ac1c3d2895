"""What the three doors (``import``, ``harvest``, ``sync``) hand to the pipeline, and
what it hands back: typed incoming items, one problem type, one report type.

    >>> item = Incoming("record 3 (byte 1200)", "oai:thuvien.example.vn:VN3", source=None,
    ...                 error="the directory is damaged")
    >>> Problem("catalogue.mrc", item.where, item.error)
    Problem(source='catalogue.mrc', where='record 3 (byte 1200)', reason='the directory is damaged', code='')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..ingest.result import Source
from ..model import WriteSummary


@runtime_checkable
class Deferred(Protocol):
    """A source record not read yet: read where the item is built (on a worker
    process when there are some), from plain data that crosses processes cheaply.
    The harvester's XML and MARC records packed as tuples are deferred."""

    def read(self, item: Incoming, notes: list[str]) -> Source | None:
        """The source record (``None`` for a deletion); may set ``item.about`` and
        ``item.about_key``; raises :class:`Unreadable` when there is no record."""


class Unreadable(Exception):
    """An incoming item that cannot become a store record; the message says why."""


@dataclass(slots=True)
class Incoming:
    """One record on its way in, whichever door it came through.

    ``where`` is its position in what the door read (``record 8 (byte 12345)`` in
    a file, ``record 12 (oai:x:1)`` on a harvested page, ``row 17`` of a table);
    the door's name for the whole (the file, the provider, the source) is given
    with the batch. ``source`` is the record read, or a :class:`Deferred` reading
    of it; ``error`` says why there is none (the item is then only reported).
    ``deleted``: a deletion or withdrawal (leader/05 ``d``, a deleted header, a
    row gone from the source). ``notes`` are repairs made while reading.
    ``origin`` and ``about_key``: see :class:`~thuvien_interop.model.Record`.
    """

    where: str
    identifier: str | None = None
    source: Source | Deferred | None = None
    deleted: bool = False
    sets: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    about: bytes | None = None
    about_key: bytes | None = None
    origin: str | None = None

    def __reduce__(self) -> tuple:
        # To a worker process as a plain tuple of its fields: a slotted dataclass
        # pickles its state as a dict naming every field, item after item.
        return Incoming, tuple(getattr(self, name) for name in _INCOMING_FIELDS)


_INCOMING_FIELDS = tuple(Incoming.__slots__)


@dataclass(slots=True)
class Problem:
    """A record the pipeline could not load (rejected), or a repair or note worth
    reading (repaired): which source, where in it, and why."""

    source: str
    where: str
    reason: str
    #: What kind of problem: "" one of the record itself (unreadable, no identifier);
    #: "collision" an identifier another source's record holds in the store.
    code: str = ""

    @property
    def file(self) -> str:
        """The source's name (a file, for ``import``)."""
        return self.source

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.reason}" if self.source else \
            f"{self.where}: {self.reason}"


@dataclass(slots=True)
class Report:
    """What the pipeline did, for a summary a person reads: the same for every door.

    ``written`` counts the store's outcomes (added, updated, unchanged, deleted);
    ``rejected`` the records not loaded (unreadable, no identifier, an identifier
    another origin holds), ``repaired`` the repairs and notes; ``kept`` the
    identifiers whose richer stored record (MARC) was kept over a poorer incoming
    one (oai_dc). The ``sync`` door adds where it read from (``since``, ``mark``),
    how many sets the source defines, and how many records a full sync found
    gone from the source (``reconciled``, also counted in ``written.deleted``).
    """

    read: int = 0
    written: WriteSummary = field(default_factory=WriteSummary)
    rejected: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    since: int | None = None
    mark: int | None = None
    sets: int = 0
    reconciled: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def __iadd__(self, other: Report) -> Report:
        self.read += other.read
        self.written += other.written
        self.rejected.extend(other.rejected)
        self.repaired.extend(other.repaired)
        self.kept.extend(other.kept)
        return self


def kept_message(kept: int) -> str | None:
    """The summary line for ``kept`` richer records kept, or ``None`` (none kept)."""
    from ..wording import plural, say

    if not kept:
        return None
    return say("kept", records=plural(kept, "richer record"))
