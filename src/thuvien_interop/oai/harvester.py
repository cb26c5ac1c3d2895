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
import os
import re
import socket
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

from .. import dates
from ..crosswalk.text import normalize
from ..formats import FormatRegistry, default_registry
from ..model import MAX_IDENTIFIER, Set, WriteSummary
from ..pipeline import Pipeline
from ..store.base import Repository
from ..workers import WriteBehind, fewer_collections
from .harvest_convert import Job, serialize, xml_text
from .harvest_http import Fetched, FetchError, PoliteClient
from .harvest_overview import record_run
from .harvest_page import BrokenRecord, PageReader, RawRecord, check_body, local
from .harvest_sources import Source
from .harvest_state import HarvestState, IdentifyInfo, ListState, ProviderStatus, RunState

if TYPE_CHECKING:
    from ..sru.indexing import IndexProfile

log = logging.getLogger("thuvien_interop.harvest")

_SPEC_SEGMENT = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")
_MAX_EXPIRIES = 20

PageHook = Callable[[Source, str | None, int], None]
"""Called after each page is committed and checkpointed: (source, set, page number)."""
Progress = Callable[[str, str | None, int, int | None], None]
"""Called after each page: (provider name, set, records so far, completeListSize or None)."""


class HarvestError(Exception):
    """A list could not be harvested; the message says why, for an operator."""


