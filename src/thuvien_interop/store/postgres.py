"""The scale-out store: PostgreSQL through psycopg 3, for a union catalogue and
for several workers or machines sharing one store.

The store's logic is :mod:`.sql`'s, shared with SQLite; this dialect supplies the
connection, migrations, an advisory lock as the store's write lock, ids and change
sequence numbers from sequences, bulk load with COPY, and the search rows
(tsvector) with their compiler.

    >>> from thuvien_interop.store import open_store
    >>> from thuvien_interop.model import Record
    >>> store = open_store("postgresql://postgres@127.0.0.1/test?schema=union")  # doctest: +SKIP
    >>> store.write([Record("oai:x:1", b"<r/>", rendered={"oai_dc": b"<dc/>"})]).added  # doctest: +SKIP
    1

``?schema=NAME`` in the URL keeps the store in its own PostgreSQL schema (created
when missing), so one database can hold several stores.
"""

from __future__ import annotations

import functools
import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from ..model import Record
from ..wording import say
from . import keyset, search_plan
from .base import StoreUnavailable
from .sql import CHANGE_COLUMNS, KEY_COLUMNS, MAX_EXPANSION, Compiler, SQLStore, Txn

COPY_THRESHOLD = 200
"""Batches with at least this many rows for a table are loaded with COPY."""
RANK_LIMIT = 3000
"""Results of more records than this come in write order, unscored (as SQLite's
past its RANK_LIMIT): ts_rank costs ~3 µs a row for one word and ~70 µs for the
200 words of ``*ology``, 0.8 s over its 5,533 records of 50,000."""

# Advisory-lock classes (first key of pg_advisory_xact_lock(int, int)); the second
# key is a hash of the schema, so stores in different schemas do not wait on each other.
_LOCK_MIGRATE = 0x7476_0001
_LOCK_WRITE = 0x7476_0002
_LOCK_LEASE = 0x7476_0003

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
    # 4: each record's origin, so that the write transaction refuses an identifier
    # another origin holds (issue 12); a harvested record's is its provider set.
    """
    ALTER TABLE records ADD COLUMN origin text;
    UPDATE records SET origin = (SELECT min(s) FROM unnest(sets) s
                                 WHERE s LIKE 'source:%' AND strpos(substr(s, 8), ':') = 0);
    """,
    # 5: each record's OAI-PMH header kept rendered (store/headers.py), so that a
    # ListRecords page is a range scan and a join of stored fragments (issue 16);
    # the rows there are rendered by the migration itself (SQLStore._fill_headers).
    """
    ALTER TABLE records ADD COLUMN header text;
    """,
    # 6: the union's clusters (issue 15), written in the records' own write
    # transaction: each clustered record's facts and part, its keys, and each
    # part's cluster (see store/sql.py ClusterTables). No edges are kept.
    # (IF NOT EXISTS: a store rolled back to an older version runs it again.)
    """
    CREATE TABLE IF NOT EXISTS union_record (
        record text COLLATE "C" PRIMARY KEY,
        provider text NOT NULL,
        part bigint NOT NULL,
        alone boolean NOT NULL DEFAULT false,
        facts text NOT NULL
    );
    CREATE INDEX IF NOT EXISTS union_record_part ON union_record (part, alone, record);
    CREATE TABLE IF NOT EXISTS union_key (key text COLLATE "C" NOT NULL, record text COLLATE "C" NOT NULL,
                            PRIMARY KEY (key, record));
    CREATE INDEX IF NOT EXISTS union_key_record ON union_key (record);
    CREATE TABLE IF NOT EXISTS union_cluster (part bigint PRIMARY KEY, head text COLLATE "C" NOT NULL,
                                size integer NOT NULL);
    CREATE INDEX IF NOT EXISTS union_cluster_head ON union_cluster (head);
    CREATE INDEX IF NOT EXISTS union_cluster_size ON union_cluster (size, head);
    """,
    # 7: each clustered record's work (its part), by the record's id, kept with the
    # cluster tables: the readers' search and facets count works by one join on an
    # integer key (a record not in it is a work of its own). (Filled afresh: a store
    # rolled back to an older version, which did not keep it, runs it again.)
    """
    CREATE TABLE IF NOT EXISTS union_work (id bigint PRIMARY KEY, work bigint NOT NULL);
    CREATE INDEX IF NOT EXISTS union_work_work ON union_work (work);
    DELETE FROM union_work;
    INSERT INTO union_work (id, work)
        SELECT r.id, u.part FROM union_record u JOIN records r ON u.record = r.identifier COLLATE "C"
        WHERE u.part > 0 AND NOT u.alone;
    """,
    # 8: the deleted records by themselves: a list's completeListSize counts them
    # beside a format's rendered rows, and without this index that count read every
    # row of records (158 ms at 177,500 records, growing with the store).
    """
    CREATE INDEX IF NOT EXISTS records_deleted ON records (id) WHERE deleted;
    """,
    # 9: each format's rendered rows counted, kept by the write that adds or
    # removes them, in its transaction (writers take the store's write lock one at
    # a time): a whole list's completeListSize reads one row instead of counting an
    # index (~15 ms at 344,000 SQLite records, growing with the store). (Counted
    # afresh: a store rolled back to an older version, which did not keep it, runs
    # it again.)
    """
    CREATE TABLE IF NOT EXISTS rendered_counts (prefix text PRIMARY KEY, n bigint NOT NULL);
    DELETE FROM rendered_counts;
    INSERT INTO rendered_counts (prefix, n) SELECT prefix, count(*) FROM rendered GROUP BY prefix;
    """,
    # 10: the full text indexed by (index, words), not words alone (issue 16): a search
    # of one index (dc.title = history) read every index's rows holding the word from
    # the heap and threw the others away (20,000 LoC records: 7,028 rows, 2,493 heap
    # pages for 778 titles; title-word p95 322 ms at 177,500 records). GIN takes the
    # index name as a key of its own through btree_gin (a trusted extension of
    # PostgreSQL's contrib, created in public so that no store's schema owns it),
    # and the same index serves searches of every index. Where the extension cannot
    # be had, search_text keeps its one-column index. (IF NOT EXISTS: a store rolled
    # back to an older version runs it again.)
    """
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
            BEGIN
                CREATE EXTENSION btree_gin SCHEMA public;
            EXCEPTION WHEN unique_violation OR duplicate_object THEN
                NULL;  -- another store of this database created it meanwhile
            END;
        END IF;
        CREATE INDEX IF NOT EXISTS search_text_idx_tsv ON search_text USING gin (idx, tsv);
        DROP INDEX IF EXISTS search_text_tsv;
    EXCEPTION WHEN undefined_file OR insufficient_privilege OR invalid_schema_name
                   OR feature_not_supported OR undefined_object THEN
        RAISE NOTICE 'search_text keeps its one-column full-text index: %', SQLERRM;
    END
    $$;
    """,
]

