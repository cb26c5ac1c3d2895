"""Read-only adapters over a library's own database (Koha on MariaDB, any SQL schema).

A :class:`SQLSource` reads rows through a :class:`~.profile.SourceProfile` from
any SQLAlchemy Core URL (``mysql+pymysql://``, ``postgresql+psycopg://``,
``mssql+pyodbc://``, ``sqlite:///``). Two ways to publish them:

* **live** — :class:`LiveSourceRepository` satisfies the Repository protocol and
  queries the database per request, converting rows through our crosswalks;
  for small catalogues: nothing to copy, always current.
* **sync** — :func:`sync` copies what changed since the last run (and the
  deletions) into one of our stores; run it from cron or a systemd timer.

    >>> from thuvien_interop.store.profile import SourceProfile
    >>> src = SQLSource("mysql+pymysql://koha:pw@127.0.0.1/koha", SourceProfile.load("koha"))  # doctest: +SKIP
    >>> repo = LiveSourceRepository(src, "thuvien.example.vn")      # doctest: +SKIP
    >>> report = sync(src, open_store("sqlite:///thuvien.db"), "thuvien.example.vn")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pymarc

from .. import dates
from ..formats import FormatRegistry, default_registry
from ..ingest.loader import IdentifierRule
from ..model import Header, Item, ListQuery, Record, RepositoryInfo, Set, WriteSummary
from ..wording import Note
from .base import Key, StoreError
from .profile import SetRule, SourceProfile

if TYPE_CHECKING:
    pass

try:  # the 'sql' extra
    import sqlalchemy as sa
except ImportError:  # pragma: no cover - depends on the installation
    sa = None  # type: ignore[assignment]

_SECRET_KEY = "oai_token_secret"


class ReadOnlySource(StoreError):
    """A write was attempted on a live source: it is the library's database, not ours."""


@dataclass(slots=True)
class SourceRow:
    """One row of the records or deletions query."""

    id: Any
    datestamp: int
    deleted: bool
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, Any]:
        return (self.datestamp, self.id)


