"""The OAI-PMH harvester: incremental, resumable, polite and tolerant.

Harvests providers into a store (the same stores the provider serves), so a
union catalogue is re-exposed over OAI-PMH the moment a page is committed.

    >>> from thuvien_interop.store import open_store
    >>> from thuvien_interop.oai.harvester import Harvester
    >>> from thuvien_interop.oai.harvest_sources import Source
    >>> harvester = Harvester(open_store("sqlite:///union.db"))                    # doctest: +SKIP
    >>> result = harvester.harvest(Source("daklak", "https://thuvien.daklak.gov.vn/oai"))  # doctest: +SKIP
    >>> result.ok, result.added, result.deleted                                   # doctest: +SKIP
    (True, 1520, 3)

What it keeps (see :mod:`.harvest_state`): per provider, set and prefix, the
first ``responseDate`` of the last complete run, which the next run sends as
``from`` in the provider's granularity (OAI-PMH 2.0 §3.3.1; overlap is safe
because writing an unchanged record changes nothing); while a run is under way,
the resumption token of the page after the last committed one (§3.5).

Identifiers: a harvested record keeps its original OAI identifier. They are
globally unique by design (the oai-identifier scheme puts the provider's domain
in them); a record whose identifier is already held by *another* source is
quarantined as a collision, never overwritten. Each record also goes into the
set ``source:<name>`` (and ``source:<name>:<its original set>``) and carries an
``about`` with ``provenance`` (the provider's base URL, the original identifier
and datestamp, the harvest date; OAI-PMH guidelines for provenance).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from .. import dates, xml
from ..collector import fewer_collections
from ..crosswalk.text import normalize
from ..formats import FormatRegistry, default_registry
from ..model import MAX_IDENTIFIER, Set, WriteSummary
from ..paths import user_data_dir
from ..pipeline import BATCH, Pipeline
from ..store import shared_url
from ..store.base import Leases, Repository, StoreError
from ..wording import Said, in_this_language, say
from ..workers import WriteBehind
from ..xml import safe_parser
from .harvest_convert import Job, serialize, xml_text
from .harvest_http import Cancelled, Fetched, FetchError, PoliteClient
from .harvest_lease import DEFAULT_LEASE, MIN_LEASE, Lease, LeaseKeeper
from .harvest_overview import record_run
from .harvest_page import BrokenRecord, PageReader, RawRecord, check_body, local
from .harvest_sources import Source
from .harvest_state import HarvestState, IdentifyInfo, ListState, ProviderStatus, RunState

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile

log = logging.getLogger("thuvien_interop.harvest")

_SPEC_SEGMENT = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")
_MAX_EXPIRIES = 20
#: Pages of one list run at most, unless told otherwise (``--max-pages``): far
#: more than any catalogue we know needs, and an end to a list that never ends.
MAX_PAGES = 100_000
#: Pages in a row without a record, or repeating a page already received, after
#: which a list that keeps sending fresh resumption tokens is stopped.
_MAX_IDLE_PAGES = 50
_MAX_REPEATED_PAGES = 3

class _Default:
    """The default diagnostics folder (see :func:`default_diagnostics`)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()


PageHook = Callable[[Source, str | None, int], None]
"""Called after each page is committed and checkpointed: (source, set, page number)."""
Progress = Callable[[str, str | None, int, int | None], None]
"""Called after each page: (provider name, set, records so far, completeListSize or None)."""


class HarvestError(Exception):
    """A list could not be harvested; the message says why, for an operator."""


class Interrupted(HarvestError):
    """:meth:`Harvester.stop` was called (Ctrl-C): the list stopped between two
    pages, everything committed so far is kept, and the next run resumes there."""


class LeaseLost(HarvestError):
    """Another harvester holds this provider's lease now (ours ran out, or was
    taken): this one stops harvesting it at once."""


# -- what one page of a list harvest leads to (the list's state machine) --------

@dataclass(frozen=True, slots=True)
class NextPage:
    """Ask for the page after this one with ``token``. ``fingerprint`` tells a page
    from another (the identifiers it held), to notice a provider that sends one
    page again and again under fresh tokens."""

    token: str
    fingerprint: int = 0


@dataclass(frozen=True, slots=True)
class ListEnd:
    """The list is complete (no resumption token, or no records match)."""


@dataclass(frozen=True, slots=True)
class TokenExpired:
    """The provider refused the resumption token (badResumptionToken)."""


@dataclass(frozen=True, slots=True)
class Refetch:
    """The page was not well-formed: ask for it once more."""

    reason: str


PageOutcome = NextPage | ListEnd | TokenExpired | Refetch


@dataclass(slots=True)
class ListResult:
    """What harvesting one list (a set, or the whole repository) did."""

    set_spec: str | None
    pages: int = 0
    written: WriteSummary = field(default_factory=WriteSummary)
    quarantined: int = 0
    kept: list[str] = field(default_factory=list)
    """Identifiers whose richer stored record (MARC) was kept over the harvested one."""
    complete_list_size: int | None = None
    resumed: bool = False
    error: str | None = None
    interrupted: bool = False
    """Stopped between two pages on request (Ctrl-C, SIGTERM): resumed next run."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted


@dataclass(slots=True)
class HarvestResult:
    """What harvesting one provider did."""

    source: Source
    lists: list[ListResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    requests: int = 0
    held_by: str | None = None
    """Set when the provider was not harvested because another harvester holds its
    lease (who, in words); the result is then empty."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(lr.ok for lr in self.lists)

    @property
    def interrupted(self) -> bool:
        """Stopped on request (Ctrl-C, SIGTERM) before the end; nothing failed."""
        return any(lr.interrupted for lr in self.lists)

    @property
    def records(self) -> int:
        """Records this run received (new, updated, unchanged and deleted)."""
        return self.added + self.updated + self.unchanged + self.deleted

    def _sum(self, name: str) -> int:
        return sum(getattr(lr.written, name) for lr in self.lists)

    @property
    def added(self) -> int:
        return self._sum("added")

    @property
    def updated(self) -> int:
        return self._sum("updated")

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def deleted(self) -> int:
        return self._sum("deleted")

    @property
    def quarantined(self) -> int:
        return sum(lr.quarantined for lr in self.lists)

    @property
    def kept(self) -> int:
        """Richer stored records (MARC) kept over the harvested ones (oai_dc)."""
        return sum(len(lr.kept) for lr in self.lists)

    @property
    def pages(self) -> int:
        return sum(lr.pages for lr in self.lists)

    @property
    def errors(self) -> list[str]:
        out = [self.error] if self.error else []
        return out + [f"set {lr.set_spec}: {lr.error}" if lr.set_spec else lr.error
                      for lr in self.lists if lr.error]


