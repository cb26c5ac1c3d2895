"""What the harvests did, provider by provider: the per-run history the harvester
records, the alerts it raises, and the overview the harvest console and
``harvest status --json`` show.

The history is kept beside the harvester's state, in the store's meta table
(``harvest:runs:<provider>``, the last :data:`KEEP_RUNS` runs as JSON), so it
travels with the records it describes.

    >>> from thuvien_interop.store import open_store
    >>> store = open_store("sqlite:///:memory:")
    >>> save_run(store, "daklak", Run("2024-05-01T02:00:00Z", ok=False, errors=["timeout"]))
    >>> [r.ok for r in runs(store, "daklak")]
    [False]
    >>> alerts(runs(store, "daklak"), AlertRules(failed_runs=1))
    ['failed 1 run in a row']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..model import ListQuery
from ..store.base import Repository
from ..wording import say
from .harvest_state import HarvestState, ProviderStatus

__all__ = ["AlertRules", "ConsoleConfig", "ProviderOverview", "Run", "alerts",
           "diagnostics_folder", "in_words",
           "overview", "quarantine", "record_run", "runs", "save_run"]

_KEY = "harvest:runs:"
#: Runs kept per provider (a year of daily runs).
KEEP_RUNS = 400


@dataclass(slots=True)
class AlertRules:
    """When a provider is flagged: ``failed_runs`` failed runs in a row, or one run
    that deleted more than ``lost_percent`` % of the records it had."""

    failed_runs: int = 3
    lost_percent: float = 20.0


@dataclass(slots=True)
class ConsoleConfig:
    """The harvest console (``/admin/harvest``): off unless ``enabled``; behind HTTP
    Basic authentication with ``user`` and ``password_hash`` (a Werkzeug hash,
    ``thuvien-interop console-password`` makes one)."""

    enabled: bool = False
    user: str = ""
    password_hash: str = ""
    diagnostics: str | None = None
    """The harvester's ``--diagnostics`` folder (quarantined records, offending
    responses); None: the harvester's default for the store (``default_diagnostics``)."""
    validate_delay: float = 1.0
    """Seconds between two requests when the console re-validates a provider."""
    alerts: AlertRules = field(default_factory=AlertRules)

    @classmethod
    def from_settings(cls, console: dict[str, Any], alert: dict[str, Any]) -> ConsoleConfig:
        """From the ``[console]`` and ``[alerts]`` tables of a settings file (checked
        key by key by :mod:`thuvien_interop.settings`); a ValueError says what is wrong."""
        c = cls()
        c.enabled = bool(console.get("enabled", c.enabled))
        c.user = str(console.get("user", c.user))
        c.password_hash = str(console.get("password_hash", c.password_hash))
        if "diagnostics" in console:
            c.diagnostics = str(console["diagnostics"])
        c.validate_delay = float(console.get("validate_delay", c.validate_delay))
        if c.enabled and not (c.user and c.password_hash):
            raise ValueError("[console] enabled = true needs user and password_hash "
                             "(make the hash with: thuvien-interop console-password)")
        # Types and ranges are checked by the settings schema (settings.SETTINGS).
        n = int(alert.get("failed_runs", c.alerts.failed_runs))
        x = float(alert.get("lost_percent", c.alerts.lost_percent))
        c.alerts = AlertRules(n, x)
        return c


@dataclass(slots=True)
class Run:
    """One run of the harvester over one provider."""

    started: str
    ok: bool = True
    seconds: float = 0.0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    live: int = 0
    """Records of the provider not deleted after the run (an estimate: the live
    count before, plus added, minus deleted)."""

    @property
    def records(self) -> int:
        return self.added + self.updated + self.unchanged + self.deleted

    @property
    def lost_percent(self) -> float:
        before = self.live + self.deleted - self.added
        return 100.0 * self.deleted / before if before > 0 else 0.0


def runs(store: Repository, provider: str) -> list[Run]:
    """The provider's runs, oldest first."""
    raw = store.get_meta(_KEY + provider)
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []  # a damaged history costs the chart, not the console
    names = {f.name for f in fields(Run)}
    return [Run(**{k: v for k, v in d.items() if k in names}) for d in data
            if isinstance(d, dict) and "started" in d]


def save_run(store: Repository, provider: str, run: Run) -> None:
    """Append ``run`` to the provider's history (the last :data:`KEEP_RUNS` are kept)."""
    history = runs(store, provider)
    history.append(run)
    store.set_meta(_KEY + provider, json.dumps([asdict(r) for r in history[-KEEP_RUNS:]],
                                               ensure_ascii=False))


def record_run(store: Repository, provider: str, result: Any, started: str) -> Run:
    """What the harvester calls at the end of each provider run: ``result`` is its
    :class:`~thuvien_interop.oai.harvester.HarvestResult`."""
    history = runs(store, provider)
    if history:
        live = history[-1].live
    else:
        # A provider harvested before the history was kept: its totals so far.
        status = HarvestState(store).load_status(provider)
        live = max(0, status.added - status.deleted - result.added + result.deleted)
    # A run stopped on purpose (Ctrl-C, a lease taken over) without an error is no failure.
    ok = bool(result.ok) or (bool(getattr(result, "interrupted", False)) and not result.errors)
    run = Run(started, ok=ok, seconds=round(float(result.seconds), 3),
              added=result.added, updated=result.updated, unchanged=result.unchanged,
              deleted=result.deleted, quarantined=result.quarantined,
              requests=int(result.requests), errors=list(result.errors),
              live=max(0, live + result.added - result.deleted))
    save_run(store, provider, run)
    return run