class Interrupted(HarvestError):
    """:meth:`Harvester.stop` was called (Ctrl-C): the list stopped between two
    pages, everything committed so far is kept, and the next run resumes there."""


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

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class HarvestResult:
    """What harvesting one provider did."""

    source: Source
    lists: list[ListResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    requests: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and all(lr.ok for lr in self.lists)

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


class Harvester:
    """Harvests OAI-PMH providers into a store.

    ``diagnostics`` is the folder where offending responses and quarantined
    records are kept, one sub-folder per provider (``None``: keep nothing, log
    only). ``on_page`` and ``progress`` are called after each committed page,
    ``on_result`` after each provider. ``processes``: see :class:`~thuvien_interop.workers.WorkerPool`.
    """

    def __init__(self, store: Repository, *, registry: FormatRegistry | None = None,
                 client: PoliteClient | None = None,
                 diagnostics: str | Path | None = "harvest-diagnostics",
                 on_page: PageHook | None = None, progress: Progress | None = None,
                 processes: int | None = 1,
                 on_result: Callable[[HarvestResult], None] | None = None,
                 index_profile: IndexProfile | None = None, replace: bool = False) -> None:
        self.store = store
        self.registry = registry or default_registry()
        # Pages are built and written by the one write path, on ``processes``
        # worker processes (``None``: one per core; 1, the default: all in this
        # process). Worker processes import the main module again
        # (multiprocessing's forkserver): a script that asks for them keeps its
        # work under ``if __name__ == "__main__":``, as the command line does.
        # ``replace``: a harvested oai_dc record replaces a stored MARC record.
        self.pipeline = Pipeline(store, registry=self.registry, processes=processes,
                                 index_profile=index_profile, replace=replace,
                                 what="harvested records", collect=False)
        self.converter = self.pipeline.pool
        self.client = client or PoliteClient()
        self.diagnostics = Path(diagnostics) if diagnostics is not None else None
        self.state = HarvestState(store)
        self.on_page = on_page
        self.on_result = on_result
        self.index_profile = index_profile  # which fields feed which search index
        self.lease_seconds = 900
        self._leases: dict[int, tuple[str, str]] = {}
        self.progress = progress
        self._sets_lock = threading.Lock()
        self._known_sets: set[str] = set()
        self._names: dict[str, dict[str, str]] = {}
        self._files_lock = threading.Lock()
        self._stop = threading.Event()
        self._active = 0  # harvests and harvest_many calls running (stop() ends with them)
        self._active_lock = threading.Lock()

    def close(self) -> None:
        """Stop the worker processes (a harvester can be used again after)."""
        self.pipeline.close()

    def stop(self) -> None:
        """Ask every harvest in progress to stop at its next page (from any thread,
        e.g. on Ctrl-C): the pages already handed over are committed and
        checkpointed, the page being fetched is dropped, and no new provider is
        started. The next run resumes each list where it stopped. Once the
        harvests in progress have ended, the harvester can be used again."""
        with self._active_lock:
            if self._active:
                self._stop.set()

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
        one at a time, so several processes or machines can share one list;
        ``skip_recent`` (seconds) skips providers harvested successfully that
        recently, so each is harvested once per round however many nodes run."""
        with self._running():
            return self._harvest_many(list(sources), workers, full, by_identifier, skip_recent)

    def _harvest_many(self, sources: list[Source], workers: int, full: bool,
                      by_identifier: bool | None, skip_recent: int) -> list[HarvestResult]:
        if not hasattr(self.store, "claim"):
            with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="harvest") as pool:
                futures = [pool.submit(self._unless_stopped, s, full, by_identifier)
                           for s in sources]
                return [r for r in self._wait(futures) if r is not None]
        # Leased: every worker (thread here, or process or machine over the same
        # store) claims the next provider nobody holds, so adding harvesters adds
        # capacity and no provider is harvested twice at once. A node that dies
        # loses its leases when they expire; each committed page renews them.
        by_name = {s.name: s for s in sources}
        names = list(by_name)
        results: dict[str, HarvestResult] = {}
        node = f"{socket.gethostname()}:{os.getpid()}"
        done: set[str] = set()
        lock = threading.Lock()

        def work() -> None:
            holder = f"{node}:{threading.get_ident()}"
            while True:
                with lock:
                    todo = [n for n in names if n not in done]
                if self._stop.is_set():
                    return
                name = self.store.claim(todo, holder, self.lease_seconds) if todo else None  # type: ignore[attr-defined]
                if name is None:
                    return
                with lock:
                    done.add(name)
                if skip_recent and self._succeeded_within(name, skip_recent):
                    self.store.release(name, holder)  # type: ignore[attr-defined]
                    continue
                self._leases[threading.get_ident()] = (name, holder)
                try:
                    results[name] = self.harvest(by_name[name], full=full, by_identifier=by_identifier)
                finally:
                    self._leases.pop(threading.get_ident(), None)
                    self.store.release(name, holder)  # type: ignore[attr-defined]

        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="harvest") as pool:
            self._wait([pool.submit(work) for _ in range(max(1, min(workers, len(names))))])
        # Providers another node held are not in this node's results.
        return [results[n] for n in names if n in results]

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
            log.warning("interrupted: the pages handed over are being committed; the next "
                        "run resumes from there")
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
                until: str | None = None, by_identifier: bool | None = None) -> HarvestResult:
        """Harvest one provider (each of its sets); never raises for the provider's
        faults: they are in the result (and logged)."""
        with self._running():
            return self._harvest(source, full=full, from_=from_, until=until,
                                 by_identifier=by_identifier)

    def _harvest(self, source: Source, *, full: bool, from_: str | None, until: str | None,
                 by_identifier: bool | None) -> HarvestResult:
        started = time.monotonic()
        result = HarvestResult(source)
        status = self.state.load_status(source.name)
        status.url = source.url
        status.last_run = dates.format_utc(dates.now())
        self.state.remember_provider(source.name)
        requests_before = self.client.requests_by.get(source.name, 0)
        use_ids = source.by_identifier if by_identifier is None else by_identifier
        gc_setting = fewer_collections()
        gc_setting.__enter__()
        try:
            info = self._identify(source, refresh=full)
            self.store.put_sets([Set(source.set_spec, info.repository_name,
                                     f"Records harvested from {source.url}")])
            for set_spec in source.sets or (None,):
                lr = ListResult(set_spec)
                result.lists.append(lr)
                try:
                    self._harvest_list(source, info, lr, full=full,
                                       from_=from_ or source.from_, until=until or source.until,
                                       by_identifier=use_ids)
                except (HarvestError, FetchError) as exc:
                    lr.error = str(exc)
                    if isinstance(exc, FetchError) and exc.body is not None:
                        self._save_response(source, "failed", exc.body, exc.url, [str(exc)])
                    log.error("%s: %s%s", source.name,
                              f"set {set_spec}: " if set_spec else "", exc)
                except Exception as exc:  # noqa: BLE001 - a bug or a crash must not stop the others
                    lr.error = f"{type(exc).__name__}: {exc}"
                    log.exception("%s: harvest failed", source.name)
        except (HarvestError, FetchError) as exc:
            result.error = str(exc)
            log.error("%s: %s", source.name, exc)
        except Exception as exc:  # noqa: BLE001
            result.error = f"{type(exc).__name__}: {exc}"
            log.exception("%s: harvest failed", source.name)
        finally:
            gc_setting.__exit__(None, None, None)
        result.seconds = time.monotonic() - started
        result.requests = self.client.requests_by.get(source.name, 0) - requests_before
        status.added += result.added
        status.updated += result.updated
        status.deleted += result.deleted
        status.quarantined += result.quarantined
        status.last_run_records = result.added + result.updated + result.unchanged + result.deleted
        if result.ok:
            status.last_success = status.last_run
            status.last_error = None
        else:
            status.last_error = "; ".join(result.errors)
        self.state.save_status(status)
        record_run(self.store, source.name, result, status.last_run)
        if self.on_result:
            self.on_result(result)
        return result

    # -- Identify -----------------------------------------------------------------
    def _identify(self, source: Source, refresh: bool = False) -> IdentifyInfo:
        cached = None if refresh else self.state.load_identify(source.name)
        if cached is not None:
            return cached
        fetched = self._get(source, {"verb": "Identify"})
        try:
            info = self._read_identify(source, fetched)
        finally:
            fetched.close()
        self.state.save_identify(source.name, info)
        log.info("%s: %s, granularity %s", source.name, info.repository_name, info.granularity)
        return info

    def _read_identify(self, source: Source, fetched: Fetched) -> IdentifyInfo:
        data = fetched.read_all()
        try:
            root = etree.fromstring(data, etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                recover=True))
        except etree.XMLSyntaxError as exc:
            root = None
            reason = str(exc)
        else:
            reason = "not an OAI-PMH response"
        if root is None or local(root.tag) != "OAI-PMH":
            self._save_response(source, "Identify", data, fetched.url, [reason])
            raise HarvestError(f"Identify: {reason}")
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
        return IdentifyInfo(normalize(values.get("repositoryName") or source.name), gran,
                            values.get("earliestDatestamp"), values.get("deletedRecord"),
                            dates.format_utc(dates.now()))

    # -- one list -----------------------------------------------------------------
    def _harvest_list(self, source: Source, info: IdentifyInfo, lr: ListResult, *, full: bool,
                      from_: str | None, until: str | None, by_identifier: bool) -> None:
        set_spec = lr.set_spec
        st = self.state.load_list(source.name, source.prefix, set_spec)
        run = None if full else st.run_state()
        if run is not None:
            lr.resumed = True
            log.info("%s: resuming %s after page %d (%d records so far)", source.name,
                     f"set {set_spec}" if set_spec else "the harvest", run.pages, run.records)
        else:
            start = _to_granularity(from_, info) if from_ else (
                None if full else st.last_response_date)
            run = RunState(from_=start, until=_to_granularity(until, info) if until else None)
            if start:
                log.info("%s: harvesting%s from %s", source.name,
                         f" set {set_spec}" if set_spec else "", start)
        verb = "ListIdentifiers" if by_identifier else "ListRecords"
        # Two jobs a page (its commit, its checkpoint); with worker processes, room
        # for a page on each and the next one being read.
        writer = WriteBehind(depth=2 * (self.converter.processes + 1)
                             if self.converter.parallel else 2)
        try:
            self._list_pages(source, info, lr, run, st, verb, writer)
        finally:
            # What was handed over is committed (and checkpointed) even when the
            # harvest stops here: a page is never lost between the two threads.
            writer.close()
        writer.drain()

    def _list_pages(self, source: Source, info: IdentifyInfo, lr: ListResult, run: RunState,
                    st: ListState, verb: str, writer: WriteBehind) -> None:
        set_spec = lr.set_spec
        seen_tokens: set[str] = set()
        refetched = False
        lease = self._leases.get(threading.get_ident())

        def checkpoint(records: int) -> None:
            # Runs in the writer, after the page's records are committed.
            snapshot = asdict(run)
            pages = run.pages

            def save() -> None:
                st.run = snapshot
                self.state.save_list(source.name, source.prefix, set_spec, st)
                if self.progress:
                    self.progress(source.name, set_spec, records, lr.complete_list_size)
                self._page_done(source, set_spec, pages, lease)

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
            self._stopping()
            fetched = self._get(source, params)
            try:
                self._stopping()  # the page that came in meanwhile is asked again next run
                outcome = self._page(source, info, lr, run, fetched, verb, params, writer,
                                     refetch=not refetched)
            finally:
                fetched.close()
            if outcome == "refetch":
                refetched = True
                continue
            refetched = False
            if outcome == "expired":
                self._after_expiry(source, info, run)
                snapshot = asdict(run)
                writer.submit(lambda snap=snapshot: self._save_run(source, set_spec, st, snap))
                continue
            done = run.records
            token = outcome
            if token:
                if token in seen_tokens or token == run.token:
                    raise HarvestError(
                        f"resumption loop: the provider sent the token {token[:60]!r} twice; "
                        "stopped (the pages so far are stored)")
                seen_tokens.add(token)
                run.token = token
                checkpoint(done)
                continue
            if run.pending:
                # The next slice of a window split after expired tokens.
                run.from_, run.until = run.pending.pop(0)
                run.token = None
                checkpoint(done)
                continue
            # The list is complete: its first responseDate is the next run's from.
            writer.drain()
            if self.progress:
                self.progress(source.name, set_spec, done, lr.complete_list_size)
            started = run.started or dates.format_utc(dates.now())
            st.last_response_date = _to_granularity(started, info)
            st.run = None
            self.state.save_list(source.name, source.prefix, set_spec, st)
            self._page_done(source, set_spec, run.pages, lease)
            log.info("%s: %s complete: %d pages, %d records (%d new, %d updated, %d deleted, "
                     "%d unchanged, %d quarantined)", source.name,
                     f"set {set_spec}" if set_spec else "harvest", lr.pages, done,
                     lr.written.added, lr.written.updated, lr.written.deleted,
                     lr.written.unchanged, lr.quarantined)
            return

    def _stopping(self) -> None:
        if self._stop.is_set():
            raise Interrupted("interrupted: the pages before this one are stored; the next run "
                              "resumes here")

    def _save_run(self, source: Source, set_spec: str | None, st: ListState,
                  snapshot: dict[str, object]) -> None:
        st.run = snapshot
        self.state.save_list(source.name, source.prefix, set_spec, st)

    def _page_done(self, source: Source, set_spec: str | None, page: int,
                   lease: tuple[str, str] | None) -> None:
        if lease is not None:
            self.store.lease(lease[0], lease[1], self.lease_seconds)  # type: ignore[attr-defined]
        if self.on_page:
            self.on_page(source, set_spec, page)

    def _after_expiry(self, source: Source, info: IdentifyInfo, run: RunState) -> None:
        """An expired (or refused) token: re-ask the rest of the window from the
        datestamp of the last stored record; after repeated expiries, in slices.

        This assumes the provider lists in datestamp order, as every provider we
        know does (the spec does not promise it); re-asked records that were
        already stored are written again unchanged, so nothing is duplicated.
        """
        run.expiries += 1
        if run.expiries > _MAX_EXPIRIES:
            raise HarvestError(f"the provider refused {_MAX_EXPIRIES} resumption tokens; giving "
                               "up (the pages so far are stored; the next run goes on)")
        start = run.last_datestamp or run.from_
        run.token = None
        run.from_ = start
        log.warning("%s: resumption token expired or refused; re-asking from %s",
                    source.name, start or "the beginning")
        end = run.until or run.started
        if run.expiries < 2 or not start or not end:
            return
        lo = _parse_lenient(start)
        hi = _parse_lenient(end)
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
              refetch: bool = False) -> str | None:
        """Read and convert one page and hand it to ``writer`` to commit; return the
        next token (``None`` at the end), ``"expired"`` after a badResumptionToken,
        or ``"refetch"`` when a page that is not well-formed should be asked for
        once more."""
        reader = PageReader(fetched.body, verb)
        jobs: dict[str, Job] = {}
        broken: list[BrokenRecord] = []
        problems: list[str] = []
        harvest_date = None
        last_ds: int | None = _parse_lenient(run.last_datestamp) if run.last_datestamp else None
        ids: list[RawRecord] = []
        tolerant = False
        for item in reader.items():
            if reader.page.tolerant and not tolerant:
                # The tolerant reader reads the whole page again: start over, so
                # that what the strict pass saw half-parsed is not kept.
                tolerant = True
                jobs.clear()
                broken.clear()
                ids.clear()
            if harvest_date is None:
                harvest_date = _parse_lenient(reader.page.response_date or "") or dates.now()
            if isinstance(item, BrokenRecord):
                broken.append(item)
                continue
            if verb == "ListIdentifiers" and not item.deleted:
                ids.append(item)
                continue
            self._job(source, info, item, harvest_date, jobs, broken, problems)
        page = reader.page
        if not page.well_formed and page.oai and refetch:
            # A garbled page is often a one-off (a proxy, a crash mid-write): ask
            # again once before settling for the records that can be read.
            self._save_response(source, verb, fetched.read_all(), fetched.url,
                                ["not well-formed; asked again", *page.repairs])
            log.warning("%s: %s; asking for the page again", source.name,
                        page.repairs[0] if page.repairs else "page not well-formed")
            return "refetch"
        if not page.oai:
            self._save_response(source, verb, fetched.read_all(), fetched.url,
                                ["not an OAI-PMH response", *page.repairs])
            raise HarvestError(f"{verb}: the provider answered with something that is not an "
                               "OAI-PMH response")
        if page.errors:
            codes = {c for c, _ in page.errors}
            if codes == {"noRecordsMatch"}:
                # §3.6: no records in the window is an answer, not a failure.
                log.info("%s: no records match %s", source.name, _describe(params))
                run.started = run.started or page.response_date
                return None
            if "badResumptionToken" in codes and "resumptionToken" in params:
                self._save_response(source, verb, fetched.read_all(), fetched.url,
                                    [f"{c}: {m}" for c, m in page.errors])
                return "expired"
            self._save_response(source, verb, fetched.read_all(), fetched.url,
                                [f"{c}: {m}" for c, m in page.errors])
            raise HarvestError("; ".join(f"{c}: {m}" for c, m in page.errors) +
                               f" (request: {_describe(params)})")
        if harvest_date is None:
            harvest_date = _parse_lenient(page.response_date or "") or dates.now()
        for header in ids:
            self._get_record(source, info, header, harvest_date, jobs, broken, problems)
        problems.extend(page.repairs)
        todo = list(jobs.values())
        new_sets = {spec for job in todo if not job.deleted for spec in job.sets
                    if spec.count(":") >= 2 and spec not in self._known_sets}
        if new_sets:
            names = self._set_names(source)
            self._define_sets(
                Set(spec, f"{info.repository_name}: "
                          f"{names.get(spec.split(':', 2)[2]) or spec.split(':', 2)[2]}")
                for spec in sorted(new_sets))
        # The page is built by the pipeline on the worker processes (which also
        # write it, in turn, when they can open the store) while this thread goes
        # on to the next page; the writer waits for it.
        batch = self.pipeline.start(source.name, [job.incoming(source.set_spec) for job in todo])
        # The response, in case the writer finds problems worth keeping it for.
        body = fetched.read_all() if self.diagnostics is not None else b""
        url = fetched.url

        def commit() -> None:
            found = list(problems)
            bad = list(broken)
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
                saved = self._save_response(source, verb, body, url, found +
                                            [f"record {b.position} ({b.identifier}): {b.reason}"
                                             for b in bad])
                for problem in found:
                    log.warning("%s: %s (response saved to %s)", source.name, problem, saved)
            if bad:
                self._quarantine(source, bad, saved)
                lr.quarantined += len(bad)

        writer.submit(commit)
        for job in todo:
            if last_ds is None or job.datestamp > last_ds:
                last_ds = job.datestamp
        lr.pages += 1
        run.pages += 1
        run.records += len(todo)
        run.started = run.started or page.response_date or dates.format_utc(dates.now())
        if last_ds is not None:
            run.last_datestamp = _fmt(last_ds, info)
        token = page.token
        if token is not None and token.complete_list_size is not None:
            lr.complete_list_size = token.complete_list_size
        return token.value if token is not None and token.value else None

    def _job(self, source: Source, info: IdentifyInfo, raw: RawRecord, harvest_date: int,
             jobs: dict[str, Job], broken: list[BrokenRecord], problems: list[str]) -> None:
        """A harvested record as a conversion job (its XML copied out of the page,
        which is freed as it is read)."""
        ds = _parse_lenient(raw.datestamp)
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
        previous = jobs.get(raw.identifier)
        if previous is not None:
            problems.append(f"record {raw.identifier} appears twice on one page; the later "
                            "datestamp is kept")
            if ds is not None and previous.datestamp > job.datestamp:
                return
            del jobs[raw.identifier]  # the later copy goes where the page put it
        jobs[raw.identifier] = job

    def _get_record(self, source: Source, info: IdentifyInfo, header: RawRecord,
                    harvest_date: int, jobs: dict[str, Job],
                    broken: list[BrokenRecord], problems: list[str]) -> None:
        params = {"verb": "GetRecord", "identifier": header.identifier,
                  "metadataPrefix": source.prefix}
        fetched = self._get(source, params)
        try:
            reader = PageReader(fetched.body, "GetRecord")
            for item in reader.items():
                item.position = header.position
                if isinstance(item, BrokenRecord):
                    broken.append(item)
                else:
                    self._job(source, info, item, harvest_date, jobs, broken, problems)
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
                    for _, elem in etree.iterparse(fetched.body, events=("end",),
                                                   resolve_entities=False, no_network=True,
                                                   load_dtd=False, huge_tree=True):
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
    def _get(self, source: Source, params: dict[str, str]) -> Fetched:
        return self.client.get(source.url, params, delay=source.delay, auth=source.auth,
                               headers=source.headers or None, check=check_body, label=source.name)

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

def _fmt(seconds: int, info: IdentifyInfo) -> str:
    return dates.format_utc(seconds, dates.DAY if info.day_granularity else dates.SECOND)


def _to_granularity(text: str, info: IdentifyInfo) -> str:
    """A date the user (or a responseDate) gave, in the provider's granularity
    (§3.3.1: a day-granularity provider refuses seconds)."""
    seconds = _parse_lenient(text)
    if seconds is None:
        raise HarvestError(f"'{text}' is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)")
    return _fmt(seconds, info)


_LENIENT = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?\s*$")


def _parse_lenient(text: str) -> int | None:
    """UTC seconds of a datestamp, also in the forms bad providers send
    (no ``Z``, a space, fractions, an offset); ``None`` when unreadable."""
    try:
        return dates.parse_utc(text)[0]
    except ValueError:
        pass
    m = _LENIENT.match(text or "")
    if not m:
        return None
    y, mo, d, h, mi, s, zone = m.groups()
    try:
        seconds = dates.parse_utc(f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{s or '00'}Z")[0]
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


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


__all__ = ["Harvester", "HarvestError", "HarvestResult", "ListResult", "Source", "status_rows"]
