"""The ``import`` door: files of records read into incoming items for the pipeline.

    >>> from thuvien_interop.store import open_store
    >>> from thuvien_interop.ingest.loader import IdentifierRule
    >>> store = open_store("sqlite:///catalogue.db")                  # doctest: +SKIP
    >>> report = import_files(store, ["catalogue.mrc"], IdentifierRule("thuvien.example.vn"))  # doctest: +SKIP
    >>> report.written.added, [p.reason for p in report.rejected]    # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pymarc

from ..formats import FormatRegistry
from ..ingest.detect import detect_format
from ..ingest.loader import IdentifierRule
from ..ingest.records import CountingStream, read_records
from ..ingest.result import DCRecord, ReadResult, Source
from ..model import MAX_IDENTIFIER
from ..wording import Note, say
from .items import Incoming, Report
from .run import Pipeline

if TYPE_CHECKING:
    from ..ingest.spreadsheet import ColumnMapping
    from ..sru.indexing import IndexProfile
    from ..store.base import Repository

Classifier = Callable[[Source], Iterable[str]]
"""Returns the setSpecs a record belongs to."""


def import_files(
    store: Repository,
    paths: Iterable[str | Path],
    identifiers: IdentifierRule,
    *,
    fmt: str | None = None,
    registry: FormatRegistry | None = None,
    classify: Classifier | None = None,
    progress: Callable[[int], None] | None = None,
    source_encoding: str | None = None,
    repair_mojibake: float | None = None,
    mapping: ColumnMapping | None = None,
    processes: int | None = 1,
    index_profile: IndexProfile | None = None,
    replace: bool = False,
) -> Report:
    """Import files into a store; return what happened. Never stops at a bad record.

    A record whose leader/05 is ``d`` withdraws the record of that identifier (a
    deletion). ``mapping`` is the column mapping for CSV/XLSX files (default: the
    usual Vietnamese headings, see :mod:`thuvien_interop.ingest.spreadsheet`).
    ``processes``: see :class:`~thuvien_interop.pipeline.Pipeline` (``None``: one
    per core; 1, the default: all in this process); the report is the same either
    way. ``index_profile``: which fields feed which search index (default: the
    shipped ``sru-indexes``; give the one the SRU server is configured with).
    ``replace``: a Dublin Core record replaces the richer MARC record stored under
    its identifier (by default the MARC record is kept, and counted in ``kept``).
    """
    # source_encoding: for ISO 2709 files, "auto", "utf-8", "marc-8" or a legacy
    # Vietnamese encoding (see iso2709.SOURCE_ENCODINGS); None trusts leader/09.
    # repair_mojibake: a confidence threshold (0..1) above which MARC or DC text
    # that reads as legacy-encoding mojibake is repaired; each repair is noted.
    from ..collector import fewer_collections

    with fewer_collections(), Pipeline(store, registry=registry, processes=processes,
                                       index_profile=index_profile, replace=replace) as pipeline:
        for path in paths:
            with open(path, "rb") as raw:
                stream = CountingStream(raw, progress)
                results = read_records(stream, fmt or detect_format(raw, str(path)),
                                       source_encoding=source_encoding,
                                       repair_mojibake=repair_mojibake, mapping=mapping)
                pipeline.feed(Path(path).name, incoming(results, identifiers, classify, store))
    return pipeline.report


def incoming(results: Iterable[ReadResult], identifiers: IdentifierRule,
             classify: Classifier | None = None,
             store: Repository | None = None) -> Iterator[Incoming]:
    """The records read from one file as incoming items: identified, classified
    into sets, a withdrawn record (leader/05 ``d``) as a deletion; a record that
    cannot be loaded carries its reason. ``store``: where deletions are looked up
    (a deletion of a record the store never had withdraws nothing, and says so)."""
    # Identifiers seen in this file, as 64-bit hashes → record number: a duplicate
    # is named, and memory stays small on a file of millions.
    seen: dict[int, int] = {}
    for result in results:
        item = Incoming(result.where, notes=result.warnings)
        record = result.record
        if record is None:
            item.error = result.error or "unreadable"
            yield item
            continue
        local = identifiers.local_id(record)
        if not local:
            what = identifiers.dc_element if isinstance(record, DCRecord) else identifiers.field
            item.error = Note("read.no-identifier", what=what, title=_title(record))
            yield item
            continue
        identifier = identifiers.identifier(local)
        if len(identifier) > MAX_IDENTIFIER:
            item.error = Note("read.identifier-too-long", n=len(identifier), most=MAX_IDENTIFIER,
                              field=identifiers.field)
            yield item
            continue
        item.identifier = identifier
        key = hash(identifier)
        earlier = seen.get(key)
        seen[key] = result.position
        if isinstance(record, pymarc.Record) and str(record.leader)[5:6] == "d":
            # MARC 21 leader/05 'd': the record is withdrawn from the catalogue.
            item.deleted = True
            if earlier is None and store is not None and store.get(identifier) is None:
                item.notes.append(Note("read.withdrawn-unknown", identifier=identifier))
                item.identifier = None  # nothing to write
            yield item
            continue
        if earlier is not None:
            item.notes.append(Note("read.same-identifier", local=local, earlier=earlier))
        try:
            item.sets = tuple(classify(record)) if classify else ()
        except Exception as exc:  # noqa: BLE001 - a classifier bug costs one record
            item.error = Note("read.not-converted", cause=repr(exc))
            yield item
            continue
        item.source = record
        yield item


_PUNCT = re.compile(r"[\s/:;,.=]+$")


def _title(source: Source) -> str:
    if isinstance(source, DCRecord):
        t = source.values("title")
        return say("read.title", title=t[0]) if t else say("read.no-title")
    f = source.get("245") if isinstance(source, pymarc.Record) else None
    if f is not None:
        a = f.get("a")
        if a:
            return say("read.title", title=_PUNCT.sub("", a))
    return say("read.no-title")
