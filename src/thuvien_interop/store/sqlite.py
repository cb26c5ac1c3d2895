"""The embedded default store: one SQLite file, WAL mode, keyset pagination.

    >>> from thuvien_interop.store.sqlite import SQLiteRepository
    >>> from thuvien_interop.model import Record
    >>> s = SQLiteRepository(":memory:")
    >>> s.write([Record("oai:x:1", b"<r/>", rendered={"oai_dc": b"<dc/>"})]).added
    1
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import dates
from ..model import (
    Header,
    Item,
    ListQuery,
    Record,
    RepositoryInfo,
    Set,
    WriteSummary,
    expand_set_specs,
)
from .base import Key, StoreError

SCHEMA_VERSION_KEY = "schema_version"
BATCH = 500

# Each entry moves a store from version i to i+1; never edit a released one,
# append a new one, so existing files migrate instead of breaking.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        identifier TEXT NOT NULL UNIQUE,
        datestamp INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        deleted_at INTEGER,
        checksum BLOB NOT NULL,
        canonical_format TEXT NOT NULL,
        canonical BLOB,
        sets TEXT NOT NULL DEFAULT '',
        about BLOB
    );
    CREATE UNIQUE INDEX records_key ON records (datestamp, seq);
    CREATE TABLE rendered (
        record_id INTEGER NOT NULL,
        prefix TEXT NOT NULL,
        xml BLOB NOT NULL,
        PRIMARY KEY (record_id, prefix)
    ) WITHOUT ROWID;
    CREATE TABLE set_members (
        set_spec TEXT NOT NULL,
        datestamp INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        record_id INTEGER NOT NULL,
        PRIMARY KEY (set_spec, datestamp, seq)
    ) WITHOUT ROWID;
    CREATE INDEX set_members_record ON set_members (record_id);
    CREATE TABLE sets (spec TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT) WITHOUT ROWID;
    """,
]

_memory_ids = itertools.count()


def checksum(record: Record) -> bytes:
    """What decides whether a re-imported record "really changed"."""
    h = hashlib.blake2b(digest_size=16)
    h.update(record.canonical_format.encode())
    h.update(b"\0D" if record.deleted else b"\0L")
    h.update(record.canonical)
    h.update(b"\0S" + "\n".join(expand_set_specs(record.sets)).encode())
    h.update(b"\0A" + (record.about or b""))
    for prefix in sorted(record.rendered):
        h.update(b"\0P" + prefix.encode() + b"\0" + record.rendered[prefix])
    return h.digest()


