"""Records withdrawn by hand (``thuvien-interop delete``): deletions through the
pipeline, like a withdrawn record in a file or a row gone from a source.

    >>> report = withdraw(store, [("argument 1", "oai:thuvien.example.vn:VN12")])  # doctest: +SKIP
    >>> report.written.deleted, [str(p) for p in report.rejected]                  # doctest: +SKIP
    (1, [])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .items import Incoming, Problem, Report
from .run import Pipeline

if TYPE_CHECKING:
    from ..store.base import Repository


def withdraw(store: Repository, identifiers: Iterable[tuple[str, str]], *, name: str = "",
             now: int | None = None) -> Report:
    """Delete the records of these (where, identifier) pairs. An identifier the
    store does not hold is rejected (named in the report, nothing written); one
    already deleted counts as unchanged. ``name`` is what the pairs came from (a
    file), for the report."""
    items: list[Incoming] = []
    unknown: list[Problem] = []
    seen: set[str] = set()
    already = 0
    for where, identifier in identifiers:
        if identifier in seen:
            continue
        seen.add(identifier)
        existing = store.get(identifier)
        if existing is None:
            unknown.append(Problem(name, where, f"{identifier} is not in the store"))
        elif existing.header.deleted:
            already += 1  # left alone: its deletion's datestamp stays
        else:
            items.append(Incoming(where, identifier, deleted=True))
    with Pipeline(store, now=now) as pipeline:
        pipeline.feed(name, items)
    report = pipeline.report
    report.read += len(unknown) + already
    report.written.unchanged += already
    report.rejected.extend(unknown)
    return report
