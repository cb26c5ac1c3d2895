"""The SQL store: the store's contract written once, over a dialect.

Everything a store decides lives here: write planning (added, updated, unchanged,
deleted; identifier collisions between origins; the richer canonical record kept;
a record repeated in one batch; what a deletion keeps; which bytes are stored),
keyset listing, sets and their re-evaluation, leases, meta, search execution and
reindexing. A dialect (:mod:`.sqlite`, :mod:`.postgres`) supplies only what truly
differs: connections and transactions, migrations, bulk load, id and sequence
allocation, and the full-text rows and compiler.

Statements here are written with ``?`` placeholders; a dialect rewrites them
(:meth:`SQLStore._q`) if its driver wants others.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import dates
from ..model import (
    ClusterCounts,
    Header,
    Item,
    ListQuery,
    Record,
    RepositoryInfo,
    Set,
    WriteSummary,
    expand_set_specs,
    richness,
)
from . import keyset, search_plan
from .base import WRITE_BATCH, Key, StoreError, StoreUnavailable, WorkPage, checksum, checksum_v1
from .headers import datestamp_element, stored_header
from .heads import META_PREFIX, Heads, head_of

RECORD_COLUMNS = ("id", "identifier", "datestamp", "seq", "deleted", "deleted_at", "checksum",
                  "canonical_format", "canonical", "sets", "about", "origin", "header")
CHANGE_COLUMNS = tuple(c for c in RECORD_COLUMNS if c != "identifier")
RENDERED_COLUMNS = ("record_id", "prefix", "xml")
MEMBER_COLUMNS = ("set_spec", "datestamp", "seq", "record_id")
KEY_COLUMNS = ("idx", "key", "record_id", "display")
CHUNK = 500
"""Identifiers or ids per ``IN`` list (SQLite limits a statement's parameters)."""
MAX_EXPANSION = 2000
"""At most this many indexed words for one masked term (else PlanTooBroad)."""
_OPS = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def origin_of_sets(sets: Iterable[str]) -> str | None:
    """The origin an old row gets when its store migrates: the provider set
    (``source:xyz``, no further colon) a harvested record is in, else None."""
    found = sorted(s for s in sets if s.startswith("source:") and ":" not in s[7:])
    return found[0] if found else None


def kept_canonical(record: Record) -> bytes | None:
    """The canonical bytes to store: none when they equal the rendered marc21
    (MARCXML is the canonical form of MARC records; storing it twice would
    double the largest part of the store)."""
    if record.canonical_format == "marc21" and record.rendered.get("marc21") == record.canonical:
        return None
    return record.canonical


@dataclass(slots=True)
class _Row:
    """What the write planner knows of one identifier: the stored row, then the
    version this batch writes over it."""

    rid: int | None
    checksum: bytes
    deleted: bool
    sets: tuple[str, ...]
    origin: str | None
    fmt: str
    stored: bool
    record: Record | None = None
    canonical: bytes | None = None
    canonical_known: bool = False  # False: keep what the store holds


@dataclass(slots=True)
class Txn:
    """One write transaction: its connection, and what to do once it committed
    (in-process memos must only learn what the database really holds)."""

    conn: Any
    committed: list[Callable[[], None]] = field(default_factory=list)
    scratch: dict[str, Any] = field(default_factory=dict)


def _plain_records(headers: Sequence[bytes], head: bytes, rests: Sequence[bytes]) -> list[bytes]:
    """``<record>`` elements of rows each with its header and its XML's rest after
    the format's ``head``, no about: the fragments laid out by slices, four a
    record (20,000 LoC records, oai_dc: a row's Python objects, its tuple and two
    views, were a quarter of the server's instructions a record).

        >>> b"".join(_plain_records([b"<h1/>", b"<h2/>"], b"<dc>", [b"1</dc>", b"2</dc>"]))
        b'<record><h1/><metadata><dc>1</dc></metadata></record><record><h2/><metadata><dc>2</dc></metadata></record>'
    """
    n = len(headers)
    parts: list[bytes] = [b"<record>", *(b"", b"<metadata>" + head, b"", _NEXT_RECORD) * n]
    parts[1::4] = headers
    parts[3::4] = rests
    parts[-1] = b"</metadata></record>"
    return parts


_NEXT_RECORD = b"</metadata></record><record>"


class SQLStore:
    """A :class:`~thuvien_interop.store.base.Repository` over SQL; see the module.

    Safe to share between threads: each thread gets its own connection.
    """

    batch_size: int = WRITE_BATCH
    keyset_dialect: ClassVar[keyset.Dialect]
    db_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    no_index: ClassVar[object] = None
    """A search_keys.idx value no index has (sorting by an unknown index)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._heads = Heads(self._read_heads)

    # -- what a dialect supplies -------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, conn: Any, lock: str | None) -> None:
        """Start a transaction holding the store's ``lock`` (``write``,
        ``lease``, ``migrate``; None: no lock beyond the database's own)."""
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError

    def _run_script(self, conn: Any, script: str) -> None:
        raise NotImplementedError

    def _prepare(self, conn: Any) -> None:
        """Inside the migration transaction, before the version is read."""
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _q(self, text: str) -> str:
        return text

    def _in(self, column: str, values: Sequence[object]) -> tuple[str, list[object]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _many(self, conn: Any, text: str, rows: list[tuple]) -> None:
        """One statement for many rows of arguments."""
        conn.executemany(self._q(text), rows)

    def _page_rows(self, text: str, args: list[object]) -> list[Any]:
        """The rows of a list page's query (already in the dialect's placeholders)."""
        return self._conn().execute(text, args).fetchall()

    def _upsert(self, conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert rows, or update the row with the same first column (its primary key)."""
        if rows:
            self._many(conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                       f"({', '.join('?' * len(columns))}) ON CONFLICT ({columns[0]}) DO UPDATE SET "
                       + ", ".join(f"{c} = excluded.{c}" for c in columns[1:]), rows)

    def _sets_value(self, sets: tuple[str, ...]) -> object:
        raise NotImplementedError

    def _sets_of(self, value: Any) -> tuple[str, ...]:
        raise NotImplementedError

    def _new_ids(self, conn: Any, n: int) -> list[int]:
        raise NotImplementedError

    def _new_seqs(self, conn: Any, n: int) -> list[int]:
        raise NotImplementedError

    def _load(self, conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert rows (the dialect's bulk path)."""
        raise NotImplementedError

    def _update_records(self, conn: Any, rows: list[tuple]) -> None:
        """Rewrite records rows, given as :data:`CHANGE_COLUMNS` tuples."""
        sets = ", ".join(f"{c} = ?" for c in CHANGE_COLUMNS[1:])
        self._many(conn, f"UPDATE records SET {sets} WHERE id = ?", [(*r[1:], r[0]) for r in rows])

    def _index(self, txn: Txn, items: list[tuple[int, Record, str]]) -> None:
        """Write the search rows of live records (id, record, its modification date)."""
        raise NotImplementedError

    def _unindex(self, conn: Any, ids: list[int]) -> None:
        raise NotImplementedError

    def _idx(self, conn: Any, name: str) -> object | None:
        """The ``search_keys.idx`` value of an index (None: nothing was indexed there)."""
        raise NotImplementedError

    def _compiler(self, conn: Any) -> Compiler:
        raise NotImplementedError

    def _ranked(self, conn: Any, comp: Compiler, root: search_plan.PlanNode, ids_sql: str,
                args: list[object], start: int, limit: int) -> tuple[list[int], int]:
        """Relevance order: the record ids of the page and the total."""
        raise NotImplementedError

    # -- connections and transactions --------------------------------------------------
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except self.db_errors:
                    pass
            self._all.clear()
        self._local = threading.local()

    #: The database errors that may mean the connection itself is gone (then
    #: :meth:`_lost` says whether it is).
    _lost_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def _cause(self, exc: BaseException) -> str:
        """A database error in words, on one line."""
        return " ".join(str(exc).split()) or type(exc).__name__

    def _busy(self, exc: BaseException) -> bool:
        """Whether a database error is another writer holding the store too long."""
        return False

    def _lost(self, conn: Any) -> bool:
        """Whether ``conn`` is dead (its server went away)."""
        return False

    def _drop(self, conn: Any) -> None:
        """Forget a dead connection; this thread's next use opens a new one."""
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        try:
            conn.close()
        except self.db_errors:
            pass

    def close_thread(self) -> None:
        """Close the calling thread's connection, if it has one (a thread that is
        done with the store: a harvest worker thread, say). The store stays usable;
        the thread opens a new connection if it uses it again."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn is getattr(self, "_keepalive", None):
            return  # (an in-memory database lives while its first connection does)
        self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        try:
            conn.close()
        except self.db_errors:
            pass

    def _rollback(self, conn: Any) -> None:
        try:
            conn.execute("ROLLBACK")
        except self.db_errors:
            pass  # the connection itself failed; it has no transaction left

    @contextmanager
    def _transaction(self, lock: str | None = "write", what: str = "writing to") -> Iterator[Txn]:
        conn = self._conn()
        txn = Txn(conn)
        try:
            self._begin(conn, lock)
            yield txn
            conn.execute("COMMIT")
        except self._lost_errors as exc:
            self._rollback(conn)
            if self._lost(conn):
                self._drop(conn)
                raise StoreUnavailable(f"{what} {self._where()} failed, the connection was "
                                       f"lost: {_first_line(exc)}") from exc
            raise StoreError(f"{what} {self._where()} failed: {str(exc).strip()}") from exc
        except self.db_errors as exc:
            self._rollback(conn)
            raise StoreError(f"{what} {self._where()} failed: {self._cause(exc)}") from exc
        except BaseException:
            self._rollback(conn)
            raise
        for done in txn.committed:
            done()

    def _migrate(self) -> None:
        conn = self._conn()
        # The dialect's module list, read now (a test appends one to see a store migrate).
        migrations: list[str] = sys.modules[type(self).__module__].MIGRATIONS
        try:
            self._begin(conn, "migrate")
            self._prepare(conn)
            row = conn.execute(self._q("SELECT value FROM meta WHERE key = ?"),
                               ("schema_version",)).fetchone()
            version = int(row[0]) if row else 0
            if version > len(migrations):
                raise StoreError(
                    f"the store {self._where()} has schema version {version}, newer than this "
                    f"thuvien-interop knows ({len(migrations)}): upgrade thuvien-interop")
            for script in migrations[version:]:
                self._run_script(conn, script)
            if version < len(migrations):
                self._fill_headers(conn)
                self._put_meta(conn, "schema_version", str(len(migrations)))
            conn.execute("COMMIT")
        except self.db_errors as exc:
            self._rollback(conn)
            if self._busy(exc):
                raise StoreError(f"cannot open the store {self._where()}: "
                                 f"{self._cause(exc)}") from exc
            raise StoreError(f"{self._where()} is not a thuvien-interop store or cannot be "
                             f"migrated: {str(exc).strip()}") from exc
        except BaseException:
            self._rollback(conn)
            raise

    def _fill_headers(self, conn: Any) -> None:
        """Render the header of every row that has none (rows written before the
        stores kept headers): done once, when the store migrates."""
        last = 0
        while True:
            rows = conn.execute(self._q(
                "SELECT id, identifier, datestamp, sets, deleted FROM records "
                "WHERE id > ? AND header IS NULL ORDER BY id LIMIT ?"), (last, 1000)).fetchall()
            if not rows:
                return
            self._many(conn, "UPDATE records SET header = ? WHERE id = ?", [
                (stored_header(ident, stamp, self._sets_of(sets), bool(deleted)), rid)
                for rid, ident, stamp, sets, deleted in rows])
            last = rows[-1][0]

    def schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    def _chunks(self, column: str, values: Sequence[object]) -> Iterator[tuple[str, list[object]]]:
        for i in range(0, len(values), CHUNK):
            yield self._in(column, values[i:i + CHUNK])

    # -- meta ------------------------------------------------------------------------
    def _put_meta(self, conn: Any, key: str, value: str) -> None:
        conn.execute(self._q("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                             "DO UPDATE SET value = excluded.value"), (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute(self._q("SELECT value FROM meta WHERE key = ?"), (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._put_meta(self._conn(), key, value)

    def _read_heads(self) -> dict[str, bytes]:
        rows = self._conn().execute(self._q("SELECT key, value FROM meta WHERE key LIKE ?"),
                                    (META_PREFIX + "%",)).fetchall()
        return {key[len(META_PREFIX):]: value.encode("utf-8") for key, value in rows}

    def _keep_heads(self, conn: Any, samples: dict[str, bytes]) -> None:
        """Inside a write: each format's head as the store keeps it, the head of
        ``samples`` (one XML of each format) kept for a format that has none yet.
        Read in the writing transaction every batch, so that a head this process
        kept in a transaction rolled back is never used."""
        for prefix, xml in samples.items():
            key = META_PREFIX + prefix
            head = self._heads.known(prefix) or head_of(xml)
            try:
                value = head.decode("utf-8")
            except UnicodeDecodeError:
                value = ""
            if value:
                conn.execute(self._q("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                                     "DO NOTHING"), (key, value))
            row = conn.execute(self._q("SELECT value FROM meta WHERE key = ?"), (key,)).fetchone()
            if row:
                self._heads.learned(prefix, row[0].encode("utf-8"))

    def setdefault_meta(self, key: str, value: str) -> str:
        conn = self._conn()
        conn.execute(self._q("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                             "DO NOTHING"), (key, value))
        return conn.execute(self._q("SELECT value FROM meta WHERE key = ?"), (key,)).fetchone()[0]

    def rename_origin(self, old: str, new: str) -> int:
        with self._transaction() as txn:
            return txn.conn.execute(self._q("UPDATE records SET origin = ? WHERE origin = ?"),
                                    (new, old)).rowcount

    # -- reading ---------------------------------------------------------------------
    def info(self) -> RepositoryInfo:
        earliest, total, deleted = self._conn().execute(
            "SELECT min(datestamp), count(*), count(*) FILTER (WHERE deleted) FROM records"
        ).fetchone()
        return RepositoryInfo(earliest, total, deleted)

    def prefixes(self, identifier: str | None = None) -> list[str] | None:
        conn = self._conn()
        if identifier is None:
            return [r[0] for r in conn.execute("SELECT DISTINCT prefix FROM rendered ORDER BY prefix")]
        row = conn.execute(self._q("SELECT id FROM records WHERE identifier = ?"),
                           (identifier,)).fetchone()
        if row is None:
            return None
        return [r[0] for r in conn.execute(
            self._q("SELECT prefix FROM rendered WHERE record_id = ? ORDER BY prefix"), (row[0],))]

    def sets(self, after: str | None, limit: int) -> list[Set]:
        # A set no record is in (any more) is not listed: its members' set_members
        # rows are its existence, and the primary key makes this one probe per set.
        rows = self._conn().execute(self._q(
            "SELECT spec, name, description FROM sets s WHERE spec > ? AND EXISTS "
            "(SELECT 1 FROM set_members m WHERE m.set_spec = s.spec) ORDER BY spec LIMIT ?"),
            (after or "", limit))
        return [Set(*r) for r in rows]

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        text, args = keyset.list_sql(self.keyset_dialect, q, after, limit, metadata=metadata,
                                     count=False)
        return [self._item(row, q.prefix) for row in self._conn().execute(text, args)]

    def stored_page(self, q: ListQuery, after: Key | None, limit: int, *,
                    metadata: bool = True) -> tuple[list[bytes], int, Key | None]:
        """One page of :meth:`list` as the OAI-PMH fragments a response copies: the
        ``record`` elements (``metadata``) or the ``header`` elements of up to
        ``limit`` items, each record assembled from its pre-rendered header
        (:mod:`.headers`), metadata and about, nothing built, escaped or formatted;
        how many items the page holds; and, when more follow, the key of its last
        (else None).

        A row kept without its format's head (:mod:`.heads`) comes from the query
        with its MARK cut off, and is sent as the head and the rest; another row as
        its first byte and the rest. A page whose every row is kept without its
        head and has no about (nearly every page) is laid out column by column
        (:func:`_plain_records`), not row by row."""
        metadata = metadata and q.prefix is not None
        text, args = keyset.list_sql(self.keyset_dialect, q, after, limit + 1, metadata=metadata,
                                     count=False, stored=True)
        rows = self._page_rows(text, args)
        last = (rows[limit - 1][0], rows[limit - 1][1]) if len(rows) > limit else None
        del rows[limit:]
        if not rows:
            return [], 0, last
        if not metadata:
            return [r[2] for r in rows], len(rows), last
        _, _, headers, abouts, rests, firsts = zip(*rows, strict=True)
        if None not in rests and not any(abouts) and firsts.count(None) == len(firsts):
            return _plain_records(headers, self._heads.head(q.prefix), rests), len(rows), last
        parts: list[bytes] = []
        add = parts.extend
        head = None
        for _stamp, _seq, header, about, rest, first in rows:
            if rest is None:  # a deletion
                add((b"<record>", header, b"</record>"))
                continue
            if first is not None:  # kept whole
                add((b"<record>", header, b"<metadata>", first, rest))
            else:
                if head is None:
                    head = self._heads.head(q.prefix)
                add((b"<record>", header, b"<metadata>", head, rest))
            if about:
                add((b"</metadata><about>", about, b"</about></record>"))
            else:
                parts.append(b"</metadata></record>")
        return parts, len(rows), last

    def iter(self, q: ListQuery, *, metadata: bool = True, batch: int = 1000) -> Iterator[Item]:
        """Every item of a list, page after page (for exports and re-rendering)."""
        return keyset.iterate(lambda after, n: self.list(q, after, n, metadata=metadata), batch)

    def _item(self, row: Sequence[Any], prefix: str | None) -> Item:
        identifier, datestamp, seq, deleted, sets, about, xml, origin = row
        header = Header(identifier, datestamp, self._sets_of(sets), bool(deleted), origin)
        return Item(header, (datestamp, seq), None if deleted else self._heads.unpack(prefix, xml),
                    about)

    def count(self, q: ListQuery) -> int:
        text, args = keyset.list_sql(self.keyset_dialect, q, None, None, metadata=False, count=True)
        return self._conn().execute(text, args).fetchone()[0]

    def get(self, identifier: str, prefix: str | None = None) -> Item | None:
        row = self._conn().execute(self._q(
            "SELECT r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about, x.xml, r.origin "
            "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = ? "
            "WHERE r.identifier = ?"), (prefix or "", identifier)).fetchone()
        return self._item(row, prefix) if row else None

    def stored_records(self, identifiers: Iterable[str]) -> dict[str, Record]:
        out: dict[str, Record] = {}
        conn = self._conn()
        for cond, args in self._chunks("r.identifier", list(identifiers)):
            for ident, fmt, data, sets in conn.execute(self._q(
                    "SELECT r.identifier, r.canonical_format, coalesce(r.canonical, x.xml), r.sets "
                    "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = 'marc21' "
                    f"WHERE {cond} AND NOT r.deleted"), args):
                if data is not None:
                    # The canonical bytes (XML, whole) or else the rendered marc21
                    # row's, which may keep no head (store/heads.py).
                    out[ident] = Record(ident, canonical=self._heads.unpack("marc21", bytes(data)),
                                        canonical_format=fmt, sets=self._sets_of(sets))
        return out

    def canonical(self, identifier: str) -> tuple[str, bytes] | None:
        rec = self.stored_records([identifier]).get(identifier)
        return (rec.canonical_format, rec.canonical) if rec is not None else None

    # -- writing ---------------------------------------------------------------------
    def write(self, records: Iterable[Record], *, now: int | None = None,
              replace: bool = False, clusters: ClusterHook | None = None) -> WriteSummary:
        summary = WriteSummary()
        for batch in _batches(records, self.batch_size):
            summary += self._write_batch(batch, now, replace, clusters)
        return summary

    #: A run that wrote at least this many records refreshes the planner's statistics...
    STATISTICS_AFTER: ClassVar[int] = 5000
    #: ... or at least this many, when they are a tenth of the store or more.
    STATISTICS_LEAST: ClassVar[int] = 1000

    def refresh_statistics(self, written: int) -> bool:
        """After a run (an import, a harvest, a sync) that wrote ``written`` records:
        when that is a large load (``STATISTICS_AFTER`` records, or a tenth of the
        store and ``STATISTICS_LEAST`` at least), refresh what the query planner knows
        of the tables searches and facets read, so that the next searches are planned
        for what the store holds now, not for what it held before autovacuum's next
        visit; whether it did. (:class:`~thuvien_interop.pipeline.Pipeline` calls it
        as it closes.)"""
        if written < self.STATISTICS_LEAST:
            return False
        if written < self.STATISTICS_AFTER:
            total = self._conn().execute("SELECT count(*) FROM records").fetchone()[0]
            if written * 10 < total:
                return False
        self._refresh_statistics()
        return True

    def _refresh_statistics(self) -> None:
        with self._transaction(lock=None, what="refreshing the statistics of") as txn:
            self._analyze(txn.conn)

    #: The tables the readers' search, SRU and OAI-PMH lists read (the dialect adds
    #: its own).
    _read_tables: ClassVar[tuple[str, ...]] = (
        "records", "rendered", "set_members", "search_keys",
        "union_record", "union_key", "union_cluster", "union_work")

    def _analyze(self, conn: Any) -> None:
        raise NotImplementedError

    def update_clusters(self, records: list[Record], clusters: ClusterHook, *,
                        forget: bool = False) -> None:
        """Run a cluster hook over records already stored, in one write transaction
        (``forget``: empty the cluster tables first). For ``clusters --build``."""
        with self._transaction() as txn:
            if forget:
                for table in ("union_key", "union_record", "union_cluster", "union_work"):
                    txn.conn.execute(f"DELETE FROM {table}")
            clusters(lambda codec: ClusterTables(self, txn.conn, codec), records)

    def cluster_tables(self, codec: Any) -> ClusterTables:
        """The union's cluster tables, read outside any write (``codec`` turns a
        stored facts text into facts: :class:`thuvien_interop.union.facts.Facts`)."""
        return ClusterTables(self, None, codec)

    def _known(self, conn: Any, identifiers: Sequence[str]) -> dict[str, _Row]:
        """The stored rows of these identifiers."""
        known: dict[str, _Row] = {}
        for cond, args in self._chunks("identifier", identifiers):
            for ident, rid, digest, deleted, sets, origin, fmt in conn.execute(self._q(
                    "SELECT identifier, id, checksum, deleted, sets, origin, canonical_format "
                    f"FROM records WHERE {cond}"), args):
                known[ident] = _Row(rid, bytes(digest), bool(deleted), self._sets_of(sets),
                                    origin, fmt, True)
        return known

    def _write_batch(self, batch: list[Record], now: int | None, replace: bool,
                     clusters: ClusterHook | None = None) -> WriteSummary:
        summary = WriteSummary()
        with self._transaction() as txn:
            # Everything is decided here, under the store's write lock, against what
            # the store holds now: concurrent writers leave what sequential ones leave.
            rows = self._known(txn.conn, list({r.identifier: None for r in batch}))
            written: dict[str, _Row] = {}
            for record in batch:
                row = self._plan(rows.get(record.identifier), record, replace, summary)
                if row is not None:
                    rows[record.identifier] = row
                    # Moved to the end: the last write of a record takes the last seq,
                    # as it would written after the others.
                    written.pop(record.identifier, None)
                    written[record.identifier] = row
            if written:
                self._apply(txn, list(written.values()), now)
                if clusters is not None:
                    # In this transaction: the clusters change with the records or not at all.
                    ids = {ident: r.rid for ident, r in written.items() if r.rid is not None}
                    clusters(lambda codec: ClusterTables(self, txn.conn, codec, ids),
                             [r.record for r in written.values() if r.record is not None])
        return summary

    @staticmethod
    def _plan(row: _Row | None, record: Record, replace: bool,
              summary: WriteSummary) -> _Row | None:
        """What writing ``record`` over ``row`` does: the new row, or None when
        nothing is written (counted in ``summary`` either way)."""
        ident = record.identifier
        if row is not None and row.origin != record.origin:
            summary.collisions.append((ident, row.origin))
            return None
        if (row is not None and not replace and not row.deleted and not record.deleted
                and richness(row.fmt) > richness(record.canonical_format)):
            summary.kept.append(ident)
            return None
        sets = expand_set_specs(record.sets)
        if record.deleted and not sets and row is not None:
            # A deletion that names no sets keeps the record's sets, so set-filtered
            # harvesters still learn of it (OAI-PMH 2.0 §2.5.1).
            sets = row.sets
        digest = checksum(record)
        if row is not None and row.sets == sets and (
                row.checksum == digest or (row.stored and row.checksum == checksum_v1(record))):
            summary.unchanged += 1
            return None
        if record.deleted:
            summary.deleted += 1
        elif row is None:
            summary.added += 1
        else:
            summary.updated += 1
        new = _Row(row.rid if row else None, digest, record.deleted, sets, record.origin,
                   record.canonical_format, row.stored if row else False, record)
        if not record.deleted:
            new.canonical, new.canonical_known = kept_canonical(record), True
        elif row is None:
            new.canonical_known = True  # a tombstone of a record never seen: nothing to keep
        elif row.record is not None and not row.record.deleted:
            # Deleted after a live version of this batch: that version's record is kept.
            new.fmt, new.canonical = row.record.canonical_format, row.record.canonical
            new.canonical_known = True
        elif row.canonical_known:
            new.fmt, new.canonical, new.canonical_known = row.fmt, row.canonical, True
        else:
            new.fmt = row.fmt  # what the store holds is kept (read when applied)
        return new

    def _apply(self, txn: Txn, written: list[_Row], now: int | None) -> None:
        conn = txn.conn
        stamp = self._stamp(conn, now)
        seqs = self._new_seqs(conn, len(written))
        fresh = [r for r in written if not r.stored]
        for r, rid in zip(fresh, self._new_ids(conn, len(fresh)), strict=True):
            r.rid = rid
        # A deletion keeps the canonical record (for undeletion and audit), also where
        # it lived only in the rendered marc21 row, which the deletion removes.
        keep = [r.rid for r in written if not r.canonical_known]
        kept: dict[int, tuple[str, bytes | None]] = {}
        for cond, args in self._chunks("r.id", keep):
            for rid, fmt, canon in conn.execute(self._q(
                    "SELECT r.id, r.canonical_format, coalesce(r.canonical, x.xml) FROM records r "
                    "LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = 'marc21' "
                    f"WHERE {cond}"), args):
                kept[rid] = (fmt, self._heads.unpack("marc21", canon))
        inserts, updates, rendered, members, index = [], [], [], [], []
        modified = dates.format_utc(stamp)
        samples: dict[str, bytes] = {}
        for r in written:
            if r.record is not None and not r.record.deleted:
                for p, x in r.record.rendered.items():
                    samples.setdefault(p, x)
        self._keep_heads(conn, samples)
        pack = self._heads.pack
        for r, seq in zip(written, seqs, strict=True):
            record = r.record
            assert record is not None and r.rid is not None
            fmt, canon = kept.get(r.rid, (r.fmt, r.canonical))
            values = (r.rid, stamp, seq, record.deleted, stamp if record.deleted else None,
                      r.checksum, fmt, canon, self._sets_value(r.sets), record.about, record.origin,
                      stored_header(record.identifier, stamp, r.sets, record.deleted))
            if r.stored:
                updates.append(values)
            else:
                inserts.append((values[0], record.identifier, *values[1:]))
            if not record.deleted:
                rendered.extend((r.rid, p, pack(p, x)) for p, x in record.rendered.items())
                index.append((r.rid, record, modified))
            members.extend((s, stamp, seq, r.rid) for s in r.sets)
        stored = [u[0] for u in updates]
        counts = Counter(prefix for _, prefix, _ in rendered)
        if updates:
            self._update_records(conn, updates)
            for cond, args in self._chunks("record_id", stored):
                for prefix, n in conn.execute(self._q(
                        f"SELECT prefix, count(*) FROM rendered WHERE {cond} GROUP BY prefix"), args):
                    counts[prefix] -= n
                conn.execute(self._q(f"DELETE FROM rendered WHERE {cond}"), args)
                conn.execute(self._q(f"DELETE FROM set_members WHERE {cond}"), args)
            self._unindex(conn, stored)
        self._load(conn, "records", RECORD_COLUMNS, inserts)
        self._load(conn, "rendered", RENDERED_COLUMNS, rendered)
        # Each format's rendered rows, counted in this transaction: the write lock
        # makes the rows read above the rows deleted, so the count stays exact.
        changed = [(prefix, n) for prefix, n in sorted(counts.items()) if n]
        if changed:
            self._many(conn, "INSERT INTO rendered_counts (prefix, n) VALUES (?, ?) "
                       "ON CONFLICT (prefix) DO UPDATE SET n = rendered_counts.n + excluded.n",
                       changed)
        self._load(conn, "set_members", MEMBER_COLUMNS, members)
        self._index(txn, index)
        if now is None:
            self._restamp(conn, stamp, [r.rid for r in written if r.rid is not None], deletions=True)

    @staticmethod
    def _stamp(conn: Any, now: int | None) -> int:
        if now is not None:
            return now
        # Datestamps never go backwards, even when the clock (or another machine's) does.
        return max(dates.now(), conn.execute("SELECT coalesce(max(datestamp), 0) FROM records"
                                             ).fetchone()[0])

    def _restamp(self, conn: Any, stamp: int, ids: list[int], *, deletions: bool) -> None:
        """Move a batch's datestamp to the second it commits in.

        A harvester answered while this batch was being written got a responseDate
        later than ``stamp``; its next ``from=`` would skip records stamped earlier
        but visible only after the commit. Stamped with the commit's own second,
        they fall inside that ``from=`` (which is inclusive). The search index
        keeps ``stamp`` for rec.lastModificationDate: at most the batch's duration
        earlier, and only there.
        """
        final = dates.now()
        if final <= stamp:
            return
        deleted_at = ", deleted_at = CASE WHEN deleted THEN ? ELSE deleted_at END" if deletions else ""
        # Every row of the batch has the datestamp ``stamp``: its header's datestamp
        # element is replaced in place (an identifier, escaped, never holds one).
        old, new = datestamp_element(stamp), datestamp_element(final)
        for cond, args in self._chunks("id", ids):
            conn.execute(self._q(f"UPDATE records SET datestamp = ?, header = replace(header, ?, ?)"
                                 f"{deleted_at} WHERE {cond}"),
                         [final, old, new, *([final] if deletions else []), *args])
        for cond, args in self._chunks("record_id", ids):
            conn.execute(self._q(f"UPDATE set_members SET datestamp = ? WHERE {cond}"),
                         [final, *args])

    # -- sets --------------------------------------------------------------------------
    def put_sets(self, sets: Iterable[Set]) -> None:
        rows = [(s.spec, s.name, s.description) for s in sets]
        with self._transaction(None) as txn:
            self._many(txn.conn, "INSERT INTO sets (spec, name, description) VALUES (?, ?, ?) "
                       "ON CONFLICT (spec) DO UPDATE SET name = excluded.name, "
                       "description = excluded.description", rows)

    def set_memberships(self, changes: Iterable[tuple[str, tuple[str, ...]]], *,
                        now: int | None = None) -> int:
        return sum(self._memberships_batch(dict(batch), now)
                   for batch in _batches(changes, self.batch_size))

    def _memberships_batch(self, batch: dict[str, tuple[str, ...]], now: int | None) -> int:
        with self._transaction() as txn:
            conn = txn.conn
            rows = self._known(conn, list(batch))
            changed = [(row.rid, sets, ident, row.deleted) for ident, row in rows.items()
                       if (sets := expand_set_specs(batch[ident])) != row.sets]
            if not changed:
                return 0
            stamp = self._stamp(conn, now)
            seqs = self._new_seqs(conn, len(changed))
            self._many(conn, "UPDATE records SET datestamp = ?, seq = ?, sets = ?, header = ? "
                       "WHERE id = ?",
                       [(stamp, seq, self._sets_value(sets),
                         stored_header(ident, stamp, sets, deleted), rid)
                        for (rid, sets, ident, deleted), seq in zip(changed, seqs, strict=True)])
            ids = [rid for rid, *_ in changed]
            for cond, args in self._chunks("record_id", ids):
                conn.execute(self._q(f"DELETE FROM set_members WHERE {cond}"), args)
            self._load(conn, "set_members", MEMBER_COLUMNS,
                       [(s, stamp, seq, rid) for (rid, sets, *_), seq in zip(changed, seqs, strict=True)
                        for s in sets])
            # The records changed: their rec.lastModificationDate key follows.
            code = self._idx(conn, "rec.lastModificationDate")
            if code is not None:
                modified = {"rec.lastModificationDate": [dates.format_utc(stamp)]}
                key, display = next(search_plan.index_entries(modified))[2][0]
                for cond, args in self._chunks("record_id", ids):
                    conn.execute(self._q(f"UPDATE search_keys SET key = ?, display = ? "
                                         f"WHERE idx = ? AND {cond}"), [key, display, code, *args])
            if now is None:
                self._restamp(conn, stamp, ids, deletions=False)
        return len(changed)

    # -- leases (several harvester processes or nodes sharing one provider list) ----------
    def lease(self, name: str, holder: str, seconds: int, *, now: int | None = None) -> bool:
        # A node that dies loses its leases when they expire: no coordinator is needed.
        t = dates.now() if now is None else now
        row = self._conn().execute(self._q(
            "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
            "WHERE leases.expires <= ? OR leases.holder = excluded.holder RETURNING name"),
            (name, holder, t + seconds, t)).fetchone()
        return row is not None

    def claim(self, names: Sequence[str], holder: str, seconds: int, *,
              now: int | None = None) -> str | None:
        if not names:
            return None
        t = dates.now() if now is None else now
        with self._transaction("lease", "leasing in") as txn:
            cond, args = self._in("name", list(names))
            held = {r[0] for r in txn.conn.execute(
                self._q(f"SELECT name FROM leases WHERE expires > ? AND {cond}"), [t, *args])}
            free = next((n for n in names if n not in held), None)
            if free is not None:
                txn.conn.execute(self._q(
                    "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET holder = excluded.holder, expires = excluded.expires"),
                    (free, holder, t + seconds))
        return free

    def release(self, name: str, holder: str) -> bool:
        row = self._conn().execute(self._q(
            "UPDATE leases SET holder = NULL, expires = 0 WHERE name = ? AND holder = ? "
            "RETURNING name"), (name, holder)).fetchone()
        return row is not None

    def lease_holder(self, name: str, *, now: int | None = None) -> str | None:
        t = dates.now() if now is None else now
        row = self._conn().execute(self._q(
            "SELECT holder FROM leases WHERE name = ? AND expires > ?"), (name, t)).fetchone()
        return row[0] if row else None

    # -- search (the contract is in store/base.py and store/search_plan.py) ----------------
    def reindex(self, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
        done = 0
        for pairs in _batches(entries, self.batch_size):
            batch = dict(pairs)
            with self._transaction(what="reindexing") as txn:
                found: list[tuple[int, str, bool, int, Any]] = []
                for cond, args in self._chunks("identifier", list(batch)):
                    found += txn.conn.execute(self._q(
                        f"SELECT id, identifier, deleted, datestamp, sets FROM records WHERE {cond}"), args)
                self._unindex(txn.conn, [f[0] for f in found])
                # The sets come along: the store's own entries (local.library) are read from them.
                self._index(txn, [(rid, Record(ident, index=batch[ident], sets=self._sets_of(sets)),
                                   dates.format_utc(stamp))
                                  for rid, ident, deleted, stamp, sets in found if not deleted])
            done += len(found)
        return done

    @contextmanager
    def time_budget(self, seconds: float | None) -> Iterator[None]:
        """Bound the searches (and facets, scans) this thread runs inside the block
        to ``seconds``: past it the database stops the statement, the block raises
        :class:`~.search_plan.PlanTooSlow`, and the connection is ready for the
        next request. None or 0: no bound. For reads only (on PostgreSQL the block
        is one transaction, rolled back at its end).

            >>> with store.time_budget(10):                        # doctest: +SKIP
            ...     page = store.search(plan, 1, 10)

        Both bound the whole block: SQLite with a progress handler that checks the
        deadline every 10,000 steps of its virtual machine, PostgreSQL by giving
        each statement, as its ``statement_timeout``, what is left of the budget.
        """
        if not seconds:
            yield
            return
        with self._bounded(self._conn(), seconds):
            yield

    def _bounded(self, conn: Any, seconds: float) -> Any:
        """The dialect's :meth:`time_budget` on ``conn`` (a context manager)."""
        raise NotImplementedError

    def search(self, plan: search_plan.Plan, start: int, limit: int, *,
               prefix: str | None = None) -> search_plan.SearchPage:
        conn = self._conn()
        comp = self._compiler(conn)
        ids_sql, args = comp.node(plan.root)
        if ids_sql is None:
            return search_plan.SearchPage(0, [])
        ids, total = self._ordered(conn, comp, plan, ids_sql, args, start, limit)
        return search_plan.SearchPage(total, self._items_by_id(conn, ids, prefix))

    def _ordered(self, conn: Any, comp: Compiler, plan: search_plan.Plan, ids_sql: str,
                 args: list[object], start: int, limit: int) -> tuple[list[int], int]:
        """The record ids of one page of a search, in the plan's order, and the total."""
        if not plan.sort:
            return self._ranked(conn, comp, plan.root, ids_sql, args, start, limit)
        cols, order, where, sort_args = ["h.id"], [], [], []
        for i, spec in enumerate(plan.sort):
            agg = "max" if spec.descending else "min"
            cols.append(f"(SELECT {agg}(key) FROM search_keys WHERE idx = ? AND record_id = h.id) AS k{i}")
            code = self._idx(conn, spec.index)
            sort_args.append(self.no_index if code is None else code)
            if spec.missing == "omit":
                where.append(f"k{i} IS NOT NULL")
            null_first = (spec.missing == "low") != spec.descending
            order.append(f"k{i} IS {'NOT ' if null_first else ''}NULL")
            order.append(f"k{i}{' DESC' if spec.descending else ''}")
        outer = (f"SELECT * FROM (SELECT {', '.join(cols)} FROM ({ids_sql}) h) o"
                 + (f" WHERE {' AND '.join(where)}" if where else ""))
        all_args = sort_args + args
        if where:
            total = conn.execute(self._q(f"SELECT count(*) FROM ({outer}) c"), all_args).fetchone()[0]
        else:
            total = conn.execute(self._q(f"SELECT count(*) FROM ({ids_sql}) c"), args).fetchone()[0]
        if limit <= 0 or start > total:
            return [], total
        ids = [r[0] for r in conn.execute(
            self._q(f"{outer} ORDER BY {', '.join(order + ['id'])} LIMIT ? OFFSET ?"),
            all_args + [limit, max(start - 1, 0)])]
        return ids, total

    # -- works: the records of one cluster counted once (the readers' pages) -------------
    # A record's work: its cluster's part (union_work, kept by ClusterTables with the
    # clusters), else minus its own id (a record alone, or never clustered, is a work
    # of its own).
    #: How ``union_record.record`` (COLLATE "C" on PostgreSQL) meets ``records.identifier``
    #: so that its primary key serves the join.
    _as_cluster_key: ClassVar[str] = ""

    def _works_from(self, ids_sql: str) -> str:
        """``ids_sql``'s records with their work (columns id, work): a clustered
        record's part, else minus its own id (a record alone, or never clustered,
        is a work of its own). (A look-up a record, not a join: PostgreSQL hashed
        the join, reading union_work whole for any result, 66,667 rows at 50,000 LoC
        records; a search of 22,000 matches counted its works in 172 ms, not 208.)"""
        return (f"SELECT h.id AS id, coalesce((SELECT uw.work FROM union_work uw WHERE uw.id = h.id), "
                f"-h.id) AS work FROM ({ids_sql}) h")

    def search_works(self, plan: search_plan.Plan, start: int, limit: int, *,
                     prefix: str | None = None) -> WorkPage:
        """:meth:`search` counting each work once: the records of one cluster are
        one hit, at the place of its first record in the plan's order (relevance or
        ``sortBy``), never on two pages. ``total`` counts works; each item is the
        work's first matching record, ``sizes`` its cluster's records (1 for a record
        alone). Paging by works reads the record order up to the page's end."""
        conn = self._conn()
        comp = self._compiler(conn)
        ids_sql, args = comp.node(plan.root)
        if ids_sql is None:
            return WorkPage(0, [], [])
        total = conn.execute(self._q(f"SELECT count(DISTINCT work) FROM ({self._works_from(ids_sql)}) w"),
                             args).fetchone()[0]
        want = start - 1 + limit
        if limit <= 0 or start > total:
            return WorkPage(total, [], [])
        first: dict[int, int] = {}          # work → its first record, in order
        at, chunk = 1, max(2 * want, 50)
        while len(first) < want:
            ids, _ = self._ordered(conn, comp, plan, ids_sql, args, at, chunk)
            if not ids:
                break
            works = self._works_of(conn, ids)
            for rid in ids:
                first.setdefault(works.get(rid, -rid), rid)
                if len(first) == want:
                    break
            at, chunk = at + len(ids), chunk * 2
        page = list(first.items())[start - 1:want]
        sizes = self._work_sizes(conn, [w for w, _ in page if w > 0])
        return WorkPage(total, self._items_by_id(conn, [rid for _, rid in page], prefix),
                        [sizes.get(w, 1) for w, _ in page])

    def _works_of(self, conn: Any, ids: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for cond, args in self._chunks("id", ids):
            out.update(conn.execute(self._q(f"SELECT id, work FROM union_work WHERE {cond}"),
                                    args).fetchall())
        return out

    def _work_sizes(self, conn: Any, parts: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for cond, args in self._chunks("part", parts):
            out.update(conn.execute(self._q(f"SELECT part, size FROM union_cluster WHERE {cond}"),
                                    args).fetchall())
        return out

    def facets(self, plan: search_plan.Plan, specs: Sequence[search_plan.FacetSpec], *,
               works: bool = False, groups: Mapping[str, Mapping[str, str]] | None = None,
               sample: int | None = None) -> FacetCounts:
        """For each facet, its keys among the records the plan matches, with how many
        records have each (a :class:`~.search_plan.ScanTerm`: key, display, count):
        the commonest first, ties by key, at most ``spec.limit``.

        ``works``: count works (the records of one cluster once) instead of records.
        ``groups``: facets whose values are their libraries' (index → {key of a
        ``local.library`` value: key of its group}, e.g. each library's province),
        counted from ``local.library`` (a work held by two libraries of one province
        counts once there).
        ``sample``: past this many matching records, count a deterministic sample
        of about that many (picked by a hash of the record id, so that every
        library and every part of the store is in it alike) and scale the counts
        to the whole: estimates, and the result says so (``estimated``). The cost
        of a facet then stops growing with the result.

        One statement over the whole result: the matching records are found once,
        each one's facet keys read through search_keys_record (never an index's
        every key) and counted in the database; no record is read."""
        conn = self._conn()
        out = FacetCounts({s.index: [] for s in specs})
        ids_sql, args = self._compiler(conn).node(plan.root)
        if ids_sql is None:
            return out
        # Past ``sample`` matches, a sample of them: decided in the statement itself
        # (h0, the matches, counted there), so that the matches are found once, not
        # once to count them and again to count their facets.
        # (x - x / r * r: the remainder in integers, without "%", a placeholder to psycopg)
        matches = "(SELECT count(*) FROM h0)"
        mixed = f"(h.id * {_HASH_STEP})"
        picked = ids_sql if sample is None else (
            f"SELECT h.id FROM h0 h WHERE {matches} <= {int(sample)} OR {mixed} - {mixed} / "
            f"{_HASH_RANGE} * {_HASH_RANGE} < ({_HASH_RANGE} * {int(sample)} + {matches} - 1) / {matches}")
        groups = groups or {}
        unit = "w.work" if works else "w.id"
        # Each matching record's keys of every facet's index read once (m: its unit,
        # the index, the key), and each facet counted from them: one probe of
        # search_keys_record a record, not one a facet's part (1,000 matches: three
        # probes a record, and on SQLite the matches found three times).
        parts: list[tuple[str, list[object]]] = []   # (a statement's part, its arguments)
        codes: list[object] = []                    # the idx codes m reads
        plain: dict[object, int] = {}               # idx code → its spec's number
        grouped: list[tuple[int, str, str]] = []    # (spec's number, library key, group key)
        wanted: list[tuple[search_plan.FacetSpec, object]] = []
        for spec in specs:
            if spec.limit <= 0:
                continue
            f = len(wanted)
            if spec.index in groups:
                code = self._idx(conn, search_plan.LIBRARY_INDEX)
                pairs = [(f, lib, grp) for lib, grp in groups[spec.index].items() if grp]
                if code is None or not pairs:
                    continue
                if not grouped:
                    # Each work's libraries first, then their groups (a join of every
                    # key row with the groups' list would probe the key table per pair).
                    parts.append(("SELECT g.f AS f, g.grp AS key, count(DISTINCT x.u) AS n FROM "
                                  "(SELECT DISTINCT m.u AS u, m.key AS lib FROM m WHERE m.idx = ?) x "
                                  "CROSS JOIN g WHERE g.lib = x.lib GROUP BY g.f, g.grp", [code]))
                    codes.append(code)
                grouped += pairs
                wanted.append((spec, None))
                continue
            code = self._idx(conn, spec.index)
            if code is None:
                continue
            wanted.append((spec, code))
            codes.append(code)
            if spec.prefix:
                # Buckets of a date index: distinct records a bucket (a record may carry
                # 1995 and 1995-03-01), keys starting with a digit only.
                group = f"substr(m.key, 1, {int(spec.prefix)})"
                parts.append((f"SELECT {f} AS f, {group} AS key, count(DISTINCT m.u) AS n FROM m "
                              f"WHERE m.idx = ? AND m.key >= '0' AND m.key < ':' GROUP BY {group}", [code]))
            else:
                plain[code] = f
        if plain:
            cases = " ".join(f"WHEN ? THEN {f}" for f in plain.values())
            cond, cargs = self._in("m.idx", list(plain))
            # A record has a key once (the primary key): counting records needs no DISTINCT.
            parts.append((f"SELECT CASE m.idx {cases} END AS f, m.key AS key, "
                          f"{'count(DISTINCT m.u)' if works else 'count(*)'} AS n FROM m WHERE {cond} "
                          "GROUP BY m.idx, m.key", [*plain, *cargs]))
        if not parts:
            return out
        codes = list(dict.fromkeys(codes))
        within, kargs = self._in("k.idx", codes) if len(codes) > 1 else ("k.idx = ?", codes)
        if sample is not None:
            parts.append((f"SELECT -1 AS f, NULL AS key, {matches} AS n", []))
        ctes = [f"h0 AS MATERIALIZED ({ids_sql})"] if sample is not None else []
        ctes += [f"w AS MATERIALIZED ({self._works_from(picked) if works else f'SELECT id FROM ({picked}) h'})",
                f"m AS MATERIALIZED (SELECT {unit} AS u, k.idx AS idx, k.key AS key {self._keys_of_matches(within)})"]
        cargs = [*args, *kargs]
        if grouped:
            ctes.append("g (f, lib, grp) AS (VALUES " + ", ".join(f"({f}, ?, ?)" for f, _, _ in grouped) + ")")
            cargs += [v for _, lib, grp in grouped for v in (lib, grp)]
        counted: dict[int, list[tuple[str, int]]] = {}
        text = f"WITH {', '.join(ctes)} {' UNION ALL '.join(t for t, _ in parts)}"
        for f, key, n in conn.execute(self._q(text), [*cargs, *(a for _, pa in parts for a in pa)]):
            counted.setdefault(f, []).append((key, n))
        scale = 1.0
        matching = counted.pop(-1, [("", 0)])[0][1]
        if sample is not None and matching > sample:
            # (The cut the statement took: the least that keeps about ``sample``.)
            scale, out.estimated = _HASH_RANGE / max(1, -(-_HASH_RANGE * sample // matching)), True
        # (Cut here, not by a window in the statement: sorting the groups again in
        # the database cost more than this, and a sample keeps the groups few.)
        shown: list[tuple[search_plan.FacetSpec, object, list[tuple[str, int]]]] = []
        for f, (spec, code) in enumerate(wanted):
            got = counted.get(f, [])
            got.sort(key=(lambda kn: kn[0]) if spec.by_key else (lambda kn: (-kn[1], kn[0])))
            shown.append((spec, code, got[:spec.limit]))
        displays = self._displays(conn, [(code, key) for spec, code, got in shown
                                         if not spec.prefix and code is not None for key, _ in got])
        for spec, code, got in shown:
            for key, n in got:
                display = displays.get((code, key), key)
                out[spec.index].append(search_plan.ScanTerm(key, display, round(n * scale)))
        return out

    def _keys_of_matches(self, cond: str) -> str:
        """``FROM`` the matching records ``w`` and their ``search_keys k`` rows that
        meet ``cond``, each record's read through search_keys_record (CROSS JOIN
        keeps the records the outer loop in SQLite; never an index's every key)."""
        return f"FROM w CROSS JOIN search_keys k WHERE k.record_id = w.id AND {cond}"

    def _displays(self, conn: Any, pairs: Sequence[tuple[object, str]]) -> dict[tuple[object, str], str]:
        """How keys read (the first value written with each), of (idx code, key)
        pairs: one statement for them all (a facet page shows some fifty)."""
        out: dict[tuple[object, str], str] = {}
        for i in range(0, len(pairs), 100):
            chunk = pairs[i:i + 100]
            rows = conn.execute(self._q(" UNION ALL ".join(
                f"SELECT {n}, (SELECT display FROM search_keys WHERE idx = ? AND key = ? LIMIT 1)"
                for n in range(len(chunk)))), [v for pair in chunk for v in pair]).fetchall()
            out.update((chunk[n], display) for n, display in rows if display is not None)
        return out

    def _items_by_id(self, conn: Any, ids: list[int], prefix: str | None) -> list[Item]:
        if not ids:
            return []
        cond, args = self._in("r.id", ids)
        rows = conn.execute(self._q(
            "SELECT r.id, r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about, x.xml, "
            "r.origin "
            "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = ? "
            f"WHERE {cond}"), [prefix or "", *args]).fetchall()
        by_id = {row[0]: self._item(row[1:], prefix) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def scan(self, index: str, start: str, position: int, count: int) -> list[search_plan.ScanTerm]:
        conn = self._conn()
        code = self._idx(conn, index)
        if code is None or count <= 0:
            return []
        text = ("SELECT key, min(display), count(*) FROM search_keys WHERE idx = ? AND key {} ? "
                "GROUP BY key ORDER BY key {} LIMIT ?")
        before = conn.execute(self._q(text.format("<", "DESC")),
                              (code, start, max(position - 1, 0))).fetchall()
        before.reverse()
        after = conn.execute(self._q(text.format(">=", "ASC")),
                             (code, start, count - len(before))).fetchall()
        return [search_plan.ScanTerm(*row) for row in before + after][:count]


class Compiler:
    """A plan node → a ``SELECT`` of record ids (column ``id``, ``?`` placeholders),
    or ``(None, [])`` when it can match nothing. Keys, booleans and every record
    are compiled here; full text and glob keys by the dialect."""

    not_in: ClassVar[bool] = False
    """AndNot as ``NOT IN`` (see :func:`.keyset.set_operation`), else EXCEPT."""

    def __init__(self, store: SQLStore, conn: Any) -> None:
        self.store = store
        self.conn = conn

    def text(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]] | None:
        """The full-text part: None when ``node`` is not full text."""
        raise NotImplementedError

    def key_glob(self, pattern: str) -> tuple[str, list[object]]:
        """A condition on ``k.key`` for a glob pattern (search_plan.iter_terms)."""
        raise NotImplementedError

    def match(self, node: search_plan.PlanNode) -> tuple[str | None, Any] | None:
        """(index, the dialect's full-text expression) when ``node`` is full text on
        one index (None: on every index), else None."""
        raise NotImplementedError

    def keyed_text(self, node: search_plan.PlanNode) -> tuple[
            search_plan.PlanNode, list[tuple[bool, search_plan.PlanNode]]] | None:
        """(its one full-text part, its key checks as (negated, key)) when ``node`` is a
        full-text part narrowed only by key conditions (And with keys on either side,
        AndNot with a key on the right, nested), else None: the shapes :meth:`node`
        compiles as semi-joins."""
        keys = (search_plan.KeyMatch, search_plan.KeyRange)
        checks: list[tuple[bool, search_plan.PlanNode]] = []
        while self.match(node) is None:
            if isinstance(node, search_plan.And) and (found := self.key_conjuncts(node.right)):
                node, negate = node.left, False
            elif isinstance(node, search_plan.And) and (found := self.key_conjuncts(node.left)):
                node, negate = node.right, False
            elif isinstance(node, search_plan.AndNot) and isinstance(node.right, keys):
                node, found, negate = node.left, [node.right], True
            else:
                return None
            checks += [(negate, key) for key in found]
        return (node, checks) if checks else None

    def text_exists(self, node: search_plan.PlanNode, ref: str
                    ) -> tuple[str | None, list[object]] | None:
        """``EXISTS (...)``: the record whose id is ``ref`` matches the full-text
        ``node``, checked on that record's rows alone; ``(None, [])`` when it can
        match nothing, None when ``node`` is not full text."""
        return None

    def rarity(self, node: search_plan.PlanNode) -> float:
        """About how many rows a full-text ``node`` matches (infinity: unknown), so
        that an And checks its rarest parts first."""
        return float("inf")

    def positive(self, node: search_plan.PlanNode, leaf: Callable[[search_plan.PlanNode], Any]
                 ) -> list[Any]:
        """What ``leaf`` makes of each positive full-text part of a plan (what ranks
        it): a part is where ``leaf`` gives not None; below And/Or both sides, the
        left one of AndNot."""
        got = leaf(node)
        if got is not None:
            return [got]
        if isinstance(node, search_plan.And | search_plan.Or):
            return self.positive(node.left, leaf) + self.positive(node.right, leaf)
        if isinstance(node, search_plan.AndNot):
            return self.positive(node.left, leaf)
        return []

    @staticmethod
    def key_conjuncts(node: search_plan.PlanNode) -> list[search_plan.PlanNode] | None:
        """The key conditions ``node`` is the conjunction of (a key alone, keys of
        one index or-ed, or And of such), else None."""
        if isinstance(node, search_plan.KeyMatch | search_plan.KeyRange) \
                or Compiler.key_choices(node) is not None:
            return [node]
        if isinstance(node, search_plan.And):
            a, b = Compiler.key_conjuncts(node.left), Compiler.key_conjuncts(node.right)
            if a is not None and b is not None:
                return a + b
        return None

    @staticmethod
    def key_choices(node: search_plan.PlanNode) -> list[search_plan.KeyMatch] | None:
        """The keys of one index ``node`` or-s (``local.library = a or … = b``: a
        province chosen is its libraries), else None."""
        if isinstance(node, search_plan.Or):
            a, b = Compiler.key_choices(node.left), Compiler.key_choices(node.right)
            if a is not None and b is not None and a[0].index == b[0].index:
                return a + b
            return None
        if isinstance(node, search_plan.KeyMatch) and node.op == "eq":
            return [node]
        return None

    def key_exists(self, node: search_plan.PlanNode, ref: str = "q.id"
                   ) -> tuple[str | None, list[object]]:
        """Whether the record ``ref`` has a key ``node`` matches: a probe of its own
        keys through search_keys_record (None: the index is empty)."""
        cond, args = self.key_condition(node)
        if cond is None:
            return None, []
        return (f"EXISTS (SELECT 1 FROM search_keys k WHERE k.record_id = {ref} AND {cond})",
                args)

    def key_checked(self, base: str, args: list[object],
                    checks: list[tuple[bool, search_plan.PlanNode]]
                    ) -> tuple[str | None, list[object]]:
        """The rows of ``base`` (a SELECT with an ``id`` column) that have each key
        check's key (negated: that have not), a semi-join each; None: nothing can
        match."""
        for negate, key in checks:
            cond, cargs = self.key_exists(key)
            if cond is None:  # the index is empty: nothing has the key
                if negate:
                    continue
                return None, []
            base = f"SELECT q.* FROM ({base}) q WHERE {'NOT ' if negate else ''}{cond}"
            args = args + cargs
        return base, args

    def key_condition(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]]:
        """A condition on ``search_keys k`` for one key match, or for keys of one
        index or-ed (:meth:`key_choices`): None when the index is empty."""
        if not isinstance(node, search_plan.KeyMatch | search_plan.KeyRange):
            choices = self.key_choices(node)
            assert choices is not None, node
            code = self.store._idx(self.conn, choices[0].index)
            if code is None:
                return None, []
            values = sorted({c.value for c in choices})
            return (f"k.idx = ? AND k.key IN ({', '.join('?' * len(values))})",
                    [code, *values])
        code = self.store._idx(self.conn, node.index)
        if code is None:
            return None, []
        if isinstance(node, search_plan.KeyRange):
            return (f"k.idx = ? AND k.key {'>=' if node.include_low else '>'} ? "
                    f"AND k.key {'<=' if node.include_high else '<'} ?", [code, node.low, node.high])
        if node.op == "glob":
            cond, args = self.key_glob(node.value)
            return f"k.idx = ? AND {cond}", [code, *args]
        return f"k.idx = ? AND k.key {_OPS[node.op]} ?", [code, node.value]

    def node(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]]:
        text = self.text(node)
        if text is not None:
            return text
        keys = (search_plan.KeyMatch, search_plan.KeyRange)
        if isinstance(node, search_plan.AllRecords):
            return "SELECT id FROM records WHERE NOT deleted", []
        if isinstance(node, keys) or self.key_choices(node) is not None:
            cond, args = self.key_condition(node)
            if cond is None:
                return None, []
            # One key matches a record once (the primary key): no DISTINCT needed.
            unique = isinstance(node, search_plan.KeyMatch) and node.op == "eq"
            return (f"SELECT {'' if unique else 'DISTINCT '}k.record_id AS id FROM search_keys k "
                    f"WHERE {cond}", args)
        if isinstance(node, search_plan.And) and (chained := self._and_chain(node)) is not None:
            return chained
        if isinstance(node, search_plan.And | search_plan.AndNot):
            # Key conditions beside another part are checked per record of that part
            # through search_keys_record (a semi-join each), instead of building the
            # set of every record in, say, "dc.date >= 1990" to intersect it
            # (title = poetry and date >= 1900 and date < 2000, 20,000 LoC records:
            # 18.6 -> 0.8 ms of CPU, both dates checked per poetry record).
            left, right = node.left, node.right
            negate = isinstance(node, search_plan.AndNot)
            checks = (([right] if isinstance(right, keys) else None) if negate
                      else self.key_conjuncts(right))
            if checks is None and not negate:
                if (checks := self.key_conjuncts(left)) is not None:
                    left = right
            if checks is not None:
                a, aa = self.node(left)
                if a is None:
                    return None, []
                return self.key_checked(a, aa, [(negate, key) for key in checks])
        if isinstance(node, search_plan.And | search_plan.Or | search_plan.AndNot):
            return keyset.set_operation(node, self.node(node.left), self.node(node.right),
                                        not_in=self.not_in)
        raise TypeError(f"not a plan node: {node!r}")

    def _and_chain(self, node: search_plan.And) -> tuple[str | None, list[object]] | None:
        """An And of several full-text parts across indexes (``a and b and ...``
        on cql.serverChoice: a record's rows are one an index, so the parts do not
        merge into one MATCH or tsquery) as the records of one part checked
        against each other part on their own rows, rarest first, instead of the
        intersection of every part's records (a 100-term AND of common words:
        each of its 100 sets built whole). None: fewer than CHAIN_LEAST such
        parts, no idea which is rarest (a part of every record checked a record
        at a time costs more than its set), or not rare enough (CHAIN_FACTOR)."""
        parts: list[search_plan.PlanNode] = []
        todo: list[search_plan.PlanNode] = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, search_plan.And) and self.text(n) is None:
                todo += [n.right, n.left]
            else:
                parts.append(n)
        keys = (search_plan.KeyMatch, search_plan.KeyRange)
        checks: list[tuple[float, int, search_plan.PlanNode]] = []
        rest: list[search_plan.PlanNode] = []
        texts = {i: got for i, part in enumerate(parts) if not isinstance(part, keys)
                 and (got := self.text_exists(part, "q.id")) is not None}
        if len(texts) < CHAIN_LEAST:
            return None  # intersected (the rarities alone would cost about as much)
        for i, part in enumerate(parts):
            if isinstance(part, keys):
                checks.append((float("inf"), i, part))
            elif i in texts:
                checks.append((self.rarity(part), i, part))
            else:
                rest.append(part)
        if all(c[0] == float("inf") for c in checks):
            return None  # (with no idea which part is rarest, the intersection is safer)
        known = sorted(c[0] for c in checks if c[0] != float("inf"))
        if sum(known[1:]) < CHAIN_FACTOR * known[0]:
            return None  # the others' sets are cheaper to build than the checks
        checks.sort(key=lambda c: (c[0], isinstance(c[2], keys), c[1]))
        if not rest:
            rest.append(checks.pop(0)[2])  # the rarest part's records are the base
        sql, args = self.node(rest[0])
        for part in rest[1:]:
            sql, args = keyset.set_operation(search_plan.And(rest[0], part), (sql, args),
                                             self.node(part), not_in=self.not_in)
        if sql is None:
            return None, []
        conds: list[str] = []
        for _, i, part in checks:
            cond, cargs = self.key_exists(part) if isinstance(part, keys) else texts[i]
            if cond is None:
                return None, []
            conds.append(cond)
            args = args + cargs
        return f"SELECT q.id FROM ({sql}) q WHERE " + " AND ".join(conds), args


#: A record checked against a full-text part on its own rows costs about this many
#: times one record of a part's set read for an intersection (SQLite, 20,000 LoC
#: records: an And of 2 to 32 common words is intersected in 1.5-30 ms and chained
#: in 40-50 ms; of 100, 414 ms against 114). An And is chained only when the other
#: parts' records outnumber the rarest part's that many times (an unknown part's
#: count counts for nothing: the intersection is the safer guess).
CHAIN_FACTOR = 70
#: Fewer full-text parts than this are intersected without asking their counts
#: (SQLite reads a word's doclist to count it: 0.2 ms for a common word at 20,000
#: records, as much as using it), and win below about 30 common words anyway.
CHAIN_LEAST = 8

#: A facet sample takes the records whose ``id * _HASH_STEP % _HASH_RANGE`` is below a
#: cut: ids are handed out in write order (one library's batch after another's, or
#: libraries interleaved), and a step prime to the range spreads neighbours apart.
_HASH_STEP = 7919
_HASH_RANGE = 10007


class FacetCounts(dict):
    """:meth:`SQLStore.facets`' answer (index → terms), and whether its counts are
    ``estimated`` from a sample."""

    estimated: bool = False


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


ClusterHook = Callable[[Callable[[Any], "ClusterTables"], list[Record]], object]
"""Called inside a write transaction with a way to open the cluster tables in it
(given the facts codec) and the records the batch wrote (deletions included)."""


class ClusterTables:
    """The union's cluster tables (the state of
    :class:`thuvien_interop.union.clusters.ClusterIndex`, which this implements)::

        union_record(record PRIMARY KEY, provider, part, alone, facts)  -- index (part, alone, record)
        union_key(key, record)          -- primary key (key, record); index (record)
        union_cluster(part PRIMARY KEY, head, size)                     -- index (head), (size)
        union_work(id PRIMARY KEY, work)  -- records.id → part, of each record in a cluster

    A *part* is a connected group of agreeing records, its cluster's id (``head``)
    the smallest identifier of its records that are not ``alone``, its ``size`` their
    number. No edge between records is stored. Each method is one or two statements;
    ``conn`` is a write transaction's connection, or None: the thread's own
    (reads outside writes). ``codec.from_json`` reads a stored facts text; facts
    written give ``id``, ``provider``, ``key_set`` and ``to_json()``.
    """

    def __init__(self, store: SQLStore, conn: Any | None, codec: Any,
                 ids: Mapping[str, int] | None = None) -> None:
        self.store = store
        self._fixed = conn
        self.codec = codec
        #: records.id of the records the batch wrote (their union_work rows are
        #: written without looking the ids up).
        self.ids = ids or {}

    @property
    def conn(self) -> Any:
        return self._fixed if self._fixed is not None else self.store._conn()

    def _rows(self, text: str, args: Sequence[object] = ()) -> list[Any]:
        return self.conn.execute(self.store._q(text), args).fetchall()

    def _chunked(self, text: str, column: str, values: Iterable[object],
                 args: Sequence[object] = ()) -> list[Any]:
        """``text`` with ``{}`` for ``column IN (...)``, over chunks of ``values``: the rows."""
        values = list(values)
        out: list[Any] = []
        for cond, cargs in self.store._chunks(column, values):
            out += self.conn.execute(self.store._q(text.format(cond)), [*args, *cargs]).fetchall()
        return out

    # -- reading ---------------------------------------------------------------------
    def facts(self, record: str) -> Any:
        rows = self._rows("SELECT facts FROM union_record WHERE record = ?", (record,))
        return self.codec.from_json(rows[0][0]) if rows else None

    def facts_many(self, records: Iterable[str]) -> dict[str, Any]:
        return {r: self.codec.from_json(f) for r, f in self._chunked(
            "SELECT record, facts FROM union_record WHERE {}", "record", records)}

    def records_with_key(self, key: str, limit: int) -> list[str]:
        return [r[0] for r in self._rows(
            "SELECT record FROM union_key WHERE key = ? ORDER BY record LIMIT ?", (key, limit))]

    def cluster_of(self, record: str) -> str | None:
        rows = self._rows("SELECT r.alone, c.head FROM union_record r LEFT JOIN union_cluster c "
                          "ON c.part = r.part WHERE r.record = ?", (record,))
        if not rows:
            return None
        return record if rows[0][0] else rows[0][1]

    def clusters_of(self, records: Iterable[str]) -> dict[str, str]:
        return {r: (r if alone else head) for r, alone, head in self._chunked(
            "SELECT r.record, r.alone, c.head FROM union_record r LEFT JOIN union_cluster c "
            "ON c.part = r.part WHERE {}", "r.record", records) if alone or head is not None}

    def members(self, cluster: str) -> set[str]:
        found = {r[0] for r in self._rows(
            "SELECT r.record FROM union_cluster c JOIN union_record r ON r.part = c.part "
            "AND NOT r.alone WHERE c.head = ?", (cluster,))}
        if found:
            return found
        rows = self._rows("SELECT alone FROM union_record WHERE record = ?", (cluster,))
        return {cluster} if rows and rows[0][0] else set()

    def counts(self) -> ClusterCounts:
        records, providers = self._rows(
            "SELECT count(*), count(DISTINCT provider) FROM union_record")[0]
        clusters, clustered = self._rows(
            "SELECT count(*), coalesce(sum(size), 0) FROM union_cluster WHERE size > 1")[0]
        return ClusterCounts(records, clusters, int(clustered), providers)

    def largest(self, limit: int) -> list[tuple[str, int]]:
        return [(h, s) for h, s in self._rows(
            "SELECT head, size FROM union_cluster WHERE size > 1 ORDER BY size DESC, head LIMIT ?",
            (limit,))]

    def iter_clusters(self, min_size: int = 2, batch: int = 500) -> Iterator[tuple[str, list[str]]]:
        after = ""
        while True:
            rows = self._rows("SELECT part, head FROM union_cluster WHERE size >= ? AND head > ? "
                              "ORDER BY head LIMIT ?", (max(min_size, 1), after, batch))
            if not rows:
                break
            members: dict[int, list[str]] = {}
            for part, record in self._chunked(
                    "SELECT part, record FROM union_record WHERE NOT alone AND {}", "part",
                    [p for p, _ in rows]):
                members.setdefault(part, []).append(record)
            for part, head in rows:
                yield head, sorted(members.get(part, []))
            after = rows[-1][1]
        if min_size <= 1:
            for (record,) in self._rows("SELECT record FROM union_record WHERE alone ORDER BY record"):
                yield record, [record]

    # -- in bulk (a batch's view: union.clusters.BatchIndex) ----------------------------
    def rows(self, *, records: Iterable[str] = (), parts: Iterable[int] = (),
             providers: Iterable[str] = (), facts: bool = False) -> list[tuple]:
        """``(record, provider, part, alone, facts text or None)`` of these records, or
        of every record of these parts (``providers``: only theirs)."""
        column = "facts" if facts else "NULL"
        select = f"SELECT record, provider, part, alone, {column} FROM union_record WHERE "
        parts, providers = list(parts), list(providers)
        if parts and providers:
            cond, args = self.store._in("provider", providers)
            found = list(self._chunked(select + cond + " AND {}", "part", parts, args))
        elif parts:
            found = list(self._chunked(select + "{}", "part", parts))
        else:
            found = list(self._chunked(select + "{}", "record", records))
        return [(r, p, pt, bool(a), f) for r, p, pt, a, f in found]

    def heads(self, parts: Iterable[int]) -> list[tuple[int, str, int]]:
        """``(part, head, size)`` of these parts (those with a cluster)."""
        return list(self._chunked("SELECT part, head, size FROM union_cluster WHERE {}", "part", parts))

    def key_rows(self, keys: Iterable[str], limit: int, few: int = 0
                 ) -> tuple[list[tuple[str, str]], set[str], dict[str, str]]:
        """``(key, record)`` of every record of the keys at most ``limit`` records
        share; the keys more share (too common); and, of the keys more than ``few``
        records share that are all in one part (copies of one edition), only the
        first record (key → record), not their every row."""
        keys = list(keys)
        common: set[str] = set()
        single: dict[str, str] = {}
        rows: list[tuple[str, str]] = []
        listed = few or limit
        # First each key's count alone (its primary key's range, nothing joined), with
        # the records of the keys few records share: most keys of a batch are new or
        # an edition's two or three copies. (Counting parts beside every key, each row
        # joined to union_record, cost 11.6 ms a batch of 1,000 keys, this 4.7.)
        middle: list[str] = []
        for cond, args in self.store._chunks("key", keys):
            for key, n, record in self.conn.execute(self.store._q(
                    f"WITH s AS MATERIALIZED (SELECT key, count(*) AS n FROM union_key WHERE {cond} "
                    "GROUP BY key) SELECT s.key, s.n, k.record FROM s LEFT JOIN union_key k "
                    "ON k.key = s.key AND s.n <= ?"), [*args, listed]).fetchall():
                if n > limit:
                    common.add(key)
                elif n <= listed:
                    rows.append((key, record))
                else:
                    middle.append(key)
        # The keys more share (a textbook's ISBN in many libraries' copies): their
        # parts counted, and their records listed only when in more than one.
        found: list[Any] = []
        for cond, args in self.store._chunks("k.key", middle):
            found += self.conn.execute(self.store._q(
                "WITH c AS MATERIALIZED (SELECT k.key AS key, k.record AS record, u.part AS part FROM union_key k "
                f"JOIN union_record u ON u.record = k.record WHERE {cond}), "
                "s AS (SELECT key, count(DISTINCT part) AS parts, min(record) AS first "
                "FROM c GROUP BY key) "
                "SELECT s.key, s.parts, s.first, c.record FROM s LEFT JOIN c ON c.key = s.key "
                "AND s.parts > 1"), args).fetchall()
        for key, parts, first, record in found:
            if parts == 1:
                single[key] = first
            else:
                rows.append((key, record))
        return rows, common, single

    def unlisted(self, part: int, keys: Iterable[str], listed: Iterable[str]) -> list[str]:
        """(Every record :meth:`candidates` finds is listed.)"""
        return []

    def max_part(self) -> int:
        return self._rows("SELECT coalesce(max(part), 0) FROM union_record")[0][0]

    def apply(self, removed: list[str], upserts: list[tuple], updates: list[tuple],
              clusters: list[tuple[int, str, int]], gone: list[int],
              stored: Iterable[str] | None = None) -> None:
        """Write a batch's changes: records removed; records written (record,
        provider, part, alone, facts text, keys); records moved (part, alone,
        record); parts' clusters (part, head, size); parts gone. ``stored``: the
        records written that already had rows (their keys and work are replaced),
        when known (else every one is taken to have)."""
        conn, store = self.conn, self.store
        had = [u[0] for u in upserts] if stored is None else sorted(set(stored))
        for cond, args in store._chunks("record", removed + had):
            conn.execute(store._q(f"DELETE FROM union_key WHERE {cond}"), args)
        for cond, args in store._chunks("record", removed):
            conn.execute(store._q(f"DELETE FROM union_record WHERE {cond}"), args)
        store._upsert(conn, "union_record", ("record", "provider", "part", "alone", "facts"),
                      [u[:5] for u in upserts])
        store._load(conn, "union_key", ("key", "record"), [(k, u[0]) for u in upserts for k in u[5]])
        store._many(conn, "UPDATE union_record SET part = ?, alone = ? WHERE record = ?", updates)
        for cond, args in store._chunks("part", gone):
            conn.execute(store._q(f"DELETE FROM union_cluster WHERE {cond}"), args)
        store._upsert(conn, "union_cluster", ("part", "head", "size"), clusters)
        # Each record's work: of the batch's own records from what is written here
        # (their ids known), of the others (moved with their parts) looked up. A
        # record new to the cluster tables has no work row to replace.
        works = {u[0]: (u[2], u[3]) for u in upserts} | {r: (p, a) for p, a, r in updates}
        works |= {r: (0, False) for r in removed}
        mine = {self.ids[r]: pa for r, pa in works.items() if r in self.ids}
        new = set() if stored is None else {u[0] for u in upserts} - set(had)
        replaced = sorted(self.ids[r] for r in works if r in self.ids and r not in new)
        for cond, args in store._chunks("id", replaced):
            conn.execute(store._q(f"DELETE FROM union_work WHERE {cond}"), args)
        store._load(conn, "union_work", ("id", "work"),
                    [(rid, part) for rid, (part, alone) in sorted(mine.items()) if part and not alone])
        self._rework(r for r in works if r not in self.ids)

    def _rework(self, records: Iterable[str]) -> None:
        """Keep ``union_work`` (each clustered record's work, by its records.id, for
        the readers' search and facets) as ``union_record`` now says for these records."""
        store = self.store
        match = f"u.record = r.identifier{store._as_cluster_key}"
        ids = sorted(set(records))
        for i in range(0, len(ids), CHUNK):
            by_id, args = store._in("identifier", ids[i:i + CHUNK])
            by_record, _ = store._in("u.record", ids[i:i + CHUNK])
            self.conn.execute(store._q(
                f"DELETE FROM union_work WHERE id IN (SELECT id FROM records WHERE {by_id})"), args)
            self.conn.execute(store._q(
                "INSERT INTO union_work (id, work) SELECT r.id, u.part FROM union_record u "
                f"JOIN records r ON {match} WHERE u.part > 0 AND NOT u.alone AND {by_record}"), args)

    # -- writing ---------------------------------------------------------------------
    def put_facts(self, facts: Any) -> None:
        conn, q = self.conn, self.store._q
        conn.execute(q("DELETE FROM union_key WHERE record = ?"), (facts.id,))
        conn.execute(q("INSERT INTO union_record (record, provider, part, alone, facts) "
                       "VALUES (?, ?, 0, ?, ?) ON CONFLICT (record) DO UPDATE SET "
                       "provider = excluded.provider, facts = excluded.facts"),
                     (facts.id, facts.provider, False, facts.to_json()))
        self.store._many(conn, "INSERT INTO union_key (key, record) VALUES (?, ?)",
                         [(k, facts.id) for k in sorted(facts.key_set)])

    def remove_facts(self, record: str) -> None:
        conn, q = self.conn, self.store._q
        conn.execute(q("DELETE FROM union_key WHERE record = ?"), (record,))
        conn.execute(q("DELETE FROM union_record WHERE record = ?"), (record,))
        self._rework([record])

    def candidates(self, keys: Iterable[str], limit: int) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key in keys:
            found = self.records_with_key(key, limit + 1)
            if found:
                out[key] = found
        return out

    def parts_of(self, records: Iterable[str]) -> dict[str, int]:
        return {r: p for r, p in self._chunked(
            "SELECT record, part FROM union_record WHERE part <> 0 AND {}", "record", records)}

    def providers_of(self, records: Iterable[str]) -> dict[str, str]:
        return dict(self._chunked("SELECT record, provider FROM union_record WHERE {}", "record", records))

    def part_members(self, part: int) -> dict[str, tuple[str, bool]]:
        return {r: (p, bool(a)) for r, p, a in self._rows(
            "SELECT record, provider, alone FROM union_record WHERE part = ?", (part,))}

    def part_head(self, part: int) -> str | None:
        rows = self._rows("SELECT head FROM union_cluster WHERE part = ?", (part,))
        return rows[0][0] if rows else None

    def part_sizes(self, parts: Iterable[int]) -> dict[int, int]:
        return {p: s for p, s in self._chunked(
            "SELECT part, size FROM union_cluster WHERE {}", "part", parts)}

    def of_providers(self, part: int, providers: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        rows = sorted(self._chunked("SELECT record, provider FROM union_record WHERE part = ? "
                                    "AND {}", "provider", providers, (part,)))
        for record, provider in rows:
            out.setdefault(provider, []).append(record)
        return out

    def place(self, part: int | None, records: Mapping[str, bool]) -> int:
        if part is None:
            # Under the store's write lock: nobody else numbers parts meanwhile, and
            # the records placed below hold the number at once.
            part = self._rows("SELECT coalesce(max(part), 0) + 1 FROM union_record")[0][0]
        self.store._many(self.conn, "UPDATE union_record SET part = ?, alone = ? WHERE record = ?",
                         [(part, alone, r) for r, alone in records.items()])
        self._rework(records)
        return part

    def merge(self, into: int, parts: Iterable[int]) -> None:
        parts = list(parts)
        if not parts:
            return
        for cond, args in self.store._chunks("part", parts):
            self.conn.execute(self.store._q(f"UPDATE union_record SET part = ? WHERE {cond}"),
                              [into, *args])
            self.conn.execute(self.store._q(f"DELETE FROM union_cluster WHERE {cond}"), args)
        for cond, args in self.store._chunks("work", parts):
            self.conn.execute(self.store._q(f"UPDATE union_work SET work = ? WHERE {cond}"),
                              [into, *args])

    def settle(self, part: int) -> str | None:
        conn, q = self.conn, self.store._q
        head, size = self._rows("SELECT min(record), count(*) FROM union_record "
                                "WHERE part = ? AND NOT alone", (part,))[0]
        if not size:
            conn.execute(q("DELETE FROM union_cluster WHERE part = ?"), (part,))
            return None
        conn.execute(q("INSERT INTO union_cluster (part, head, size) VALUES (?, ?, ?) "
                       "ON CONFLICT (part) DO UPDATE SET head = excluded.head, size = excluded.size"),
                     (part, head, size))
        return head


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