# The harvester already words what went wrong on the wire (connection refused,
# HTTP statuses, certificates); these are the protocol's own words.
_PLAIN = (("badresumptiontoken", "console.words.bad-token"),
          ("not well-formed", "console.words.not-well-formed"))


def in_words(error: str) -> str | None:
    """What an error of the harvester means, for a person, in the language spoken
    (None: no better words)."""
    low = error.lower()
    for needle, key in _PLAIN:
        if needle in low:
            return say(key)
    return None


def alerts(history: list[Run], rules: AlertRules) -> list[str]:
    """Why a person should look at this provider (empty: nothing to say), in the
    language spoken."""
    out: list[str] = []
    failed = 0
    for run in reversed(history):
        if run.ok:
            break
        failed += 1
    if failed >= rules.failed_runs:
        out.append(say("console.alert.failed-once") if failed == 1
                   else say("console.alert.failed", n=failed))
    if history and history[-1].lost_percent > rules.lost_percent:
        last = history[-1]
        out.append(say("console.alert.lost", deleted=last.deleted, percent=last.lost_percent,
                       had=last.live + last.deleted - last.added))
    return out


@dataclass(slots=True)
class ProviderOverview:
    """One provider's row on the console (and in ``harvest status --json``)."""

    name: str
    url: str
    state: str
    """``ok``, ``failing`` (the last run failed), ``alert`` or ``never`` (no success yet)."""
    last_run: str | None
    last_success: str | None
    records: int
    """Records of the provider in the store (deleted ones included, as OAI-PMH lists them)."""
    live: int | None = None
    """Of which not deleted (from the run history; None before any recorded run)."""
    added: int = 0
    updated: int = 0
    deleted: int = 0
    """What the last run changed."""
    errors: int = 0
    """Failed runs in a row."""
    last_error: str | None = None
    quarantined: int = 0
    validation: str | None = None
    """``compliant``, ``not compliant`` or None (never validated)."""
    validated: str | None = None
    alerts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _state(status: ProviderStatus, history: list[Run], flagged: list[str]) -> str:
    if flagged:
        return "alert"
    if history and not history[-1].ok or status.last_error:
        return "failing"
    if not status.last_success:
        return "never"
    return "ok"


def diagnostics_folder(store: Repository, configured: str | Path | None = None) -> Path:
    """The harvester's diagnostics folder: ``configured``, else its default for ``store``."""
    if configured is not None:
        return Path(configured)
    from .harvester import default_diagnostics  # the harvester imports this module

    return default_diagnostics(store)


def quarantine(diagnostics: str | Path | None, provider: str, limit: int | None = None
               ) -> tuple[int, list[dict[str, Any]]]:
    """How many records the harvester quarantined for ``provider`` and the last
    ``limit`` of them (time, identifier, reason), newest first, from its
    diagnostics folder."""
    if diagnostics is None:
        return 0, []
    path = Path(diagnostics) / provider / "quarantine.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0, []
    kept: list[dict[str, Any]] = []
    for line in reversed(lines if limit is None else lines[-limit:] if limit else []):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        kept.append({k: entry.get(k) for k in ("time", "identifier", "position", "reason")})
    return sum(1 for line in lines if line.strip()), kept


def overview(store: Repository, rules: AlertRules | None = None,
             diagnostics: str | Path | None = None, *, only: str | None = None
             ) -> list[ProviderOverview]:
    """Every provider the harvester knows (or just ``only``), with its state and alerts.
    ``diagnostics`` is the harvester's folder (None: its default for ``store``)."""
    from ..validate.history import load_validation

    if diagnostics is None:
        diagnostics = diagnostics_folder(store)

    rules = rules or AlertRules()
    state = HarvestState(store)
    out = []
    names = state.providers()
    for name in names if only is None else [n for n in names if n == only]:
        status = state.load_status(name)
        history = runs(store, name)
        flagged = alerts(history, rules)
        failed = 0
        for run in reversed(history):
            if run.ok:
                break
            failed += 1
        if not history and status.last_error:
            failed = 1
        last = history[-1] if history else None
        report = load_validation(store, name)
        counted, _ = quarantine(diagnostics, name, limit=0)
        out.append(ProviderOverview(
            name=name, url=status.url, state=_state(status, history, flagged),
            last_run=status.last_run, last_success=status.last_success,
            records=store.count(ListQuery(set=f"source:{name}")),
            live=last.live if last else None,
            added=last.added if last else 0, updated=last.updated if last else 0,
            deleted=last.deleted if last else 0, errors=failed, last_error=status.last_error,
            quarantined=max(counted, status.quarantined),
            validation=None if report is None else
            ("compliant" if report.compliant else "not compliant"),
            validated=report.finished if report else None, alerts=flagged))
    return out
