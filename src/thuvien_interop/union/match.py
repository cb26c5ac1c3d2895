"""Agreement: is a candidate the same edition? Every answer says why.

Two records that share a key (:mod:`.keys`) are the same edition only when
their format, year, edition, volume/part, pages, series number and role (the
teacher's book against the pupil's) agree; records of one provider never join.
A shared number (ISBN, ISSN, control number…) is strong evidence: a value one
record does not give passes. A title + author key is weak: the year must be given
by both, and a missing edition statement counts as the first edition.

    >>> from thuvien_interop.union.facts import Facts
    >>> a = Facts("oai:a:1", "a", (("isbn:9786040000002", "020 $a 978-604-0-00000-2"),), "book", 2020)
    >>> b = Facts("oai:b:9", "b", (("isbn:9786040000002", "020 $a 9786040000002"),), "book", 2021)
    >>> d = compare(a, b, MatchConfig())
    >>> d.accepted, d.failed[0].name
    (False, 'year')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .facts import Facts

__all__ = ["KEY_KINDS", "Check", "Decision", "MatchConfig", "agrees", "compare", "key_kind"]

#: Key kinds, strongest first: the first one two records share is the one a
#: decision is made (and explained) on.
KEY_KINDS: tuple[str, ...] = ("isbn", "issn", "ismn", "ean", "upc", "isrc", "sici", "std",
                              "nbn", "lccn", "ctrl", "ta")
_NUMBER_KINDS = frozenset(KEY_KINDS) - {"ta"}


def key_kind(key: str) -> str:
    """``isbn:978…`` → ``isbn``; ``std:<source>:…`` → ``std``."""
    return key.split(":", 1)[0]


@dataclass(slots=True)
class MatchConfig:
    """How clustering decides; the ``[union]`` settings section fills it
    (:meth:`from_dict`).

    ``enabled`` is off for a single library's store (nothing to cluster).
    """

    enabled: bool = True
    keys: frozenset[str] = frozenset(KEY_KINDS)
    """Key kinds used to find candidates (``ta`` is the title + author key)."""
    year_tolerance: int = 0
    """Years two records may differ by (a reprint under one ISBN: set 1)."""
    pages_slack: int = 10
    pages_ratio: float = 0.05
    """Pages may differ by the larger of ``pages_slack`` and this share of the larger count."""
    title_key_needs_year: bool = True
    max_key_records: int = 5000
    """A key that more records than this share finds no candidates (too common to mean anything)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "[union]") -> MatchConfig:
        """From a settings table; a wrong key or value raises ValueError saying which::

            [union]
            enabled = true
            keys = ["isbn", "issn", "ctrl", "ta"]
            year_tolerance = 0
            pages_slack = 10
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(known))}")
        c = cls()
        if "keys" in data:
            kinds = data["keys"]
            if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
                raise ValueError(f"{where}: keys must be a list such as [\"isbn\", \"ta\"]")
            bad = [k for k in kinds if k not in KEY_KINDS]
            if bad:
                raise ValueError(f"{where}: unknown key kind(s) {', '.join(bad)}; "
                                 f"known: {', '.join(KEY_KINDS)}")
            c.keys = frozenset(kinds)
        for name in ("enabled", "title_key_needs_year"):
            if name in data:
                if not isinstance(data[name], bool):
                    raise ValueError(f"{where}: {name} must be true or false")
                setattr(c, name, data[name])
        for name in ("year_tolerance", "pages_slack", "max_key_records"):
            if name in data:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{where}: {name} must be a whole number, 0 or more")
                setattr(c, name, value)
        if "pages_ratio" in data:
            value = data["pages_ratio"]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ValueError(f"{where}: pages_ratio must be a number from 0 to 1, such as 0.05")
            c.pages_ratio = float(value)
        return c

    def usable(self, key: str) -> bool:
        return key_kind(key) in self.keys


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison: its name, whether it passed, what was compared."""

    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name} {'ok' if self.passed else 'FAILED'}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one pair: the key it was made on and every check."""

    a: str
    b: str
    key: str
    origin: tuple[str, str]
    checks: tuple[Check, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def explain(self) -> str:
        """One line: the verdict, the key and where each record has it, every check."""
        verdict = "joins" if self.accepted else "stays apart from"
        return (f"{self.a} {verdict} {self.b}: key {self.key} ({self.origin[0]} / {self.origin[1]}); "
                + "; ".join(str(c) for c in self.checks))


def _show(value: object) -> str:
    return "not given" if value is None else str(value)


def _compare_value(name: str, x: object, y: object, *, need_both: bool = False,
                   missing: object = None) -> Check:
    if missing is not None:
        x = missing if x is None else x
        y = missing if y is None else y
    if x is None or y is None:
        if need_both:
            return Check(name, False, f"{_show(x)} / {_show(y)}: both must be given")
        return Check(name, True, f"{_show(x)} / {_show(y)}: one does not say")
    ok = x == y
    return Check(name, ok, f"{x} {'=' if ok else '≠'} {y}")


def agrees(a: Facts, b: Facts, config: MatchConfig) -> bool:
    """Whether :func:`compare` accepts the pair, without building its explanation
    when the two records give the same values (most copies of one edition do)."""
    if a.provider == b.provider:
        return False
    if (a.year is not None and a.format == b.format and a.year == b.year and a.edition == b.edition
            and a.volume == b.volume and a.pages == b.pages and a.series_number == b.series_number
            and a.role == b.role):
        shared = a.key_set & b.key_set
        if any(config.usable(k) for k in shared):
            isbns = any(k.startswith("isbn:") for k in shared) or not (
                any(k.startswith("isbn:") for k in a.key_set) and any(k.startswith("isbn:") for k in b.key_set))
            if isbns:
                return True
    d = compare(a, b, config)
    return d is not None and d.accepted


def compare(a: Facts, b: Facts, config: MatchConfig) -> Decision | None:
    """The decision for two records, on the strongest key they share; ``None``
    when they share no key ``config`` uses."""
    shared = a.key_set & b.key_set
    usable = [k for k in shared if config.usable(k)]
    if not usable:
        return None
    rank = {kind: i for i, kind in enumerate(KEY_KINDS)}
    key = min(usable, key=lambda k: (rank.get(key_kind(k), len(rank)), k))
    weak = key_kind(key) not in _NUMBER_KINDS
    checks: list[Check] = []
    same = a.provider == b.provider
    checks.append(Check("provider", not same, f"{a.provider or '-'} {'=' if same else '≠'} "
                        f"{b.provider or '-'}" + (": one record per provider" if same else "")))
    if a.format == "unknown" or b.format == "unknown":
        checks.append(Check("format", True, f"{a.format} / {b.format}: one does not say"))
    else:
        checks.append(_compare_value("format", a.format, b.format))
    if a.year is not None and b.year is not None:
        ok = abs(a.year - b.year) <= config.year_tolerance
        checks.append(Check("year", ok, f"{a.year} {'=' if a.year == b.year else '≠'} {b.year}"
                            + (f" (tolerance {config.year_tolerance})" if config.year_tolerance else "")))
    else:
        checks.append(_compare_value("year", a.year, b.year,
                                     need_both=weak and config.title_key_needs_year))
    checks.append(_compare_value("edition", a.edition, b.edition, missing=1 if weak else None))
    # A volume against the whole set stays apart, whatever the key.
    if (a.volume is None) != (b.volume is None):
        checks.append(Check("volume", False, f"{_show(a.volume)} / {_show(b.volume)}: "
                            "a volume and a set (or a record that names no part)"))
    else:
        checks.append(_compare_value("volume", a.volume, b.volume))
    if a.pages is not None and b.pages is not None:
        slack = max(config.pages_slack, int(config.pages_ratio * max(a.pages, b.pages)))
        ok = abs(a.pages - b.pages) <= slack
        checks.append(Check("pages", ok, f"{a.pages} {'≈' if ok else '≠'} {b.pages} (slack {slack})"))
    else:
        checks.append(_compare_value("pages", a.pages, b.pages))
    checks.append(_compare_value("series number", a.series_number, b.series_number))
    checks.append(Check("role", a.role == b.role, f"{a.role or 'pupil/none'} "
                        f"{'=' if a.role == b.role else '≠'} {b.role or 'pupil/none'}"))
    if key_kind(key) != "isbn":
        # Both give ISBNs and none is shared: two editions (or bindings) that
        # happen to share a title or a control number.
        ia = {k for k in a.key_set if k.startswith("isbn:")}
        ib = {k for k in b.key_set if k.startswith("isbn:")}
        if ia and ib:
            checks.append(Check("isbn", False, "both give ISBNs and none is shared"))
    return Decision(a.id, b.id, key, (a.origin(key), b.origin(key)), tuple(checks))
