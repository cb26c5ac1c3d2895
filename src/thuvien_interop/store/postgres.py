"""The scale-out store: PostgreSQL through psycopg 3, for a union catalogue and
for several workers or machines sharing one store.

Same shape as the SQLite store (records keyed by ``(datestamp, seq)``, rendered
formats beside them, set memberships with their ancestors, sets, meta), same
contract, same test suite (``tests/test_store.py``).

    >>> from thuvien_interop.store import open_store
    >>> from thuvien_interop.model import Record
    >>> store = open_store("postgresql://postgres@127.0.0.1/test?schema=union")  # doctest: +SKIP
    >>> store.write([Record("oai:x:1", b"<r/>", rendered={"oai_dc": b"<dc/>"})]).added  # doctest: +SKIP
    1

``?schema=NAME`` in the URL keeps the store in its own PostgreSQL schema (created
when missing), so one database can hold several stores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

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
BATCH = 1000
COPY_THRESHOLD = 200
"""Batches with at least this many rows for a table are loaded with COPY."""

# Advisory-lock classes (first key of pg_advisory_xact_lock(int, int)); the second
# key is a hash of the schema, so stores in different schemas do not wait on each other.
_LOCK_MIGRATE = 0x7476_0001
_LOCK_WRITE = 0x7476_0002

# Each entry moves a store from version i to i+1; never edit a released one,
# append a new one, so existing databases migrate instead of breaking.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE SEQUENCE record_ids;
    CREATE SEQUENCE record_seq;
    CREATE TABLE records (
        id bigint PRIMARY KEY,
        identifier text NOT NULL UNIQUE,
        datestamp bigint NOT NULL,
        seq bigint NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        deleted_at bigint,
        checksum bytea NOT NULL,
        canonical_format text NOT NULL,
        canonical bytea,
        sets text[] NOT NULL DEFAULT '{}',
        about bytea
    );
    CREATE UNIQUE INDEX records_key ON records (datestamp, seq);
    CREATE TABLE rendered (
        record_id bigint NOT NULL,
        prefix text NOT NULL,
        xml bytea NOT NULL,
        PRIMARY KEY (record_id, prefix)
    );
    CREATE TABLE set_members (
        set_spec text NOT NULL,
        datestamp bigint NOT NULL,
        seq bigint NOT NULL,
        record_id bigint NOT NULL,
        PRIMARY KEY (set_spec, datestamp, seq)
    );
    CREATE INDEX set_members_record ON set_members (record_id);
    CREATE TABLE sets (spec text COLLATE "C" PRIMARY KEY, name text NOT NULL, description text);
    CREATE TABLE leases (name text PRIMARY KEY, holder text, expires bigint NOT NULL DEFAULT 0);
    """,
    # 2: search (issue 6; the contract is in store/base.py and store/search_plan.py).
    # One tsvector per (record, index), built by us from folded words with explicit
    # positions (a value boundary takes one position, so phrases cannot cross it);
    # whole folded values in search_keys for ==, ranges, sort and scan; every word
    # once in search_words (and reversed, indexed) to expand masked terms.
    """
    CREATE TABLE search_text (
        record_id bigint NOT NULL,
        idx text NOT NULL,
        tsv tsvector NOT NULL,
        PRIMARY KEY (record_id, idx)
    );
    CREATE INDEX search_text_tsv ON search_text USING gin (tsv);
    CREATE TABLE search_keys (
        idx text NOT NULL,
        key text COLLATE "C" NOT NULL,
        record_id bigint NOT NULL,
        display text NOT NULL,
        PRIMARY KEY (idx, key, record_id)
    );
    CREATE INDEX search_keys_record ON search_keys (record_id, idx, key);
    CREATE TABLE search_words (word text COLLATE "C" PRIMARY KEY);
    CREATE INDEX search_words_reversed ON search_words ((reverse(word)) COLLATE "C");
    """,
    # 3: rendered XML compressed with lz4 instead of pglz where the server has it
    # (PostgreSQL 14+ built with lz4, as Debian's is): MARCXML and MODS are mostly
    # over the 2 kB where PostgreSQL compresses, and every ListRecords page
    # decompresses them; lz4 does it faster (20,000 records: mods listed 29,000 ->
    # 33,500 records/s, marc21 about 6% faster) at about 10% more space. Values
    # written before keep pglz, readable as ever. A server without lz4 keeps pglz.
    """
    DO $$
    BEGIN
        EXECUTE 'ALTER TABLE rendered ALTER COLUMN xml SET COMPRESSION lz4';
    EXCEPTION WHEN syntax_error OR feature_not_supported OR invalid_parameter_value THEN
        RAISE NOTICE 'rendered.xml keeps the default compression: %', SQLERRM;
    END
    $$;
    """,
]

