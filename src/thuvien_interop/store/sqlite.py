"""The embedded default store: one SQLite file, WAL mode, keyset pagination.

    >>> from thuvien_interop.store.sqlite import SQLiteRepository
    >>> from thuvien_interop.model import Record
    >>> s = SQLiteRepository(":memory:")
    >>> s.write([Record("oai:x:1", b"<r/>", rendered={"oai_dc": b"<dc/>"})]).added
    1
"""

from __future__ import annotations

import functools
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
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
from . import keyset, search_plan
from .base import Key, StoreError, checksum

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
    # 2: search (issue 6). One FTS5 row per (record, index): rowid = record id << 7 | index
    # code, column idx holds the index's token, body its folded words; search_keys holds
    # whole folded values for ==, ranges, sort and scan; search_rwords the reversed words
    # for left truncation (see search_plan.py for the contract).
    """
    CREATE TABLE search_indexes (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE VIRTUAL TABLE search_text USING fts5(idx, body, tokenize='unicode61 remove_diacritics 0');
    CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_text, 'row');
    CREATE TABLE search_keys (
        idx INTEGER NOT NULL,
        key TEXT NOT NULL,
        record_id INTEGER NOT NULL,
        display TEXT NOT NULL,
        PRIMARY KEY (idx, key, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX search_keys_record ON search_keys (record_id, idx, key);
    CREATE TABLE search_rwords (rword TEXT PRIMARY KEY) WITHOUT ROWID;
    """,
    # 3: "has this record the format?" without touching the wide rendered rows (a
    # WITHOUT ROWID table of KB-sized blobs): completeListSize and ListIdentifiers
    # read this narrow index instead (13x faster counts at 5,000 records).
    """
    CREATE INDEX rendered_prefix ON rendered (prefix, record_id);
    """,
    # 4: leases, so several harvester processes on one machine share a provider list.
    """
    CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT, expires INTEGER NOT NULL DEFAULT 0)
    WITHOUT ROWID;
    """,
]

_memory_ids = itertools.count()

#: The page size of new store files (bytes).
PAGE_SIZE = 16384


class _SearchRows:
    """Search rows of a batch of records, inserted together."""

    __slots__ = ("texts", "keys", "rwords")

    def __init__(self) -> None:
        self.texts: list[tuple[int, str, str]] = []
        self.keys: list[tuple[int, str, int, str]] = []
        self.rwords: set[str] = set()

    def flush(self, conn: sqlite3.Connection, seen: set[str] | None = None) -> None:
        if self.texts:
            conn.executemany("INSERT INTO search_text (rowid, idx, body) VALUES (?, ?, ?)",
                             self.texts)
        if self.keys:
            conn.executemany("INSERT OR IGNORE INTO search_keys VALUES (?, ?, ?, ?)", self.keys)
        self.rwords.discard(search_plan.VALUE_SEPARATOR)
        if seen:
            self.rwords -= seen  # words this process already wrote
        if self.rwords:
            conn.executemany("INSERT OR IGNORE INTO search_rwords VALUES (?)",
                             [(w[::-1],) for w in self.rwords])
            if seen is not None and len(seen) < 200_000:  # a per-process memo, bounded (~20 MB)
                seen.update(self.rwords)
        self.texts, self.keys, self.rwords = [], [], set()


