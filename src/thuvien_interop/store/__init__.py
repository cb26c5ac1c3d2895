"""Stores: where records live. Open one from a URL.

    >>> from thuvien_interop.store import open_store
    >>> store = open_store("sqlite:///:memory:")
    >>> store.info().record_count
    0
"""

from __future__ import annotations

from pathlib import Path

from .base import Key, Repository, StoreError

__all__ = ["Key", "Repository", "StoreError", "open_store", "shared_url"]


def open_store(url: str) -> Repository:
    """Open (creating if needed) the store a URL names.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, a plain path
    (taken as SQLite), or ``postgresql://user@host/db``.
    """
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteRepository

        return SQLiteRepository(url[len("sqlite:///"):])
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        try:
            from .postgres import PostgresRepository  # type: ignore[import-not-found]
        except ImportError as exc:
            raise StoreError(
                f"PostgreSQL stores need the 'postgres' extra: pip install 'thuvien-interop[postgres]' ({exc})"
            ) from exc
        return PostgresRepository(url.replace("postgresql+psycopg://", "postgresql://"))
    if "://" not in url:
        from .sqlite import SQLiteRepository

        return SQLiteRepository(str(Path(url)))
    from ..wording import say

    raise StoreError(say("store.unknown-url", url=url))


def shared_url(store: Repository) -> str | None:
    """A URL another process can open ``store`` by with :func:`open_store` (``None``
    for a store that lives in this process only: an in-memory SQLite store)."""
    from .sqlite import SQLiteRepository

    if isinstance(store, SQLiteRepository):
        if store.path in ("", ":memory:"):
            return None
        return "sqlite:///" + str(Path(store.path).resolve())
    url = getattr(store, "url", None)
    if isinstance(url, str) and url.startswith(("postgresql://", "postgres://")):
        from .postgres import split_schema

        if split_schema(url)[1] == getattr(store, "schema", None):
            return url
    return None
