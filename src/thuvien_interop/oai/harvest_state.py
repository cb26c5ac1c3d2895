"""What a harvester remembers between runs, kept in the target store's meta table.

Three kinds of entries, JSON values under ``harvest:`` keys:

* ``harvest:identify:<provider>`` — the provider's Identify answer (granularity,
  earliest datestamp, name), read once and cached;
* ``harvest:list:<provider>:<prefix>:<set>`` — one list's checkpoint: the last
  successful ``responseDate`` (the next run's ``from``), and while a run is under
  way the resumption token of the last *committed* page;
* ``harvest:status:<provider>`` — what ``harvest status`` shows.

Keeping them in the store itself means the checkpoint travels with the records
it describes: copy the SQLite file and the harvest resumes where it stopped.

    >>> st = ListState()
    >>> st.run is None
    True
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field, fields

from ..store.base import Repository, retry_unavailable

_PREFIX = "harvest:"


def _load(cls, raw: str | None):
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None  # a damaged checkpoint costs a full re-harvest, not a crash
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(slots=True)
class IdentifyInfo:
    """The parts of a provider's Identify answer the harvester needs."""

    repository_name: str
    granularity: str = "YYYY-MM-DD"
    earliest_datestamp: str | None = None
    deleted_record: str | None = None
    fetched: str | None = None

    @property
    def day_granularity(self) -> bool:
        return self.granularity != "YYYY-MM-DDThh:mm:ssZ"


@dataclass(slots=True)
class RunState:
    """A list harvest under way. ``token`` is the resumption token of the page
    after the last committed one (``None`` before the first page)."""

    started: str | None = None
    """The first responseDate of this run: the next run's ``from``."""
    from_: str | None = None
    until: str | None = None
    token: str | None = None
    last_datestamp: str | None = None
    """The datestamp (provider's granularity) of the last record stored."""
    pages: int = 0
    records: int = 0
    expiries: int = 0
    pending: list[list[str | None]] = field(default_factory=list)
    """Windows [from, until] still to harvest after the current one (expired tokens
    split the rest of a window into slices)."""


@dataclass(slots=True)
class ListState:
    """The checkpoint of one (provider, prefix, set) list."""

    last_response_date: str | None = None
    run: dict | None = None

    def run_state(self) -> RunState | None:
        if self.run is None:
            return None
        names = {f.name for f in fields(RunState)}
        return RunState(**{k: v for k, v in self.run.items() if k in names})


@dataclass(slots=True)
class ProviderStatus:
    """One provider's line in ``harvest status``."""

    name: str
    url: str = ""
    last_run: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    added: int = 0
    updated: int = 0
    deleted: int = 0
    quarantined: int = 0
    last_run_records: int = 0


class HarvestState:
    """Reads and writes the harvester's entries in a store's meta table.

    >>> from thuvien_interop.store import open_store
    >>> state = HarvestState(open_store("sqlite:///:memory:"))
    >>> state.save_list("daklak", "oai_dc", None, ListState(last_response_date="2024-05-01"))
    >>> state.load_list("daklak", "oai_dc", None).last_response_date
    '2024-05-01'
    """

    def __init__(self, store: Repository) -> None:
        self.store = store
        self._lock = threading.Lock()

    @staticmethod
    def list_key(provider: str, prefix: str, set_spec: str | None) -> str:
        return f"{_PREFIX}list:{provider}:{prefix}:{set_spec or ''}"

    def load_identify(self, provider: str) -> IdentifyInfo | None:
        return _load(IdentifyInfo, self.store.get_meta(f"{_PREFIX}identify:{provider}"))

    def save_identify(self, provider: str, info: IdentifyInfo) -> None:
        self.store.set_meta(f"{_PREFIX}identify:{provider}", json.dumps(asdict(info)))

    def load_list(self, provider: str, prefix: str, set_spec: str | None) -> ListState:
        return _load(ListState, self.store.get_meta(self.list_key(provider, prefix, set_spec))) \
            or ListState()

    def save_list(self, provider: str, prefix: str, set_spec: str | None, state: ListState) -> None:
        # The checkpoint after a committed page: worth waiting for a store that
        # went away (restarted) rather than losing the place in the list.
        key, value = self.list_key(provider, prefix, set_spec), json.dumps(asdict(state),
                                                                           ensure_ascii=False)
        retry_unavailable(lambda: self.store.set_meta(key, value),
                          what=f"{provider}: saving its place in the list")

    def load_status(self, provider: str) -> ProviderStatus:
        return _load(ProviderStatus, self.store.get_meta(f"{_PREFIX}status:{provider}")) \
            or ProviderStatus(provider)

    def save_status(self, status: ProviderStatus) -> None:
        value = json.dumps(asdict(status), ensure_ascii=False)
        retry_unavailable(lambda: self.store.set_meta(f"{_PREFIX}status:{status.name}", value),
                          what=f"{status.name}: saving its status")

    def providers(self) -> list[str]:
        """Names of every provider with a status entry (for ``harvest status``)."""
        index = self.store.get_meta(f"{_PREFIX}providers")
        return sorted(json.loads(index)) if index else []

    def remember_provider(self, name: str) -> None:
        # The Repository protocol has no "list meta keys", so the names are kept
        # in one index entry.
        with self._lock:
            names = set(self.providers())
            if name not in names:
                names.add(name)
                self.store.set_meta(f"{_PREFIX}providers", json.dumps(sorted(names)))
