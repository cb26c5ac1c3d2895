"""Set rules evaluated again over the stored records, without a re-import
(``thuvien-interop reindex --sets``).

    >>> from thuvien_interop.oai.setrules import SetRules
    >>> report = reevaluate(store, SetRules.from_config(settings.raw.get("sets")))  # doctest: +SKIP
    >>> report.read, report.written.updated       # records looked at, records restamped  # doctest: +SKIP

Only the library's own records are re-evaluated (a harvested record's sets are
its provider's, a synced one's its source profile's). Of their sets, those under
a prefix the rules give (or gave before: the store remembers every prefix the
rules have given, see :func:`remember_rules`) are replaced by what the rules say
now; others stay. A record whose membership changes is restamped, so selective
harvesters see exactly those records again; the others keep their datestamps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..formats import from_canonical
from ..model import ListQuery, expand_set_specs
from .items import Problem, Report

if TYPE_CHECKING:
    from ..model import Header
    from ..oai.setrules import SetRules
    from ..store.base import Repository

#: The store meta key listing every set prefix the set rules have given.
PREFIXES_KEY = "set-rules:prefixes"


def remember_rules(store: Repository, rules: SetRules) -> set[str]:
    """Note the prefixes these rules give among those the store's rules have ever
    given (what :func:`reevaluate` may replace); return them all."""
    known = set(filter(None, (store.get_meta(PREFIXES_KEY) or "").split(",")))
    every = known | rules.prefixes
    if every != known:
        store.set_meta(PREFIXES_KEY, ",".join(sorted(every)))
    return every


def _own(header: Header) -> bool:
    """Whether a stored record is the library's own (not harvested, not synced)."""
    return header.origin is None


def _changes(store: Repository, rules: SetRules, managed: set[str],
             report: Report) -> Iterator[tuple[str, tuple[str, ...]]]:
    for item in store.iter(ListQuery(), metadata=False):  # type: ignore[attr-defined]
        header = item.header
        if header.deleted or not _own(header):
            continue
        found = store.canonical(header.identifier)
        if found is None:
            continue
        report.read += 1
        try:
            source = from_canonical(*found)
            given = rules.classify(source)
        except Exception as exc:  # noqa: BLE001 - one unreadable record does not stop the rest
            report.rejected.append(Problem("", header.identifier,
                                           f"could not be classified: {exc!r}"))
            continue
        kept = [s for s in header.sets if s.split(":")[0] not in managed]
        sets = tuple(sorted(set(kept) | set(given)))
        if expand_set_specs(sets) != tuple(header.sets):
            yield header.identifier, sets
        else:
            report.written.unchanged += 1


def reevaluate(store: Repository, rules: SetRules, *, now: int | None = None) -> Report:
    """Evaluate ``rules`` again over the library's own stored records and restamp
    those whose membership changed; the report's ``read`` counts the records looked
    at, ``written.updated`` those restamped, ``written.unchanged`` the others."""
    report = Report()
    managed = remember_rules(store, rules)
    # Gathered first: a restamped record moves to the end of the (datestamp, id)
    # order the store is read in, and would be read again.
    changes = list(_changes(store, rules, managed, report))
    store.put_sets(rules.seen_sets())
    report.written.updated += store.set_memberships(changes, now=now)  # type: ignore[attr-defined]
    return report