class _Halt:
    """Why the harvest of one provider must stop now: Ctrl-C (:meth:`Harvester.stop`)
    or its lease lost. ``event`` is also the HTTP client's cancel event, so a wait
    on a ``Retry-After`` or a page being read ends at once."""

    __slots__ = ("event", "lease")

    def __init__(self, lease: Lease | None) -> None:
        self.event = threading.Event()
        self.lease = lease
        if lease is not None:
            lease.on_lost = self.event.set
            if lease.lost.is_set():
                self.event.set()

    @property
    def lease_lost(self) -> bool:
        return self.lease is not None and self.lease.lost.is_set()

    def check(self) -> None:
        """Raise why the harvest stops, if it must."""
        if not self.event.is_set():
            return
        if self.lease is not None and self.lease.lost.is_set():
            raise LeaseLost(f"lease lost: {self.lease.lost_to or 'another harvester'} holds this "
                            "provider now, so this harvester stopped harvesting it (the pages "
                            "stored so far are kept; the other one goes on from its checkpoint)")
        raise Interrupted(Said("harvest.log.interrupted-page"))


_NO_HALT = _Halt(None)


class Harvester:
    """Harvests OAI-PMH providers into a store.

    ``diagnostics`` is the folder where offending responses and quarantined
    records are kept, one sub-folder per provider: by default a folder beside a
    SQLite store's file (``union.db`` → ``union-harvest-diagnostics/``), or for
    another store a folder in the user's data folder (see
    :func:`default_diagnostics`); ``None`` keeps nothing (log only). ``on_page``
    and ``progress`` are called after each committed page, ``on_result`` after
    each provider. ``processes``: see :class:`~thuvien_interop.workers.WorkerPool`.
    ``lease_seconds``: how long a provider's lease lasts unless renewed (it is
    renewed three times within that while the provider is harvested); ``max_pages``:
    pages of one list run at most (the run stops there, saying so; the next
    run goes on).

        >>> from thuvien_interop.store import open_store
        >>> with Harvester(open_store("sqlite:///:memory:"), diagnostics=None) as h:
        ...     h.lease_seconds
        120
    """

    def __init__(self, store: Repository, *, registry: FormatRegistry | None = None,
                 client: PoliteClient | None = None,
                 diagnostics: str | Path | None | _Default = DEFAULT,
                 on_page: PageHook | None = None, progress: Progress | None = None,
                 processes: int | None = 1,
                 on_result: Callable[[HarvestResult], None] | None = None,
                 index_profile: IndexProfile | None = None, replace: bool = False,
                 lease_seconds: int = DEFAULT_LEASE, max_pages: int = MAX_PAGES,
                 batch: int = BATCH) -> None:
        """A harvester writing into ``store``; nothing is fetched until :meth:`harvest`.

        ``registry``: the formats rendered for each record (default: oai_dc, marc21,
        mods); ``client``: the HTTP client (default: a polite one, one request at a
        time per host, honouring ``Retry-After``); ``diagnostics``: the folder kept
        for offending responses and quarantined records (``None``: none);
        ``on_page``, ``progress``, ``on_result``: callbacks after each committed page
        and each provider; ``processes``: worker processes converting (and, for
        stores they can open, writing) records — 1 keeps everything in this process,
        ``None`` uses one per core; ``index_profile``: which fields feed which search
        index (default: the shipped sru-indexes); ``replace``: a harvested oai_dc
        record replaces a stored MARC record (default: the richer record is kept);
        ``lease_seconds`` and ``max_pages``: see the module's documentation;
        ``batch``: records of a page committed together (a page of any size is
        read, built and written a batch at a time, its checkpoint after its last).

            >>> from thuvien_interop.store import open_store
            >>> Harvester(open_store("sqlite:///:memory:"), diagnostics=None).diagnostics is None
            True
        """
        self.store = store
        self.registry = registry or default_registry()
        # Pages are built and written by the one write path, on ``processes``
        # worker processes (``None``: one per core; 1, the default: all in this
        # process). Worker processes import the main module again
        # (multiprocessing's forkserver): a script that asks for them keeps its
        # work under ``if __name__ == "__main__":``, as the command line does.
        # ``replace``: a harvested oai_dc record replaces a stored MARC record.
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.pipeline = Pipeline(store, registry=self.registry, processes=processes,
                                 index_profile=index_profile, replace=replace, batch=batch,
                                 what="harvested records", collect=False)
        self.converter = self.pipeline.pool
        self.client = client or PoliteClient()
        if isinstance(diagnostics, _Default):
            diagnostics = default_diagnostics(store)
        self.diagnostics = Path(diagnostics) if diagnostics is not None else None
        self.state = HarvestState(store)
        self.on_page = on_page
        self.on_result = on_result
        self.index_profile = index_profile  # which fields feed which search index
        if lease_seconds < MIN_LEASE:
            raise ValueError(f"lease_seconds must be at least {MIN_LEASE}")
        self.lease_seconds = int(lease_seconds)
        self.max_pages = max_pages
        self.progress = progress
        self._sets_lock = threading.Lock()
        self._known_sets: set[str] = set()
        self._names: dict[str, dict[str, str]] = {}
        self._files_lock = threading.Lock()
        self._stop = threading.Event()
        self._halts: set[_Halt] = set()
        self._leases: LeaseKeeper | None = None  # claims providers, renews their leases
        self._active = 0  # harvests and harvest_many calls running (stop() ends with them)
        self._active_lock = threading.Lock()

    def close(self) -> None:
        """Stop the worker processes and the lease renewals (a harvester can be used
        again after)."""
        self.pipeline.close()
        with self._active_lock:
            keeper, self._leases = self._leases, None
        if keeper is not None:
            keeper.close()

    def _keeper(self) -> LeaseKeeper:
        with self._active_lock:
            if self._leases is None or self._leases.seconds != self.lease_seconds:
                self._leases = LeaseKeeper(self.store, self.lease_seconds)
            return self._leases

    def stop(self) -> None:
        """Ask every harvest in progress to stop (from any thread, e.g. on Ctrl-C):
        the pages already handed over are committed and checkpointed, the page
        being fetched (or the wait for a ``Retry-After``) is abandoned, and no new
        provider is started. The next run resumes each list where it stopped.
        Once the harvests in progress have ended, the harvester can be used again."""
        with self._active_lock:
            if self._active:
                self._stop.set()
                for halt in self._halts:
                    halt.event.set()

    @contextmanager
    def _running(self) -> Iterator[None]:
        with self._active_lock:
            self._active += 1
        try:
            yield
        finally:
            with self._active_lock:
                self._active -= 1
                if not self._active:
                    self._stop.clear()

    def __enter__(self) -> Harvester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- many providers ----------------------------------------------------------
    def harvest_many(self, sources: Iterable[Source], *, workers: int = 4, full: bool = False,
                     by_identifier: bool | None = None,
                     skip_recent: int = 0) -> list[HarvestResult]:
        """Harvest providers concurrently (a bounded pool; the client keeps one
        request at a time per host). One failing provider never stops the others.

        Over a store that leases (every store here does), workers claim providers
        one at a time, so several processes or machines can share one list; a
        provider another harvester holds is not harvested, and its result says
        who holds it (:attr:`HarvestResult.held_by`). A lease whose holder is a
        process of this machine that no longer runs is taken over at once.
        ``skip_recent`` (seconds) skips providers harvested successfully that
        recently, so each is harvested once per round however many nodes run."""
        with self._running():
            return self._harvest_many(list(sources), workers, full, by_identifier, skip_recent)

    def _harvest_many(self, sources: list[Source], workers: int, full: bool,
                      by_identifier: bool | None, skip_recent: int) -> list[HarvestResult]:
        if not isinstance(self.store, Leases):
            with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="harvest") as pool:
                futures = [pool.submit(in_this_language(self._in_own_thread), s, full, by_identifier)
                           for s in sources]
                return [r for r in self._wait(futures) if r is not None]
        # Leased: every worker (thread here, or process or machine over the same
        # store) claims the next provider nobody holds, so adding harvesters adds
        # capacity and no provider is harvested twice at once. Each claim is a
        # Lease, handed to the harvest that uses it and renewed meanwhile.
        by_name = {s.name: s for s in sources}
        names = list(by_name)
        results: dict[str, HarvestResult] = {}
        done: set[str] = set()
        lock = threading.Lock()
        keeper = self._keeper()

        def work() -> None:
            try:
                _claim_and_harvest()
            finally:
                self._done_with_store()

        def _claim_and_harvest() -> None:
            while not self._stop.is_set():
                with lock:
                    todo = [n for n in names if n not in done]
                lease = keeper.claim(todo) if todo else None
                if lease is None:
                    return
                with lock:
                    done.add(lease.name)
                try:
                    if skip_recent and self._succeeded_within(lease.name, skip_recent):
                        continue
                    results[lease.name] = self.harvest(by_name[lease.name], full=full,
                                                       by_identifier=by_identifier, lease=lease)
                finally:
                    lease.release()

        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="harvest") as pool:
            self._wait([pool.submit(in_this_language(work)) for _ in range(max(1, min(workers, len(names))))])
        if not self._stop.is_set():
            for held in keeper.holders([n for n in names if n not in done]):
                log.warning(Said("harvest.log.held", name=held.name, holder=held.holder))
                results[held.name] = HarvestResult(by_name[held.name], held_by=held.holder)
        return [results[n] for n in names if n in results]

    def _done_with_store(self) -> None:
        """A harvest thread ends: its connection to the store is closed (each
        thread of a store has its own; a pool of threads would leave one open a
        thread)."""
        close = getattr(self.store, "close_thread", None)
        if close is not None:
            close()

    def _in_own_thread(self, source: Source, full: bool,
                       by_identifier: bool | None) -> HarvestResult | None:
        try:
            return self._unless_stopped(source, full, by_identifier)
        finally:
            self._done_with_store()

    def _unless_stopped(self, source: Source, full: bool,
                        by_identifier: bool | None) -> HarvestResult | None:
        if self._stop.is_set():
            return None
        return self.harvest(source, full=full, by_identifier=by_identifier)

    def _wait(self, futures: list) -> list:
        """The futures' results; on Ctrl-C, stop every harvest at its next page,
        wait for what was handed over to be committed, then raise KeyboardInterrupt."""
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            log.warning(Said("harvest.log.interrupted"))
            self.stop()
            for f in futures:
                try:
                    f.result()
                except Exception:  # noqa: BLE001 - already in its result and the log
                    pass
            raise

    def _succeeded_within(self, name: str, seconds: int) -> bool:
        last = self.state.load_status(name).last_success
        if not last:
            return False
        try:
            return dates.parse_utc(last)[0] >= dates.now() - seconds
        except ValueError:
            return False

    # -- one provider --------------------------------------------------------------
    def harvest(self, source: Source, *, full: bool = False, from_: str | None = None,
                until: str | None = None, by_identifier: bool | None = None,
                lease: Lease | None = None) -> HarvestResult:
        """Harvest one provider (each of its sets); never raises for the provider's
        faults: they are in the result (and logged). ``lease``: the provider's lease
        this harvest holds (see :meth:`harvest_many`); if it is lost meanwhile the
        harvest stops at once, saying so."""
        with self._running():
            halt = _Halt(lease)
            with self._active_lock:
                self._halts.add(halt)
                if self._stop.is_set():
                    halt.event.set()
            try:
                return self._harvest(source, full=full, from_=from_, until=until,
                                     by_identifier=by_identifier, halt=halt)
            finally:
                with self._active_lock:
                    self._halts.discard(halt)

    def _harvest(self, source: Source, *, full: bool, from_: str | None, until: str | None,
                 by_identifier: bool | None, halt: _Halt) -> HarvestResult:
        started = time.monotonic()
        result = HarvestResult(source)
        last_run = dates.format_utc(dates.now())
        self.state.remember_provider(source.name)
        requests_before = self.client.requests_by.get(source.name, 0)
        use_ids = source.by_identifier if by_identifier is None else by_identifier
        gc_setting = fewer_collections()
        gc_setting.__enter__()
        try:
            info = self._identify(source, refresh=full, halt=halt)
            self.store.put_sets([Set(source.set_spec, info.repository_name,
                                     f"Records harvested from {source.url}")])
            for set_spec in source.sets or (None,):
                lr = ListResult(set_spec)
                result.lists.append(lr)
                try:
                    halt.check()
                    self._harvest_list(source, info, lr, full=full,
                                       from_=from_ or source.from_, until=until or source.until,
                                       by_identifier=use_ids, halt=halt)
                except Interrupted as exc:
                    lr.interrupted = True
                    log.warning("%s: %s%s", source.name,
                                f"set {set_spec}: " if set_spec else "", exc)
                    break
                except (HarvestError, FetchError, StoreError) as exc:
                    lr.error = str(exc)
                    if isinstance(exc, FetchError) and exc.body is not None:
                        self._save_response(source, "failed", exc.body, exc.url, [str(exc)])
                    log.error("%s: %s%s", source.name,
                              f"set {set_spec}: " if set_spec else "", exc)
                    if isinstance(exc, LeaseLost):
                        break
                except Exception as exc:  # noqa: BLE001 - a bug or a crash must not stop the others
                    lr.error = f"{type(exc).__name__}: {exc}"
                    log.exception("%s: harvest failed", source.name)
        except Interrupted as exc:
            result.lists.append(ListResult(None, interrupted=True))
            log.warning("%s: %s", source.name, exc)
        except (HarvestError, FetchError, StoreError) as exc:
            result.error = str(exc)
            log.error("%s: %s", source.name, exc)
        except Exception as exc:  # noqa: BLE001
            result.error = f"{type(exc).__name__}: {exc}"
            log.exception("%s: harvest failed", source.name)
        finally:
            gc_setting.__exit__(None, None, None)
        result.seconds = time.monotonic() - started
        result.requests = self.client.requests_by.get(source.name, 0) - requests_before
        if not halt.lease_lost:
            # (A harvester that lost the lease leaves the status to the one that has it.)
            self._save_status(source, result, last_run)
        if self.on_result:
            self.on_result(result)
        return result

    def _save_status(self, source: Source, result: HarvestResult, last_run: str) -> None:
        status = self.state.load_status(source.name)
        status.url = source.url
        status.last_run = last_run
        status.added += result.added
        status.updated += result.updated
        status.deleted += result.deleted
        status.quarantined += result.quarantined
        status.last_run_records = result.records
        if result.ok:
            status.last_success = status.last_run
            status.last_error = None
        elif result.errors:
            status.last_error = "; ".join(result.errors)
        # An interruption is not an error: the last error stays what it was.
        self.state.save_status(status)
        record_run(self.store, source.name, result, last_run)

    # -- Identify -----------------------------------------------------------------
    def _identify(self, source: Source, refresh: bool = False,
                  halt: _Halt = _NO_HALT) -> IdentifyInfo:
        cached = None if refresh else self.state.load_identify(source.name)
        if cached is not None:
            return cached
        fetched = self._get(source, {"verb": "Identify"}, halt)
        try:
            info = self._read_identify(source, fetched)
        finally:
            fetched.close()
        self.state.save_identify(source.name, info)
        log.info(Said("harvest.log.identify", name=source.name, repository=info.repository_name,
                      granularity=info.granularity))
        return info

    def _read_identify(self, source: Source, fetched: Fetched) -> IdentifyInfo:
        data = fetched.read_all()
        root = None
        reason = "not an OAI-PMH response"
        try:
            root = etree.fromstring(data, safe_parser())
        except etree.XMLSyntaxError as exc:
            reason = str(exc)
            try:
                root = etree.fromstring(data, safe_parser(recover=True))
            except etree.XMLSyntaxError:
                root = None
            if root is not None and local(root.tag) == "OAI-PMH":
                # Readable all the same; the provider should hear of it.
                what = ("uses an entity XML does not define" if "Entity" in reason
                        else "is not well-formed XML")
                log.warning("%s: its Identify answer %s (%s); read what could be read",
                            source.name, what, reason)
                self._save_response(source, "Identify", data, fetched.url, [reason])
        if root is None or local(root.tag) != "OAI-PMH":
            self._save_response(source, "Identify", data, fetched.url, [reason])
            raise HarvestError(
                f"Identify: {source.url} did not answer with an OAI-PMH response ({reason}): "
                "is it the provider's OAI-PMH base URL? (It often ends in /oai, and "
                "?verb=Identify on it shows an XML page.)")
        values: dict[str, str] = {}
        for elem in root.iter():
            name = local(elem.tag)
            if name in ("repositoryName", "granularity", "earliestDatestamp", "deletedRecord") \
                    and name not in values:
                values[name] = (elem.text or "").strip()
            elif name == "error":
                self._save_response(source, "Identify", data, fetched.url, [elem.get("code", "")])
                raise HarvestError(f"Identify: {elem.get('code')}: {(elem.text or '').strip()}")
        gran = values.get("granularity", "")
        if gran not in ("YYYY-MM-DD", "YYYY-MM-DDThh:mm:ssZ"):
            # §4.2: granularity is one of two values; anything else, assume the
            # coarser one (a day of overlap is harmless, a missed record is not).
            log.warning("%s: Identify granularity %r unknown; using YYYY-MM-DD", source.name, gran)
            gran = "YYYY-MM-DD"
        earliest = values.get("earliestDatestamp")
        if earliest:
            try:
                when = dates.parse_utc(earliest)[0]
            except ValueError as exc:
                log.warning("%s: Identify earliestDatestamp %r is impossible (%s); ignored",
                            source.name, earliest, exc)
                earliest = None
            else:
                if when > dates.now() + 86400:
                    log.warning("%s: Identify earliestDatestamp %s is in the future; ignored",
                                source.name, earliest)
                    earliest = None
        return IdentifyInfo(normalize(values.get("repositoryName") or source.name), gran,
                            earliest, values.get("deletedRecord"),
                            dates.format_utc(dates.now()))

    # -- one list -----------------------------------------------------------------
    def _harvest_list(self, source: Source, info: IdentifyInfo, lr: ListResult, *, full: bool,
                      from_: str | None, until: str | None, by_identifier: bool,
                      halt: _Halt) -> None:
        set_spec = lr.set_spec
        st = self.state.load_list(source.name, source.prefix, set_spec)
        run = None if full else st.run_state()
        if run is not None:
            lr.resumed = True
            log.info(Said("harvest.log.resuming-set" if set_spec else "harvest.log.resuming",
                          name=source.name, set=set_spec, pages=run.pages, records=run.records))
        else:
            start = _to_granularity(from_, info) if from_ else (
                None if full else st.last_response_date)
            run = RunState(from_=start, until=_to_granularity(until, info) if until else None)
            if start:
                log.info(Said("harvest.log.from-set" if set_spec else "harvest.log.from",
                              name=source.name, set=set_spec, start=start))
        verb = "ListIdentifiers" if by_identifier else "ListRecords"
        # Two jobs a page (its commit, its checkpoint); with worker processes, room
        # for a page on each and the next one being read.
        writer = WriteBehind(depth=2 * (self.converter.processes + 1)
                             if self.converter.parallel else 2, on_exit=self._done_with_store)
        try:
            self._list_pages(source, info, lr, run, st, verb, writer, halt)
        finally:
            # What was handed over is committed (and checkpointed) even when the
            # harvest stops here: a page is never lost between the two threads.
            writer.close()
        writer.drain()

    def _list_pages(self, source: Source, info: IdentifyInfo, lr: ListResult, run: RunState,
                    st: ListState, verb: str, writer: WriteBehind, halt: _Halt) -> None:
        """One list harvest, page after page: each page leads to one
        :data:`PageOutcome` (next page, end, token expired, ask again), until the
        list ends, fails, or ``halt`` says stop."""
        set_spec = lr.set_spec
        seen_tokens: set[str] = set()
        refetched = False
        pages_this_run = 0
        guard = _ProgressGuard()
        seen = _PageRecords()  # of the page being read, kept while it is asked again

        def checkpoint(records: int) -> None:
            # Runs in the writer, after the page's records are committed.
            snapshot = asdict(run)
            pages = run.pages

            def save() -> None:
                if halt.lease_lost:
                    return  # the new holder goes on from the last checkpoint we saved
                st.run = snapshot
                self.state.save_list(source.name, source.prefix, set_spec, st)
                if self.progress:
                    self.progress(source.name, set_spec, records, lr.complete_list_size)
                if self.on_page:
                    self.on_page(source, set_spec, pages)

            writer.submit(save)

        while True:
            if run.token:
                params = {"verb": verb, "resumptionToken": run.token}
            else:
                params = {"verb": verb, "metadataPrefix": source.prefix}
                if run.from_:
                    params["from"] = run.from_
                if run.until:
                    params["until"] = run.until
                if set_spec:
                    params["set"] = set_spec
            halt.check()
            fetched = self._get(source, params, halt)
            try:
                halt.check()  # the page that came in meanwhile is asked again next run
                records_before = run.records
                outcome = self._page(source, info, lr, run, fetched, verb, params, writer,
                                     refetch=not refetched, halt=halt, seen=seen)
            finally:
                fetched.close()
            if not isinstance(outcome, Refetch):
                seen = _PageRecords()
            match outcome:
                case Refetch():
                    refetched = True
                    continue
                case TokenExpired():
                    refetched = False
                    self._after_expiry(source, info, run)
                    snapshot = asdict(run)
                    writer.submit(lambda snap=snapshot: self._save_run(source, set_spec, st,
                                                                       snap, halt))
                    continue
                case NextPage(token=token):
                    refetched = False
                    if token in seen_tokens or token == run.token:
                        raise HarvestError(say("harvest.loop", token=token[:60]))
                    seen_tokens.add(token)
                    pages_this_run += 1
                    why = guard.page(outcome.fingerprint, run.records - records_before)
                    if why is None and pages_this_run >= self.max_pages:
                        why = say("harvest.max-pages", n=pages_this_run, most=self.max_pages)
                    run.token = token
                    checkpoint(run.records)
                    if why is not None:
                        raise HarvestError(say("harvest.stopped", why=why))
                    continue
                case ListEnd():
                    refetched = False
                    if run.pending:
                        # The next slice of a window split after expired tokens.
                        run.from_, run.until = run.pending.pop(0)
                        run.token = None
                        checkpoint(run.records)
                        continue
                    self._list_complete(source, info, lr, run, st, writer, halt)
                    return

    def _list_complete(self, source: Source, info: IdentifyInfo, lr: ListResult,
                       run: RunState, st: ListState, writer: WriteBehind, halt: _Halt) -> None:
        """The list is complete: its first responseDate is the next run's from."""
        set_spec = lr.set_spec
        writer.drain()
        done = run.records  # this list's records, earlier runs' included
        if halt.lease_lost:
            halt.check()
        if self.progress:
            self.progress(source.name, set_spec, done, lr.complete_list_size)
        started = run.started or dates.format_utc(dates.now())
        st.last_response_date = _to_granularity(started, info)
        st.run = None
        self.state.save_list(source.name, source.prefix, set_spec, st)
        if self.on_page:
            self.on_page(source, set_spec, run.pages)
        w = lr.written
        this_run = w.added + w.updated + w.deleted + w.unchanged
        before = (Said("harvest.log.resumed-after", pages=run.pages - lr.pages)
                  if lr.resumed else "")
        log.info(Said("harvest.log.complete-set" if set_spec else "harvest.log.complete",
                      name=source.name, set=set_spec, pages=lr.pages, records=this_run,
                      added=w.added, updated=w.updated, deleted=w.deleted,
                      unchanged=w.unchanged, quarantined=lr.quarantined, before=before))

    def _save_run(self, source: Source, set_spec: str | None, st: ListState,
                  snapshot: dict[str, object], halt: _Halt) -> None:
        if halt.lease_lost:
            return
        st.run = snapshot
        self.state.save_list(source.name, source.prefix, set_spec, st)

    def _after_expiry(self, source: Source, info: IdentifyInfo, run: RunState) -> None:
        """An expired (or refused) token: re-ask the rest of the window from the
        datestamp of the last stored record; after repeated expiries, in slices.

        This assumes the provider lists in datestamp order, as every provider we
        know does (the spec does not promise it); re-asked records that were
        already stored are written again unchanged, so nothing is duplicated.
        """
        run.expiries += 1
        if run.expiries > _MAX_EXPIRIES:
            raise HarvestError(say("harvest.tokens-refused", n=_MAX_EXPIRIES))
        start = run.last_datestamp or run.from_
        run.token = None
        run.from_ = start
        log.warning("%s: resumption token expired or refused; re-asking from %s",
                    source.name, start or "the beginning")
        end = run.until or run.started
        if run.expiries < 2 or not start or not end:
            return
        lo = dates.parse_lenient(start)
        hi = dates.parse_lenient(end)
        step = 86400 if info.day_granularity else 1
        if lo is None or hi is None or hi - lo <= step:
            return
        # Tokens keep dying before the window is done: halve what is left so
        # that each slice can be finished within a token's lifetime.
        mid = lo + (hi - lo) // 2
        run.pending.insert(0, [_fmt(mid + step, info), run.until])
        run.until = _fmt(mid, info)
        log.warning("%s: window split: %s to %s now, then from %s", source.name, start,
                    run.until, run.pending[0][0])

    def _page(self, source: Source, info: IdentifyInfo, lr: ListResult, run: RunState,
              fetched: Fetched, verb: str, params: dict[str, str], writer: WriteBehind, *,
              refetch: bool = False, halt: _Halt = _NO_HALT,
              seen: _PageRecords | None = None) -> PageOutcome:
        """Read and convert one page and hand it to ``writer`` to commit, in
        batches of the pipeline's size as its records are read (memory does not
        grow with the page); say what comes next (:data:`PageOutcome`). The list's
        resume state is changed only here, at the page's end, and the caller
        checkpoints it behind the page's last batch: it never runs ahead of a
        commit. ``seen``: the page's records handed over by an earlier read of it
        (a page asked for again)."""
        seen = seen if seen is not None else _PageRecords()
        seen.reread()
        # Taken now: it reads the file the page is being parsed from.
        diagnosis = _Diagnosis(self, source, verb, fetched.url,
                               fetched.excerpt() if self.diagnostics is not None else b"")
        reader = PageReader(fetched.body, verb)
        jobs: dict[str, Job] = {}  # the batch being gathered
        problems: list[str] = []  # of the records in ``jobs``
        broken: list[BrokenRecord] = []  # the page's, quarantined with its last batch
        harvest_date = None
        ids: list[RawRecord] = []
        tolerant = False
        size = self.pipeline.batch
        for item in reader.items():
            if reader.page.tolerant and not tolerant:
                # The tolerant reader reads the whole page again: what the strict
                # pass handed over stays handed over (its records were whole), its
                # copies are passed over; the rest is found again.
                tolerant = True
                seen.reread()
                broken.clear()
                ids.clear()
            if tolerant and refetch and not reader.page.well_formed:
                # The page will be asked for again: what the tolerant reader
                # repairs (U+FFFD for a garbled character) is not kept over what
                # the page read again may bring whole; it is read for what the
                # page says besides its records.
                continue
            if len(jobs) >= size:
                # Handed over only now: the reader has let go of the batch's last
                # record (it detaches each record from the page once the next is
                # asked for), so the writer thread never reads a subtree this
                # thread is still changing.
                halt.check()
                self._hand_over(source, info, lr, jobs, problems, (), diagnosis, writer)
                jobs, problems = {}, []
            if harvest_date is None:
                harvest_date = dates.parse_lenient(reader.page.response_date or "") or dates.now()
            if isinstance(item, BrokenRecord):
                broken.append(item)
                continue
            seen.read(item.identifier)
            if verb == "ListIdentifiers" and not item.deleted:
                ids.append(item)
                continue
            self._job(source, info, item, harvest_date, jobs, broken, problems, seen)
        page = reader.page
        if not page.well_formed and page.oai and refetch:
            # A garbled page is often a one-off (a proxy, a crash mid-write): ask
            # again once before settling for the records that can be read. What
            # was read is handed over (the page read again skips it).
            self._hand_over(source, info, lr, jobs, problems, (), diagnosis, writer)
            diagnosis.keep(["not well-formed; asked again", *page.repairs])
            log.warning("%s: %s; asking for the page again", source.name,
                        page.repairs[0] if page.repairs else "page not well-formed")
            return Refetch(page.repairs[0] if page.repairs else "not well-formed")
        if not page.oai:
            diagnosis.keep(["not an OAI-PMH response", *page.repairs])
            raise HarvestError(say("harvest.not-oai", verb=verb))
        if page.errors:
            codes = {c for c, _ in page.errors}
            if codes == {"noRecordsMatch"}:
                # §3.6: no records in the window is an answer, not a failure.
                log.info(Said("harvest.log.no-records", name=source.name,
                              what=_describe(params)))
                run.started = run.started or page.response_date
                return ListEnd()
            diagnosis.keep([f"{c}: {m}" for c, m in page.errors])
            if "badResumptionToken" in codes and "resumptionToken" in params:
                return TokenExpired()
            raise HarvestError(say("harvest.provider-errors", request=_describe(params),
                                   errors="; ".join(f"{c}: {m}" for c, m in page.errors)))
        if harvest_date is None:
            harvest_date = dates.parse_lenient(page.response_date or "") or dates.now()
        for header in ids:
            if len(jobs) >= size:
                halt.check()
                self._hand_over(source, info, lr, jobs, problems, (), diagnosis, writer)
                jobs, problems = {}, []
            self._get_record(source, info, header, harvest_date, jobs, broken, problems, seen,
                             halt)
        problems.extend(page.repairs)
        self._hand_over(source, info, lr, jobs, problems, broken, diagnosis, writer)
        lr.pages += 1
        run.pages += 1
        run.records += seen.count
        run.started = run.started or page.response_date or dates.format_utc(dates.now())
        last_ds = dates.parse_lenient(run.last_datestamp) if run.last_datestamp else None
        if seen.last_datestamp is not None and (last_ds is None or seen.last_datestamp > last_ds):
            last_ds = seen.last_datestamp
        if last_ds is not None:
            run.last_datestamp = _fmt(last_ds, info)
        token = page.token
        if token is not None and token.complete_list_size is not None:
            lr.complete_list_size = token.complete_list_size
        if token is not None and token.value:
            return NextPage(token.value, seen.fingerprint)
        return ListEnd()

    def _hand_over(self, source: Source, info: IdentifyInfo, lr: ListResult,
                   jobs: dict[str, Job], problems: list[str], broken: Iterable[BrokenRecord],
                   diagnosis: _Diagnosis, writer: WriteBehind) -> None:
        """One batch of a page to the pipeline, and its commit to ``writer``: the
        batch is built (and, by worker processes that can open the store, written)
        while this thread reads on; the commit waits for it and keeps what it says
        of its records with the page's response."""
        todo = list(jobs.values())
        bad_before = list(broken)
        if not todo and not problems and not bad_before:
            return
        new_sets = {spec for job in todo if not job.deleted for spec in job.sets
                    if spec.count(":") >= 2 and spec not in self._known_sets}
        if new_sets:
            names = self._set_names(source)
            self._define_sets(
                Set(spec, f"{info.repository_name}: "
                          f"{names.get(spec.split(':', 2)[2]) or spec.split(':', 2)[2]}")
                for spec in sorted(new_sets))
        batch = self.pipeline.start(source.name, [job.incoming(source.set_spec)
                                                  for job in todo]) if todo else None

        def commit() -> None:
            found = list(problems)
            bad = bad_before
            if batch is not None:
                report, outcomes = batch.finish()
                lr.written += report.written
                lr.kept.extend(report.kept)
                for job, outcome in zip(todo, outcomes, strict=True):
                    found.extend(f"record {job.identifier}: {n}" for n in outcome.notes)
                    if outcome.error is not None:
                        bad.append(BrokenRecord(job.position, job.identifier, outcome.error,
                                                xml_text(job.metadata)))
            saved = None
            if found or bad:
                saved = diagnosis.keep(found + [f"record {b.position} ({b.identifier}): {b.reason}"
                                                for b in bad])
                for problem in found:
                    log.warning("%s: %s (response saved to %s)", source.name, problem, saved)
            if bad:
                self._quarantine(source, bad, saved)
                lr.quarantined += len(bad)

        writer.submit(commit)

    def _job(self, source: Source, info: IdentifyInfo, raw: RawRecord, harvest_date: int,
             jobs: dict[str, Job], broken: list[BrokenRecord], problems: list[str],
             seen: _PageRecords | None = None) -> None:
        """A harvested record as a conversion job (its XML copied out of the page,
        which is freed as it is read), unless an earlier read of the page handed
        it over already; a second copy of a record on one page keeps the later
        datestamp."""
        seen = seen if seen is not None else _PageRecords()
        if seen.handed_before(raw.identifier, raw.datestamp):
            return
        ds = dates.parse_lenient(raw.datestamp)
        if ds is None:
            problems.append(f"record {raw.identifier}: unreadable datestamp {raw.datestamp!r}")
        elif not _exact_granularity(raw.datestamp, info):
            problems.append(f"record {raw.identifier}: datestamp {raw.datestamp!r} is not in the "
                            f"repository's granularity {info.granularity}")
        if len(raw.identifier) > MAX_IDENTIFIER:
            broken.append(BrokenRecord(raw.position, raw.identifier,
                                       f"identifier of {len(raw.identifier)} characters (at most "
                                       f"{MAX_IDENTIFIER})", _xml_of(raw)))
            return
        sets = [source.set_spec]
        for spec in raw.sets:
            if _SPEC_SEGMENT.match(spec):
                sets.append(f"{source.set_spec}:{spec}")
            else:
                problems.append(f"record {raw.identifier}: setSpec {spec!r} is not valid; ignored")
        if self.converter.parallel:
            metadata: bytes | etree._Element | None = serialize(raw.metadata)
            abouts: list[bytes | etree._Element] = [serialize(a) or b"" for a in raw.abouts]
        else:
            metadata, abouts = raw.metadata, list(raw.abouts)
        job = Job(raw.identifier, raw.position, raw.deleted, sets,
                  ds if ds is not None else harvest_date, harvest_date, metadata, abouts,
                  source.url, source.prefix)
        previous = seen.handed_datestamp(raw.identifier)
        if previous is not None:
            problems.append(f"record {raw.identifier} appears twice on one page; the later "
                            "datestamp is kept")
            if ds is not None and previous > job.datestamp:
                return
            # The later copy goes where the page put it (after the earlier one,
            # which it replaces if a batch before this one wrote it already).
            jobs.pop(raw.identifier, None)
        seen.hand(raw.identifier, raw.datestamp, job.datestamp)
        jobs[raw.identifier] = job

    def _get_record(self, source: Source, info: IdentifyInfo, header: RawRecord,
                    harvest_date: int, jobs: dict[str, Job],
                    broken: list[BrokenRecord], problems: list[str],
                    seen: _PageRecords | None = None, halt: _Halt = _NO_HALT) -> None:
        params = {"verb": "GetRecord", "identifier": header.identifier,
                  "metadataPrefix": source.prefix}
        fetched = self._get(source, params, halt)
        try:
            reader = PageReader(fetched.body, "GetRecord")
            for item in reader.items():
                item.position = header.position
                if isinstance(item, BrokenRecord):
                    broken.append(item)
                else:
                    self._job(source, info, item, harvest_date, jobs, broken, problems, seen)
            page = reader.page
            if page.errors:
                codes = {c for c, _ in page.errors}
                if codes == {"idDoesNotExist"}:
                    problems.append(f"GetRecord {header.identifier}: listed but does not exist "
                                    "(deleted meanwhile?)")
                    return
                broken.append(BrokenRecord(header.position, header.identifier, "; ".join(
                    f"{c}: {m}" for c, m in page.errors), ""))
        finally:
            fetched.close()

    # -- records ------------------------------------------------------------------
    def _set_names(self, source: Source) -> dict[str, str]:
        """The provider's name of each of its sets (``ListSets``, asked once per
        provider and harvester, only when its records are in sets); ``{}`` when it
        cannot tell, and the union names the sets by their setSpec."""
        with self._sets_lock:
            cached = self._names.get(source.name)
        if cached is not None:
            return cached
        names: dict[str, str] = {}
        params = {"verb": "ListSets"}
        seen: set[str] = set()
        try:
            while True:
                fetched = self._get(source, params)
                token = None
                try:
                    for _, elem in xml.iterparse(fetched.body, events=("end",)):
                        tag = local(elem.tag)
                        if tag == "set":
                            spec = elem.findtext("{*}setSpec") or elem.findtext("setSpec")
                            name = elem.findtext("{*}setName") or elem.findtext("setName")
                            if spec and name and name.strip():
                                names[spec.strip()] = normalize(" ".join(name.split()))
                            elem.clear()
                        elif tag == "resumptionToken":
                            token = (elem.text or "").strip()
                        elif tag == "error":
                            log.info("%s: ListSets: %s: %s (sets are named by their setSpec)",
                                     source.name, elem.get("code"), (elem.text or "").strip())
                finally:
                    fetched.close()
                if not token or token in seen:
                    break
                seen.add(token)
                params = {"verb": "ListSets", "resumptionToken": token}
        except (FetchError, etree.XMLSyntaxError) as exc:
            log.info("%s: ListSets failed (%s); sets are named by their setSpec",
                     source.name, exc)
        with self._sets_lock:
            self._names[source.name] = names
        return names

    def _define_sets(self, sets: Iterable[Set]) -> None:
        with self._sets_lock:
            new = {s.spec: s for s in sets if s.spec not in self._known_sets}
            if new:
                self.store.put_sets(new.values())
                self._known_sets.update(new)

    # -- wire and diagnostics ----------------------------------------------------
    def _get(self, source: Source, params: dict[str, str], halt: _Halt = _NO_HALT) -> Fetched:
        try:
            return self.client.get(source.url, params, delay=source.delay, auth=source.auth,
                                   headers=source.headers or None, check=check_body,
                                   label=source.name, cancel=halt.event)
        except Cancelled:
            halt.check()
            raise Interrupted(Said("harvest.log.interrupted-page")) from None

    def _folder(self, source: Source) -> Path | None:
        if self.diagnostics is None:
            return None
        folder = self.diagnostics / source.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _save_response(self, source: Source, verb: str, body: bytes, url: str,
                       problems: list[str]) -> Path | None:
        """Keep an offending response (and why) for the operator."""
        folder = self._folder(source)
        if folder is None:
            return None
        with self._files_lock:
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
            n = 1
            while (path := folder / f"{stamp}-{verb}-{n}.xml").exists():
                n += 1
            path.write_bytes(body)
            path.with_suffix(".txt").write_text(
                f"URL: {url}\n" + "".join(f"- {p}\n" for p in problems), encoding="utf-8")
        return path

    def _quarantine(self, source: Source, broken: list[BrokenRecord], saved: Path | None) -> None:
        for b in broken:
            log.warning("%s: record %s quarantined: %s", source.name,
                        b.identifier or f"#{b.position}", b.reason)
        folder = self._folder(source)
        if folder is None:
            return
        with self._files_lock, open(folder / "quarantine.jsonl", "a", encoding="utf-8") as out:
            for b in broken:
                out.write(json.dumps({
                    "time": dates.format_utc(dates.now()), "identifier": b.identifier,
                    "position": b.position, "reason": b.reason,
                    "response": saved.name if saved else None, "xml": b.text,
                }, ensure_ascii=False) + "\n")