class SQLiteRepository:
    """A :class:`~thuvien_interop.store.base.Repository` in one SQLite file.

    Safe to share between threads: each thread gets its own connection; WAL lets
    readers go on while a writer writes.
    """

    def __init__(self, path: str) -> None:
        if path in ("", ":memory:"):
            self._target = f"file:thuvien-mem-{os.getpid()}-{next(_memory_ids)}?mode=memory&cache=shared"
            self._uri = True
        else:
            p = Path(path)
            if p.parent and not p.parent.exists():
                raise StoreError(f"cannot create the store {path}: folder {p.parent} does not exist")
            self._target = str(p)
            self._uri = False
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._keepalive = self._conn()  # an in-memory DB lives while one connection does
        self._migrate()

    # -- connections -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self._target, uri=self._uri, isolation_level=None,
                                       check_same_thread=False, timeout=30)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the SQLite store {self.path}: {exc}") from exc
            if not self._uri:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
            row = conn.execute("SELECT value FROM meta WHERE key=?", (SCHEMA_VERSION_KEY,)).fetchone()
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                conn.execute("ROLLBACK")
                raise StoreError(
                    f"the store {self.path} has schema version {version}, newer than this "
                    f"thuvien-interop knows ({len(MIGRATIONS)}): upgrade thuvien-interop"
                )
            for i in range(version, len(MIGRATIONS)):
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
            if version < len(MIGRATIONS):
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             (SCHEMA_VERSION_KEY, str(len(MIGRATIONS))))
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"{self.path} is not a thuvien-interop store or is damaged: {exc}") from exc

    def schema_version(self) -> int:
        return int(self.get_meta(SCHEMA_VERSION_KEY) or 0)

    # -- meta ----------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._conn().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- reading -------------------------------------------------------------------
    def info(self) -> RepositoryInfo:
        conn = self._conn()
        earliest = conn.execute("SELECT min(datestamp) FROM records").fetchone()[0]
        total, deleted = conn.execute(
            "SELECT count(*), coalesce(sum(deleted), 0) FROM records").fetchone()
        return RepositoryInfo(earliest, total, deleted)

    def prefixes(self, identifier: str | None = None) -> list[str] | None:
        conn = self._conn()
        if identifier is None:
            return [r[0] for r in conn.execute("SELECT DISTINCT prefix FROM rendered ORDER BY prefix")]
        row = conn.execute("SELECT id FROM records WHERE identifier=?", (identifier,)).fetchone()
        if row is None:
            return None
        return [r[0] for r in conn.execute(
            "SELECT prefix FROM rendered WHERE record_id=? ORDER BY prefix", (row[0],))]

    def sets(self, after: str | None, limit: int) -> list[Set]:
        rows = self._conn().execute(
            "SELECT spec, name, description FROM sets WHERE spec > ? ORDER BY spec LIMIT ?",
            (after or "", limit))
        return [Set(*r) for r in rows]

    def put_sets(self, sets: Iterable[Set]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO sets VALUES (?, ?, ?)",
                             [(s.spec, s.name, s.description) for s in sets])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _where(self, q: ListQuery, alias: str) -> tuple[list[str], list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if q.from_ is not None:
            clauses.append(f"{alias}.datestamp >= ?")
            args.append(q.from_)
        if q.until is not None:
            clauses.append(f"{alias}.datestamp <= ?")
            args.append(q.until)
        return clauses, args

    def _select(self, q: ListQuery, after: Key | None, limit: int | None,
                metadata: bool, count: bool) -> tuple[str, list[object]]:
        if q.set:
            base = "set_members k JOIN records r ON r.id = k.record_id"
            clauses, args = ["k.set_spec = ?"], [q.set]
            c2, a2 = self._where(q, "k")
        else:
            base = "records r"
            clauses, args = [], []
            c2, a2 = self._where(q, "r")
        clauses += c2
        args += a2
        k = "k" if q.set else "r"
        if after is not None:
            clauses.append(f"({k}.datestamp, {k}.seq) > (?, ?)")
            args += [after[0], after[1]]
        join = ""
        if q.prefix is not None:
            if metadata and not count:
                join = " LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = ?"
                args.insert(0, q.prefix)
                clauses.append("(r.deleted = 1 OR x.xml IS NOT NULL)")
            else:
                clauses.append("(r.deleted = 1 OR EXISTS (SELECT 1 FROM rendered x "
                               "WHERE x.record_id = r.id AND x.prefix = ?))")
                args.append(q.prefix)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        if count:
            return f"SELECT count(*) FROM {base}{join}{where}", args
        cols = "r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about"
        cols += ", x.xml" if join else ", NULL"
        sql = f"SELECT {cols} FROM {base}{join}{where} ORDER BY {k}.datestamp, {k}.seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return sql, args

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        sql, args = self._select(q, after, limit, metadata, False)
        return [self._item(row) for row in self._conn().execute(sql, args)]

    def iter(self, q: ListQuery, *, metadata: bool = True, batch: int = 1000) -> Iterator[Item]:
        """Every item of a list, page after page (for exports and re-rendering)."""
        after: Key | None = None
        while True:
            page = self.list(q, after, batch, metadata=metadata)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].key

    @staticmethod
    def _item(row: tuple) -> Item:
        identifier, datestamp, seq, deleted, sets, about, xml = row
        header = Header(identifier, datestamp, tuple(sets.split("\n")) if sets else (), bool(deleted))
        return Item(header, (datestamp, seq), None if deleted else xml, about)

    def count(self, q: ListQuery) -> int:
        sql, args = self._select(q, None, None, False, True)
        return self._conn().execute(sql, args).fetchone()[0]

    def get(self, identifier: str, prefix: str | None = None) -> Item | None:
        conn = self._conn()
        if prefix is None:
            row = conn.execute(
                "SELECT identifier, datestamp, seq, deleted, sets, about, NULL FROM records "
                "WHERE identifier = ?", (identifier,)).fetchone()
        else:
            row = conn.execute(
                "SELECT r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about, x.xml "
                "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = ? "
                "WHERE r.identifier = ?", (prefix, identifier)).fetchone()
        return self._item(row) if row else None

    def canonical(self, identifier: str) -> tuple[str, bytes] | None:
        row = self._conn().execute(
            "SELECT canonical_format, canonical FROM records WHERE identifier = ? AND deleted = 0",
            (identifier,)).fetchone()
        return (row[0], row[1]) if row else None

    # -- writing -------------------------------------------------------------------
    def write(self, records: Iterable[Record], *, now: int | None = None) -> WriteSummary:
        summary = WriteSummary()
        batch: list[Record] = []
        for record in records:
            batch.append(record)
            if len(batch) >= BATCH:
                summary += self._write_batch(batch, now)
                batch = []
        if batch:
            summary += self._write_batch(batch, now)
        return summary

    def _write_batch(self, batch: list[Record], now: int | None) -> WriteSummary:
        conn = self._conn()
        summary = WriteSummary()
        conn.execute("BEGIN IMMEDIATE")
        try:
            stamp = dates.now() if now is None else now
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
            for record in batch:
                digest = checksum(record)
                row = conn.execute(
                    "SELECT id, checksum, deleted FROM records WHERE identifier = ?",
                    (record.identifier,)).fetchone()
                if row is not None and row[1] == digest:
                    summary.unchanged += 1
                    continue
                seq += 1
                sets = expand_set_specs(record.sets)
                if row is None:
                    cur = conn.execute(
                        "INSERT INTO records (identifier, datestamp, seq, deleted, deleted_at, "
                        "checksum, canonical_format, canonical, sets, about) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record.identifier, stamp, seq, int(record.deleted),
                         stamp if record.deleted else None, digest, record.canonical_format,
                         None if record.deleted else record.canonical, "\n".join(sets),
                         record.about))
                    rid = cur.lastrowid
                    if record.deleted:
                        summary.deleted += 1
                    else:
                        summary.added += 1
                else:
                    rid = row[0]
                    if record.deleted:
                        # A deletion keeps identifier, datestamp and sets (and the
                        # canonical record, for undeletion and audit); no formats.
                        conn.execute(
                            "UPDATE records SET datestamp=?, seq=?, deleted=1, deleted_at=?, "
                            "checksum=?, sets=CASE WHEN ?='' THEN sets ELSE ? END, about=? "
                            "WHERE id=?",
                            (stamp, seq, stamp, digest, "\n".join(sets), "\n".join(sets),
                             record.about, rid))
                        if not sets:
                            old = conn.execute("SELECT sets FROM records WHERE id=?", (rid,)).fetchone()[0]
                            sets = tuple(old.split("\n")) if old else ()
                        summary.deleted += 1
                    else:
                        conn.execute(
                            "UPDATE records SET datestamp=?, seq=?, deleted=0, deleted_at=NULL, "
                            "checksum=?, canonical_format=?, canonical=?, sets=?, about=? WHERE id=?",
                            (stamp, seq, digest, record.canonical_format, record.canonical,
                             "\n".join(sets), record.about, rid))
                        summary.updated += 1
                    conn.execute("DELETE FROM rendered WHERE record_id=?", (rid,))
                    conn.execute("DELETE FROM set_members WHERE record_id=?", (rid,))
                if not record.deleted and record.rendered:
                    conn.executemany("INSERT INTO rendered VALUES (?, ?, ?)",
                                     [(rid, p, x) for p, x in record.rendered.items()])
                if sets:
                    conn.executemany("INSERT INTO set_members VALUES (?, ?, ?, ?)",
                                     [(s, stamp, seq, rid) for s in sets])
                self._after_write(conn, rid, record)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return summary

    def _after_write(self, conn: sqlite3.Connection, rid: int, record: Record) -> None:
        """Hook for secondary indexes (search) kept in the same transaction."""
