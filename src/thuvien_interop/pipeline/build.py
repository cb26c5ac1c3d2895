"""Incoming items into store records: every format rendered, the search entries
computed, and the batch written. The work of one batch, wherever it runs (this
process or a worker process, see :mod:`thuvien_interop.workers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pymarc

from ..formats import FormatRegistry, canonical
from ..ingest.result import Source
from ..model import Record, WriteSummary
from ..store.base import retry_unavailable
from ..wording import Note
from .items import Deferred, Incoming, Unreadable

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile
    from ..store.base import Repository


def build_record(source: Source, identifier: str, registry: FormatRegistry,
                 sets: Iterable[str] = (), problems: list[str] | None = None,
                 index_profile: IndexProfile | None = None) -> Record:
    """A store record from a source record: canonical form, every format, and its
    search keys by ``index_profile`` (default: the shipped ``sru-indexes``)."""
    from ..sru.indexing import index_source  # search keys (issue 6), computed once at write

    rendered = registry.render_all(source, problems)
    fmt, data = canonical(source, rendered)
    return Record(identifier, data, fmt, tuple(sets), rendered=rendered,
                  index=index_source(source, index_profile, identifier=identifier))


@dataclass(slots=True)
class Outcome:
    """What became of one incoming item of a batch: its ``record`` (``None`` when
    the item was rejected, ``error`` says why, or when a worker wrote it), and the
    repairs made while building it. Crosses processes as a tuple."""

    record: Record | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def __reduce__(self) -> tuple:
        from ..workers import pack_record  # half the pickling time of the dataclass

        packed = None if self.record is None else pack_record(self.record)
        return _outcome, (packed, self.notes, self.error)


def _outcome(packed: tuple | None, notes: list[str], error: str | None) -> Outcome:
    from ..workers import unpack_record

    return Outcome(None if packed is None else unpack_record(packed), notes, error)


class PackedMarc:
    """A MARC record as plain tuples, for the trip to a worker process (pymarc
    records pickle slowly: about 110 µs each, more than converting them)."""

    __slots__ = ("data",)

    def __init__(self, record: pymarc.Record) -> None:
        from ..workers import marc_to_tuple

        self.data = marc_to_tuple(record)

    def read(self, item: Incoming, notes: list[str]) -> Source:
        from ..workers import tuple_to_marc

        return tuple_to_marc(self.data)

    def __reduce__(self) -> tuple:
        return _packed, (self.data,)


def _packed(data: tuple) -> PackedMarc:
    out = PackedMarc.__new__(PackedMarc)
    out.data = data
    return out


def build(item: Incoming, registry: FormatRegistry,
          index_profile: IndexProfile | None = None, facts: bool = True) -> Outcome:
    """One incoming item into a store record (never raises for a bad record).
    ``facts``: also what clustering reads of it (off when the store does not
    cluster: a sixth of a harvested record's cost)."""
    from ..store.search_plan import index_entries
    from ..union.clusters import facts_json

    out = Outcome()
    if item.error is not None:
        out.error = item.error
        return out
    if item.identifier is None:
        return out  # only noted: nothing to write
    try:
        source = item.source
        if isinstance(source, Deferred):
            source = source.read(item, out.notes)
        if item.deleted:
            out.record = Record(item.identifier or "", deleted=True, sets=item.sets,
                                about=item.about)
        elif source is None:
            raise Unreadable("the record is not deleted but has no metadata")
        else:
            record = build_record(source, item.identifier or "", registry, item.sets,
                                  out.notes, index_profile)
            record.about = item.about
            # What clustering reads of it, here too (on the worker): a union's
            # writer then only compares (issue 15).
            if facts:
                record.facts = facts_json(source, record)
            # The store's search entries, computed here (on the worker) rather than
            # in the writer: the index itself need not travel back.
            record.entries = list(index_entries(record.index))
            record.index = {}
            out.record = record
    except Unreadable as exc:
        out.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a crosswalk bug costs one record, and is reported
        out.error = Note("read.not-converted", cause=repr(exc))
    if out.record is not None:
        out.record.origin = item.origin
        out.record.about_key = item.about_key
    return out


# -- writing -----------------------------------------------------------------------

def write_batch(store: Repository, records: Sequence[Record], *, replace: bool = False,
                now: int | None = None) -> WriteSummary:
    """Write one batch; what the store refused or kept is in the summary's
    ``collisions`` and ``kept``."""
    # Collisions, the richer record kept, "unchanged stays unchanged" and two
    # records with one identifier in a batch (in order) are decided by the store
    # inside its write transaction: concurrent writers (threads, worker processes,
    # harvester nodes) leave what sequential ones leave. So are the clusters of a
    # union: updated in the batch's own transaction.
    # A store that went away (a database restart) gets the batch again once it is
    # back: the failed transaction was rolled back, so the run goes on from its
    # last commit.
    from ..union.clusters import write_hook

    if not records:
        return WriteSummary()

    def write() -> WriteSummary:
        # (The union's settings are read from the store too: inside the retry.)
        hook = write_hook(store)
        if hook is None:
            return store.write(records, now=now, replace=replace)
        return store.write(records, now=now, replace=replace, clusters=hook)

    return retry_unavailable(write, what=f"writing a batch of {len(records):,} records")


def build_chunk(registry: FormatRegistry, items: Sequence[Incoming],
                index_profile: IndexProfile | None = None, target: str | None = None,
                replace: bool = False, now: int | None = None, facts: bool = True) -> list:
    """The chunk function of the pipeline's :class:`~thuvien_interop.workers.WorkerPool`:
    an :class:`Outcome` for each item, in order.

    With a store ``target`` (a URL every process can open, see
    :func:`~thuvien_interop.store.shared_url`) the chunk also writes its records
    there, in its turn (:func:`~thuvien_interop.workers.in_turn`): the outcomes
    then come back without their records, followed by the chunk's
    :class:`~thuvien_interop.model.WriteSummary`."""
    from ..workers import in_turn, store_for

    done = [build(item, registry, index_profile, facts) for item in items]
    if target is None:
        return done
    store = retry_unavailable(lambda: store_for(target), what="opening the store")
    with in_turn():
        summary = write_batch(store, [o.record for o in done if o.record is not None],
                              replace=replace, now=now)
    for o in done:
        o.record = None
    return [*done, summary]