def _kept(record: Record) -> bytes | None:
    """The canonical bytes to store: none when they equal the rendered marc21
    (MARCXML is the canonical form of MARC records; storing it twice would
    double the largest part of the file)."""
    if record.canonical_format == "marc21" and record.rendered.get("marc21") == record.canonical:
        return None
    return record.canonical


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
            # A new store gets 16 KiB pages (an existing one keeps its own: the
            # pragma changes nothing once the file has tables). Rendered records
            # are 0.5-4 KB: on 4 KiB pages most spill onto overflow pages, which
            # made files 1.7x larger and writes 15% slower.
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            if not self._uri:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
            # Each thread has its own connection, so each cache is small: the
            # operating system's file cache is shared by all of them anyway.
            conn.execute("PRAGMA cache_size=-8192")
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

    def setdefault_meta(self, key: str, value: str) -> str:
        conn = self._conn()
        conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
        return conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]

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

    def _select(self, q: ListQuery, after: Key | None, limit: int | None,
                metadata: bool, count: bool) -> tuple[str, list[object]]:
        return keyset.list_sql(keyset.SQLITE, q, after, limit, metadata=metadata, count=count)

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        sql, args = self._select(q, after, limit, metadata, False)
        return [self._item(row) for row in self._conn().execute(sql, args)]

    def iter(self, q: ListQuery, *, metadata: bool = True, batch: int = 1000) -> Iterator[Item]:
        """Every item of a list, page after page (for exports and re-rendering)."""
        return keyset.iterate(lambda after, n: self.list(q, after, n, metadata=metadata), batch)

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
            "SELECT r.canonical_format, coalesce(r.canonical, x.xml) FROM records r "
            "LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = 'marc21' "
            "WHERE r.identifier = ? AND r.deleted = 0",
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
            latest, seq = conn.execute(
                "SELECT coalesce(max(datestamp), 0), coalesce(max(seq), 0) FROM records").fetchone()
            # Datestamps never go backwards, even if the clock does.
            stamp = max(dates.now(), latest) if now is None else now
            first_seq = seq + 1
            written: list[int] = []
            search_rows = _SearchRows()
            # What the store holds of the batch's records, in one query per 500.
            known: dict[str, tuple[int, bytes, int]] = {}
            names = list({r.identifier for r in batch})
            for i in range(0, len(names), 500):
                chunk = names[i:i + 500]
                for ident, *rest in conn.execute(
                        "SELECT identifier, id, checksum, deleted FROM records WHERE identifier "
                        f"IN ({','.join('?' * len(chunk))})", chunk):
                    known[ident] = tuple(rest)  # type: ignore[assignment]
            # New records get their ids here and go in with one statement per table
            # (the write lock is held: nobody else takes ids meanwhile).
            last_id = conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0]
            new_rows: list[tuple] = []
            rendered_rows: list[tuple[int, str, bytes]] = []
            member_rows: list[tuple[str, int, int, int]] = []
            pending: set[int] = set()

            def flush() -> None:
                if new_rows:
                    conn.executemany(
                        "INSERT INTO records (id, identifier, datestamp, seq, deleted, deleted_at, "
                        "checksum, canonical_format, canonical, sets, about) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new_rows)
                if rendered_rows:
                    conn.executemany("INSERT INTO rendered VALUES (?, ?, ?)", rendered_rows)
                if member_rows:
                    conn.executemany("INSERT INTO set_members VALUES (?, ?, ?, ?)", member_rows)
                new_rows.clear()
                rendered_rows.clear()
                member_rows.clear()
                pending.clear()

            for record in batch:
                digest = checksum(record)
                row = known.get(record.identifier)
                if row is not None and row[1] == digest:
                    summary.unchanged += 1
                    continue
                if row is not None and row[0] in pending:
                    flush()  # the same record twice in one batch: the first goes in first
                seq += 1
                sets = expand_set_specs(record.sets)
                if row is None:
                    last_id += 1
                    rid = last_id
                    new_rows.append(
                        (rid, record.identifier, stamp, seq, int(record.deleted),
                         stamp if record.deleted else None, digest, record.canonical_format,
                         None if record.deleted else _kept(record), "\n".join(sets),
                         record.about))
                    if record.deleted:
                        summary.deleted += 1
                    else:
                        summary.added += 1
                else:
                    rid = row[0]
                    if record.deleted:
                        # Keep the canonical bytes even where they lived only in
                        # the rendered marc21 row, which the deletion removes.
                        conn.execute(
                            "UPDATE records SET canonical = coalesce(canonical, (SELECT xml FROM "
                            "rendered WHERE record_id = ? AND prefix = 'marc21')) WHERE id = ?",
                            (rid, rid))
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
                            (stamp, seq, digest, record.canonical_format, _kept(record),
                             "\n".join(sets), record.about, rid))
                        summary.updated += 1
                    conn.execute("DELETE FROM rendered WHERE record_id=?", (rid,))
                    conn.execute("DELETE FROM set_members WHERE record_id=?", (rid,))
                if not record.deleted and record.rendered:
                    rendered_rows.extend((rid, p, x) for p, x in record.rendered.items())
                if sets:
                    member_rows.extend((s, stamp, seq, rid) for s in sets)
                pending.add(rid)
                known[record.identifier] = (rid, digest, int(record.deleted))
                self._after_write(conn, rid, record, stamp, new=row is None, rows=search_rows)
                written.append(rid)
            flush()
            search_rows.flush(conn, self.__dict__.setdefault("_rwords_seen", set()))
            if now is None and written:
                self._restamp(conn, stamp, first_seq, written)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return summary

    @staticmethod
    def _restamp(conn: sqlite3.Connection, stamp: int, first_seq: int, ids: list[int]) -> None:
        """Move the batch's datestamp to the second it commits in.

        A harvester answered while this batch was being written got a responseDate
        later than ``stamp``; its next ``from=`` would skip records stamped
        earlier but visible only after the commit. Stamped with the commit's own
        second, they fall inside that ``from=`` (which is inclusive). The search
        index keeps ``stamp`` for rec.lastModificationDate: at most the batch's
        duration earlier, and only there.
        """
        final = dates.now()
        if final <= stamp:
            return
        conn.execute("UPDATE records SET datestamp = ?, deleted_at = CASE WHEN deleted = 1 "
                     "THEN ? ELSE deleted_at END WHERE datestamp = ? AND seq >= ?",
                     (final, final, stamp, first_seq))
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            conn.execute(f"UPDATE set_members SET datestamp = ? WHERE record_id IN "
                         f"({','.join('?' * len(chunk))})", (final, *chunk))

    def _after_write(self, conn: sqlite3.Connection, rid: int, record: Record,
                     stamp: int | None = None, new: bool = False,
                     rows: _SearchRows | None = None) -> None:
        """Hook for secondary indexes (search) kept in the same transaction
        (``stamp``: the record's datestamp, when the caller knows it; ``new``: the
        record was just inserted, so it has no entries to remove). With ``rows``,
        the entries are gathered there for one insert per batch (the caller
        flushes them before committing)."""
        base = rid << _CODE_BITS
        now = rows is None
        if now:
            rows = _SearchRows()
        if not new:
            rows.flush(conn)  # a record written twice in one batch: its first entries go
            if conn.execute("SELECT 1 FROM search_keys WHERE record_id = ? LIMIT 1",
                            (rid,)).fetchone():
                conn.execute("DELETE FROM search_text WHERE rowid BETWEEN ? AND ?",
                             (base, base + (1 << _CODE_BITS) - 1))
                conn.execute("DELETE FROM search_keys WHERE record_id = ?", (rid,))
        if record.deleted:
            return
        if stamp is None:
            stamp = conn.execute("SELECT datestamp FROM records WHERE id = ?", (rid,)).fetchone()[0]
        seen = self.__dict__.setdefault("_rwords_seen", set())
        codes = self.__dict__.setdefault("_codes", {})
        texts, keys, words = rows.texts, rows.keys, rows.rwords
        for name, text, entries in search_plan.record_entries(record, dates.format_utc(stamp)):
            code = codes.get(name) or self._index_code(conn, name, create=True)
            if text:
                texts.append((base + code, _idx_token(code), text))
                words.update(text.split())
            keys += [(code, k, rid, d) for k, d in entries]
        if now:
            rows.flush(conn, seen)

    # -- search (issue 6; the contract is in store/base.py and store/search_plan.py) --
    def reindex(self, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
        """Replace the search entries of existing records (identifier, ``Record.index``)
        without touching the records themselves or their datestamps; returns how
        many were reindexed. For a changed index profile, or a store from before search."""
        conn = self._conn()
        done = 0
        batch: list[tuple[str, dict[str, list[str]]]] = []

        def flush() -> None:
            nonlocal done
            conn.execute("BEGIN IMMEDIATE")
            try:
                for identifier, index in batch:
                    row = conn.execute("SELECT id, deleted FROM records WHERE identifier = ?",
                                       (identifier,)).fetchone()
                    if row is None:
                        continue
                    self._after_write(conn, row[0], Record(identifier, deleted=bool(row[1]),
                                                           index=index))
                    done += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            batch.clear()

        for entry in entries:
            batch.append(entry)
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        return done

    def _index_code(self, conn: sqlite3.Connection, name: str, create: bool = False) -> int | None:
        codes = self.__dict__.setdefault("_codes", {})
        code = codes.get(name)
        if code is not None:
            return code
        row = conn.execute("SELECT code FROM search_indexes WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return None
            code = conn.execute("SELECT coalesce(max(code) + 1, 1) FROM search_indexes").fetchone()[0]
            if code >= 1 << _CODE_BITS:
                raise StoreError(f"too many search indexes (at most {(1 << _CODE_BITS) - 1})")
            conn.execute("INSERT INTO search_indexes VALUES (?, ?)", (code, name))
            # Not cached until committed: a rolled-back batch must not leave a stale code.
            return code
        codes[name] = row[0]
        return row[0]

    def search(self, plan: search_plan.Plan, start: int, limit: int, *,
               prefix: str | None = None) -> search_plan.SearchPage:
        conn = self._conn()
        sql, args = _Compiler(self, conn).node(plan.root)
        if sql is None:
            return search_plan.SearchPage(0, [])
        order: list[str] = []
        joins: list[str] = []
        where: list[str] = []
        jargs: list[object] = []
        for i, spec in enumerate(plan.sort):
            code = self._index_code(conn, spec.index)
            agg = "max" if spec.descending else "min"
            joins.append(f", (SELECT {agg}(key) FROM search_keys WHERE idx = ? AND record_id = h.id) AS k{i}")
            jargs.append(code if code is not None else -1)
            if spec.missing == "omit":
                where.append(f"k{i} IS NOT NULL")
            null_first = spec.missing == "low"
            if spec.descending:
                null_first = not null_first
            order.append(f"k{i} IS {'NOT ' if null_first else ''}NULL")
            order.append(f"k{i}{' DESC' if spec.descending else ''}")
        if not plan.sort:
            page_ids, total = self._ranked(conn, plan.root, sql, args, start, limit)
            return search_plan.SearchPage(total, self._items_by_id(conn, page_ids, prefix))
        select = f"SELECT h.id{''.join(joins)} FROM ({sql}) h"
        all_args = jargs + args
        outer = f"SELECT * FROM ({select})" + (f" WHERE {' AND '.join(where)}" if where else "")
        if where:
            total = conn.execute(f"SELECT count(*) FROM ({outer})", all_args).fetchone()[0]
        else:
            total = conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]
        if limit <= 0 or start > total:
            return search_plan.SearchPage(total, [])
        order_sql = ", ".join(order + ["id"])
        ids = [r[0] for r in conn.execute(f"{outer} ORDER BY {order_sql} LIMIT ? OFFSET ?",
                                          all_args + [limit, max(start - 1, 0)])]
        return search_plan.SearchPage(total, self._items_by_id(conn, ids, prefix))

    def _ranked(self, conn: sqlite3.Connection, root: search_plan.PlanNode, sql: str,
                args: list[object], start: int, limit: int) -> tuple[list[int], int]:
        """Relevance order: the sum of bm25 over the positive full-text leaves (best
        first), records without a score after, ties by record id; when the full-text
        part matches more than RANK_LIMIT index rows, record id order. Sorted here
        rather than in SQL: joining the hits to a grouped score subquery is quadratic."""
        comp = _Compiler(self, conn)
        rank_expr = comp.rank_match(root)
        if rank_expr is not None and conn.execute(
                "SELECT count(*) FROM search_text WHERE search_text MATCH ?",
                (rank_expr,)).fetchone()[0] > RANK_LIMIT:
            # bm25 costs ~5 µs a row: past RANK_LIMIT rows a common word would take
            # hundreds of ms, so large results come in load order (still stable).
            rank_expr = None
        if rank_expr is None:
            total = conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]
            if limit <= 0 or start > total:
                return [], total
            rows = conn.execute(f"SELECT id FROM ({sql}) ORDER BY id LIMIT ? OFFSET ?",
                                args + [limit, start - 1])
            return [r[0] for r in rows], total
        scores: dict[int, float] = {}
        for rid, score in conn.execute(
                "SELECT rowid >> 7, bm25(search_text, 0.0, 1.0) FROM search_text "
                "WHERE search_text MATCH ?", (rank_expr,)):
            scores[rid] = scores.get(rid, 0.0) + score
        m = comp.match(root)
        if m is not None and f"({comp.full_match(*m)})" == rank_expr:
            hits = list(scores)  # the query is its own ranking expression
        else:
            hits = [r[0] for r in conn.execute(sql, args)]
        total = len(hits)
        if limit <= 0 or start > total:
            return [], total
        hits.sort(key=lambda i: (i not in scores, scores.get(i, 0.0), i))
        return hits[start - 1:start - 1 + limit], total

    def _items_by_id(self, conn: sqlite3.Connection, ids: list[int], prefix: str | None) -> list[Item]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            "SELECT r.id, r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about, x.xml "
            "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = ? "
            f"WHERE r.id IN ({marks})", [prefix or ""] + ids).fetchall()
        by_id = {row[0]: self._item(row[1:]) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def scan(self, index: str, start: str, position: int, count: int) -> list[search_plan.ScanTerm]:
        conn = self._conn()
        code = self._index_code(conn, index)
        if code is None or count <= 0:
            return []
        sql = ("SELECT key, min(display), count(*) FROM search_keys WHERE idx = ? AND key {} ? "
               "GROUP BY key ORDER BY key {} LIMIT ?")
        before = conn.execute(sql.format("<", "DESC"), (code, start, max(position - 1, 0))).fetchall()
        before.reverse()
        after = conn.execute(sql.format(">=", "ASC"), (code, start, count - len(before))).fetchall()
        return [search_plan.ScanTerm(*row) for row in before + after][:count]

    # -- leases (several harvester processes sharing one provider list) -----------------
    # SQLite serialises writers (BEGIN IMMEDIATE), which is all a lease needs here;
    # the PostgreSQL store does the same across machines with SKIP LOCKED.
    def lease(self, name: str, holder: str, seconds: int, *, now: int | None = None) -> bool:
        """Take or renew the lease on ``name`` for ``seconds``; False if another
        holder's lease has not expired."""
        t = dates.now() if now is None else now
        row = self._conn().execute(
            "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
            "WHERE leases.expires <= ? OR leases.holder = excluded.holder RETURNING name",
            (name, holder, t + seconds, t)).fetchone()
        return row is not None

    def claim(self, names: Sequence[str], holder: str, seconds: int, *,
              now: int | None = None) -> str | None:
        """Lease the first of ``names`` (in the order given) that nobody holds, or None."""
        if not names:
            return None
        t = dates.now() if now is None else now
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            held = {r[0] for r in conn.execute(
                f"SELECT name FROM leases WHERE expires > ? AND name IN ({','.join('?' * len(names))})",
                (t, *names))}
            free = next((n for n in names if n not in held), None)
            if free is not None:
                conn.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (free, holder, t + seconds))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return free

    def release(self, name: str, holder: str) -> bool:
        """Give a lease back early; False if ``holder`` does not hold it."""
        row = self._conn().execute(
            "UPDATE leases SET holder = NULL, expires = 0 WHERE name = ? AND holder = ? RETURNING name",
            (name, holder)).fetchone()
        return row is not None

    def lease_holder(self, name: str, *, now: int | None = None) -> str | None:
        """Who holds an unexpired lease on ``name`` (None if nobody)."""
        t = dates.now() if now is None else now
        row = self._conn().execute(
            "SELECT holder FROM leases WHERE name = ? AND expires > ?", (name, t)).fetchone()
        return row[0] if row else None


