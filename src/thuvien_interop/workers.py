"""Crosswalk work on several processes: what the harvester and ``import`` share.

Rendering every format of a record and computing its search entries is pure
CPU work on one record at a time; a :class:`WorkerPool` runs it on worker
processes (one per core by default) while the calling process reads the next
records. Submitted with ``ordered=True``, the chunks also write their records to
the store themselves (:func:`store_for`), one chunk after the other in the order
they were submitted (:func:`in_turn`): the write then leaves the calling process,
whose threads share one interpreter lock.

A *chunk function* is a module-level function ``fn(registry, items, *args)``
that returns a list of plain, picklable results; the pool calls it on a worker
(with the format registry the workers received once, at start) or, for small
unordered batches and when there are no workers, in the calling process. Either
way the results are the same.

Worker processes are started with multiprocessing's *forkserver* (the callers
have threads and sockets that a forked child must not inherit half-way), which
imports the main module again: a script that asks for workers keeps its work
under ``if __name__ == "__main__":``, as the command line does.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import pickle
import queue
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import pymarc

from .collector import BULK_GC_THRESHOLD
from .formats import FormatRegistry
from .model import Record, WriteSummary
from .store.base import WRITE_BATCH, StoreError
from .wording import in_this_language, language, set_language

if TYPE_CHECKING:
    from .store.base import Repository

log = logging.getLogger("thuvien_interop.workers")

#: Below this many items a batch is done in the calling process: handing it to
#: another costs more than it saves.
PARALLEL_MIN = 64

ChunkFn = Callable[..., list[Any]]

#: Items in one chunk of an ordered batch (see :meth:`WorkerPool.submit`): a chunk
#: is one write transaction, so a pipeline batch is one chunk.
ORDERED_CHUNK = WRITE_BATCH

_worker_registry: FormatRegistry | None = None
# Ordered chunks (WorkerPool.submit(ordered=True)): the pool's turn (a condition,
# the number of the next chunk allowed through in_turn(), and an abort flag),
# and the number of the chunk this worker is running.
_turn: tuple[Any, Any, Any] | None = None
_chunk_seq: int | None = None
_turn_taken = False


#: A worker's exit status when it ends because the process that started it died.
EXIT_ORPHANED = 70

#: A multiprocessing temporary folder left by a dead program is swept away by the
#: next pool only once it is this old (seconds): a live program creates its
#: folder a moment before its fork server listens in it.
STALE_TEMP_AGE = 60.0


def _init_worker(registry_bytes: bytes, turn: tuple[Any, Any, Any] | None = None,
                 parent_temp: str | None = None, lang: str = "en") -> None:
    global _worker_registry, _turn
    # Ctrl-C reaches the whole process group: the caller decides what stops
    # (it lets the batches handed over finish), not each worker on its own.
    # First of all, so that a Ctrl-C while a worker starts is ignored too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_temp)
    # What a worker notes about a record (a reader's repairs, a reason to reject it)
    # is said in the language of the command that started the pool.
    set_language(lang)
    _worker_registry = pickle.loads(registry_bytes)
    _turn = turn
    # A worker does nothing but bulk work (see fewer_collections): with the
    # default threshold the collector took a fifth of a harvested record's
    # conversion (194 -> 150 µs a record).
    gc.set_threshold(BULK_GC_THRESHOLD, *gc.get_threshold()[1:])


def _die_with_parent(parent_temp: str | None) -> None:
    """End this worker as soon as the process that started the pool is gone
    (kill -9, SIGTERM of an ``import`` that does not wait, the OOM killer).

    A worker's parent in the operating system's sense is the fork server, which
    lives as long as any worker does, so neither a closed pipe of the pool's nor
    Linux's PR_SET_PDEATHSIG ever fires: without this the workers, the fork
    server and the resource tracker stayed minutes after a kill, holding their
    store connections. multiprocessing gives every child a *sentinel* of the
    process that created it (a pipe end on POSIX, a process handle on Windows),
    ready when that process ends; a thread waits on it. The last one out removes
    the dead process's temporary folder (the fork server's socket), which its
    own exit handlers would have removed."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel, pid = parent.sentinel, parent.pid

    def clean_up() -> None:
        # A dying process closes its files before it is gone: give it a moment.
        if parent_temp and pid is not None and any(
                not _running(pid) or time.sleep(0.01) for _ in range(300)):
            shutil.rmtree(parent_temp, ignore_errors=True)

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        clean_up()
        os._exit(EXIT_ORPHANED)

    def at_exit() -> None:
        # The parent's death also ends the worker's own loop (its queue's pipe
        # breaks), which may end the process before the watch above removed the
        # folder: a worker that ends while its parent is gone removes it too.
        if multiprocessing.connection.wait([sentinel], timeout=0):
            clean_up()

    multiprocessing.util.Finalize(None, at_exit, exitpriority=100)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (on Windows the sentinel, a handle of
    the process itself, already said it does not). A killed process its parent
    has not reaped yet (a zombie) does not."""
    if sys.platform == "win32":
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # pid (comm) state ...: comm may hold spaces and parentheses.
            return f.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temp(folder: str | None = None, min_age: float = STALE_TEMP_AGE) -> list[str]:
    """Remove multiprocessing's temporary folders (``pymp-*``) that programs
    killed as a whole (``kill -9`` of a process group, a container stopped)
    left in ``folder`` (default: the system's temporary folder). Only folders of
    this user, older than ``min_age`` seconds, that hold nothing but sockets no
    process has open any more are removed: those are dead for certain. Linux
    only, where the kernel lists the sockets in use (/proc/net/unix); a socket
    is never connected to, which would crash a live fork server. Returns the
    folders removed."""
    if not hasattr(os, "getuid"):
        return []
    bound = _bound_unix_paths()
    if bound is None:
        return []
    folder = folder or tempfile.gettempdir()
    removed: list[str] = []
    try:
        candidates = [e for e in os.scandir(folder) if e.name.startswith("pymp-")]
    except OSError:
        return []
    now = time.time()
    for entry in candidates:
        try:
            info = entry.stat(follow_symlinks=False)
            if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                    or now - info.st_mtime < min_age):
                continue
            inside = list(os.scandir(entry.path))
            if not inside or not all(
                    e.name.startswith("listener-")
                    and stat.S_ISSOCK(e.stat(follow_symlinks=False).st_mode)
                    and os.path.abspath(e.path) not in bound for e in inside):
                continue
            shutil.rmtree(entry.path)
            removed.append(entry.path)
        except OSError:
            continue
    return removed


def _bound_unix_paths() -> set[str] | None:
    """The paths of the Unix sockets open on this machine (None: unknown)."""
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.readlines()[1:]
    except OSError:
        return None
    # Num RefCount Protocol Flags Type St Inode Path
    return {parts[7].rstrip("\n") for parts in (line.split(None, 7) for line in lines)
            if len(parts) == 8}


def _run(fn: ChunkFn, items: Sequence[Any], args: tuple[Any, ...]) -> list[Any]:
    assert _worker_registry is not None
    return fn(_worker_registry, items, *args)


def _run_ordered(fn: ChunkFn, items: Sequence[Any], args: tuple[Any, ...],
                 seq: int) -> list[Any]:
    global _chunk_seq, _turn_taken
    _chunk_seq, _turn_taken = seq, False
    try:
        return _run(fn, items, args)
    finally:
        try:
            if not _turn_taken:
                # The chunk failed before its turn: let the next ones through
                # all the same, in order.
                with in_turn():
                    pass
        finally:
            _chunk_seq = None


@contextmanager
def in_turn() -> Iterator[None]:
    """In a chunk function run with ``submit(..., ordered=True)`` on a worker: wait
    until every chunk submitted before this one has left its ``in_turn`` block
    (or failed), run the block, then let the next chunk in. Chunks convert side by
    side and write one after the other, in the order they were submitted.
    Anywhere else (in the calling process) the block just runs."""
    global _turn_taken
    if _turn is None or _chunk_seq is None:
        yield
        return
    cond, turn, abort = _turn
    with cond:
        while turn.value != _chunk_seq:
            if abort.value:
                raise RuntimeError("the worker processes were stopped")
            cond.wait(0.5)
    try:
        yield
    finally:
        _turn_taken = True
        with cond:
            turn.value = _chunk_seq + 1
            cond.notify_all()


#: How long stopping the workers waits for the lock of their turn (seconds).
_TURN_LOCK_WAIT = 2.0


class WorkerPool:
    """Runs chunk functions on ``processes`` worker processes when there are more
    than one (started on first use, shared by every thread of the caller), else
    in the calling process.

    The workers receive the format registry once, pickled; a registry that
    cannot be pickled (a format rendered by a lambda, say) is used in this
    process only, with a note in the log. If the workers cannot start, or die,
    the pool says so in the log and works in the calling process from then on:
    nothing is lost, the batch in hand is done here.
    """

    def __init__(self, registry: FormatRegistry, processes: int | None = None, *,
                 what: str = "records") -> None:
        self.registry = registry
        self.processes = max(1, processes if processes is not None else (os.cpu_count() or 1))
        self.what = what
        self._pool: Executor | None = None
        self._lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._turn: tuple[Any, Any, Any] | None = None
        self._next_seq = 0
        self._payload: bytes | None = None
        if self.processes > 1:
            try:
                self._payload = pickle.dumps(registry)
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                log.info("%s are converted in this process only: the format registry cannot "
                         "be sent to other processes (%s)", self.what, exc)
                self.processes = 1

    @property
    def parallel(self) -> bool:
        return self.processes > 1

    def _executor(self) -> Executor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context(
                    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                    else "spawn")
                # A new pool, a new turn: ordered chunks are numbered from 0.
                self._turn = (context.Condition(), context.Value("q", 0, lock=False),
                              context.Value("b", 0, lock=False))
                self._next_seq = 0
                sweep_stale_temp()
                # (The fork server's socket lives in this process's multiprocessing
                # folder: the workers remove it if this process dies unannounced.)
                temp = multiprocessing.util.get_temp_dir() if context.get_start_method() \
                    == "forkserver" else None
                pool = ProcessPoolExecutor(self.processes, mp_context=context,
                                           initializer=_init_worker,
                                           initargs=(self._payload, self._turn, temp,
                                                     language()))
                self._pool = pool
                weakref.finalize(self, pool.shutdown, wait=False, cancel_futures=True)
            return self._pool

    def submit(self, fn: ChunkFn, items: Sequence[Any], *args: Any,
               ordered: bool = False) -> Pending:
        """Start ``fn`` over ``items`` (split in one chunk per worker);
        :meth:`Pending.result` waits for the results, in the order of ``items``.

        ``ordered``: the chunks' :func:`in_turn` blocks run one at a time, in the
        order of the calls to ``submit`` (and of the chunks within one), across
        every thread that uses the pool. That is how worker processes write to a
        store themselves and still commit batches in order."""
        pending = Pending(self, fn, items, args)
        if not self.parallel or (len(items) < PARALLEL_MIN and not ordered) or not items:
            # (A small ordered batch still goes to a worker, as one chunk: done
            # here, it could be written after a later batch.)
            return pending
        try:
            executor = self._executor()
            # Ordered chunks write: a chunk is one transaction, so they are kept
            # as large as a page (one page a worker, pages side by side: 4% faster
            # than half a page each); unordered ones are split among the workers.
            size = ORDERED_CHUNK if ordered else -(-len(items) // self.processes)
            chunks = [items[i:i + size] for i in range(0, len(items), size)]
            if ordered:
                # Numbers and queue places are given together, so the queue's
                # order is the turn's: a worker never waits on a chunk that no
                # worker has taken.
                with self._seq_lock:
                    pending.futures = []
                    for chunk in chunks:
                        pending.futures.append(
                            executor.submit(_run_ordered, fn, chunk, args, self._next_seq))
                        self._next_seq += 1
            else:
                pending.futures = [executor.submit(_run, fn, chunk, args) for chunk in chunks]
        except Exception as exc:  # noqa: BLE001 - the pool could not start: go on without it
            self.give_up(exc)
            pending.futures = []
        return pending

    def give_up(self, exc: BaseException) -> None:
        """The worker processes failed (could not start, or died): work in this
        process from now on."""
        log.warning("converting %s in this process from now on: the worker processes failed "
                    "(%s: %s)", self.what, type(exc).__name__, exc)
        self.processes = 1
        with self._lock:
            pool, self._pool = self._pool, None
            self._stop_turn()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _stop_turn(self) -> None:
        # Workers waiting for their turn give up (their chunks fail, and are
        # done again in this process).
        if self._turn is not None:
            cond, _, abort = self._turn
            abort.value = 1
            # (They also look at `abort` twice a second: the notice only hurries
            # them. A worker killed while it held the turn's lock holds it for
            # ever; waiting for it would hang the command.)
            if cond.acquire(True, _TURN_LOCK_WAIT):
                try:
                    cond.notify_all()
                finally:
                    cond.release()
            self._turn = None

    def close(self) -> None:
        """Stop the worker processes (the pool starts them again if used again)."""
        with self._lock:
            if self._pool is not None:
                self._stop_turn()
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


class Pending:
    """A batch being worked on."""

    def __init__(self, pool: WorkerPool, fn: ChunkFn, items: Sequence[Any],
                 args: tuple[Any, ...]) -> None:
        self.pool = pool
        self.fn = fn
        self.items = items
        self.args = args
        self.futures: list[Future[list[Any]]] = []

    def result(self) -> list[Any]:
        if self.futures:
            out: list[Any] = []
            try:
                for f in self.futures:
                    out.extend(f.result())
                return out
            except StoreError:
                raise  # the worker is fine, the store failed it (full, locked, gone)
            except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory)
                self.pool.give_up(exc)
        return self.fn(self.pool.registry, self.items, *self.args)


class WriteBehind:
    """Runs jobs (a batch's write, then what follows from it) in a thread of its
    own, in order, at most ``depth`` jobs behind the caller: while one batch is
    written, the next ones are read and converted.

    After a job fails the rest are skipped (so nothing that follows a write, a
    harvest checkpoint say, runs past a batch that was not committed) and the
    failure is raised in the caller's thread, at its next :meth:`submit` or at
    :meth:`drain`. :meth:`close` lets what was handed over finish: an interrupted
    harvest or import loses nothing it had handed over. ``on_exit`` runs in the
    thread as it ends (closing the thread's own store connection, say).
    """

    def __init__(self, depth: int = 2, on_exit: Callable[[], None] | None = None) -> None:
        # ``depth``: jobs handed over and not started yet, past which submit() waits.
        self._on_exit = on_exit
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        self._raise()
        if self._thread is None:
            # The writer's jobs speak the language of the harvest that hands them over.
            self._thread = threading.Thread(target=in_this_language(self._run), name="harvest-writer",
                                            daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait until every job handed over has run; raise the first failure."""
        if self._thread is not None:
            self._jobs.join()
        self._raise()

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            self._work()
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    try:
                        job()
                    except BaseException as exc:  # noqa: BLE001 - raised in the harvesting thread
                        self._error = exc
            finally:
                self._jobs.task_done()


def split_written(results: Sequence[Any]) -> tuple[list[Any], WriteSummary | None]:
    """The items of chunks that may have written their records themselves, and
    what they wrote: such a chunk adds its :class:`~thuvien_interop.model.WriteSummary`
    to its results (``None``: no chunk wrote; the caller is to write)."""
    items: list[Any] = []
    written: WriteSummary | None = None
    for item in results:
        if isinstance(item, WriteSummary):
            written = written or WriteSummary()
            written += item
        else:
            items.append(item)
    return items, written


# -- stores the workers write to ---------------------------------------------------
# Chunks that write (see in_turn) name their store by URL (store.shared_url): a
# worker opens it once and keeps it; the calling process lends its own store
# object for the chunks it runs itself, rather than open a second copy.

_opened: dict[str, Repository] = {}
_lent: weakref.WeakValueDictionary[str, Repository] = weakref.WeakValueDictionary()
_stores_lock = threading.Lock()


def lend_store(url: str, store: Repository) -> None:
    """Chunks run in this process that name ``url`` use ``store`` (as long as it lives)."""
    with _stores_lock:
        _lent[url] = store


def store_for(url: str) -> Repository:
    """The store a chunk names: the one lent for it, or one this process opened."""
    with _stores_lock:
        store = _lent.get(url)
        if store is None:
            store = _opened.get(url)
        if store is None:
            from .store import open_store

            store = _opened[url] = open_store(url)
        return store


# -- records across processes ---------------------------------------------------------
# pymarc records pickle slowly (about 110 µs each, more than converting them):
# they travel as tuples of strings and are built again on the other side.

def marc_to_tuple(record: pymarc.Record) -> tuple:
    """A pymarc record as plain tuples (:func:`tuple_to_marc` builds it again)."""
    return (str(record.leader), [
        (f.tag, f.data) if f.control_field else
        (f.tag, *f.indicators, [tuple(s) for s in f.subfields])
        for f in record.fields])


def tuple_to_marc(data: tuple) -> pymarc.Record:
    leader, fields = data
    record = pymarc.Record(leader=leader)
    Field, Subfield, Indicators = pymarc.Field, pymarc.Subfield, pymarc.Indicators
    out = record.fields
    for f in fields:
        if len(f) == 2:
            out.append(Field(tag=f[0], data=f[1]))
        else:
            out.append(Field(tag=f[0], indicators=Indicators(f[1], f[2]),
                             subfields=[Subfield(c, v) for c, v in f[3]]))
    return record


_RECORD_FIELDS = tuple(f.name for f in fields(Record))


def pack_record(r: Record) -> tuple:
    """A store record as a tuple (half the pickling time of the dataclass)."""
    return tuple(getattr(r, name) for name in _RECORD_FIELDS)


def unpack_record(t: tuple) -> Record:
    return Record(*t)
