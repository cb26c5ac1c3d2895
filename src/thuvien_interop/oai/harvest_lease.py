"""Leases on providers: several harvesters (threads, processes, machines) share one
provider list over one store, and none harvests a provider another one holds.

A lease is a row of the store's ``leases`` table (:meth:`claim`, :meth:`lease`,
:meth:`release` of the store). Its holder is written as
``host:pid:start:tag`` — the machine, the process, the process's start time
(so that a reused process id is not taken for the old process) and a tag that
tells two claims of one process apart. That is what lets a claimer take over at
once a lease whose holder is provably gone (same host, process dead: killed by
``kill -9``, a crash, a full disk), instead of waiting for the lease to run out.

A held lease is renewed by one thread per :class:`LeaseKeeper`, three times
within its length, whatever the harvest is doing (waiting on a ``Retry-After``, reading
a slow page). When a renewal fails because someone else holds the lease now, the
lease is marked lost and its ``lost`` event is set: the harvest of that provider
stops at once and says so.

    >>> holder = Holder.here()
    >>> Holder.parse(str(holder)) == holder
    True
    >>> holder.alive()
    True
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..store.base import Leases

log = logging.getLogger("thuvien_interop.harvest")

#: Seconds a lease lasts unless renewed (``--lease``, ``[harvest] lease``). A
#: holder renews it every third of that; a machine that dies without a trace
#: (power cut, network gone) frees its providers after this long.
DEFAULT_LEASE = 120
#: Stores count lease time in whole seconds: a lease taken at 10.9 s for 2 s ends
#: at 12 s, at least one second later, which leaves time to renew it.
MIN_LEASE = 2


def _start_time(pid: int) -> int:
    """When process ``pid`` started (clock ticks since boot, from /proc), or 0 where
    the system does not tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    # The command name (field 2) is in parentheses and may hold spaces.
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return int(fields[19])  # field 22, starttime
    except (IndexError, ValueError):
        return 0