# -- helpers -------------------------------------------------------------------

class _PageRecords:
    """What one page handed over to the pipeline, over every read of it (the
    strict reader's and the tolerant reader's, and the page asked for again): a
    record an earlier read handed over, with the same datestamp, is not handed
    over again (neither written nor counted twice). Identifiers and datestamps
    only: the records themselves are gone with their batches."""

    __slots__ = ("earlier", "handed", "count", "last_datestamp", "fingerprint")

    def __init__(self) -> None:
        # identifier -> (datestamp as the provider sent it, datestamp as stored)
        self.earlier: dict[str, tuple[str, int]] = {}
        self.handed: dict[str, tuple[str, int]] = {}
        self.count = 0
        """Records (distinct identifiers) handed over."""
        self.last_datestamp: int | None = None
        self.fingerprint = 0
        """The identifiers of the last read, in its order (tells a page from another)."""

    def reread(self) -> None:
        """A new read of the page begins."""
        self.earlier.update(self.handed)
        self.handed.clear()
        self.fingerprint = 0

    def read(self, identifier: str) -> None:
        self.fingerprint = hash((self.fingerprint, identifier))

    def handed_before(self, identifier: str, datestamp: str) -> bool:
        got = self.earlier.get(identifier)
        return got is not None and got[0] == datestamp and identifier not in self.handed

    def handed_datestamp(self, identifier: str) -> int | None:
        got = self.handed.get(identifier) or self.earlier.get(identifier)
        return got[1] if got is not None else None

    def hand(self, identifier: str, sent: str, stored: int) -> None:
        if identifier not in self.handed and identifier not in self.earlier:
            self.count += 1
        self.handed[identifier] = (sent, stored)
        if self.last_datestamp is None or stored > self.last_datestamp:
            self.last_datestamp = stored


