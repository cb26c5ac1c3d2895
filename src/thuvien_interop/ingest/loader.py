"""Load files of records into a store: read, identify, render, write in batches.

    >>> from thuvien_interop.store import open_store
    >>> from thuvien_interop.ingest.loader import IdentifierRule, import_files
    >>> store = open_store("sqlite:///catalogue.db")                  # doctest: +SKIP
    >>> report = import_files(store, ["catalogue.mrc"], IdentifierRule("thuvien.example.vn"))  # doctest: +SKIP
    >>> report.added, [r.reason for r in report.rejected]            # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

import pymarc

from ..formats import FormatRegistry, canonical, default_registry
from ..model import MAX_IDENTIFIER, Record, WriteSummary
from ..store.base import Repository
from .detect import detect_format, read_stream
from .iso2709 import read_iso2709
from .result import DCRecord, Source

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile
    from .spreadsheet import ColumnMapping

BATCH = 500
# RFC 3986 unreserved and sub-delims that the oai-identifier scheme allows.
_SAFE = "-_.!~*'();/?:@&=+$,"


@dataclass(slots=True)
class IdentifierRule:
    """How a record's OAI identifier is made: ``oai:<repository_id>:<local id>``.

    ``field`` names where the local id is: ``001`` (default), or a data field
    and subfield like ``035$a``; for Dublin Core, ``dc_element`` (default the
    first ``dc:identifier``).
    """

    repository_id: str
    field: str = "001"
    dc_element: str = "identifier"

    def local_id(self, source: Source) -> str | None:
        if isinstance(source, DCRecord):
            values = source.values(self.dc_element)
            return values[0].strip() if values else None
        tag, _, code = self.field.partition("$")
        for f in source.get_fields(tag):
            if f.is_control_field():
                value = (f.data or "").strip()
            else:
                value = next((v.strip() for v in f.get_subfields(code or "a") if v.strip()), "")
            if value:
                return value
        return None

    def identifier(self, local: str) -> str:
        return f"oai:{self.repository_id}:{quote(local, safe=_SAFE)}"


@dataclass(slots=True)
class Problem:
    file: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """What an import did, for a summary a librarian reads."""

    read: int = 0
    written: WriteSummary = field(default_factory=WriteSummary)
    rejected: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


Classifier = Callable[[Source], Iterable[str]]
"""Returns the setSpecs a record belongs to."""


class _Counting:
    """A read-only binary stream that reports progress in bytes."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if self._progress and data:
            self._progress(len(data))
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._raw.seek(pos, whence)

    def tell(self) -> int:
        return self._raw.tell()


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
) -> ImportReport:
    """Import files into a store; return what happened. Never stops at a bad record.

    ``mapping`` is the column mapping for CSV/XLSX files (default: the usual
    Vietnamese headings, see :mod:`thuvien_interop.ingest.spreadsheet`).
    ``processes``: the records are rendered in every format and indexed on that
    many worker processes while the file is read and the store written (``None``:
    one per core; 1, the default: all in this process; see
    :mod:`thuvien_interop.workers`). The report is the same either way.
    ``index_profile``: which fields feed which search index (default: the shipped
    ``sru-indexes``; give the one the SRU server is configured with)."""
    # source_encoding: for ISO 2709 files, "auto", "utf-8", "marc-8" or a legacy
    # Vietnamese encoding (see iso2709.SOURCE_ENCODINGS); None trusts leader/09.
    # repair_mojibake: a confidence threshold (0..1) above which MARC or DC text
    # that reads as legacy-encoding mojibake is repaired; each repair is noted.
    from ..store import shared_url
    from ..workers import WorkerPool, WriteBehind, fewer_collections, lend_store, marc_to_tuple

    registry = registry or default_registry()
    report = ImportReport()
    pool = WorkerPool(registry, processes, what="records")
    # With workers, a thread of its own waits for each batch and reports it, in
    # order, while this one reads the next; in one process there is nothing to
    # overlap, and the batch is written here. The workers write their batches
    # themselves, one after the other, when they can open the store (a file or
    # a server): the write is then off this process, whose threads share one
    # interpreter lock.
    writer = WriteBehind(depth=2 * (pool.processes + 1)) if pool.parallel else None
    target = shared_url(store) if pool.parallel else None
    if target is not None:
        lend_store(target, store)

    def build(builds: list[tuple]) -> object:
        if target is None:
            return pool.submit(_build_chunk, builds, index_profile)
        return pool.submit(_build_chunk, builds, index_profile, target, ordered=True)

    def settle(name: str, pending: object, notes: list[tuple[str, object, object]]) -> None:
        if writer is None:
            _settle(store, report, name, pending, notes)
        else:
            writer.submit(lambda: _settle(store, report, name, pending, notes))

    try:
        with fewer_collections():
            for path in paths:
                name = Path(path).name
                with open(path, "rb") as raw:
                    stream = _Counting(raw, progress)
                    file_fmt = fmt or detect_format(raw, str(path))
                    # What the report says of each record, in file order, once its batch
                    # is built: ("repaired" | "rejected", reason) or ("built", index).
                    notes: list[tuple[str, object, object]] = []
                    builds: list[tuple] = []
                    # Identifiers seen in this file, as 64-bit hashes → record number: a
                    # duplicate is named, and memory stays small on a file of millions.
                    seen: dict[int, int] = {}
                    before: tuple | None = None
                    if file_fmt == "iso2709" and source_encoding:
                        results = read_iso2709(stream, source_encoding)  # type: ignore[arg-type]
                    else:
                        results = read_stream(stream, file_fmt, mapping)  # type: ignore[arg-type]
                    for result in results:
                        report.read += 1
                        if repair_mojibake is not None and isinstance(result.record, pymarc.Record):
                            from ..crosswalk.lint import repair_mojibake as repair

                            result.warnings.extend(repair(result.record, repair_mojibake))
                        elif repair_mojibake is not None and isinstance(result.record, DCRecord):
                            from ..crosswalk.lint import repair_dc_mojibake

                            result.warnings.extend(repair_dc_mojibake(result.record.elements,
                                                                      repair_mojibake))
                        for w in result.warnings:
                            notes.append(("repaired", result.where, w))
                        if result.record is None:
                            notes.append(("rejected", result.where, result.error or "unreadable"))
                            continue
                        local = identifiers.local_id(result.record)
                        if not local:
                            what = (identifiers.dc_element if isinstance(result.record, DCRecord)
                                    else identifiers.field)
                            notes.append(("rejected", result.where,
                                          f"no identifier: the record has no {what} "
                                          f"({_title(result.record)}); choose another field with "
                                          "--id-field"))
                            continue
                        identifier = identifiers.identifier(local)
                        if len(identifier) > MAX_IDENTIFIER:
                            notes.append(("rejected", result.where,
                                          f"the identifier is {len(identifier)} characters long (at "
                                          f"most {MAX_IDENTIFIER}): is {identifiers.field} really its "
                                          "number?"))
                            continue
                        key = hash(identifier)
                        if key in seen:
                            notes.append(("repaired", result.where,
                                          f"same identifier '{local}' as record {seen[key]}: this "
                                          "later record replaces it"))
                        seen[key] = result.position
                        try:
                            sets = list(classify(result.record)) if classify else []
                        except Exception as exc:  # noqa: BLE001 - a classifier bug costs one record
                            notes.append(("rejected", result.where, f"could not be converted: {exc!r}"))
                            continue
                        notes.append(("built", result.where, len(builds)))
                        if not pool.parallel:
                            # Built at once: the source record is not kept (holding a
                            # batch of them costs the garbage collector 10%).
                            builds.extend(_build_chunk(registry, [(result.record, identifier, sets)],
                                                       index_profile))
                            if len(builds) >= BATCH:
                                settle(name, _Built(builds), notes)
                                notes, builds = [], []
                            continue
                        source: object = result.record
                        if isinstance(source, pymarc.Record):
                            source = ("marc", marc_to_tuple(source))
                        builds.append((source, identifier, sets))
                        if len(builds) >= BATCH:
                            # This batch is built by the workers while the previous one
                            # is written, and the next one read.
                            pending = (build(builds), notes)
                            if before is not None:
                                settle(name, *before)
                            before, notes, builds = pending, [], []
                    if before is not None:
                        settle(name, *before)
                    settle(name, build(builds) if pool.parallel else _Built(builds), notes)
            if writer is not None:
                writer.drain()
    finally:
        if writer is not None:
            writer.close()
        pool.close()
    return report