class SQLSource:
    """Reads records, deletions and sets from a database as a profile says.

    Every query of the profile becomes a derived table (``SELECT … FROM (<query>) r``)
    that this class filters, orders and pages by keyset on (datestamp, id): the
    last page costs what the first costs, and no ``OFFSET`` is ever used.
    """

    def __init__(self, url: str, profile: SourceProfile, *, engine: Any = None) -> None:
        if sa is None:
            raise StoreError("source adapters need SQLAlchemy: pip install 'thuvien-interop[sql]'")
        self.profile = profile
        try:
            self.engine = engine or sa.create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # noqa: BLE001 - a bad URL or a missing driver
            raise StoreError(f"cannot use the source {_hide(url)}: {exc}") from None
        self.url = url
        self.dialect = self.engine.dialect.name
        statements = profile.on_connect.get("*", []) + profile.on_connect.get(self.dialect, [])
        if self.dialect == "mariadb":
            statements += profile.on_connect.get("mysql", [])
        if statements:
            sa.event.listen(self.engine, "connect", _session_setup(statements))

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and meta keys."""
        return _hide(self.url)

    def close(self) -> None:
        self.engine.dispose()

    # -- SQL building ----------------------------------------------------------
    def _trunc(self, col: str) -> str:
        """The datestamp to whole seconds, so SQL order agrees with the (second, id) key."""
        if self.profile.whole_seconds or self.profile.datestamp_type == "epoch":
            return col
        d = self.dialect
        if d == "postgresql":
            return f"date_trunc('second', {col})"
        if d in ("mysql", "mariadb"):
            return f"({col} - INTERVAL MICROSECOND({col}) MICROSECOND)"
        if d == "mssql":
            return f"DATEADD(second, DATEDIFF(second, '2000-01-01', {col}), CAST('2000-01-01' AS datetime2(0)))"
        if d == "sqlite":
            return f"substr({col}, 1, 19)"
        return col

    def _limit(self, sql: str) -> str:
        if self.dialect == "mssql":
            return sql + " OFFSET 0 ROWS FETCH NEXT :limit ROWS ONLY"
        return sql + " LIMIT :limit"

    def to_param(self, seconds: int) -> Any:
        """UTC seconds as the database compares its datestamp column."""
        if self.profile.datestamp_type == "epoch":
            return seconds
        local = datetime.fromtimestamp(seconds, UTC).astimezone(self.profile.zone).replace(tzinfo=None)
        if self.dialect == "sqlite":
            return local.strftime("%Y-%m-%d %H:%M:%S")
        return local

    def from_value(self, value: Any) -> int:
        """A datestamp value read from the database as UTC seconds."""
        if value is None:
            raise StoreError("a row of the source has no datestamp (NULL): fix the profile's query")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            seconds = dates.parse_lenient(value, self.profile.zone)
            if seconds is None:
                raise StoreError(f"a row of the source has the datestamp {value!r}, which is not "
                                 "a date: fix the profile's query")
            return seconds
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.profile.zone)
        return int(value.timestamp() // 1)

    def _filters(self, q: ListQuery, after: tuple[int, Any] | None, deleted: bool,
                 params: dict[str, Any]) -> list[str] | None:
        """WHERE clauses on ``r``; None when the set cannot hold anything of this branch."""
        out: list[str] = []
        if q.from_ is not None:
            out.append("r.datestamp >= :from_")
            params["from_"] = self.to_param(q.from_)
        if q.until is not None:
            out.append("r.datestamp < :until_next")
            params["until_next"] = self.to_param(q.until + 1)
        if after is not None:
            # Whole-second comparisons on the raw column keep an index usable and
            # stay right when the column holds fractions of a second.
            out.append("(r.datestamp >= :a_next OR (r.datestamp >= :a_ts AND "
                       "r.datestamp < :a_next AND r.id > :a_id))")
            params.update(a_ts=self.to_param(after[0]), a_next=self.to_param(after[0] + 1),
                          a_id=after[1])
        if q.set:
            found = self._set_clause(q.set, deleted, params)
            if found is None:
                return None
            out.append(found)
        return out

    def _rule(self, spec: str) -> tuple[SetRule, str | None] | None:
        for rule in self.profile.sets:
            if spec == rule.spec:
                return rule, None
            if spec.startswith(rule.spec + ":"):
                return rule, spec[len(rule.spec) + 1:]
        return None

    def _set_clause(self, spec: str, deleted: bool, params: dict[str, Any]) -> str | None:
        found = self._rule(spec)
        if found is None:
            return None
        rule, value = found
        members = rule.deleted_members if deleted else rule.members
        if members is None:
            return None
        if value is None:
            return f"r.id IN (SELECT m.id FROM ({members}) m)"
        params["set_value"] = value
        return f"r.id IN (SELECT m.id FROM ({members}) m WHERE m.value = :set_value)"

    def _branch(self, deleted: bool) -> str | None:
        return self.profile.deleted if deleted else self.profile.records

    def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    # -- reading ---------------------------------------------------------------
    def page(self, q: ListQuery, after: tuple[int, Any] | None, limit: int) -> list[SourceRow]:
        """Up to ``limit`` rows (records and deletions merged) in key order after ``after``."""
        rows: list[SourceRow] = []
        for deleted in (False, True):
            base = self._branch(deleted)
            if base is None:
                continue
            params: dict[str, Any] = {"limit": limit}
            where = self._filters(q, after, deleted, params)
            if where is None:
                continue
            sql = f"SELECT r.* FROM ({base}) r"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += f" ORDER BY {self._trunc('r.datestamp')}, r.id"
            rows += [self._row(r, deleted) for r in self._run(self._limit(sql), params)]
        rows.sort(key=lambda r: r.key)
        return rows[:limit]

    def iter(self, q: ListQuery | None = None, *, batch: int = 500) -> Iterator[SourceRow]:
        """Every row of a list, page after page."""
        q = q or ListQuery()
        after = None
        while True:
            rows = self.page(q, after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].key

    def count(self, q: ListQuery) -> int:
        total = 0
        for deleted in (False, True):
            base = self._branch(deleted)
            if base is None:
                continue
            params: dict[str, Any] = {}
            where = self._filters(q, None, deleted, params)
            if where is None:
                continue
            sql = f"SELECT count(*) FROM ({base}) r" + (" WHERE " + " AND ".join(where) if where else "")
            total += int(self._run(sql, params)[0][0])
        return total

    def earliest(self) -> int | None:
        found: list[int] = []
        for deleted in (False, True):
            base = self._branch(deleted)
            if base is not None:
                value = self._run(f"SELECT min(r.datestamp) FROM ({base}) r", {})[0][0]
                if value is not None:
                    found.append(self.from_value(value))
        return min(found) if found else None

    def get(self, local_id: Any) -> SourceRow | None:
        """One record by id: the live row, else the deletion row."""
        for deleted in (False, True):
            base = self._branch(deleted)
            if base is None:
                continue
            sql = f"SELECT r.* FROM ({base}) r WHERE r.id = :id ORDER BY {self._trunc('r.datestamp')} DESC"
            rows = self._run(self._limit(sql), {"id": local_id, "limit": 1})
            if rows:
                return self._row(rows[0], deleted)
        return None

    def memberships(self, rows: list[SourceRow]) -> dict[tuple[bool, Any], list[str]]:
        """The setSpecs of each row, keyed by (deleted, id)."""
        out: dict[tuple[bool, Any], list[str]] = {}
        if not rows or not self.profile.sets:
            return out
        for deleted in (False, True):
            ids = list({r.id for r in rows if r.deleted == deleted})
            if not ids:
                continue
            for rule in self.profile.sets:
                members = rule.deleted_members if deleted else rule.members
                if members is None:
                    continue
                sql = sa.text(f"SELECT m.id, m.value FROM ({members}) m WHERE m.id IN :ids"
                              ).bindparams(sa.bindparam("ids", expanding=True))
                with self.engine.connect() as conn:
                    for rid, value in conn.execute(sql, {"ids": ids}):
                        spec = f"{rule.spec}:{value}" if value not in (None, "") else rule.spec
                        if _valid_spec(spec):
                            out.setdefault((deleted, rid), []).append(spec)
        return out

    def set_list(self) -> list[Set]:
        """Every set the profile defines, with the values found in the database."""
        out: dict[str, Set] = {}
        for rule in self.profile.sets:
            out[rule.spec] = Set(rule.spec, rule.name, rule.description)
            if rule.names:
                rows = self._run(f"SELECT n.value, n.name FROM ({rule.names}) n", {})
            else:
                rows = [(v, str(v)) for (v,) in self._run(
                    f"SELECT DISTINCT m.value FROM ({rule.members}) m", {})]
            for value, name in rows:
                if value in (None, ""):
                    continue
                spec = f"{rule.spec}:{value}"
                if _valid_spec(spec):
                    out[spec] = Set(spec, str(name or value))
        return [out[k] for k in sorted(out)]

    def ids(self) -> Iterator[Any]:
        """The id of every live record (for a full reconciliation)."""
        for row in self.iter(ListQuery()):
            if not row.deleted:
                yield row.id

    def _row(self, row: Any, deleted: bool) -> SourceRow:
        values = dict(row._mapping)
        rid = values.pop("id")
        stamp = self.from_value(values.pop("datestamp"))
        return SourceRow(rid, stamp, deleted, values)

    # -- rows to records -------------------------------------------------------
    def local_id(self, text: str) -> Any:
        """An id taken from an OAI identifier, typed as the database keeps it."""
        kind = self.profile.id_type
        if kind == "integer" or (kind == "auto" and text.isdigit()):
            try:
                return int(text)
            except ValueError:
                return None
        return text

    def to_marc(self, row: SourceRow) -> tuple[pymarc.Record | None, list[str]]:
        """The row's MARC record and what reading it noted (None with the reason when
        it cannot be read), in the language spoken."""
        fmt = self.profile.record_format
        if fmt == "columns":
            assert self.profile.columns is not None
            return self.profile.columns.row_to_marc(row.values, default_id=str(row.id))
        data = row.values.get("metadata")
        if data is None:
            return None, [Note("read.metadata-null")]
        if isinstance(data, str):
            data = data.encode("utf-8")
        if fmt == "marcxml":
            from ..ingest.marcxml import read_marcxml as reader
        else:
            from ..ingest.iso2709 import read_iso2709 as reader
        for result in reader(io.BytesIO(bytes(data))):
            if result.record is None:
                return None, [result.error or ""]
            assert isinstance(result.record, pymarc.Record)
            return result.record, list(result.warnings)
        return None, [Note("read.metadata-empty", format=fmt)]


def _session_setup(statements: list[str]):
    def setup(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            for stmt in statements:
                cur.execute(stmt)
        finally:
            cur.close()
        # A SET run inside the driver's implicit transaction would be undone by
        # the pool's rollback-on-return on PostgreSQL: make it stick.
        dbapi_conn.commit()

    return setup


def _valid_spec(spec: str) -> bool:
    from .profile import _SPEC

    return bool(_SPEC.match(spec))


def _hide(url: str) -> str:
    if sa is None:
        return url
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return url


class LiveSourceRepository:
    """A read-only :class:`~thuvien_interop.store.base.Repository` over a library's database.

    Each request queries the database and converts the rows it needs through our
    crosswalks; keys are (the row's datestamp in UTC seconds, its id). Identifiers
    are ``oai:<repository_id>:<id>``, the same as :func:`sync` writes, so a library
    can move from live to sync without its harvesters noticing.

        >>> repo = LiveSourceRepository(SQLSource(url, profile), "thuvien.example.vn")  # doctest: +SKIP
        >>> create_app(repo).run()                                                        # doctest: +SKIP
    """

    def __init__(self, source: SQLSource, repository_id: str, *,
                 registry: FormatRegistry | None = None) -> None:
        self.source = source
        self.rule = IdentifierRule(repository_id)
        self.registry = registry or default_registry()
        # Token secret derived from the source, so that every worker and every
        # restart over the same database accepts the same resumption tokens.
        secret = hashlib.blake2b(f"{source.url}\0{source.profile.name}".encode(), digest_size=32)
        self._meta: dict[str, str] = {_SECRET_KEY: secret.hexdigest()}

    # -- identifiers -----------------------------------------------------------
    def identifier(self, local: Any) -> str:
        return self.rule.identifier(str(local))

    def _local(self, identifier: str) -> Any:
        prefix = f"oai:{self.rule.repository_id}:"
        if not identifier.startswith(prefix):
            return None
        return self.source.local_id(unquote(identifier[len(prefix):]))

    # -- Repository ------------------------------------------------------------
    def info(self) -> RepositoryInfo:
        total = self.source.count(ListQuery())
        deleted = 0
        if self.source.profile.deleted:
            params: dict[str, Any] = {}
            deleted = int(self.source._run(
                f"SELECT count(*) FROM ({self.source.profile.deleted}) r", params)[0][0])
        return RepositoryInfo(self.source.earliest(), total, deleted)

    def prefixes(self, identifier: str | None = None) -> list[str] | None:
        if identifier is None:
            return [f.prefix for f in self.registry.all()]
        local = self._local(identifier)
        row = self.source.get(local) if local is not None else None
        if row is None:
            return None
        if row.deleted:
            return []
        record, _ = self.source.to_marc(row)
        if record is None:
            return []
        return sorted(self.registry.render_all(record, []))

    def sets(self, after: str | None, limit: int) -> list[Set]:
        return [s for s in self.source.set_list() if after is None or s.spec > after][:limit]

    def put_sets(self, sets: Iterable[Set]) -> None:
        raise ReadOnlySource("a live source is read-only: its sets come from the profile")

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        items: list[Item] = []
        cursor: Any = after
        while len(items) < limit:
            want = limit - len(items)
            rows = self.source.page(q, cursor, want)
            if not rows:
                break
            specs = self.source.memberships(rows)
            for row in rows:
                cursor = row.key
                item = self._item(row, specs.get((row.deleted, row.id), []), q.prefix,
                                  render=metadata)
                if item is not None:
                    items.append(item)
            if len(rows) < want:
                break
        return items

    def count(self, q: ListQuery) -> int:
        return self.source.count(q)

    def get(self, identifier: str, prefix: str | None = None) -> Item | None:
        local = self._local(identifier)
        row = self.source.get(local) if local is not None else None
        if row is None:
            return None
        specs = self.source.memberships([row]).get((row.deleted, row.id), [])
        item = self._item(row, specs, prefix, keep_unrenderable=True)
        return item

    def stored_records(self, identifiers: Iterable[str]) -> dict[str, Record]:
        # (One at a time: a library's own catalogue, whose pages show one record.)
        out: dict[str, Record] = {}
        for identifier in identifiers:
            item, stored = self.get(identifier), self.canonical(identifier)
            if item is not None and stored is not None:
                out[identifier] = Record(identifier, canonical=stored[1], canonical_format=stored[0],
                                         sets=tuple(item.header.sets))
        return out

    def canonical(self, identifier: str) -> tuple[str, bytes] | None:
        local = self._local(identifier)
        row = self.source.get(local) if local is not None else None
        if row is None or row.deleted:
            return None
        record, _ = self.source.to_marc(row)
        if record is None:
            return None
        from ..formats import canonical

        return canonical(record)

    def write(self, records: Iterable[Record], *, now: int | None = None,
              replace: bool = False, clusters: Any = None) -> WriteSummary:
        raise ReadOnlySource(
            "a live source is read-only: change records in the library system itself, or "
            "copy them into a store with 'thuvien-interop sync'")

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._meta[key] = value  # kept in memory: the library's database is never written

    def setdefault_meta(self, key: str, value: str) -> str:
        return self._meta.setdefault(key, value)

    def close(self) -> None:
        self.source.close()

    # -- rows to items ---------------------------------------------------------
    def _item(self, row: SourceRow, specs: list[str], prefix: str | None, *,
              render: bool = True, keep_unrenderable: bool = False) -> Item | None:
        from ..model import expand_set_specs

        header = Header(self.identifier(row.id), row.datestamp, expand_set_specs(specs), row.deleted)
        key = row.key
        if row.deleted or prefix is None:
            return Item(header, key)  # type: ignore[arg-type]
        record, _ = self.source.to_marc(row)
        if not render:
            # Headers only: a row that makes no record is left out, as from ListRecords,
            # without paying for the rendering.
            return Item(header, key) if record is not None else None  # type: ignore[arg-type]
        xml = None
        if record is not None:
            # Render every format: the registry offers no single-format call.
            xml = self.registry.render_all(record, []).get(prefix)
        if xml is None and not keep_unrenderable:
            return None  # like a stored record without this format: not in this list
        return Item(header, key, xml)  # type: ignore[arg-type]


# -- sync: the pipeline's door (thuvien_interop.pipeline.sources); these names stay
# here for the callers that know them.

def __getattr__(name: str) -> object:
    if name in ("sync", "sync_key", "SyncReport"):
        from ..pipeline import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LiveSourceRepository", "ReadOnlySource", "SQLSource", "SourceRow"]