class _Diagnosis:
    """One page's response, kept for diagnosis once however many of its batches
    find something to say: the first saves it, the others add their lines to
    its notes. ``body`` is the bounded excerpt (:meth:`Fetched.excerpt`)."""

    def __init__(self, harvester: Harvester, source: Source, verb: str, url: str,
                 body: bytes) -> None:
        self._harvester = harvester
        self._source = source
        self._verb = verb
        self._url = url
        self._body = body
        self._lock = threading.Lock()
        self.path: Path | None = None

    def keep(self, problems: list[str]) -> Path | None:
        with self._lock:
            if self.path is None:
                self.path = self._harvester._save_response(self._source, self._verb, self._body,
                                                           self._url, problems)
            else:
                with open(self.path.with_suffix(".txt"), "a", encoding="utf-8") as notes:
                    notes.write("".join(f"- {p}\n" for p in problems))
            return self.path


class _ProgressGuard:
    """Notices a list that goes on without end: pages in a row without a record, or
    pages the provider already sent, each under a fresh resumption token."""

    def __init__(self) -> None:
        self.idle = 0
        self.repeated = 0
        self.seen: set[int] = set()

    def page(self, fingerprint: int, records: int) -> str | None:
        if not records:
            self.idle += 1
            if self.idle >= _MAX_IDLE_PAGES:
                return say("harvest.idle-pages", n=self.idle)
            return None
        self.idle = 0
        if fingerprint in self.seen:
            self.repeated += 1
            if self.repeated >= _MAX_REPEATED_PAGES:
                return say("harvest.repeated-pages", n=self.repeated)
        self.seen.add(fingerprint)
        return None