class _Built:
    """A batch already built in this process (what :meth:`Pending.result` gives)."""

    def __init__(self, built: list[tuple]) -> None:
        self.built = built

    def result(self) -> list[tuple]:
        return self.built


def _build_chunk(registry: FormatRegistry, items: list[tuple],
                 index_profile: IndexProfile | None = None,
                 target: str | None = None) -> list[tuple]:
    """The chunk function of the import's :class:`~thuvien_interop.workers.WorkerPool`:
    (source, identifier, sets) → (packed record or None, problems, error or None).

    With a store ``target`` (a URL, see :func:`~thuvien_interop.store.shared_url`)
    the chunk writes its records there itself, in its turn
    (:func:`~thuvien_interop.workers.in_turn`): ``True`` stands for each record
    written, and the chunk's :class:`~thuvien_interop.model.WriteSummary` ends the list.
    """
    from ..store.search_plan import index_entries
    from ..workers import in_turn, pack_record, store_for, tuple_to_marc

    out: list[tuple] = []
    records: list[Record] = []
    for source, identifier, sets in items:
        problems: list[str] = []
        if isinstance(source, tuple) and source and source[0] == "marc":
            source = tuple_to_marc(source[1])
        try:
            record = build_record(source, identifier, registry, sets, problems, index_profile)
        except Exception as exc:  # noqa: BLE001 - a crosswalk bug must not end the import
            out.append((None, problems, f"could not be converted: {exc!r}"))
            continue
        record.entries = list(index_entries(record.index))
        record.index = {}
        if target is None:
            out.append((pack_record(record), problems, None))
        else:
            records.append(record)
            out.append((True, problems, None))
    if target is not None:
        store = store_for(target)
        with in_turn():
            summary = store.write(records) if records else WriteSummary()
        out.append(summary)
    return out


