# ruff: noqa: F811 - the store suite's fixtures (backend, repo), imported, are parameters here
"""After a large load the store refreshes its query planner's statistics (so that
searches and facets are planned for what it holds before autovacuum comes); a
small write does not pay for it."""

from __future__ import annotations

import pytest
from test_store import backend, repo  # noqa: F401 - fixtures: every backend
from union_fixtures import book

from thuvien_interop.pipeline import Incoming, Pipeline


def _load(store, n: int, start: int = 0) -> int:
    with Pipeline(store) as p:
        p.feed("catalogue", [Incoming(f"record {k}", f"oai:lib:{k}", book(f"Sách {k}"), sets=("source:lib",),
                                      origin="source:lib") for k in range(start, start + n)])
    return p.report.written.added


def _analyzed(store) -> bool:
    """Whether the planner has statistics of search_keys (the facets' table)."""
    conn = store._conn()
    if type(store).__name__.startswith("SQLite"):
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()[0] > 0 \
            and conn.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'search_keys'").fetchone()[0] > 0
    # reltuples is -1 until the table is first analyzed (ANALYZE writes it in its transaction).
    return conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'search_keys'::regclass").fetchone()[0] >= 0


@pytest.fixture
def small_thresholds(repo, monkeypatch):
    monkeypatch.setattr(type(repo), "STATISTICS_LEAST", 20)
    monkeypatch.setattr(type(repo), "STATISTICS_AFTER", 60)
    return repo


def test_a_large_load_refreshes_the_planners_statistics(small_thresholds):
    store = small_thresholds
    assert _load(store, 30) == 30          # past the least, and more than a tenth of the store
    assert _analyzed(store)


def test_a_large_load_into_postgresql_also_marks_its_pages_visible(small_thresholds):
    """VACUUM (ANALYZE): the visibility map lets an index-only scan (the facets'
    and works' counts) skip the table's rows."""
    store = small_thresholds
    _load(store, 30)
    if type(store).__name__.startswith("SQLite"):
        assert _analyzed(store)             # no visibility map: its ANALYZE is the whole refresh
        return
    visible, pages = store._conn().execute(
        "SELECT relallvisible, relpages FROM pg_class WHERE oid = 'search_keys'::regclass").fetchone()
    assert pages > 0 and visible == pages


def test_a_small_write_into_a_large_store_does_not(small_thresholds):
    store = small_thresholds
    assert store.refresh_statistics(19) is False
    if not type(store).__name__.startswith("SQLite"):
        # Only this store's own ANALYZE may analyze it here (not autovacuum's).
        store._conn().execute("ALTER TABLE search_keys SET (autovacuum_enabled = false)")
    _load(store, 10)                       # below the least
    assert not _analyzed(store)


def test_what_counts_is_the_share_of_the_store(small_thresholds):
    store = small_thresholds
    _load(store, 59)
    # 25 records written into a store of 59 are more than a tenth of it; 20 of 259
    # are not; 60 (STATISTICS_AFTER) are enough whatever the store's size.
    assert store.refresh_statistics(25) is True
    _load(store, 200, start=100)
    assert store.refresh_statistics(20) is False
    assert store.refresh_statistics(60) is True