def default_diagnostics(store: Repository) -> Path:
    """Where a harvest into ``store`` keeps offending responses and quarantined
    records unless told otherwise: beside a SQLite store's file
    (``union.db`` → ``union-harvest-diagnostics``), else in the user's data folder,
    one folder per store (never the working directory).

        >>> from thuvien_interop.store import open_store
        >>> default_diagnostics(open_store("sqlite:///:memory:")).name
        'harvest-diagnostics'
    """
    path = getattr(store, "path", None)
    if isinstance(path, str) and path not in ("", ":memory:"):
        p = Path(path).resolve()
        return p.with_name(f"{p.stem}-harvest-diagnostics")
    url = shared_url(store)
    if url is None:
        return user_data_dir() / "harvest-diagnostics"
    # One folder per database (and schema), named after it without credentials.
    where = re.sub(r"^[a-z+]+://([^@/]*@)?", "", url)
    return user_data_dir() / "harvest-diagnostics" / re.sub(r"[^A-Za-z0-9._-]+", "-",
                                                            where).strip("-")


def _fmt(seconds: int, info: IdentifyInfo) -> str:
    return dates.format_utc(seconds, dates.DAY if info.day_granularity else dates.SECOND)


def _to_granularity(text: str, info: IdentifyInfo) -> str:
    """A date the user (or a responseDate) gave, in the provider's granularity
    (§3.3.1: a day-granularity provider refuses seconds)."""
    seconds = dates.parse_lenient(text)
    if seconds is None:
        raise HarvestError(say("harvest.not-a-date", text=text))
    return _fmt(seconds, info)


def _exact_granularity(text: str, info: IdentifyInfo) -> bool:
    try:
        gran = dates.parse_utc(text)[1]
    except ValueError:
        return False
    return gran == (dates.DAY if info.day_granularity else dates.SECOND)


def _xml_of(raw: RawRecord) -> str:
    return etree.tostring(raw.metadata, encoding="unicode") if raw.metadata is not None else ""


def _describe(params: dict[str, str]) -> str:
    return " ".join(f"{k}={v if k != 'resumptionToken' else v[:40]}" for k, v in params.items())


def status_rows(store: Repository) -> list[ProviderStatus]:
    """Every provider's status, for ``harvest status``."""
    state = HarvestState(store)
    return [state.load_status(name) for name in state.providers()]


__all__ = ["DEFAULT", "Harvester", "HarvestError", "HarvestResult", "Interrupted", "LeaseLost",
           "ListEnd", "ListResult", "NextPage", "PageOutcome", "Refetch", "Source", "TokenExpired",
           "default_diagnostics", "status_rows"]