def _settle(store: Repository, report: ImportReport, name: str, pending: object,
            notes: list[tuple[str, object, object]]) -> None:
    """Report one batch's records in file order and write what was built (unless
    the workers wrote it)."""
    from ..workers import split_written, unpack_record

    built, written = split_written(pending.result())  # type: ignore[attr-defined]
    if written is not None:
        report.written += written
    batch: list[Record] = []
    for kind, where, what in notes:
        if kind == "repaired":
            report.repaired.append(Problem(name, where, what))  # type: ignore[arg-type]
        elif kind == "rejected":
            report.rejected.append(Problem(name, where, what))  # type: ignore[arg-type]
        else:
            packed, problems, error = built[what]  # type: ignore[index]
            if packed is None:
                report.rejected.append(Problem(name, where, error))  # type: ignore[arg-type]
                continue
            report.repaired.extend(Problem(name, where, p) for p in problems)  # type: ignore[arg-type]
            if packed is not True:
                batch.append(unpack_record(packed))
    if batch:
        report.written += store.write(batch)


_PUNCT = re.compile(r"[\s/:;,.=]+$")


def _title(source: Source) -> str:
    if isinstance(source, DCRecord):
        t = source.values("title")
        return f"title '{t[0]}'" if t else "no title"
    f = source.get("245") if isinstance(source, pymarc.Record) else None
    if f is not None:
        a = f.get("a")
        if a:
            return f"title '{_PUNCT.sub('', a)}'"
    return "no title"
