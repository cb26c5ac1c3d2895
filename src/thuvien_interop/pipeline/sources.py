"""The ``sync`` door: what changed in a library's database (a
:class:`~thuvien_interop.store.sqlsource.SQLSource`) copied into a store.

    >>> report = sync(src, open_store("sqlite:///thuvien.db"), "thuvien.example.vn")  # doctest: +SKIP
    >>> report.written.added, report.mark                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..formats import FormatRegistry
from ..ingest.loader import IdentifierRule
from ..model import ListQuery
from ..wording import say
from .items import Incoming, Report
from .run import BATCH, Pipeline

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile
    from ..store.base import Key, Repository
    from ..store.sqlsource import SourceRow, SQLSource

SyncReport = Report
"""What one sync did (the pipeline's report, with ``since``, ``mark``, ``sets``
and ``reconciled`` filled)."""


def sync_key(source: SQLSource, name: str | None = None) -> str:
    """The store meta key holding this source's high-water mark, and the origin
    of the records it copies: the source's ``name`` (default: its profile's name),
    not its URL, so that a database that moves to another host or file, or gets
    another password, is still the same source."""
    return f"sync:{name or source.profile.name}"


def _adopt_legacy(source: SQLSource, store: Repository, key: str) -> None:
    """Before 2026-12 a source was known by its profile and URL: a store synced
    then has its records and its mark under that name. They take the new name
    (once; the records' datestamps stay)."""
    legacy = f"sync:{source.profile.name}:{source.safe_url}"
    mark = store.get_meta(legacy)
    if mark is None or store.get_meta(key) is not None:
        return
    store.rename_origin(legacy, key)
    store.set_meta(key, mark)


def sync(source: SQLSource, store: Repository, repository_id: str, *,
         registry: FormatRegistry | None = None, full: bool = False, overlap: int = 300,
         batch: int = BATCH, now: int | None = None,
         index_profile: IndexProfile | None = None, processes: int | None = 1,
         name: str | None = None) -> Report:
    """Copy what changed in ``source`` since the last sync into ``store``; idempotent.

    The high-water mark is the latest source datestamp seen, kept in the store's
    meta. Each run re-reads ``overlap`` seconds before it, because a transaction
    that commits late can carry an older timestamp; records read twice are
    unchanged (same checksum) and keep their datestamp, so harvesters of the store
    see each change once. Deletions come from the profile's deletions query. With
    ``full``, everything is read again and records no longer in the source at all
    (deleted without a trace) are marked deleted in the store. ``now`` is the
    datestamp the store gives the changes (default: the clock). ``batch``: the rows
    read from the source a page, and written a transaction. ``processes``: see
    :class:`~thuvien_interop.pipeline.Pipeline`. ``name``: what the store knows the
    source by (see :func:`sync_key`); give each database synced into one store a
    name of its own.
    """
    rule = IdentifierRule(repository_id)
    key = sync_key(source, name)
    _adopt_legacy(source, store, key)
    stored = store.get_meta(key)
    mark = None if full or stored is None else int(stored)
    since = None if mark is None else max(0, mark - overlap)
    sets = source.set_list()
    if sets:
        store.put_sets(sets)
    seen: set[str] = set()
    newest: list[int | None] = [mark]
    # Problems are named by record alone ("record 12: no title"): the summary names
    # the source.
    with Pipeline(store, registry=registry, processes=processes, index_profile=index_profile,
                  now=now, batch=batch, what="synced records") as pipeline:
        pipeline.feed("", _rows(source, store, rule, key, since, batch, seen, newest))
        pipeline.drain()
        report = pipeline.report
        if full:
            gone = [Incoming(f"{h} (no longer in the source)", h, deleted=True, origin=key)
                    for h in _vanished(store, key, seen)]
            before = report.written.deleted
            pipeline.feed("", gone)
            pipeline.drain()
            report.read -= len(gone)
            report.reconciled = report.written.deleted - before
    report.since = since
    report.sets = len(sets)
    if newest[0] is not None:
        store.set_meta(key, str(newest[0]))
    report.mark = newest[0]
    return report


def _rows(source: SQLSource, store: Repository, rule: IdentifierRule, origin: str,
          since: int | None, batch: int, seen: set[str],
          newest: list[int | None]) -> Iterator[Incoming]:
    """The source's rows since ``since`` as incoming items, in key order."""
    q = ListQuery(from_=since)
    after: Any = None
    published: set[str] = set()  # read in this run: a later deletion withdraws them
    while True:
        page: list[SourceRow] = source.page(q, after, batch)
        if not page:
            return
        after = page[-1].key
        specs = source.memberships(page)
        for row in page:
            newest[0] = row.datestamp if newest[0] is None else max(newest[0], row.datestamp)
            identifier = rule.identifier(str(row.id))
            item = Incoming(say("read.record", n=row.id), identifier, sets=tuple(
                specs.get((row.deleted, row.id), [])), origin=origin)
            if row.deleted:
                seen.discard(identifier)
                item.deleted = True
                if identifier not in published and store.get(identifier) is None:
                    item.identifier = None  # never published: nothing to withdraw
                yield item
                continue
            seen.add(identifier)  # present in the source, even if it cannot be read now
            published.add(identifier)
            record, notes = source.to_marc(row)
            if record is None:
                item.error = "; ".join(notes)
            else:
                item.source = record
                item.notes = list(notes)
            yield item
        if len(page) < batch:
            return


def _vanished(store: Repository, origin: str, seen: set[str]) -> Iterator[str]:
    """The identifiers of this source's live records in the store (those of its
    ``origin``: not the library's imported records, nor another source's, whatever
    their identifiers) that the source no longer has."""
    after: Key | None = None
    gone: list[str] = []
    while True:
        items = store.list(ListQuery(), after, 1000, metadata=False)
        for item in items:
            h = item.header
            if not h.deleted and h.origin == origin and h.identifier not in seen:
                gone.append(h.identifier)
        if len(items) < 1000:
            break
        after = items[-1].key
    yield from gone