# Columns (and their types, for binary COPY) of the tables write() loads.
_RECORD_COLS = (("id", "bigint"), ("identifier", "text"), ("datestamp", "bigint"),
                ("seq", "bigint"), ("deleted", "boolean"), ("deleted_at", "bigint"),
                ("checksum", "bytea"), ("canonical_format", "text"), ("canonical", "bytea"),
                ("sets", "text[]"), ("about", "bytea"))
_CHANGE_COLS = (("id", "bigint"), ("datestamp", "bigint"), ("seq", "bigint"),
                ("deleted", "boolean"), ("checksum", "bytea"), ("canonical_format", "text"),
                ("canonical", "bytea"), ("sets", "text[]"), ("about", "bytea"))
_RENDERED_COLS = (("record_id", "bigint"), ("prefix", "text"), ("xml", "bytea"))
_MEMBER_COLS = (("set_spec", "text"), ("datestamp", "bigint"), ("seq", "bigint"),
                ("record_id", "bigint"))
_TEXT_COLS = (("record_id", "bigint"), ("idx", "text"), ("tsv", "tsvector"))
_KEY_COLS = (("idx", "text"), ("key", "text"), ("record_id", "bigint"), ("display", "text"))
MAX_EXPANSION = 2000
"""At most this many indexed words for one masked term (else PlanTooBroad)."""