_CODE_BITS = 7


@functools.cache
def _idx_token(code: int) -> str:
    return f"ix{code}"


def _fts_quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _glob_sql(pattern: str) -> tuple[str, str]:
    """A search_plan glob → (SQLite GLOB pattern, literal prefix for a range)."""
    out: list[str] = []
    lead: list[str] = []
    leading = True
    for kind, text in search_plan.iter_terms(pattern):
        if kind == "literal":
            out.append("".join(f"[{c}]" if c in "*?[]" else c for c in text))
            if leading:
                lead.append(text)
        else:
            leading = False
            out.append("*" if kind == "many" else "?")
    return "".join(out), "".join(lead)


MAX_EXPANSION = 2000
RANK_LIMIT = 3000


class _Compiler:
    """A plan node → a SELECT of record ids (column ``id``), or None if it matches nothing."""

    def __init__(self, store: SQLiteRepository, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn

    def code(self, index: str | None) -> int | None:
        return None if index is None else self.store._index_code(self.conn, index)

    # -- full text ------------------------------------------------------------------
    def expand(self, term: search_plan.Term) -> list[str]:
        """The indexed words a glob term stands for (at most MAX_EXPANSION)."""
        pattern, lead = _glob_sql(term.text)
        parts = list(search_plan.iter_terms(term.text))
        if lead:
            rows = self.conn.execute(
                "SELECT term FROM search_vocab WHERE term >= ? AND term < ? AND term GLOB ? LIMIT ?",
                (lead, lead + "\uffff", pattern, MAX_EXPANSION + 1))
            found = [r[0] for r in rows]
        elif parts and parts[-1][0] == "literal":
            # Left truncation: reversed words make "*noi" a range scan on "ion".
            tail = parts[-1][1][::-1]
            rpattern, _ = _glob_sql("".join(
                "*" if k == "many" else "?" if k == "one" else t.replace("*", "\\*").replace("?", "\\?")
                for k, t in reversed([(k, t[::-1]) for k, t in parts])))
            rows = self.conn.execute(
                "SELECT rword FROM search_rwords WHERE rword >= ? AND rword < ? AND rword GLOB ? LIMIT ?",
                (tail, tail + "\uffff", rpattern, MAX_EXPANSION + 1))
            found = [r[0][::-1] for r in rows]
        else:
            raise search_plan.PlanTooBroad(term.text)
        if len(found) > MAX_EXPANSION:
            raise search_plan.PlanTooBroad(term.text)
        return found

    def phrase_exprs(self, p: search_plan.Phrase) -> list[str]:
        """FTS5 phrase strings (several when a glob term expands to several words)."""
        options: list[list[str]] = []
        for t in p.terms:
            if t.kind == "word":
                options.append([_fts_quote(t.text)])
            elif t.kind == "prefix":
                options.append([_fts_quote(t.text) + " *"])
            else:
                options.append([_fts_quote(w) for w in self.expand(t)])
        combos = [[]]
        for opts in options:
            combos = [c + [o] for c in combos for o in opts]
            if len(combos) > MAX_EXPANSION:
                raise search_plan.PlanTooBroad(" ".join(t.text for t in p.terms))
        return [" + ".join(c) for c in combos]

    def match(self, node: search_plan.PlanNode) -> tuple[str | None, str | None] | None:
        """(index, FTS5 body expression) when ``node`` is full text on one index
        (And/AndNot merge only on a named index: per (record, index) row is per
        record there; Or merges anywhere). None if it is not full text."""
        if isinstance(node, search_plan.Phrase):
            exprs = self.phrase_exprs(node)
            return node.index, ("(" + " OR ".join(exprs) + ")") if exprs else ""
        if isinstance(node, search_plan.Near):
            lefts, rights = self.phrase_exprs(node.left), self.phrase_exprs(node.right)
            nears = [f"NEAR({a} {b}, {node.max_between})" for a in lefts for b in rights]
            if len(nears) > MAX_EXPANSION:
                raise search_plan.PlanTooBroad("prox")
            return node.index, ("(" + " OR ".join(nears) + ")") if nears else ""
        if isinstance(node, search_plan.And | search_plan.Or | search_plan.AndNot):
            a, b = self.match(node.left), self.match(node.right)
            if a is None or b is None or a[0] != b[0]:
                return None
            if a[0] is None and not isinstance(node, search_plan.Or):
                return None
            op = {search_plan.And: "AND", search_plan.Or: "OR", search_plan.AndNot: "NOT"}[type(node)]
            if not a[1] or not b[1]:
                if op == "OR":
                    return a[0], a[1] or b[1]
                if op == "NOT":
                    return a
                return a[0], ""
            return a[0], f"({a[1]} {op} {b[1]})"
        return None

    def full_match(self, index: str | None, body: str) -> str | None:
        if not body:
            return None
        if index is None:
            return f"body : {body}"
        code = self.code(index)
        if code is None:
            return None
        return f"idx : {_idx_token(code)} AND body : {body}"

    def rank_match(self, node: search_plan.PlanNode) -> str | None:
        """One FTS5 expression OR-ing every positive full-text leaf, for bm25."""
        parts: list[str] = []

        def walk(n: search_plan.PlanNode) -> None:
            m = self.match(n)
            if m is not None:
                q = self.full_match(*m)
                if q:
                    parts.append(f"({q})")
                return
            if isinstance(n, search_plan.And | search_plan.Or):
                walk(n.left)
                walk(n.right)
            elif isinstance(n, search_plan.AndNot):
                walk(n.left)

        walk(node)
        return " OR ".join(parts) if parts else None

    # -- the set of ids -------------------------------------------------------------
    def key_condition(self, node: search_plan.KeyMatch | search_plan.KeyRange
                      ) -> tuple[str | None, list[object]]:
        """A condition on ``search_keys k`` for one key match (None: the index is empty)."""
        code = self.code(node.index)
        if code is None:
            return None, []
        if isinstance(node, search_plan.KeyRange):
            return (f"k.idx = ? AND k.key {'>=' if node.include_low else '>'} ? "
                    f"AND k.key {'<=' if node.include_high else '<'} ?", [code, node.low, node.high])
        if node.op == "glob":
            pattern, lead = _glob_sql(node.value)
            return ("k.idx = ? AND k.key >= ? AND k.key < ? AND k.key GLOB ?",
                    [code, lead, lead + "\uffff", pattern])
        op = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[node.op]
        return f"k.idx = ? AND k.key {op} ?", [code, node.value]

    def node(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]]:
        m = self.match(node)
        if m is not None:
            q = self.full_match(*m)
            if q is None:
                return None, []
            distinct = "DISTINCT " if m[0] is None else ""
            return f"SELECT {distinct}rowid >> 7 AS id FROM search_text WHERE search_text MATCH ?", [q]
        if isinstance(node, search_plan.AllRecords):
            return "SELECT id FROM records WHERE deleted = 0", []
        if isinstance(node, search_plan.KeyRange):
            cond, cargs = self.key_condition(node)
            if cond is None:
                return None, []
            return f"SELECT DISTINCT record_id AS id FROM search_keys k WHERE {cond}", cargs
        if isinstance(node, search_plan.KeyMatch):
            code = self.code(node.index)
            if code is None:
                return None, []
            if node.op == "glob":
                pattern, lead = _glob_sql(node.value)
                return ("SELECT DISTINCT record_id AS id FROM search_keys WHERE idx = ? "
                        "AND key >= ? AND key < ? AND key GLOB ?",
                        [code, lead, lead + "\uffff", pattern])
            op = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[node.op]
            distinct = "" if node.op == "eq" else "DISTINCT "
            return (f"SELECT {distinct}record_id AS id FROM search_keys WHERE idx = ? AND key {op} ?",
                    [code, node.value])
        if isinstance(node, search_plan.And | search_plan.AndNot):
            # A key condition beside another one is checked per record of the other
            # side through search_keys_record (a semi-join), instead of building the
            # set of every record in, say, "dc.date >= 1990" to intersect it.
            left, right = node.left, node.right
            keys = (search_plan.KeyMatch, search_plan.KeyRange)
            if (isinstance(node, search_plan.And) and isinstance(left, keys)
                    and not isinstance(right, keys)):
                left, right = right, left
            if isinstance(right, keys):
                a, aa = self.node(left)
                negate = isinstance(node, search_plan.AndNot)
                if a is None:
                    return None, []
                cond, cargs = self.key_condition(right)
                if cond is None:
                    return (a, aa) if negate else (None, [])
                return (f"SELECT id FROM ({a}) WHERE {'NOT ' if negate else ''}EXISTS "
                        f"(SELECT 1 FROM search_keys k WHERE k.record_id = id AND {cond})",
                        aa + cargs)
        if isinstance(node, search_plan.And | search_plan.Or | search_plan.AndNot):
            return keyset.set_operation(node, self.node(node.left), self.node(node.right),
                                        aliases=False)
        raise TypeError(f"not a plan node: {node!r}")
