"""The keyset listing both SQL stores share: one indexed range scan per page
(ARCHITECTURE.md, "Keyset pagination"), on ``records_key`` or, when a set is
asked for, on ``set_members``' primary key. Never OFFSET.

Only the SQL dialect differs between backends, so the query is built here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..model import Item, ListQuery
from .base import Key
from .heads import MARK

_AFTER_MARK = bytes([MARK[0] + 1])


@dataclass(frozen=True, slots=True)
class Dialect:
    placeholder: str       # "?" (sqlite3) or "%s" (psycopg)
    is_deleted: str        # a predicate on r.deleted
    null_xml: str          # a typed NULL for the metadata column
    header_bytes: str      # the stored header as UTF-8 bytes (no str made and encoded again)
    kept_headless: str     # a predicate: the rendered row x.xml opens with heads.MARK
    after_first: str       # x.xml without its first byte
    first: str             # x.xml's first byte
    rendered_hint: str = ""  # an index hint for the "has this format" probe


SQLITE = Dialect("?", "r.deleted = 1", "NULL", "CAST(r.header AS BLOB)",
                 f"x.xml >= X'{MARK.hex()}' AND x.xml < X'{_AFTER_MARK.hex()}'",
                 # (substr of an empty blob is NULL in SQLite)
                 "coalesce(substr(x.xml, 2), X'')", "coalesce(substr(x.xml, 1, 1), X'')",
                 "INDEXED BY rendered_prefix ")
POSTGRES = Dialect("%s", "r.deleted", "NULL::bytea", "convert_to(r.header, 'UTF8')",
                   f"x.xml >= '\\x{MARK.hex()}'::bytea AND x.xml < '\\x{_AFTER_MARK.hex()}'::bytea",
                   "substring(x.xml from 2)", "substring(x.xml from 1 for 1)")


def list_sql(d: Dialect, q: ListQuery, after: Key | None, limit: int | None, *,
             metadata: bool, count: bool, stored: bool = False) -> tuple[str, list[object]]:
    """The SQL and arguments of one page of ``q`` after ``after`` (or its count);
    ``stored``: the columns of ``SQLStore.stored_page``: the key, the pre-rendered
    header and, with ``metadata``, the about, the rendered XML after its first byte
    (NULL for a deletion) and that first byte, NULL when it is the MARK of a row
    kept without its head (store/heads.py)."""
    p = d.placeholder
    k = "k" if q.set else "r"
    if q.set:
        base = "set_members k JOIN records r ON r.id = k.record_id"
        clauses, args = [f"k.set_spec = {p}"], [q.set]
    else:
        base = "records r"
        clauses, args = [], []
    if q.from_ is not None:
        clauses.append(f"{k}.datestamp >= {p}")
        args.append(q.from_)
    if q.until is not None:
        clauses.append(f"{k}.datestamp <= {p}")
        args.append(q.until)
    if after is not None:
        clauses.append(f"({k}.datestamp, {k}.seq) > ({p}, {p})")
        args += [after[0], after[1]]
    join = ""
    if count and q.prefix is not None and not clauses:
        # A whole format's list: its rendered rows (counted by the writes, in
        # rendered_counts) and the deletions, which keep no rendered formats (their
        # partial index), instead of one probe per record (20,121 records: 7.2 ->
        # 1.5 ms CPU on SQLite; PostgreSQL's hashed subplan read the whole rendered
        # heap, 300 ms at 50,000 records -> 40 ms) or a count of the rendered index
        # (~15 ms at 344,000 SQLite records).
        return (f"SELECT coalesce((SELECT n FROM rendered_counts WHERE prefix = {p}), 0) "
                f"+ (SELECT count(*) FROM records r WHERE {d.is_deleted})", [q.prefix])
    if q.prefix is not None:
        # Deleted records keep their headers in every format's list (§2.5.1).
        if metadata and not count:
            join = f" LEFT JOIN rendered x ON x.record_id = r.id AND x.prefix = {p}"
            args.insert(0, q.prefix)
            clauses.append(f"({d.is_deleted} OR x.xml IS NOT NULL)")
        else:
            # The narrow (prefix, record_id) index, not the wide rows of XML.
            clauses.append(f"({d.is_deleted} OR EXISTS (SELECT 1 FROM rendered x "
                           f"{d.rendered_hint}WHERE x.prefix = {p} AND x.record_id = r.id))")
            args.append(q.prefix)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    if count:
        return f"SELECT count(*) FROM {base}{join}{where}", args
    if stored and join:
        # The XML split after its first byte here, not in Python (no view or copy a
        # row): the MARK of a row kept without its head is dropped, another row's
        # first byte comes apart from its rest.
        cols = (f"r.datestamp, r.seq, {d.header_bytes}, r.about, "
                f"CASE WHEN {d.is_deleted} THEN {d.null_xml} ELSE {d.after_first} END, "
                f"CASE WHEN {d.kept_headless} THEN {d.null_xml} ELSE {d.first} END")
    elif stored:
        cols = f"r.datestamp, r.seq, {d.header_bytes}"
    else:
        cols = "r.identifier, r.datestamp, r.seq, r.deleted, r.sets, r.about"
        cols += ", x.xml" if join else f", {d.null_xml}"
        cols += ", r.origin"
    sql = f"SELECT {cols} FROM {base}{join}{where} ORDER BY {k}.datestamp, {k}.seq"
    if limit is not None:
        sql += f" LIMIT {p}"
        args.append(limit)
    return sql, args


def iterate(page: Callable[[Key | None, int], list[Item]], batch: int = 1000) -> Iterator[Item]:
    """Every item of a list, page after page."""
    after: Key | None = None
    while True:
        items = page(after, batch)
        yield from items
        if len(items) < batch:
            return
        after = items[-1].key


def set_operation(node: object, left: tuple[str | None, list[object]],
                  right: tuple[str | None, list[object]], *,
                  not_in: bool = False) -> tuple[str | None, list[object]]:
    """Combine two ``SELECT id`` queries of a search plan's And / Or / AndNot node
    (``None`` is the empty set); subqueries are named, as PostgreSQL wants.
    ``not_in``: AndNot as ``id NOT IN (right)`` rather than EXCEPT (SQLite: one
    probe a record of the left side into the right side's ephemeral index, instead
    of both sides sorted into temporary b-trees; PostgreSQL plans NOT IN as a scan
    of the right side a row whenever it guesses it too big to hash: EXCEPT there)."""
    from .search_plan import And, Or

    a, aa = left
    b, ba = right
    la, ra = " l", " r"
    if isinstance(node, And):
        if a is None or b is None:
            return None, []
        return f"SELECT id FROM ({a}){la} INTERSECT SELECT id FROM ({b}){ra}", aa + ba
    if isinstance(node, Or):
        if a is None:
            return b, ba
        if b is None:
            return a, aa
        return f"SELECT id FROM ({a}){la} UNION SELECT id FROM ({b}){ra}", aa + ba
    if a is None:  # AndNot
        return None, []
    if b is None:
        return a, aa
    if not_in:
        return f"SELECT id FROM ({a}){la} WHERE id NOT IN ({b})", aa + ba
    return f"SELECT id FROM ({a}){la} EXCEPT SELECT id FROM ({b}){ra}", aa + ba
