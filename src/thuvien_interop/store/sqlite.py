"""The embedded default store: one SQLite file, WAL mode, keyset pagination.

The store's logic is :mod:`.sql`'s; this dialect supplies the connection, the
migrations, id and sequence allocation under SQLite's one writer, and the search
rows (FTS5) with their compiler.

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
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..model import Record
from ..wording import say
from . import keyset, search_plan
from .base import StoreError
from .sql import KEY_COLUMNS, MAX_EXPANSION, Compiler, SQLStore, Txn, origin_of_sets

#: Seconds a writer waits for another process's write lock before "database is locked".
LOCK_TIMEOUT = 30.0


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def _file_size_limit() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft

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
    # table of KB-sized blobs): completeListSize and ListIdentifiers
    # read this narrow index instead (13x faster counts at 5,000 records).
    """
    CREATE INDEX rendered_prefix ON rendered (prefix, record_id);
    """,
    # 4: leases, so several harvester processes on one machine share a provider list.
    """
    CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT, expires INTEGER NOT NULL DEFAULT 0)
    WITHOUT ROWID;
    """,
    # 5: each record's origin, so that the write transaction refuses an identifier
    # another origin holds (issue 12); a harvested record's is its provider set.
    """
    ALTER TABLE records ADD COLUMN origin TEXT;
    UPDATE records SET origin = thuvien_origin(sets) WHERE sets LIKE '%source:%';
    """,
    # 6: the last change sequence number in one probe: max(seq) scanned all of
    # records_key, once per batch (46 ms at 250,000 records, ~90 µs a record written).
    """
    CREATE INDEX records_seq ON records (seq);
    """,
    # 7: each record's OAI-PMH header kept rendered (store/headers.py), so that a
    # ListRecords page is a range scan and a join of stored fragments (issue 16);
    # the rows there are rendered by the migration itself (SQLStore._fill_headers).
    """
    ALTER TABLE records ADD COLUMN header TEXT;
    """,
    # 8: the union's clusters (issue 15), written in the records' own write
    # transaction: each clustered record's facts and part, its keys, and each
    # part's cluster (see store/sql.py ClusterTables). No edges are kept.
    # (IF NOT EXISTS: a store rolled back to an older version runs it again.)
    """
    CREATE TABLE IF NOT EXISTS union_record (
        record TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        part INTEGER NOT NULL,
        alone INTEGER NOT NULL DEFAULT 0,
        facts TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS union_record_part ON union_record (part, alone, record);
    CREATE TABLE IF NOT EXISTS union_key (key TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (key, record))
    WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS union_key_record ON union_key (record);
    CREATE TABLE IF NOT EXISTS union_cluster (part INTEGER PRIMARY KEY, head TEXT NOT NULL, size INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS union_cluster_head ON union_cluster (head);
    CREATE INDEX IF NOT EXISTS union_cluster_size ON union_cluster (size, head);
    """,
    # 9: rendered formats in a table with rowids (issue 16). As a WITHOUT ROWID
    # table its rows, KB-sized blobs, were b-tree keys: its interior pages held
    # copies of them, and any row over ~4 KB of a 16 KB page spilled to an
    # overflow page of its own (SQLite advises WITHOUT ROWID for rows under
    # ~1/20 of a page). At 100,000 LoC records: 7,127 -> ~5,300 bytes a record.
    """
    CREATE TABLE rendered_rows (
        record_id INTEGER NOT NULL,
        prefix TEXT NOT NULL,
        xml BLOB NOT NULL,
        PRIMARY KEY (record_id, prefix)
    );
    INSERT INTO rendered_rows (record_id, prefix, xml)
        SELECT record_id, prefix, xml FROM rendered ORDER BY record_id, prefix;
    DROP TABLE rendered;
    ALTER TABLE rendered_rows RENAME TO rendered;
    CREATE INDEX rendered_prefix ON rendered (prefix, record_id);
    """,
    # 10: each clustered record's work (its part), by the record's id, kept with the
    # cluster tables: the readers' search and facets count works by one join on an
    # integer key (a record not in it is a work of its own). (Filled afresh: a store
    # rolled back to an older version, which did not keep it, runs it again.)
    """
    CREATE TABLE IF NOT EXISTS union_work (id INTEGER PRIMARY KEY, work INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS union_work_work ON union_work (work);
    DELETE FROM union_work;
    INSERT INTO union_work (id, work)
        SELECT r.id, u.part FROM union_record u JOIN records r ON u.record = r.identifier
        WHERE u.part > 0 AND NOT u.alone;
    """,
    # 11: the deleted records by themselves: a list's completeListSize counts them
    # beside a format's rendered rows, and without this index that count read every
    # row of records (104-372 ms at 344,000 records, growing with the store).
    """
    CREATE INDEX IF NOT EXISTS records_deleted ON records (deleted) WHERE deleted = 1;
    """,
    # 12: each format's rendered rows counted, kept by the write that adds or
    # removes them, in its transaction (writers take the store's write lock one at
    # a time): a whole list's completeListSize reads one row instead of counting an
    # index (~15 ms at 344,000 SQLite records, growing with the store). (Counted
    # afresh: a store rolled back to an older version, which did not keep it, runs
    # it again.)
    """
    CREATE TABLE IF NOT EXISTS rendered_counts (prefix TEXT PRIMARY KEY, n INTEGER NOT NULL);
    DELETE FROM rendered_counts;
    INSERT INTO rendered_counts (prefix, n) SELECT prefix, count(*) FROM rendered GROUP BY prefix;
    """,
]

_memory_ids = itertools.count()

#: The page size of new store files (bytes).
PAGE_SIZE = 16384
#: How much of a store file each connection maps into memory (SQLite caps it at 2 GB).
MMAP_SIZE = 1 << 31
_CODE_BITS = 7
RANK_LIMIT = 3000
_ROWS_SEEN_MAX = 200_000
"""Reversed words this process remembers having written (a memo, ~20 MB at most)."""
PROGRESS_STEPS = 10_000
"""Steps of SQLite's virtual machine between two looks at a search's deadline
(well under a millisecond of work; every 1,000 steps cost *ology 10%)."""


class SQLiteRepository(SQLStore):
    """A :class:`~thuvien_interop.store.base.Repository` in one SQLite file.

    Safe to share between threads: each thread gets its own connection; WAL lets
    readers go on while a writer writes (``BEGIN IMMEDIATE``: one writer at a time,
    across processes too, which is the store's write lock).
    """

    keyset_dialect = keyset.SQLITE
    db_errors = (sqlite3.Error,)
    no_index = -1

    def __init__(self, path: str) -> None:
        super().__init__()
        if path in ("", ":memory:"):
            self._target = f"file:thuvien-mem-{os.getpid()}-{next(_memory_ids)}?mode=memory&cache=shared"
            self._uri = True
        else:
            p = Path(path)
            if p.parent and not p.parent.exists():
                raise StoreError(say("store.no-folder", path=path, folder=p.parent))
            self._target = str(p)
            self._uri = False
        self.path = path
        # Memos of what the database holds, updated only after a commit.
        self._codes: dict[str, int] = {}
        self._rwords_seen: set[str] = set()
        self._keepalive = self._conn()  # an in-memory DB lives while one connection does
        self._migrate()

    # -- the dialect -----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self._target, uri=self._uri, isolation_level=None,
                                   check_same_thread=False, timeout=LOCK_TIMEOUT)
        except sqlite3.Error as exc:
            raise StoreError(say("store.sqlite-unopenable", path=self.path, cause=exc)) from exc
        # A new store gets 16 KiB pages (an existing one keeps its own: the pragma
        # changes nothing once the file has tables). Rendered records are 0.5-4 KB:
        # on 4 KiB pages most spill onto overflow pages, which made files 1.7x
        # larger and writes 15% slower.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        if not self._uri:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        # Each thread has its own connection, so each cache is small: the operating
        # system's file cache is shared by all of them anyway.
        conn.execute("PRAGMA cache_size=-8192")
        # Pages read straight from the operating system's file cache, mapped, instead
        # of copied into each connection's cache first: a full ListRecords harvest
        # streams through the whole file (issue 16: ~25% less CPU a record read).
        conn.execute(f"PRAGMA mmap_size={MMAP_SIZE}")
        conn.create_function("thuvien_origin", 1, _origin, deterministic=True)
        return conn

    def _begin(self, conn: Any, lock: str | None) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _analyze(self, conn: Any) -> None:
        # An approximate ANALYZE (at most ~1,000 rows an index): milliseconds on a
        # store of millions, and what the planner needs to order its joins.
        conn.execute("PRAGMA analysis_limit = 1000")
        for table in (*self._read_tables, "search_rwords"):   # (FTS5's own tables need none)
            conn.execute(f"ANALYZE {table}")

    def _busy(self, exc: BaseException) -> bool:
        return (getattr(exc, "sqlite_errorname", "") or "").startswith(("SQLITE_BUSY",
                                                                       "SQLITE_LOCKED"))

    def _cause(self, exc: BaseException) -> str:
        # SQLite's words ("disk I/O error") name the kind, not the reason a person
        # can act on: add what this process can see of it.
        text = super()._cause(exc)
        name = getattr(exc, "sqlite_errorname", "") or ""
        folder = os.path.dirname(os.path.abspath(self.path)) if self.path else None
        if name.startswith("SQLITE_FULL") or name.startswith("SQLITE_IOERR"):
            notes = []
            if folder:
                try:
                    free = shutil.disk_usage(folder).free
                    notes.append(f"{_size(free)} free on its disk")
                except OSError:
                    pass
            limit = _file_size_limit()
            if limit is not None:
                notes.append(f"this process may not write files over {_size(limit)} "
                             "(ulimit -f)")
            return f"{text} ({name}{'; ' if notes else ''}{'; '.join(notes)})"
        if name.startswith("SQLITE_READONLY"):
            return (f"{text}: the store is read-only for this process (check the permissions "
                    "of the file and of its folder, which holds its -wal and -shm files)")
        if self._busy(exc):
            return (f"{text}: another process held it for longer than {LOCK_TIMEOUT:.0f} s "
                    "(another import, harvest or sync writing to it?)")
        return text

    def _where(self) -> str:
        return self.path or ":memory:"

    def _run_script(self, conn: Any, script: str) -> None:
        for stmt in script.split(";"):
            if stmt.strip():
                conn.execute(stmt)

    def _sets_value(self, sets: tuple[str, ...]) -> str:
        return "\n".join(sets)

    def _sets_of(self, value: Any) -> tuple[str, ...]:
        return tuple(value.split("\n")) if value else ()

    # The write lock is held (BEGIN IMMEDIATE): nobody else takes ids meanwhile.
    def _new_ids(self, conn: Any, n: int) -> list[int]:
        last = conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0]
        return list(range(last + 1, last + 1 + n))

    def _new_seqs(self, conn: Any, n: int) -> list[int]:
        last = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
        return list(range(last + 1, last + 1 + n))

    def _load(self, conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                             f"VALUES ({', '.join('?' * len(columns))})", rows)

    # -- search rows -------------------------------------------------------------------
    def _idx(self, conn: Any, name: str) -> int | None:
        code = self._codes.get(name)
        if code is None:
            row = conn.execute("SELECT code FROM search_indexes WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            code = self._codes[name] = row[0]
        return code

    def _new_code(self, txn: Txn, name: str) -> int:
        codes: dict[str, int] = txn.scratch.setdefault("codes", {})
        code = codes.get(name) or self._idx(txn.conn, name)
        if code is None:
            code = txn.conn.execute("SELECT coalesce(max(code) + 1, 1) FROM search_indexes").fetchone()[0]
            if code >= 1 << _CODE_BITS:
                raise StoreError(f"too many search indexes (at most {(1 << _CODE_BITS) - 1})")
            txn.conn.execute("INSERT INTO search_indexes VALUES (?, ?)", (code, name))
            codes[name] = code  # remembered by the store once committed (below)
        return code

    def _index(self, txn: Txn, items: list[tuple[int, Record, str]]) -> None:
        texts: list[tuple[int, str, str]] = []
        keys: list[tuple[int, str, int, str]] = []
        words: set[str] = set()
        for rid, record, modified in items:
            base = rid << _CODE_BITS
            for name, text, entries in search_plan.record_entries(record, modified):
                code = self._codes.get(name) or self._new_code(txn, name)
                if text:
                    texts.append((base + code, _idx_token(code), text))
                    words.update(text.split())
                keys += [(code, k, rid, d) for k, d in entries]
        conn = txn.conn
        if texts:
            conn.executemany("INSERT INTO search_text (rowid, idx, body) VALUES (?, ?, ?)", texts)
        self._load(conn, "search_keys", KEY_COLUMNS, keys)
        words.discard(search_plan.VALUE_SEPARATOR)
        words -= self._rwords_seen  # words this process already wrote
        if words:
            conn.executemany("INSERT OR IGNORE INTO search_rwords VALUES (?)",
                             [(w[::-1],) for w in words])
        created = txn.scratch.get("codes")
        # The memos learn of rows only once they are committed: a failed batch must
        # not leave words the index lacks marked as written (issue 12).
        txn.committed.append(lambda: self._remember(words, created))

    def _remember(self, words: set[str], codes: dict[str, int] | None) -> None:
        if codes:
            self._codes.update(codes)
        if len(self._rwords_seen) < _ROWS_SEEN_MAX:
            self._rwords_seen.update(words)

    def _unindex(self, conn: Any, ids: list[int]) -> None:
        for cond, args in self._chunks("record_id", ids):
            indexed = [r[0] for r in conn.execute(
                f"SELECT DISTINCT record_id FROM search_keys WHERE {cond}", args)]
            for rid in indexed:
                base = rid << _CODE_BITS
                conn.execute("DELETE FROM search_text WHERE rowid BETWEEN ? AND ?",
                             (base, base + (1 << _CODE_BITS) - 1))
            conn.execute(f"DELETE FROM search_keys WHERE {cond}", args)

    @contextmanager
    def _bounded(self, conn: Any, seconds: float) -> Iterator[None]:
        deadline = time.monotonic() + seconds
        # A true return interrupts the statement running (SQLITE_INTERRUPT); the
        # connection and its other statements are unharmed.
        conn.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_INTERRUPT":
                raise search_plan.PlanTooSlow(seconds) from exc
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def _compiler(self, conn: Any) -> _FTS5:
        return _FTS5(self, conn)

    def _ranked(self, conn: Any, comp: Compiler, root: search_plan.PlanNode, ids_sql: str,
                args: list[object], start: int, limit: int) -> tuple[list[int], int]:
        """The sum of bm25 over the positive full-text leaves (best first), records
        without a score after, ties by record id; when the full-text part matches
        more than RANK_LIMIT index rows, record id order.

        Scored, summed, sorted and counted inside SQLite: only the page's ids come
        back to Python (bm25 rows crossing into Python cost ~10 µs each, a third of
        a 780-hit title search); a page in record id order reads the index rows up
        to its end, not the whole result."""
        assert isinstance(comp, _FTS5)
        m = comp.match(root)
        if m is None:
            return self._ranked_mixed(conn, comp, root, ids_sql, args, start, limit)
        # The whole query is one full-text expression: its own ranking expression.
        where, wargs = comp.rows(*m) or ("0", [])
        rows = conn.execute(f"SELECT count(*) FROM search_text WHERE {where}", wargs).fetchone()[0]
        if m[0] is not None:
            # A named index: one row a record, so the rows are the hits.
            if limit <= 0 or start > rows:
                return [], rows
            # bm25 costs ~2.5 µs a row: past RANK_LIMIT rows a common word would
            # take tens of ms, so large results come in load order (still stable).
            order = "bm25(search_text, 0.0, 1.0), rowid" if rows <= RANK_LIMIT else "rowid"
            found = conn.execute(f"SELECT rowid >> 7 FROM search_text WHERE {where} "
                                 f"ORDER BY {order} LIMIT ? OFFSET ?", [*wargs, limit, start - 1])
            return [r[0] for r in found], rows
        if rows > RANK_LIMIT:
            total = conn.execute(f"SELECT count(DISTINCT rowid >> 7) FROM search_text WHERE {where}",
                                 wargs).fetchone()[0]
            if limit <= 0 or start > total:
                return [], total
            # A record's rows are adjacent in rowid order: the page is the distinct
            # ids read from the start of the list, no further than the page's end.
            page: list[int] = []
            last, skip = None, start - 1
            for (rid,) in conn.execute(f"SELECT rowid >> 7 FROM search_text WHERE {where} "
                                       "ORDER BY rowid", wargs):
                if rid != last:
                    last = rid
                    if skip:
                        skip -= 1
                    else:
                        page.append(rid)
                        if len(page) == limit:
                            break
            return page, total
        # Several rows a record: scores summed per record.
        return self._page_of_scores(conn, f"SELECT id, s FROM ({_scores(where)})", wargs,
                                    start, limit)

    def _ranked_mixed(self, conn: Any, comp: _FTS5, root: search_plan.PlanNode, ids_sql: str,
                      args: list[object], start: int, limit: int) -> tuple[list[int], int]:
        """Full text beside keys or booleans across indexes: the hits are ``ids_sql``,
        scored by the positive full-text leaves (records without a score after)."""
        rank_expr = comp.rank_match(root)
        if rank_expr is not None and conn.execute(
                "SELECT count(*) FROM search_text WHERE search_text MATCH ?",
                (rank_expr,)).fetchone()[0] > RANK_LIMIT:
            rank_expr = None
        if rank_expr is not None and (keyed := _keyed_text(comp, root)) is not None:
            return self._ranked_keyed(conn, comp, *keyed, start, limit)
        if rank_expr is None:
            # The page and the total in one statement: the hits are worked out once.
            if limit > 0:
                found = conn.execute(f"SELECT id, count(*) OVER () FROM ({ids_sql}) "
                                     "ORDER BY id LIMIT ? OFFSET ?",
                                     args + [limit, start - 1]).fetchall()
                if found:
                    return [r[0] for r in found], found[0][1]
            return [], conn.execute(f"SELECT count(*) FROM ({ids_sql})", args).fetchone()[0]
        return self._page_of_scores(
            conn, f"WITH g AS MATERIALIZED ({_scores('search_text MATCH ?')}) "
            f"SELECT h.id AS id, g.s AS s FROM ({ids_sql}) h LEFT JOIN g ON g.id = h.id",
            [rank_expr, *args], start, limit)

    def _ranked_keyed(self, conn: Any, comp: _FTS5, text: search_plan.PlanNode,
                      checks: list[tuple[bool, search_plan.PlanNode]],
                      start: int, limit: int) -> tuple[list[int], int]:
        """One full-text part narrowed by keys (``history and dc.date >= 1990``): its
        rows scored as they are found and each checked against the keys, instead of
        finding the hits and scoring the full-text part again to join the two (the
        same page: every hit has its score; 11.9 -> 9.1 ms of CPU at 20,000 LoC records)."""
        m = comp.match(text)
        rows = comp.rows(*m) if m is not None else None
        if rows is None:
            return [], 0
        where, args = rows
        scored, args = comp.key_checked(f"SELECT id, s FROM ({_scores(where)})", list(args),
                                        checks)
        if scored is None:
            return [], 0
        return self._page_of_scores(conn, scored, args, start, limit)

    @staticmethod
    def _page_of_scores(conn: Any, scored: str, args: list[object], start: int, limit: int
                        ) -> tuple[list[int], int]:
        """One page of ``scored`` (columns id, s) best first, and its row count."""
        if limit > 0:
            found = conn.execute(f"SELECT id, count(*) OVER () FROM ({scored}) "
                                 "ORDER BY s IS NULL, s, id LIMIT ? OFFSET ?",
                                 [*args, limit, start - 1]).fetchall()
            if found:
                return [r[0] for r in found], found[0][1]
        return [], conn.execute(f"SELECT count(*) FROM ({scored})", args).fetchone()[0]


def _keyed_text(comp: _FTS5, node: search_plan.PlanNode) -> tuple[
        search_plan.PlanNode, list[tuple[bool, search_plan.PlanNode]]] | None:
    """(its one full-text part, its key checks as (negated, key)) when ``node`` is a
    full-text part narrowed only by key conditions (And with keys on either side,
    AndNot with a key on the right, nested), else None: the shapes
    :meth:`Compiler.node` compiles as semi-joins."""
    keys = (search_plan.KeyMatch, search_plan.KeyRange)
    checks: list[tuple[bool, search_plan.PlanNode]] = []
    while comp.match(node) is None:
        if isinstance(node, search_plan.And) and (found := comp.key_conjuncts(node.right)):
            node, negate = node.left, False
        elif isinstance(node, search_plan.And) and (found := comp.key_conjuncts(node.left)):
            node, negate = node.right, False
        elif isinstance(node, search_plan.AndNot) and isinstance(node.right, keys):
            node, found, negate = node.left, [node.right], True
        else:
            return None
        checks += [(negate, key) for key in found]
    return (node, checks) if checks else None


def _scores(where: str) -> str:
    """Each record's bm25 summed over its matching rows (LIMIT -1 keeps the bm25
    subquery from being flattened into the aggregate, where FTS5 refuses it)."""
    return ("SELECT id, sum(s) AS s FROM (SELECT rowid >> 7 AS id, bm25(search_text, 0.0, 1.0) "
            f"AS s FROM search_text WHERE {where} LIMIT -1) GROUP BY id")


def _origin(sets: str | None) -> str | None:
    return origin_of_sets(sets.split("\n")) if sets else None


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


class _FTS5(Compiler):
    """Full text in FTS5: a subtree of phrases on one index becomes one MATCH."""

    # education not children, 50,000 records: the count 2.0 -> 1.8 ms, a page 2.6 -> 2.0.
    not_in = True

    def key_glob(self, pattern: str) -> tuple[str, list[object]]:
        glob, lead = _glob_sql(pattern)
        return "k.key >= ? AND k.key < ? AND k.key GLOB ?", [lead, lead + "\uffff", glob]

    def _where(self, node: search_plan.PlanNode) -> tuple[str | None, list[object], bool] | None:
        """(condition on search_text rows, its arguments, whether it is on every
        index) of a full-text node, the condition None when nothing can match;
        None when ``node`` is not full text."""
        m = self.match(node)
        if m is None:
            return None
        rows = self.rows(*m)
        return (*(rows or (None, [])), m[0] is None)

    def text(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]] | None:
        if (w := self._where(node)) is None:
            return None
        where, args, every = w
        if where is None:
            return None, []
        distinct = "DISTINCT " if every else ""
        return f"SELECT {distinct}rowid >> 7 AS id FROM search_text WHERE {where}", args

    def text_exists(self, node: search_plan.PlanNode, ref: str
                    ) -> tuple[str | None, list[object]] | None:
        if (w := self._where(node)) is None:
            return None
        where, args, _ = w
        if where is None:
            return None, []
        # The record's rows are the rowids of its id: FTS5 seeks its doclist there.
        return (f"EXISTS (SELECT 1 FROM search_text WHERE {where} AND rowid BETWEEN "
                f"{ref} << {_CODE_BITS} AND ({ref} << {_CODE_BITS}) + {(1 << _CODE_BITS) - 1})",
                args)

    def rarity(self, node: search_plan.PlanNode) -> float:
        if not isinstance(node, search_plan.Phrase):
            return float("inf")
        words = [t.text for t in node.terms if t.kind == "word"]
        if not words:
            return float("inf")
        counts = [r[0] for w in words for r in self.conn.execute(
            "SELECT doc FROM search_vocab WHERE term = ?", (w,))]
        return float(min(counts)) if len(counts) == len(words) else 0.0

    def rows(self, index: str | None, body: str) -> tuple[str, list[object]] | None:
        """The condition on search_text rows of a body expression on one index (None:
        every index): the index's rows are picked by their rowid's low bits rather
        than by matching its ``ixN`` token too, which made FTS5 walk that token's
        doclist (one entry a record) and bm25 score it (2-4x slower; the scores are
        the same: the idx column's weight is 0). None: nothing can match."""
        if not body:
            return None
        if index is None:
            return "search_text MATCH ?", [f"body : {body}"]
        code = self.store._idx(self.conn, index)
        if code is None:
            return None
        return f"search_text MATCH ? AND (rowid & {(1 << _CODE_BITS) - 1}) = ?", [f"body : {body}", code]

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
        combos: list[list[str]] = [[]]
        for opts in options:
            combos = [c + [o] for c in combos for o in opts]
            if len(combos) > MAX_EXPANSION:
                raise search_plan.PlanTooBroad(" ".join(t.text for t in p.terms))
        return [" + ".join(c) for c in combos]

    def match(self, node: search_plan.PlanNode) -> tuple[str | None, str] | None:
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
        code = self.store._idx(self.conn, index)
        if code is None:
            return None
        return f"idx : {_idx_token(code)} AND body : {body}"

    def rank_match(self, node: search_plan.PlanNode) -> str | None:
        """One FTS5 expression OR-ing every positive full-text leaf, for bm25."""
        def leaf(n: search_plan.PlanNode) -> str | None:
            m = self.match(n)
            return None if m is None else self.full_match(*m) or ""

        parts = [f"({q})" for q in self.positive(node, leaf) if q]
        return " OR ".join(parts) if parts else None


__all__ = ["MIGRATIONS", "SQLiteRepository"]
