"""The store's contract: what every backend does, whatever database it sits on.

Backends know nothing of XML protocols: they keep bytes and keys. Every backend
passes the same test suite (``tests/test_store.py``), so a feature exists on all
of them or on none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ..model import Header, Item, ListQuery, Record, RepositoryInfo, Set, WriteSummary

Key = tuple[int, int]
"""A keyset position: (datestamp, change sequence). Lists are read after a key."""


class StoreError(Exception):
    """A store could not be opened or used; the message says why, for a person."""


@runtime_checkable
class Repository(Protocol):
    """A repository of records, as the protocol engines see it.

    Listing is keyset-paginated on ``(datestamp, seq)``: ``seq`` grows on every
    change, so a record changed during a harvest moves to the end of the list and
    is harvested again, never lost.
    """

    def info(self) -> RepositoryInfo:
        """Earliest datestamp and counts."""
        ...

    def prefixes(self, identifier: str | None = None) -> list[str] | None:
        """Metadata prefixes stored for one record (``None`` if it does not exist),
        or for the repository as a whole."""
        ...

    def sets(self, after: str | None, limit: int) -> list[Set]:
        """Sets in spec order, after ``after``."""
        ...

    def put_sets(self, sets: Iterable[Set]) -> None:
        """Define sets (name and description); memberships come with records."""
        ...

    def list(self, q: ListQuery, after: Key | None, limit: int, *,
             metadata: bool = True) -> list[Item]:
        """One page of items in key order after ``after``; with ``metadata`` the
        stored bytes of ``q.prefix`` come along."""
        ...

    def count(self, q: ListQuery) -> int:
        """How many items ``list`` would return in all."""
        ...

    def get(self, identifier: str, prefix: str | None = None) -> Item | None:
        """One record's header (and the stored bytes of ``prefix``)."""
        ...

    def canonical(self, identifier: str) -> tuple[str, bytes] | None:
        """(canonical format, canonical bytes) of a live record."""
        ...

    def write(self, records: Iterable[Record], *, now: int | None = None) -> WriteSummary:
        """Upsert or delete; one transaction per batch. Unchanged records keep
        their datestamp."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def close(self) -> None: ...


def header_of(item: Item) -> Header:
    return item.header