# Column types, for binary COPY (one meaning per column name across the tables).
_TYPES = {"id": "bigint", "identifier": "text", "datestamp": "bigint", "seq": "bigint",
          "deleted": "boolean", "deleted_at": "bigint", "checksum": "bytea",
          "canonical_format": "text", "canonical": "bytea", "sets": "text[]", "about": "bytea",
          "origin": "text", "header": "text", "record_id": "bigint", "prefix": "text", "xml": "bytea",
          "set_spec": "text", "idx": "text", "tsv": "tsvector", "key": "text", "display": "text",
          "record": "text", "provider": "text", "part": "bigint", "alone": "boolean", "facts": "text",
          "head": "text", "size": "integer", "work": "bigint"}
_TEXT_COLUMNS = ("record_id", "idx", "tsv")


def split_schema(url: str) -> tuple[str, str | None]:
    """``postgresql://h/db?schema=s&sslmode=…`` → (URL without ``schema``, ``"s"``).

    ``schema`` is ours, not libpq's, so it is taken out before connecting.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema or None


def _hung_up(conn: psycopg.Connection) -> bool:
    """Whether the server closed an idle connection: its socket has something to
    read although no query runs (the server's farewell, or the end of the
    stream), and a query on it fails. One poll, no round trip, in the usual case."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False  # inside this thread's transaction: its statements say
    if conn.info.status == psycopg.pq.ConnStatus.BAD:
        return True
    try:
        fd = conn.fileno()
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            ready = bool(poller.poll(0))
        else:
            ready = bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError, psycopg.Error):
        return True
    if not ready:
        return False
    try:
        conn.execute("SELECT 1")  # a notice, say: the connection is fine
    except psycopg.Error:
        return True
    return False


