"""The one write path: batches of incoming items built (on worker processes or
here), written, and reported.

    >>> from thuvien_interop.store import open_store
    >>> from thuvien_interop.pipeline import Incoming, Pipeline
    >>> with Pipeline(open_store("sqlite:///catalogue.db")) as pipeline:      # doctest: +SKIP
    ...     pipeline.feed("catalogue.mrc", items)
    >>> pipeline.report.written.added                                          # doctest: +SKIP

A door either feeds items and lets the pipeline batch them (:meth:`Pipeline.feed`,
``import`` and ``sync``), or hands over batches of its own and settles each when
it likes (:meth:`Pipeline.start` then :meth:`Batch.finish`, the harvester: a
page is a batch, committed before its checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..formats import FormatRegistry, default_registry
from ..store.base import WRITE_BATCH, StoreError
from .build import Outcome, PackedMarc, build, build_chunk, write_batch
from .items import Incoming, Problem, Report

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile
    from ..store.base import Repository
    from ..workers import Pending, WriteBehind

#: Items in one batch: one transaction (the store's own batch, see
#: :data:`~thuvien_interop.store.base.WRITE_BATCH`), and one chunk for a worker.
BATCH = WRITE_BATCH
#: How a collision names the origin ``None``: records imported or entered here.
_ORIGIN_OWN = "the library's own records (imported, not harvested or synced)"


class Batch:
    """A batch handed to the pipeline: being built (and written, by the workers
    when they can open the store). :meth:`finish` waits for it, writes it if the
    workers did not, and says what became of each item."""

    def __init__(self, pipeline: Pipeline, name: str, items: list[Incoming],
                 pending: Pending | list[Outcome] | None) -> None:
        self.pipeline = pipeline
        self.name = name
        self.items = items
        self._pending = pending

    def finish(self) -> tuple[Report, list[Outcome]]:
        """Wait for the batch, write what is not written, and report it: the
        batch's own report (also added to the pipeline's) and each item's outcome,
        in the order of the items."""
        from ..workers import split_written

        p = self.pipeline
        if self._pending is None:  # built here, now (in the thread that finishes it)
            results: list = [build(item, p.registry, p.index_profile, p.facts)
                             for item in self.items]
        elif isinstance(self._pending, list):
            results = self._pending
        else:
            results = self._pending.result()
        outcomes, written = split_written(results)
        if written is None:
            written = write_batch(p.store, [o.record for o in outcomes if o.record is not None],
                                  replace=p.replace, now=p.now)
        report = Report(read=len(self.items))
        report.written += written
        p.wrote += written.added + written.updated + written.deleted
        collided = dict(written.collisions)
        kept = set(written.kept)
        for item, outcome in zip(self.items, outcomes, strict=True):
            for note in item.notes:
                report.repaired.append(Problem(self.name, item.where, note))
            if outcome.error is not None:
                report.rejected.append(Problem(self.name, item.where, outcome.error))
                continue
            report.repaired.extend(Problem(self.name, item.where, n) for n in outcome.notes)
            ident = item.identifier or ""
            if ident in collided:
                other = collided.pop(ident)
                outcome.error = (
                    f"identifier collision: {ident} is already in the store from "
                    f"{_ORIGIN_OWN if other is None else other}; not overwritten")
                report.rejected.append(Problem(self.name, item.where, outcome.error,
                                               "collision"))
            elif ident in kept:
                kept.discard(ident)
                report.kept.append(ident)
        if p.collect:
            p.report += report
        return report, outcomes


class Pipeline:
    """Builds, writes and reports incoming items, for every door alike.

    ``processes``: the items are built (every format rendered, search entries
    computed) on that many worker processes, which also write their batches in
    turn when they can open the store (``None``: one per core; 1, the default:
    everything in this process). The store and the report come out the same
    either way. ``replace``: a poorer format replaces a richer stored record
    (oai_dc over MARC) instead of the richer one being kept. ``now``: the
    datestamp of what is written (default: the store's clock). ``collect``: add
    every batch's report to :attr:`report` (a long-lived pipeline, the
    harvester's, reads each batch's own instead).
    """

    def __init__(self, store: Repository, *, registry: FormatRegistry | None = None,
                 processes: int | None = 1, index_profile: IndexProfile | None = None,
                 replace: bool = False, now: int | None = None, batch: int = BATCH,
                 what: str = "records", collect: bool = True) -> None:
        from ..store import shared_url
        from ..workers import WorkerPool, lend_store

        self.store = store
        self.registry = registry or default_registry()
        self.index_profile = index_profile
        self.replace = replace
        self.now = now
        self.batch = batch
        self.collect = collect
        self.report = Report()
        #: Records written (added, changed, deleted) by every batch so far.
        self.wrote = 0
        self.pool = WorkerPool(self.registry, processes, what=what)
        self._target = shared_url(store)
        if self._target is not None:
            lend_store(self._target, store)
        self._writer: WriteBehind | None = None
        self._outcomes: list[Outcome] = []  # built in this process, not yet handed over
        from ..union.clusters import clusters_kept

        #: Whether the records' clustering facts are computed (the store clusters).
        self.facts = clusters_kept(store)

    @property
    def parallel(self) -> bool:
        return self.pool.parallel

    # -- batches of the door's own -----------------------------------------------------
    def start(self, name: str, items: list[Incoming]) -> Batch:
        """Start building (and, on workers that can, writing) one batch; the
        batches of every thread are written in the order they were started.
        Without worker processes the batch is built when it is finished."""
        if not self.pool.parallel:
            return Batch(self, name, items, None)
        for item in items:
            if hasattr(item.source, "leader"):  # a pymarc record: packed for the trip
                item.source = PackedMarc(item.source)  # type: ignore[arg-type]
        args = (self.index_profile, self._target, self.replace, self.now, self.facts)
        pending = self.pool.submit(build_chunk, items, *args, ordered=self._target is not None)
        return Batch(self, name, items, pending)

    # -- a stream of items ---------------------------------------------------------------
    def feed(self, name: str, items: Iterable[Incoming],
             on_batch: Callable[[Report], None] | None = None) -> None:
        """Build and write every item, a batch at a time; with worker processes a
        batch is built while the previous one is written and the next one read.
        ``on_batch`` is called with each batch's report, in order."""
        from ..workers import WriteBehind

        # Decided once: if the workers die half-way the pool says so and works in
        # this process, and the batches started here are built when finished.
        parallel = self.pool.parallel
        if parallel and self._writer is None:
            self._writer = WriteBehind(depth=2 * (self.pool.processes + 1),
                                       on_exit=getattr(self.store, "close_thread", None))

        def settle(batch: Batch) -> None:
            report, _ = batch.finish()
            if on_batch is not None:
                on_batch(report)

        def hand_over(batch: Batch) -> None:
            if self._writer is None:
                settle(batch)
            else:
                self._writer.submit(lambda: settle(batch))

        chunk: list[Incoming] = []
        before: Batch | None = None
        for item in items:
            if not parallel:
                # Built at once: the source record is not kept (holding a batch of
                # them costs the garbage collector 10%).
                out = build(item, self.registry, self.index_profile, self.facts)
                item.source = None
                chunk.append(item)
                self._outcomes.append(out)
                if len(chunk) >= self.batch:
                    hand_over(Batch(self, name, chunk, self._outcomes))
                    chunk, self._outcomes = [], []
                continue
            chunk.append(item)
            if len(chunk) >= self.batch:
                # This batch is built by the workers while the previous one is
                # written, and the next one read.
                started = self.start(name, chunk)
                if before is not None:
                    hand_over(before)
                before, chunk = started, []
        if before is not None:
            hand_over(before)
        if chunk or not parallel:
            if parallel:
                hand_over(self.start(name, chunk))
            elif chunk:
                hand_over(Batch(self, name, chunk, self._outcomes))
                self._outcomes = []

    def drain(self) -> None:
        """Wait until everything fed has been written; raise the first failure."""
        if self._writer is not None:
            self._writer.drain()

    def close(self, *, refresh: bool = True) -> None:
        """Let what was handed over finish, then stop the worker processes. After a
        large load, the store refreshes its planner's statistics
        (:meth:`~thuvien_interop.store.sql.SQLStore.refresh_statistics`; not with
        ``refresh=False``: a run that failed, whose store may be locked or gone, so
        that the failure is the one reported; its next run refreshes them)."""
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            wrote, self.wrote = self.wrote, 0
            if wrote and refresh:
                self.store.refresh_statistics(wrote)
        finally:
            self.pool.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, *_: object) -> None:
        try:
            try:
                if exc_type is None:
                    self.drain()
            finally:
                self.close(refresh=exc_type is None)
        except StoreError as failure:
            failure.written = self.report.written
            raise
        if isinstance(exc, StoreError) and exc.written is None:
            # What the batches before the failure committed: the caller's summary.
            exc.written = self.report.written