def split_schema(url: str) -> tuple[str, str | None]:
    """``postgresql://h/db?schema=s&sslmode=…`` → (URL without ``schema``, ``"s"``).

    ``schema`` is ours, not libpq's, so it is taken out before connecting.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema or None


class PostgresRepository:
    """A :class:`~thuvien_interop.store.base.Repository` in a PostgreSQL database.

    Safe to share between threads (one connection per thread) and between
    processes and machines: writers take a transaction-scoped advisory lock, so
    change sequence numbers are committed in the order they were drawn and a
    harvester reading after a key never skips a record committed late.

        >>> store = PostgresRepository("postgresql://postgres@127.0.0.1/test")  # doctest: +SKIP
        >>> store.count(ListQuery(prefix="oai_dc"))                            # doctest: +SKIP
        0
    """

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        conninfo, url_schema = split_schema(url)
        self.schema = schema or url_schema
        self._conninfo = conninfo
        self.url = url
        self.batch_size = BATCH
        self.copy_threshold = COPY_THRESHOLD
        self._lock = threading.Lock()
        self._reset()
        self._migrate()

    # -- connections -------------------------------------------------------------
    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()
        self._all: list[psycopg.Connection] = []

    def _where_am_i(self) -> str:
        try:
            d = psycopg.conninfo.conninfo_to_dict(self._conninfo)
        except psycopg.ProgrammingError:
            return "PostgreSQL"
        where = f"{d.get('host') or 'localhost'}:{d.get('port') or 5432}/{d.get('dbname') or ''}"
        return where + (f" (schema {self.schema})" if self.schema else "")

    def _conn(self) -> psycopg.Connection:
        if os.getpid() != self._pid:
            # A forked worker (gunicorn) must not use its parent's sockets: drop
            # them without closing, which would end the parent's sessions too.
            self._reset()
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True,
                                       application_name="thuvien-interop")
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to the PostgreSQL store {self._where_am_i()}: "
                                 f"{str(exc).strip()}") from exc
            if self.schema:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            self._local.conn = conn
            self._local.staging = False
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            if os.getpid() == self._pid:
                for conn in self._all:
                    try:
                        conn.close()
                    except psycopg.Error:
                        pass
            self._all.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        conn = self._conn()
        try:
            with conn.transaction():
                # Several workers may open a new store at once: one migrates, the
                # others wait and then find it done.
                conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                             (_LOCK_MIGRATE, self.schema or ""))
                if self.schema:
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(self.schema)))
                conn.execute("CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)")
                row = conn.execute("SELECT value FROM meta WHERE key = %s",
                                   (SCHEMA_VERSION_KEY,)).fetchone()
                version = int(row[0]) if row else 0
                if version > len(MIGRATIONS):
                    raise StoreError(
                        f"the store {self._where_am_i()} has schema version {version}, newer "
                        f"than this thuvien-interop knows ({len(MIGRATIONS)}): upgrade thuvien-interop")
                for i in range(version, len(MIGRATIONS)):
                    conn.execute(MIGRATIONS[i])  # type: ignore[arg-type]  # no parameters: a script
                if version < len(MIGRATIONS):
                    self._put_meta(conn, SCHEMA_VERSION_KEY, str(len(MIGRATIONS)))
        except psycopg.Error as exc:
            raise StoreError(f"{self._where_am_i()} is not a thuvien-interop store or cannot be "
                             f"migrated: {str(exc).strip()}") from exc

    def schema_version(self) -> int:
        return int(self.get_meta(SCHEMA_VERSION_KEY) or 0)

    # -- meta ----------------------------------------------------------------------
    @staticmethod
    def _put_meta(conn: psycopg.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                     "SET value = excluded.value", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._put_meta(self._conn(), key, value)

    def setdefault_meta(self, key: str, value: str) -> str:
        conn = self._conn()
        conn.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING", (key, value))
        return conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()[0]

    # -- reading -------------------------------------------------------------------
    def info(self) -> RepositoryInfo:
        earliest, total, deleted = self._conn().execute(
            "SELECT min(datestamp), count(*), count(*) FILTER (WHERE deleted) FROM records").fetchone()
        return RepositoryInfo(earliest, total, deleted)

    def prefixes(self, identifier: str | None = None) -> list[str] | None:
        conn = self._conn()
        if identifier is None:
            return [r[0] for r in conn.execute("SELECT DISTINCT prefix FROM rendered ORDER BY prefix")]
        row = conn.execute("SELECT id FROM records WHERE identifier = %s", (identifier,)).fetchone()
        if row is None:
            return None
        return [r[0] for r in conn.execute(
            "SELECT prefix FROM rendered WHERE record_id = %s ORDER BY prefix", (row[0],))]

    def sets(self, after: str | None, limit: int) -> list[Set]:
        rows = self._conn().execute(
            "SELECT spec, name, description FROM sets WHERE spec > %s ORDER BY spec LIMIT %s", (after or "", limit))
        return [Set(*r) for r in rows]

    def put_sets(self, sets: Iterable[Set]) -> None:
        rows = [(s.spec, s.name, s.description) for s in sets]
        conn = self._conn()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO sets VALUES (%s, %s, %s) ON CONFLICT (spec) DO UPDATE "
                            "SET name = excluded.name, description = excluded.description", rows)

    def _select(self, q: ListQuery, after: Key | None, limit: int | None,
                metadata: bool, count: bool) -> tuple[str, list[object]]:
        return keyset.list_sql(keyset.POSTGRES, q, after, limit, metadata=metadata, count=count)

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        text, args = self._select(q, after, limit, metadata, False)
        return [self._item(row) for row in self._conn().execute(text, args)]  # type: ignore[call-overload]

    def iter(self, q: ListQuery, *, metadata: bool = True, batch: int = 1000) -> Iterator[Item]:
        """Every item of a list, page after page (for exports and re-rendering)."""
        return keyset.iterate(lambda after, n: self.list(q, after, n, metadata=metadata), batch)

    @staticmethod
    def _item(row: Sequence) -> Item:
        identifier, datestamp, seq, deleted, sets, about, xml = row
        header = Header(identifier, datestamp, tuple(sets or ()), bool(deleted))
        return Item(header, (datestamp, seq), None if deleted else xml, about)

    def count(self, q: ListQuery) -> int:
        text, args = self._select(q, None, None, False, True)
        return self._conn().execute(text, args).fetchone()[0]  # type: ignore[call-overload,index]

    def get(self, identifier: str, prefix: str | None = None) -> Item | None:
        conn = self._conn()
        if prefix is None:
            row = conn.execute(
                "SELECT identifier, datestamp, seq, deleted, sets, about, NULL::bytea FROM records "
                "WHERE identifier = %s", (identifier,)).fetchone()
        else:
            row = conn.execute(
                "SELECT r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about, x.xml "
                "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = %s "
                "WHERE r.identifier = %s", (prefix, identifier)).fetchone()
        return self._item(row) if row else None

    def canonical(self, identifier: str) -> tuple[str, bytes] | None:
        row = self._conn().execute(
            "SELECT canonical_format, canonical FROM records WHERE identifier = %s AND NOT deleted",
            (identifier,)).fetchone()
        return (row[0], row[1]) if row else None

    # -- writing -------------------------------------------------------------------
    def write(self, records: Iterable[Record], *, now: int | None = None) -> WriteSummary:
        summary = WriteSummary()
        batch: dict[str, Record] = {}
        for record in records:
            # A batch holds each identifier once; a repeat starts a new batch so the
            # later record is compared with the earlier one, as a second write would be.
            if record.identifier in batch or len(batch) >= self.batch_size:
                summary += self._write_batch(list(batch.values()), now)
                batch = {}
            batch[record.identifier] = record
        if batch:
            summary += self._write_batch(list(batch.values()), now)
        return summary

    def _write_batch(self, batch: list[Record], now: int | None) -> WriteSummary:
        conn = self._conn()
        summary = WriteSummary()
        try:
            with conn.transaction():
                # Serialise writers: seq values are drawn and committed in one order,
                # so a reader past key K never later finds a new row below K.
                conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                             (_LOCK_WRITE,))
                stamp = now
                if stamp is None:
                    # Datestamps never go backwards, even when the machines writing
                    # disagree about the time: a harvester's from= must find them.
                    latest = conn.execute("SELECT max(datestamp) FROM records").fetchone()[0]
                    stamp = max(dates.now(), latest or 0)
                existing = {
                    ident: (rid, bytes(digest), tuple(sets or ()))
                    for ident, rid, digest, sets in conn.execute(
                        "SELECT identifier, id, checksum, sets FROM records WHERE identifier = ANY(%s)",
                        ([r.identifier for r in batch],))
                }
                changed: list[tuple[Record, bytes]] = []
                for record in batch:
                    digest = checksum(record)
                    old = existing.get(record.identifier)
                    if old is not None and old[1] == digest:
                        summary.unchanged += 1
                    else:
                        changed.append((record, digest))
                if not changed:
                    return summary
                seqs = self._draw(conn, "record_seq", len(changed))
                new_ids = iter(self._draw(conn, "record_ids",
                                          sum(r.identifier not in existing for r, _ in changed)))
                inserts: list[tuple] = []
                updates: list[tuple] = []
                rendered: list[tuple] = []
                members: list[tuple] = []
                written: list[tuple[int, Record]] = []
                for (record, digest), seq in zip(changed, seqs, strict=True):
                    sets = expand_set_specs(record.sets)
                    old = existing.get(record.identifier)
                    if old is None:
                        rid = next(new_ids)
                        inserts.append((rid, record.identifier, stamp, seq, record.deleted,
                                        stamp if record.deleted else None, digest,
                                        record.canonical_format,
                                        None if record.deleted else record.canonical,
                                        list(sets), record.about))
                    else:
                        rid = old[0]
                        if record.deleted and not sets:
                            # A deletion that names no sets keeps the record's sets, so
                            # set-filtered harvesters still learn of it (§2.5.1).
                            sets = old[2]
                        updates.append((rid, stamp, seq, record.deleted, digest,
                                        record.canonical_format, record.canonical, list(sets),
                                        record.about))
                    if record.deleted:
                        summary.deleted += 1
                    elif old is None:
                        summary.added += 1
                    else:
                        summary.updated += 1
                    if not record.deleted:
                        rendered.extend((rid, p, x) for p, x in record.rendered.items())
                    members.extend((s, stamp, seq, rid) for s in sets)
                    written.append((rid, record))
                self._load(conn, "records", _RECORD_COLS, inserts)
                if updates:
                    self._apply_updates(conn, updates)
                self._load(conn, "rendered", _RENDERED_COLS, rendered)
                self._load(conn, "set_members", _MEMBER_COLS, members)
                self._after_write(conn, written, stamp, [u[0] for u in updates])
                if now is None and written:
                    self._restamp(conn, stamp, [rid for rid, _ in written])
        except psycopg.Error as exc:
            raise StoreError(f"writing to {self._where_am_i()} failed: {str(exc).strip()}") from exc
        return summary

    @staticmethod
    def _restamp(conn: psycopg.Connection, stamp: int, ids: list[int]) -> None:
        """Move the batch's datestamp to the second it commits in, as the SQLite
        store does (see there): a harvester answered during the batch then finds
        it from its responseDate on."""
        final = dates.now()
        if final <= stamp:
            return
        conn.execute("UPDATE records SET datestamp = %s, deleted_at = CASE WHEN deleted "
                     "THEN %s ELSE deleted_at END WHERE id = ANY(%s)", (final, final, ids))
        conn.execute("UPDATE set_members SET datestamp = %s WHERE record_id = ANY(%s)", (final, ids))

    @staticmethod
    def _draw(conn: psycopg.Connection, sequence: str, n: int) -> list[int]:
        if n == 0:
            return []
        rows = conn.execute(
            sql.SQL("SELECT nextval({}) FROM generate_series(1, %s)").format(sql.Literal(sequence)),
            (n,)).fetchall()
        return sorted(r[0] for r in rows)

    def _load(self, conn: psycopg.Connection, table: str,
              columns: tuple[tuple[str, str], ...], rows: list[tuple]) -> None:
        """Insert rows: COPY (binary) for a big batch, a pipelined executemany else."""
        if not rows:
            return
        names = sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)
        # psycopg has no binary form of tsvector: those tables go as text.
        binary = all(t != "tsvector" for _, t in columns)
        with conn.cursor() as cur:
            if len(rows) >= self.copy_threshold:
                stmt = sql.SQL("COPY {} ({}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
                               ).format(sql.Identifier(table), names)
                with cur.copy(stmt) as copy:
                    if binary:
                        copy.set_types([t for _, t in columns])
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = sql.SQL(", ").join(
                    sql.SQL("%s::tsvector") if t == "tsvector" else sql.Placeholder()
                    for _, t in columns)
                cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table), names, marks), rows)

    def _apply_updates(self, conn: psycopg.Connection, updates: list[tuple]) -> None:
        if not getattr(self._local, "staging", False):
            # Per session, emptied at every commit: the staging area of changed rows.
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _thuvien_changes (id bigint, datestamp bigint, "
                "seq bigint, deleted boolean, checksum bytea, canonical_format text, "
                "canonical bytea, sets text[], about bytea) ON COMMIT DELETE ROWS")
            self._local.staging = True
        self._load(conn, "_thuvien_changes", _CHANGE_COLS, updates)
        # A deletion keeps identifier, datestamp and sets (and the canonical record,
        # for undeletion and audit); its formats go.
        conn.execute(
            "UPDATE records r SET datestamp = s.datestamp, seq = s.seq, deleted = s.deleted, "
            "deleted_at = CASE WHEN s.deleted THEN s.datestamp END, checksum = s.checksum, "
            "canonical_format = CASE WHEN s.deleted THEN r.canonical_format ELSE s.canonical_format END, "
            "canonical = CASE WHEN s.deleted THEN r.canonical ELSE s.canonical END, "
            "sets = s.sets, about = s.about FROM _thuvien_changes s WHERE r.id = s.id")
        ids = [u[0] for u in updates]
        conn.execute("DELETE FROM rendered WHERE record_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM set_members WHERE record_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM _thuvien_changes")

    def _after_write(self, conn: psycopg.Connection, written: list[tuple[int, Record]],
                     stamp: int, updated: list[int]) -> None:
        """The search indexes of the records just written, in the same transaction;
        a deleted record is in no index."""
        if updated:
            conn.execute("DELETE FROM search_text WHERE record_id = ANY(%s)", (updated,))
            conn.execute("DELETE FROM search_keys WHERE record_id = ANY(%s)", (updated,))
        texts: list[tuple] = []
        keys: list[tuple] = []
        vocabulary: set[str] = set()
        modified = dates.format_utc(stamp)
        for rid, record in written:
            if record.deleted:
                continue
            for name, text, entries in search_plan.record_entries(record, modified):
                if text:
                    texts.append((rid, name, _tsvector(text, vocabulary)))
                keys.extend((name, k, rid, d) for k, d in entries)
        self._load(conn, "search_text", _TEXT_COLS, texts)
        self._load(conn, "search_keys", _KEY_COLS, keys)
        if vocabulary:
            conn.execute("INSERT INTO search_words SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                         (sorted(vocabulary),))

    def reindex(self, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
        """Replace the search entries of existing records (identifier, ``Record.index``)
        without touching the records or their datestamps; returns how many were
        reindexed (after an index profile changed)."""
        conn = self._conn()
        done = 0
        batch: dict[str, dict[str, list[str]]] = {}

        def flush() -> None:
            nonlocal done
            with conn.transaction():
                rows = conn.execute(
                    "SELECT identifier, id, deleted, datestamp FROM records WHERE identifier = ANY(%s)",
                    (list(batch),)).fetchall()
                by_stamp: dict[int, list[tuple[int, Record]]] = {}
                for identifier, rid, deleted, stamp in rows:
                    record = Record(identifier, deleted=bool(deleted), index=batch[identifier])
                    by_stamp.setdefault(stamp, []).append((rid, record))
                for stamp, written in by_stamp.items():
                    self._after_write(conn, written, stamp, [rid for rid, _ in written])
                done += len(rows)
            batch.clear()

        try:
            for identifier, index in entries:
                batch[identifier] = index
                if len(batch) >= 1000:
                    flush()
            if batch:
                flush()
        except psycopg.Error as exc:
            raise StoreError(f"reindexing {self._where_am_i()} failed: {str(exc).strip()}") from exc
        return done

    # -- search (the contract is in store/base.py and store/search_plan.py) ----------
    def search(self, plan: search_plan.Plan, start: int, limit: int, *,
               prefix: str | None = None) -> search_plan.SearchPage:
        conn = self._conn()
        compiler = _Compiler(conn)
        ids_sql, args = compiler.node(plan.root)
        if ids_sql is None:
            return search_plan.SearchPage(0, [])
        cols, order, where = ["h.id"], [], []
        sort_args: list[object] = []
        for i, spec in enumerate(plan.sort):
            agg = "max" if spec.descending else "min"
            cols.append(f"(SELECT {agg}(key) FROM search_keys WHERE idx = %s AND record_id = h.id) AS k{i}")
            sort_args.append(spec.index)
            if spec.missing == "omit":
                where.append(f"k{i} IS NOT NULL")
            null_first = (spec.missing == "low") != spec.descending
            order.append(f"k{i} IS {'NOT ' if null_first else ''}NULL")
            order.append(f"k{i}{' DESC' if spec.descending else ''}")
        select = f"SELECT {', '.join(cols)} FROM ({ids_sql}) h"
        all_args = sort_args + args
        if not plan.sort:
            score_sql, score_args = compiler.score(plan.root)
            if score_sql:
                select = (f"SELECT h.id, s.score FROM ({ids_sql}) h LEFT JOIN ({score_sql}) s "
                          "ON s.id = h.id")
                all_args = args + score_args
                order = ["score IS NULL", "score DESC"]
        outer = f"SELECT * FROM ({select}) o" + (f" WHERE {' AND '.join(where)}" if where else "")
        total = conn.execute(f"SELECT count(*) FROM ({outer}) c", all_args).fetchone()[0]  # type: ignore[index]
        if limit <= 0 or start > total:
            return search_plan.SearchPage(total, [])
        # Relevance ties go to the record written first (ids grow with first writes).
        order_sql = ", ".join(order + ["id"])
        ids = [r[0] for r in conn.execute(
            f"{outer} ORDER BY {order_sql} LIMIT %s OFFSET %s",
            all_args + [limit, max(start - 1, 0)])]
        return search_plan.SearchPage(total, self._items_by_id(conn, ids, prefix))

    def _items_by_id(self, conn: psycopg.Connection, ids: list[int], prefix: str | None) -> list[Item]:
        if not ids:
            return []
        rows = conn.execute(
            "SELECT r.id, r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about, x.xml "
            "FROM records r LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = %s "
            "WHERE r.id = ANY(%s)", (prefix or "", ids)).fetchall()
        by_id = {row[0]: self._item(row[1:]) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def scan(self, index: str, start: str, position: int, count: int) -> list[search_plan.ScanTerm]:
        if count <= 0:
            return []
        conn = self._conn()
        text = ("SELECT key, min(display), count(*) FROM search_keys WHERE idx = %s AND key {} %s "
                "GROUP BY key ORDER BY key {} LIMIT %s")
        before = conn.execute(text.format("<", "DESC"),  # type: ignore[call-overload]
                              (index, start, max(position - 1, 0))).fetchall()
        before.reverse()
        after = conn.execute(text.format(">=", "ASC"),  # type: ignore[call-overload]
                             (index, start, count - len(before))).fetchall()
        return [search_plan.ScanTerm(*row) for row in before + after][:count]

    # -- leases (several harvesters sharing one provider list) ---------------------
    def lease(self, name: str, holder: str, seconds: int, *, now: int | None = None) -> bool:
        """Take or renew the lease on ``name`` for ``seconds``; False if another
        holder's lease has not expired. A node that dies loses its leases when they
        expire, so no coordinator is needed.

            >>> store.lease("provider:daklak", "node-1:4711", 600)   # doctest: +SKIP
            True
        """
        t = dates.now() if now is None else now
        row = self._conn().execute(
            "INSERT INTO leases AS l (name, holder, expires) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
            "WHERE l.expires <= %s OR l.holder = excluded.holder RETURNING name",
            (name, holder, t + seconds, t)).fetchone()
        return row is not None

    def claim(self, names: Sequence[str], holder: str, seconds: int, *,
              now: int | None = None) -> str | None:
        """Lease the first of ``names`` (in the order given) that nobody holds, or
        None when all are held. Claimers never wait on each other (``FOR UPDATE SKIP
        LOCKED``), so adding a node adds capacity.

            >>> store.claim(["provider:a", "provider:b"], "node-2:99", 600)   # doctest: +SKIP
            'provider:b'
        """
        if not names:
            return None
        t = dates.now() if now is None else now
        conn = self._conn()
        with conn.transaction():
            # Sorted, so concurrent claimers insert in one order and cannot deadlock.
            conn.execute("INSERT INTO leases (name) SELECT unnest(%s::text[]) "
                         "ON CONFLICT (name) DO NOTHING", (sorted(set(names)),))
            row = conn.execute(
                "SELECT name FROM leases WHERE name = ANY(%s) AND expires <= %s "
                "ORDER BY array_position(%s::text[], name) LIMIT 1 FOR UPDATE SKIP LOCKED",
                (list(names), t, list(names))).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE leases SET holder = %s, expires = %s WHERE name = %s",
                         (holder, t + seconds, row[0]))
            return row[0]

    def release(self, name: str, holder: str) -> bool:
        """Give a lease back early; False if ``holder`` does not hold it."""
        row = self._conn().execute(
            "UPDATE leases SET holder = NULL, expires = 0 WHERE name = %s AND holder = %s "
            "RETURNING name", (name, holder)).fetchone()
        return row is not None

    def lease_holder(self, name: str, *, now: int | None = None) -> str | None:
        """Who holds an unexpired lease on ``name`` (None if nobody)."""
        t = dates.now() if now is None else now
        row = self._conn().execute(
            "SELECT holder FROM leases WHERE name = %s AND expires > %s", (name, t)).fetchone()
        return row[0] if row else None


def _tsvector(text: str, vocabulary: set[str]) -> str:
    """Folded words (values separated by VALUE_SEPARATOR) → a tsvector literal with
    our own positions: the separator takes a position and is not a lexeme, so a
    phrase never runs across two values and a value boundary counts as one word."""
    positions: dict[str, list[str]] = {}
    for pos, word in enumerate(text.split(), start=1):
        if word != search_plan.VALUE_SEPARATOR:
            # Positions stop at 16383 in a tsvector; later words share the last one.
            positions.setdefault(word, []).append(str(min(pos, 16383)))
    vocabulary.update(positions)
    # Words are letters and digits only (search_plan.words), so need no escaping.
    return " ".join(f"'{w}':{','.join(p)}" for w, p in positions.items())


def _glob_regex(pattern: str) -> tuple[str, str]:
    """A search_plan glob → (anchored POSIX regex, its literal leading part)."""
    out, lead, leading = ["^"], [], True
    for kind, text in search_plan.iter_terms(pattern):
        if kind == "literal":
            out.append("".join(c if c.isalnum() else "\\" + c for c in text))
            if leading:
                lead.append(text)
        else:
            leading = False
            out.append(".*" if kind == "many" else ".")
    return "".join(out) + "$", "".join(lead)


class _Compiler:
    """A plan node → a SELECT of record ids (column ``id``), or None when it can
    match nothing; and the relevance score of its positive full-text leaves."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def expand(self, term: search_plan.Term) -> list[str]:
        """The indexed words a masked term stands for (at most MAX_EXPANSION)."""
        regex, lead = _glob_regex(term.text)
        parts = list(search_plan.iter_terms(term.text))
        if lead:
            rows = self.conn.execute(
                "SELECT word FROM search_words WHERE word >= %s AND word < %s AND word ~ %s "
                "LIMIT %s", (lead, lead + "\U0010ffff", regex, MAX_EXPANSION + 1))
        elif parts and parts[-1][0] == "literal":
            # Left truncation: the reversed-word index makes "*noi" a range scan on "ion".
            tail = parts[-1][1][::-1]
            rows = self.conn.execute(
                'SELECT word FROM search_words WHERE reverse(word) COLLATE "C" >= %s '
                'AND reverse(word) COLLATE "C" < %s AND word ~ %s LIMIT %s',
                (tail, tail + "\U0010ffff", regex, MAX_EXPANSION + 1))
        else:
            raise search_plan.PlanTooBroad(term.text)
        found = [r[0] for r in rows]
        if len(found) > MAX_EXPANSION:
            raise search_plan.PlanTooBroad(term.text)
        return found

    def phrase(self, p: search_plan.Phrase) -> str | None:
        """A tsquery for a phrase, or None when a masked term matches no word."""
        parts: list[str] = []
        for t in p.terms:
            if t.kind == "word":
                parts.append(f"'{_lexeme(t.text)}'")
            elif t.kind == "prefix":
                parts.append(f"'{_lexeme(t.text)}':*")
            else:
                words = self.expand(t)
                if not words:
                    return None
                parts.append("(" + " | ".join(f"'{_lexeme(w)}'" for w in words) + ")")
        if not parts:
            return None
        return "(" + " <-> ".join(parts) + ")"

    def query(self, node: search_plan.Phrase | search_plan.Near) -> str | None:
        if isinstance(node, search_plan.Phrase):
            return self.phrase(node)
        left, right = self.phrase(node.left), self.phrase(node.right)
        if left is None or right is None:
            return None
        # <d> is an exact distance: at most max_between words between, either order.
        alternatives = [f"({a} <{d}> {b})" for d in range(1, node.max_between + 2)
                        for a, b in ((left, right), (right, left))]
        if len(alternatives) > MAX_EXPANSION:
            raise search_plan.PlanTooBroad("prox")
        return "(" + " | ".join(alternatives) + ")"

    @staticmethod
    def _text_match(index: str | None, tsquery: str) -> tuple[str, list[object]]:
        if index is None:
            return "tsv @@ %s::tsquery", [tsquery]
        return "idx = %s AND tsv @@ %s::tsquery", [index, tsquery]

    def node(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]]:
        if isinstance(node, search_plan.Phrase | search_plan.Near):
            q = self.query(node)
            if q is None:
                return None, []
            cond, args = self._text_match(node.index, q)
            return f"SELECT DISTINCT record_id AS id FROM search_text WHERE {cond}", args
        if isinstance(node, search_plan.AllRecords):
            return "SELECT id FROM records WHERE NOT deleted", []
        if isinstance(node, search_plan.KeyMatch):
            if node.op == "glob":
                regex, lead = _glob_regex(node.value)
                return ("SELECT DISTINCT record_id AS id FROM search_keys WHERE idx = %s "
                        "AND key >= %s AND key < %s AND key ~ %s",
                        [node.index, lead, lead + "\U0010ffff", regex])
            op = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[node.op]
            return (f"SELECT DISTINCT record_id AS id FROM search_keys WHERE idx = %s AND key {op} %s",
                    [node.index, node.value])
        if isinstance(node, search_plan.And | search_plan.Or | search_plan.AndNot):
            return keyset.set_operation(node, self.node(node.left), self.node(node.right),
                                        aliases=True)
        raise TypeError(f"not a plan node: {node!r}")

    def score(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]]:
        """(SELECT id, score) summing ts_rank over the positive full-text leaves,
        length-normalised (flag 1) as bm25 is, or (None, []) when there are none."""
        parts: list[str] = []
        args: list[object] = []

        def walk(n: search_plan.PlanNode) -> None:
            if isinstance(n, search_plan.Phrase | search_plan.Near):
                q = self.query(n)
                if q is not None:
                    cond, a = self._text_match(n.index, q)
                    parts.append(f"SELECT record_id AS id, ts_rank(tsv, %s::tsquery, 1) AS r "
                                 f"FROM search_text WHERE {cond}")
                    args.extend([q, *a])
            elif isinstance(n, search_plan.And | search_plan.Or):
                walk(n.left)
                walk(n.right)
            elif isinstance(n, search_plan.AndNot):
                walk(n.left)

        walk(node)
        if not parts:
            return None, []
        return (f"SELECT id, sum(r) AS score FROM ({' UNION ALL '.join(parts)}) t GROUP BY id",
                args)


def _lexeme(word: str) -> str:
    # Query words come folded from search_plan; quotes and backslashes are doubled
    # all the same so that nothing a user types can break out of the lexeme.
    return word.replace("\\", "\\\\").replace("'", "''")


__all__ = ["MIGRATIONS", "PostgresRepository", "split_schema"]