def _reconnecting(method: Any) -> Any:
    """An operation done once more on a new connection when the connection it
    used turned out dead (a failover without a farewell); a store still out of
    reach is :class:`StoreUnavailable`. Only for operations safe to repeat (reads,
    upserts of one row)."""
    @functools.wraps(method)
    def read(self: PostgresRepository, *args: Any, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            try:
                return method(self, *args, **kwargs)
            except psycopg.OperationalError as exc:
                conn = getattr(self._local, "conn", None) or conn
                if conn is None or not self._lost(conn):
                    raise
                self._drop(conn)
                if attempt == 2:
                    raise StoreUnavailable(f"using {self._where()} failed, the connection was "
                                           f"lost: {str(exc).strip().splitlines()[0]}") from exc
        raise AssertionError("unreachable")
    return read


@functools.lru_cache(maxsize=512)
def _placeholders(text: str) -> str:
    return text.replace("?", "%s")


class PostgresRepository(SQLStore):
    """A :class:`~thuvien_interop.store.base.Repository` in a PostgreSQL database.

    Safe to share between threads (one connection per thread) and between
    processes and machines: writers take a transaction-scoped advisory lock, so
    change sequence numbers are committed in the order they were drawn and a
    harvester reading after a key never skips a record committed late, and
    everything a write decides is decided against what is committed.

        >>> store = PostgresRepository("postgresql://postgres@127.0.0.1/test")  # doctest: +SKIP
        >>> store.count(ListQuery(prefix="oai_dc"))                            # doctest: +SKIP
        0
    """

    keyset_dialect = keyset.POSTGRES
    db_errors = (psycopg.Error,)
    _lost_errors = (psycopg.OperationalError,)
    no_index = ""
    _as_cluster_key = ' COLLATE "C"'

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        super().__init__()
        conninfo, url_schema = split_schema(url)
        self.schema = schema or url_schema
        self._conninfo = conninfo
        self.url = url
        self.copy_threshold = COPY_THRESHOLD
        self._pid = os.getpid()
        self._migrate()

    # -- connections -------------------------------------------------------------
    def _conn(self) -> psycopg.Connection:
        if os.getpid() != self._pid:
            # A forked worker (gunicorn) must not use its parent's sockets: drop
            # them without closing, which would end the parent's sessions too.
            self._pid = os.getpid()
            self._local = threading.local()
            self._all = []
        conn = getattr(self._local, "conn", None)
        if conn is not None and (conn.closed or _hung_up(conn)):
            # The server went away while the connection was idle (restarted, a
            # backend terminated, an idle timeout): use a new one, so that the
            # request in hand is answered rather than failed.
            self._drop(conn)
        return super()._conn()

    def _lost(self, conn: Any) -> bool:
        return conn.closed or conn.info.status == psycopg.pq.ConnStatus.BAD

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._app_name)
        except psycopg.Error as exc:
            raise StoreUnavailable(say("store.postgres-unreachable", where=self._where(),
                                       cause=" ".join(str(exc).split()))) from exc
        if self.schema:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        # Every statement planned for its own values: psycopg prepares a statement
        # run five times, and after five more PostgreSQL may keep a generic plan,
        # blind to the words searched (a one-word search at 20,000 LoC records:
        # 2-3 ms with its own plan, 108-136 ms with the generic one, from its
        # eleventh run on). Planning costs a fraction of a millisecond.
        conn.execute("SET plan_cache_mode = force_custom_plan")
        self._local.staging = False
        return conn

    @functools.cached_property
    def _app_name(self) -> dict[str, str]:
        # pg_stat_activity shows "thuvien-interop" unless the URL's
        # application_name or $PGAPPNAME names the process otherwise (a
        # deployment telling its harvester from its server, a test counting the
        # connections of the process it started).
        try:
            given = "application_name" in psycopg.conninfo.conninfo_to_dict(self._conninfo)
        except psycopg.ProgrammingError:
            given = False
        return {} if given or os.environ.get("PGAPPNAME") else {"application_name": "thuvien-interop"}

    def close(self) -> None:
        if os.getpid() != self._pid:
            self._all = []  # a forked child: the parent's sessions are not ours to end
        super().close()

    def _where(self) -> str:
        try:
            d = psycopg.conninfo.conninfo_to_dict(self._conninfo)
        except psycopg.ProgrammingError:
            return "PostgreSQL"
        where = f"{d.get('host') or 'localhost'}:{d.get('port') or 5432}/{d.get('dbname') or ''}"
        return where + (f" (schema {self.schema})" if self.schema else "")

    #: The tables whose statistics a large load refreshes: named, since a bare ANALYZE
    #: or VACUUM would visit every schema's tables in the database.
    _statistics_tables: ClassVar[str] = ", ".join((*SQLStore._read_tables, "search_text", "search_words"))

    def _analyze(self, conn: Any) -> None:
        conn.execute(f"ANALYZE {self._statistics_tables}")

    def _refresh_statistics(self) -> None:
        # VACUUM (ANALYZE), outside a transaction: besides the statistics, the
        # visibility map of the pages just written, without which an index-only scan
        # visits the table for every row (a province's works count at 50,000 records:
        # 478 ms before a vacuum, 37 ms after). Autovacuum would do it later (where it
        # is on at all); a vacuum skips pages already all-visible, so a small load
        # into a large store costs little.
        try:
            self._conn().execute(f"VACUUM (ANALYZE) {self._statistics_tables}")
        except psycopg.Error:
            # A vacuum is an optimisation: where it cannot run (another one holds
            # the table, the role may not), the statistics alone still help.
            super()._refresh_statistics()

    def _begin(self, conn: Any, lock: str | None) -> None:
        conn.execute("BEGIN")
        if lock == "migrate":
            # Several workers may open a new store at once: one migrates, the
            # others wait and then find it done.
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                         (_LOCK_MIGRATE, self.schema or ""))
        elif lock is not None:
            # Serialise writers: seq values are drawn and committed in one order, so
            # a reader past key K never later finds a new row below K; and every
            # decision of a write is taken against what is committed.
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                         (_LOCK_WRITE if lock == "write" else _LOCK_LEASE,))

    def _prepare(self, conn: Any) -> None:
        if self.schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        super()._prepare(conn)

    def _run_script(self, conn: Any, script: str) -> None:
        conn.execute(script)  # no parameters: a script

    def _q(self, text: str) -> str:
        return _placeholders(text)

    def _in(self, column: str, values: Any) -> tuple[str, list[object]]:
        return f"{column} = ANY(?)", [list(values)]

    def _many(self, conn: Any, text: str, rows: list[tuple]) -> None:
        with conn.cursor() as cur:
            cur.executemany(self._q(text), rows)

    def _page_rows(self, text: str, args: list[object]) -> list[Any]:
        # Binary results: the rendered XML comes as its bytes, not as hex text to
        # decode (20,000 LoC records, oai_dc pages of 500: 3.6 -> 1.6 µs of client
        # CPU a record read).
        return self._conn().execute(text, args, binary=True).fetchall()

    def _upsert(self, conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        # One statement over arrays, not a statement a row: a batch's cluster rows
        # in one round trip (the rows' first columns are distinct).
        if not rows:
            return
        arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(_TYPES[c])) for c in columns)
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        sets = sql.SQL(", ").join(sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                                  for c in columns[1:])
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT * FROM unnest({}) ON CONFLICT ({}) DO UPDATE SET {}")
                     .format(sql.Identifier(table), names, arrays, sql.Identifier(columns[0]), sets),
                     [list(col) for col in zip(*rows, strict=True)])

    def _sets_value(self, sets: tuple[str, ...]) -> list[str]:
        return list(sets)

    def _sets_of(self, value: Any) -> tuple[str, ...]:
        return tuple(value or ())

    def _new_ids(self, conn: Any, n: int) -> list[int]:
        return self._draw(conn, "record_ids", n)

    def _new_seqs(self, conn: Any, n: int) -> list[int]:
        return self._draw(conn, "record_seq", n)

    @staticmethod
    def _draw(conn: psycopg.Connection, sequence: str, n: int) -> list[int]:
        if n == 0:
            return []
        rows = conn.execute(
            sql.SQL("SELECT nextval({}) FROM generate_series(1, %s)").format(sql.Literal(sequence)),
            (n,)).fetchall()
        return sorted(r[0] for r in rows)

    def _load(self, conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert rows: COPY (binary) for a big batch, a pipelined executemany else."""
        if not rows:
            return
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        # psycopg has no binary form of tsvector: those tables go as text.
        binary = "tsv" not in columns
        with conn.cursor() as cur:
            if len(rows) >= self.copy_threshold:
                stmt = sql.SQL("COPY {} ({}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
                               ).format(sql.Identifier(table), names)
                with cur.copy(stmt) as copy:
                    if binary:
                        copy.set_types([_TYPES[c] for c in columns])
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = sql.SQL(", ").join(
                    sql.SQL("%s::tsvector") if c == "tsv" else sql.Placeholder() for c in columns)
                cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table), names, marks), rows)

    def _update_records(self, conn: Any, rows: list[tuple]) -> None:
        # Loaded into a staging table (COPY for big batches), applied by one UPDATE.
        if not getattr(self._local, "staging", False):
            # Per session, emptied at every commit.
            columns = ", ".join(f"{c} {_TYPES[c]}" for c in CHANGE_COLUMNS)
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS _thuvien_changes ({columns}) "
                         "ON COMMIT DELETE ROWS")
            self._local.staging = True
        self._load(conn, "_thuvien_changes", CHANGE_COLUMNS, rows)
        assignments = ", ".join(f"{c} = s.{c}" for c in CHANGE_COLUMNS[1:])
        conn.execute(f"UPDATE records r SET {assignments} FROM _thuvien_changes s WHERE r.id = s.id")
        conn.execute("DELETE FROM _thuvien_changes")

    # -- search rows -------------------------------------------------------------------
    def _idx(self, conn: Any, name: str) -> str:
        return name  # search_keys.idx holds the index's name

    def _index(self, txn: Txn, items: list[tuple[int, Record, str]]) -> None:
        texts: list[tuple] = []
        keys: list[tuple] = []
        vocabulary: set[str] = set()
        for rid, record, modified in items:
            for name, text, entries in search_plan.record_entries(record, modified):
                if text:
                    texts.append((rid, name, _tsvector(text, vocabulary)))
                keys.extend((name, k, rid, d) for k, d in entries)
        self._load(txn.conn, "search_text", _TEXT_COLUMNS, texts)
        self._load(txn.conn, "search_keys", KEY_COLUMNS, keys)
        if vocabulary:
            txn.conn.execute("INSERT INTO search_words SELECT unnest(%s::text[]) "
                             "ON CONFLICT DO NOTHING", (sorted(vocabulary),))

    def _unindex(self, conn: Any, ids: list[int]) -> None:
        if ids:
            conn.execute("DELETE FROM search_text WHERE record_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM search_keys WHERE record_id = ANY(%s)", (ids,))

    @contextmanager
    def _bounded(self, conn: Any, seconds: float) -> Iterator[None]:
        # One deadline for the block, not a timeout a statement: every statement
        # of the block runs through _BudgetedCursor, which gives it what is left.
        budget = _Budget(seconds)
        # A search is a few quick statements: JIT-compiling one that looks costly
        # (a 100-term AND's plan) took seconds longer than running it (4 s, 70 ms).
        # With the first statement_timeout, in the round trip that begins the
        # transaction (an ISBN search is five statements then, not seven: issue 16).
        conn = self._read_transaction(
            "SELECT set_config('jit', 'off', true), set_config('statement_timeout', "
            f"'{max(1, round(seconds * 1000))}', true)")
        budget.given = time.monotonic()
        previous = conn.cursor_factory
        conn.thuvien_budget = budget
        conn.cursor_factory = _BudgetedCursor
        try:
            yield
        except psycopg.errors.QueryCanceled as exc:
            raise search_plan.PlanTooSlow(seconds) from exc
        finally:
            conn.cursor_factory = previous
            conn.thuvien_budget = None
            # Reads only: rolled back, which also ends a transaction a cancelled
            # statement left aborted, so the connection serves the next request
            # (and the statement_timeout, SET LOCAL, goes with it).
            self._rollback(conn)

    @_reconnecting
    def _read_transaction(self, setup: str = "") -> Any:
        """This thread's connection in a new transaction, begun with the statement
        ``setup`` (no parameters) in the same round trip: a new connection when the
        one it had is gone without a farewell (a failover)."""
        conn = self._conn()
        conn.execute(f"BEGIN; {setup}" if setup else "BEGIN")
        return conn

    def _keys_of_matches(self, cond: str) -> str:
        # A join here is planned as a hash of the index's every key row (78,654 rows
        # for a 353-record result, 95 ms); a lateral subquery that cannot be pulled
        # up (OFFSET 0) reads each matching record's keys by search_keys_record.
        return ("FROM w CROSS JOIN LATERAL (SELECT k.idx, k.key FROM search_keys k "
                f"WHERE k.record_id = w.id AND {cond} OFFSET 0) k WHERE true")

    def _compiler(self, conn: Any) -> _TSQuery:
        return _TSQuery(self, conn)

    def _ranked(self, conn: Any, comp: Compiler, root: search_plan.PlanNode, ids_sql: str,
                args: list[object], start: int, limit: int) -> tuple[list[int], int]:
        """ts_rank summed over the positive full-text leaves (best first), records
        without a score after; relevance ties go to the record written first (ids
        grow with first writes); past RANK_LIMIT records, that order alone.

        One statement finds, counts and orders the page, and only the page comes
        back; where the hits are one index's rows (dc.title = history, and with
        keys beside it: dc.subject = history and dc.date >= 1990) each hit's score
        is read from the row that found it, not looked up again by record id
        (20,000 LoC records, the latter's 2,719 hits: 21,464 -> 10,993 buffers
        read; see _ranked_rows)."""
        assert isinstance(comp, _TSQuery)
        if limit <= 0:
            return [], conn.execute(self._q(f"SELECT count(*) FROM ({ids_sql}) c"),
                                    args).fetchone()[0]
        rows = comp.hit_rows(root)
        if rows is not None:
            found = self._ranked_rows(conn, *rows, start, limit)
        else:
            found = self._ranked_hits(conn, comp, root, ids_sql, args, start, limit)
        if found is None:
            # Past RANK_LIMIT hits of one index (known from its first RANK_LIMIT + 1
            # rows): record id order, the page and the count in one statement. (The
            # hits found apart from their order: asked for ids in order, the planner
            # walked the primary key of search_text for the index's every row and
            # tested its tsvector, 48,904 rows for 7,067 hits at 50,000 LoC records.)
            found = conn.execute(self._q(
                f"WITH h AS MATERIALIZED ({ids_sql}) "
                "SELECT id, count(*) OVER () FROM h ORDER BY id LIMIT ? OFFSET ?"),
                args + [limit, max(start - 1, 0)]).fetchall()
        if found:
            return [r[0] for r in found], found[0][1]
        # A page past the end: the count alone.
        return [], conn.execute(self._q(f"SELECT count(*) FROM ({ids_sql}) c"), args).fetchone()[0]

    def _ranked_rows(self, conn: Any, rows_sql: str, args: list[object], tsquery: str,
                     start: int, limit: int) -> list[tuple[int, int]] | None:
        """The page of hits that are rows of search_text (``rows_sql``: columns id,
        tsv; a record's one row of a named index), scored by ``tsquery`` as found:
        (id, hits) rows; None past RANK_LIMIT hits. The first RANK_LIMIT + 1 rows
        are kept with their tsvector and ranked only if they are all there are
        (the scores of every hit, as the general path sums them: each hit's one row
        matches its one positive leaf)."""
        # At least one row: the count beside the page's ids, or beside NULL (a page
        # past the end, or past RANK_LIMIT).
        found = conn.execute(self._q(
            f"WITH h AS MATERIALIZED (SELECT id, tsv FROM ({rows_sql}) r LIMIT ?), "
            "n AS MATERIALIZED (SELECT count(*) AS n FROM h) "
            "SELECT p.id, n.n FROM n LEFT JOIN LATERAL (SELECT id FROM h WHERE n.n <= ? "
            "ORDER BY ts_rank(tsv, ?::tsquery, 1) DESC, id LIMIT ? OFFSET ?) p ON true"),
            args + [RANK_LIMIT + 1, RANK_LIMIT, tsquery, limit, max(start - 1, 0)]).fetchall()
        if found[0][0] is not None:
            return found
        return None if found[0][1] > RANK_LIMIT else []

    def _ranked_hits(self, conn: Any, comp: _TSQuery, root: search_plan.PlanNode, ids_sql: str,
                     args: list[object], start: int, limit: int) -> list[tuple[int, int]]:
        """The page of any other search: (id, hits) rows. Every hit's id is kept
        (ids alone, whatever their number), counted, and, up to RANK_LIMIT of them,
        scored; past it no hit has a score and the order is the ids' alone, so
        that one statement answers either way (any-field history at 50,000 LoC
        records, 5,906 buffers a scan of its hits: three scans before, one now)."""
        # Up to RANK_LIMIT hits and their scores are ordered here, not joined in
        # SQL: the planner cannot see a tsquery (see _text_match), guesses a few
        # rows a side and joined them by nested loops, hits x scores comparisons
        # (dc.title = hist*ry, 1,859 records: 0.75 s; here 2 ms).
        # The hits and their scores stay in the database and only the page comes
        # back: the scored hits best first, then the others by id, with no join of
        # the two (a hashed NOT IN); not every hit's id read into Python, sent back
        # as an array for the scores and sorted here (dc.title = history, 778 hits
        # at 20,000 LoC records: 1.9 -> 0.23 ms of client CPU).
        ctes = [f"h AS MATERIALIZED (SELECT id FROM ({ids_sql}) h)",
                "n AS MATERIALIZED (SELECT count(*) AS n FROM h)"]
        cargs = list(args)
        score_sql, score_args = comp.score(root)
        if score_sql is None:
            ranked = "SELECT id, 1 AS part, NULL::real AS score FROM h"
        else:
            # Only the hits' scores: the positive leaves of "a and b and ..." match far
            # more records than the hits (each of 100 common words thousands); and
            # none past RANK_LIMIT hits (a one-time filter).
            ctes.append(f"s AS MATERIALIZED (SELECT id, score FROM ({score_sql}) s "
                        f"WHERE (SELECT n FROM n) <= {RANK_LIMIT} "
                        "AND id = ANY(ARRAY(SELECT id FROM h)))")
            cargs += score_args
            ranked = ("SELECT id, 0 AS part, score FROM s UNION ALL "
                      "SELECT id, 1, NULL FROM h WHERE id NOT IN (SELECT id FROM s)")
        return conn.execute(self._q(
            f"WITH {', '.join(ctes)} SELECT id, (SELECT n FROM n) FROM ({ranked}) p "
            "ORDER BY part, score DESC, id LIMIT ? OFFSET ?"),
            cargs + [limit, max(start - 1, 0)]).fetchall()


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


#: How stale the statement_timeout given to the last statement may be before the
#: next is given a new one: a search of many quick statements (a mask's words,
#: one a statement) pays one more round trip every 20 ms, not one a statement,
#: and runs past its deadline by 20 ms at most.
_BUDGET_SLACK = 0.02


class _Budget:
    """The deadline of a :meth:`PostgresStore.time_budget` block."""

    __slots__ = ("seconds", "deadline", "given")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.given = float("-inf")  # when statement_timeout was last set


class _BudgetedCursor(psycopg.Cursor):
    """A cursor whose statements share their block's deadline: before a statement
    statement_timeout is set, for the transaction (``set_config(..., true)``, the
    form of SET LOCAL that takes a parameter), to what is left of the budget, so
    a search of several statements is bounded as a whole (a 1,000-term OR took
    23-25 s against a 10 s budget given to each statement). Past the deadline a
    statement is not sent at all."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> _BudgetedCursor:
        budget: _Budget | None = getattr(self.connection, "thuvien_budget", None)
        if budget is not None:
            now = time.monotonic()
            left = budget.deadline - now
            if left <= 0:
                raise search_plan.PlanTooSlow(budget.seconds)
            if now - budget.given > _BUDGET_SLACK:
                super().execute("SELECT set_config('statement_timeout', %s, true)",
                                (str(max(1, round(left * 1000))),))
                budget.given = now
        super().execute(query, params, prepare=prepare, binary=binary)
        return self


class _TSQuery(Compiler):
    """Full text in tsvector/tsquery, with the relevance score of the positive
    full-text leaves: a subtree of phrases on one index becomes one tsquery (as
    one FTS5 MATCH on SQLite), so that a 1,000-term OR is one GIN lookup, not a
    thousand subqueries joined by UNION (18 s at 50,000 records, issue 17)."""

    def __init__(self, store: Any, conn: Any) -> None:
        super().__init__(store, conn)
        self._expanded: dict[str, list[str]] = {}
        self._frequencies: dict[str, float] | None = None

    def rarity(self, node: search_plan.PlanNode) -> float:
        # The planner's own statistics of search_text.tsv (ANALYZE keeps the
        # frequencies of its commonest lexemes): a word not among them is rarer
        # than the rarest that is. Without statistics, unknown.
        if not isinstance(node, search_plan.Phrase):
            return float("inf")
        words = [t.text for t in node.terms if t.kind == "word"]
        if self._frequencies is None:
            row = self.conn.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = 'search_text' "
                "AND attname = 'tsv'").fetchone()
            elems, freqs = row if row is not None and row[0] else ([], [])
            self._frequencies = dict(zip(elems, freqs, strict=False))
        if not words or not self._frequencies:
            return float("inf")
        floor = min(self._frequencies.values()) / 2
        return min(self._frequencies.get(w, floor) for w in words)

    def key_glob(self, pattern: str) -> tuple[str, list[object]]:
        regex, lead = _glob_regex(pattern)
        return "k.key >= ? AND k.key < ? AND k.key ~ ?", [lead, lead + "\U0010ffff", regex]

    def _where(self, node: search_plan.PlanNode) -> tuple[str | None, list[object], bool] | None:
        """(condition on search_text rows, its arguments, whether it is on every
        index) of a full-text node, the condition None when nothing can match;
        None when ``node`` is not full text."""
        m = self.match(node)
        if m is None:
            return None
        index, q = m
        return (*(self._text_match(index, q) if q is not None else (None, [])), index is None)

    def text(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]] | None:
        if (w := self._where(node)) is None:
            return None
        cond, args, every = w
        if cond is None:
            return None, []
        # A named index has one row a record (the primary key): no DISTINCT needed.
        distinct = "DISTINCT " if every else ""
        return f"SELECT {distinct}record_id AS id FROM search_text WHERE {cond}", args

    def text_exists(self, node: search_plan.PlanNode, ref: str
                    ) -> tuple[str | None, list[object]] | None:
        if (w := self._where(node)) is None:
            return None
        cond, args, _ = w
        if cond is None:
            return None, []
        # OFFSET 0: not pulled up into a semi-join (which hashes every row the
        # part matches); a probe of the record's own rows by the primary key.
        return (f"EXISTS (SELECT 1 FROM search_text WHERE record_id = {ref} AND {cond} "
                "OFFSET 0)", args)

    def match(self, node: search_plan.PlanNode) -> tuple[str | None, str | None] | None:
        """(index, tsquery) when ``node`` is full text on one index, the tsquery None
        when it can match nothing; None when it is not full text. And/AndNot merge
        only on a named index (its row is the record's, there), Or anywhere."""
        if isinstance(node, search_plan.Phrase | search_plan.Near):
            return node.index, self.query(node)
        if not isinstance(node, search_plan.And | search_plan.Or | search_plan.AndNot):
            return None
        a, b = self.match(node.left), self.match(node.right)
        if a is None or b is None or a[0] != b[0]:
            return None
        if a[0] is None and not isinstance(node, search_plan.Or):
            return None
        qa, qb = a[1], b[1]
        if isinstance(node, search_plan.Or):
            return a[0], qa if qb is None else qb if qa is None else f"({qa} | {qb})"
        if isinstance(node, search_plan.AndNot):
            return a[0], qa if qa is None or qb is None else f"({qa} & !{qb})"
        return a[0], None if qa is None or qb is None else f"({qa} & {qb})"

    def expand(self, term: search_plan.Term) -> list[str]:
        """The indexed words a masked term stands for (at most MAX_EXPANSION); asked
        once a search (the count, the page and the score all need them)."""
        found = self._expanded.get(term.text)
        if found is None:
            found = self._expanded[term.text] = self._expand(term)
        return found

    def _expand(self, term: search_plan.Term) -> list[str]:
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
        # The tsquery comes from a subquery, which the planner cannot look into: it
        # estimates the match at 0.5% of the rows and reads the GIN index. Shown the
        # query, it sums the selectivity of every alternative: a masked term's 200
        # words came to "every row", and a sequential scan testing each row against
        # the 200-word tsquery (*ology, 50,000 records: 5.1 s instead of ~20 ms).
        if index is None:
            return "tsv @@ (SELECT ?::tsquery)", [tsquery]
        return "idx = ? AND tsv @@ (SELECT ?::tsquery)", [index, tsquery]

    def hit_rows(self, node: search_plan.PlanNode) -> tuple[str, list[object], str] | None:
        """(a SELECT of the hits' own search_text rows, columns id and tsv; its
        arguments; the tsquery that scores them) when every hit of ``node`` is one
        row of a named index: its full text alone, or narrowed by keys (checked on
        each row as :meth:`node` checks them). None otherwise (on every index a
        record's score sums several rows; booleans across indexes)."""
        keyed = self.keyed_text(node)
        text, checks = keyed if keyed is not None else (node, [])
        m = self.match(text)
        if m is None or m[0] is None or m[1] is None:
            return None
        cond, args = self._text_match(*m)
        rows, args = self.key_checked(f"SELECT record_id AS id, tsv FROM search_text WHERE {cond}",
                                      args, checks)
        return None if rows is None else (rows, args, m[1])

    def score(self, node: search_plan.PlanNode) -> tuple[str | None, list[object]]:
        """(SELECT id, score) summing ts_rank over the positive full-text leaves,
        length-normalised (flag 1) as bm25 is, or (None, []) when there are none."""
        def leaf(n: search_plan.PlanNode) -> tuple[str, list[object]] | None:
            m = self.match(n)
            if m is None:
                return None
            index, q = m
            if q is None:
                return "", []
            cond, args = self._text_match(index, q)
            return (f"SELECT record_id AS id, ts_rank(tsv, ?::tsquery, 1) AS r "
                    f"FROM search_text WHERE {cond}", [q, *args])

        parts = [p for p in self.positive(node, leaf) if p[0]]
        if not parts:
            return None, []
        union = " UNION ALL ".join(p[0] for p in parts)
        return (f"SELECT id, sum(r) AS score FROM ({union}) t GROUP BY id",
                [a for p in parts for a in p[1]])


def _lexeme(word: str) -> str:
    # Query words come folded from search_plan; quotes and backslashes are doubled
    # all the same so that nothing a user types can break out of the lexeme.
    return word.replace("\\", "\\\\").replace("'", "''")


for _name in ("info", "prefixes", "sets", "list", "count", "get", "canonical", "search", "scan",
              "get_meta", "set_meta", "setdefault_meta", "lease", "release", "lease_holder"):
    setattr(PostgresRepository, _name, _reconnecting(getattr(PostgresRepository, _name)))

__all__ = ["MIGRATIONS", "PostgresRepository", "split_schema"]