_HOST = socket.gethostname()


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lease: host, process id, process start time, and a tag."""

    host: str
    pid: int
    start: int
    tag: str

    @classmethod
    def here(cls) -> Holder:
        """A new holder for this process (a fresh tag each call)."""
        pid = os.getpid()
        return cls(_HOST, pid, _start_time(pid), uuid.uuid4().hex[:8])

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        """The holder written in a lease, or ``None`` when it is not one of ours
        (an older harvester wrote ``host:pid:thread``: that still names a process)."""
        if not text:
            return None
        parts = text.rsplit(":", 3)
        try:
            if len(parts) == 4:
                return cls(parts[0], int(parts[1]), int(parts[2]), parts[3])
            host, pid, tag = text.rsplit(":", 2)
            return cls(host, int(pid), 0, tag)
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}:{self.tag}"

    def describe(self) -> str:
        """The holder in words, for messages."""
        where = "this machine" if self.host == _HOST else self.host
        return f"process {self.pid} on {where}"

    def alive(self) -> bool | None:
        """Whether the holding process still runs: ``True``/``False`` on this machine
        (where it can be known), ``None`` for another machine or a system that
        cannot tell."""
        if self.host != _HOST:
            return None
        if self.pid == os.getpid():
            return self.start in (0, _start_time(self.pid))
        if sys.platform == "win32":
            return None  # os.kill(pid, 0) would send CTRL_C_EVENT there
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, under another user
        except OSError:
            return None
        if self.start:
            now = _start_time(self.pid)
            if now and now != self.start:
                return False  # the process id was reused by another process
        return True


class Lease:
    """One provider's lease held by this process. ``lost`` is set when a renewal
    found that someone else holds it now (``lost_to`` says who)."""

    def __init__(self, keeper: LeaseKeeper, name: str, holder: Holder) -> None:
        self.keeper = keeper
        self.name = name
        self.holder = holder
        self.lost = threading.Event()
        self.lost_to: str | None = None
        self.on_lost: Callable[[], None] | None = None
        """Called (from the renewing thread) when the lease is found lost."""
        self._renewed = time.monotonic()

    def renew(self) -> bool:
        """Renew now; ``False`` (and ``lost`` set) when another holder has it."""
        if self.lost.is_set():
            return False
        ok = self.keeper.store.lease(self.name, str(self.holder), self.keeper.seconds)
        if ok:
            self._renewed = time.monotonic()
            return True
        other = Holder.parse(self.keeper.store.lease_holder(self.name))
        self.lost_to = other.describe() if other else "another harvester"
        log.error("%s: lease lost: %s holds the provider now; this harvester stops "
                  "harvesting it (the pages stored so far are kept)", self.name, self.lost_to)
        self.lost.set()
        if self.on_lost is not None:
            self.on_lost()
        return False

    def release(self) -> None:
        self.keeper._forget(self)
        if not self.lost.is_set():
            self.keeper.store.release(self.name, str(self.holder))


@dataclass(slots=True)
class Held:
    """A provider this harvester did not harvest because another one holds it."""

    name: str
    holder: str | None
    """The holder in words (``process 4242 on node-2``)."""


class LeaseKeeper:
    """Claims providers for this process and keeps their leases renewed.

    >>> from thuvien_interop.store import open_store
    >>> keeper = LeaseKeeper(open_store("sqlite:///:memory:"), seconds=60)
    >>> lease = keeper.claim(["daklak", "hue"])
    >>> lease.name
    'daklak'
    >>> lease.release(); keeper.close()
    """

    def __init__(self, store: Leases, seconds: int = DEFAULT_LEASE) -> None:
        if seconds < MIN_LEASE:
            raise ValueError(f"a lease lasts at least {MIN_LEASE} seconds")
        self.store = store
        self.seconds = int(seconds)
        self._held: list[Lease] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False

    def claim(self, names: list[str]) -> Lease | None:
        """Lease the first of ``names`` nobody holds, taking over the leases of
        holders that are provably gone (a process of this machine that no longer
        runs); ``None`` when every one is held by a live harvester."""
        holder = Holder.here()
        while names:
            name = self.store.claim(list(names), str(holder), self.seconds)
            if name is not None:
                lease = Lease(self, name, holder)
                self._keep(lease)
                return lease
            if not self._take_over_dead(names):
                return None
        return None

    def holders(self, names: list[str]) -> list[Held]:
        """Who holds each of ``names`` now (those nobody holds are left out)."""
        out = []
        for name in names:
            text = self.store.lease_holder(name)
            if text is not None:
                h = Holder.parse(text)
                out.append(Held(name, h.describe() if h else text))
        return out

    def _take_over_dead(self, names: list[str]) -> bool:
        freed = False
        for name in names:
            text = self.store.lease_holder(name)
            holder = Holder.parse(text)
            if text is None or holder is None or holder.alive() is not False:
                continue
            # release() only succeeds while the dead holder still has it: of two
            # claimers that saw the same dead holder, one frees it, then one claims.
            if self.store.release(name, text):
                log.warning("%s: its lease was held by %s, which is no longer running "
                            "(killed?): taken over; the harvest goes on from its last "
                            "committed page", name, holder.describe())
                freed = True
        return freed

    # -- renewal ---------------------------------------------------------------
    def _keep(self, lease: Lease) -> None:
        with self._lock:
            self._held.append(lease)
            if self._thread is None:
                # One thread for the keeper's life (and so one store connection).
                self._closed = False
                self._thread = threading.Thread(target=self._renew_loop, daemon=True,
                                                name="harvest-leases")
                self._thread.start()
            self._wake.notify_all()

    def _forget(self, lease: Lease) -> None:
        with self._lock:
            if lease in self._held:
                self._held.remove(lease)

    def _renew_loop(self) -> None:
        # A lease of n seconds lasts at least n - 1 (whole seconds); renewed three
        # times in that, two renewals can be missed (a busy store) before it ends.
        period = (self.seconds - 1) / 3
        while True:
            with self._lock:
                if self._closed:
                    self._thread = None
                    return
                if not self._held:
                    self._wake.wait()
                    continue
                now = time.monotonic()
                due = [lease for lease in self._held if now - lease._renewed >= period]
                if not due:
                    nearest = min(lease._renewed for lease in self._held) + period
                    self._wake.wait(max(0.05, nearest - now))
                    continue
            for lease in due:
                try:
                    if not lease.renew():
                        self._forget(lease)
                except Exception as exc:  # noqa: BLE001 - a store hiccup: try again soon
                    log.warning("%s: could not renew its lease (%s); trying again", lease.name,
                                exc)
                    lease._renewed = time.monotonic() - period + min(1.0, period)

    def close(self) -> None:
        """Stop renewing (the leases still held run out by themselves); the keeper
        can be used again after."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

