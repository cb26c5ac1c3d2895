"""The worker pool's ordered chunks: they convert side by side and pass their
``in_turn`` block one at a time, in the order they were submitted, whatever
thread submitted them and whichever finishes converting first."""

from __future__ import annotations

import os
import threading
import time

from thuvien_interop.formats import default_registry
from thuvien_interop.workers import ORDERED_CHUNK, PARALLEL_MIN, WorkerPool, in_turn


def append_in_turn(registry, items, path, slow_first):
    # Even batches "convert" slowly: the odd batch after each finishes first,
    # so only the turn keeps them in order.
    time.sleep(0.05 if items[0] % 16 == 0 and slow_first else 0.0)
    with in_turn(), open(path, "a", encoding="utf-8") as out:
        for item in items:
            out.write(f"{item} {os.getpid()}\n")
    if items[0] == 13 * 8:
        raise ValueError("a chunk that fails after its turn")
    return list(items)


def fails_before_its_turn(registry, items, path, slow_first):
    if items[0] == 5 * 8:
        raise ValueError("a chunk that fails before its turn")
    return append_in_turn(registry, items, path, slow_first)


def test_ordered_chunks_pass_in_turn_in_submission_order(tmp_path):
    path = tmp_path / "order.txt"
    pool = WorkerPool(default_registry(), 2)
    submitted: list[int] = []
    lock = threading.Lock()
    pendings = []

    def submit(batches):
        for b in batches:
            items = list(range(b * 8, b * 8 + 8))
            with lock:  # the order the pool saw
                submitted.append(b)
                pendings.append((b, pool.submit(fails_before_its_turn, items, str(path), True,
                                                ordered=True)))

    try:
        threads = [threading.Thread(target=submit, args=(range(i, 20, 2),)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        failed = []
        for b, p in pendings:
            try:
                for f in p.futures:
                    f.result(timeout=60)
            except ValueError as exc:
                failed.append((b, str(exc)))
    finally:
        pool.close()
    assert sorted(failed) == [(5, "a chunk that fails before its turn"),
                              (13, "a chunk that fails after its turn")]
    lines = path.read_text("utf-8").splitlines()
    written = [int(line.split()[0]) for line in lines]
    # Batch 5 failed before writing anything.
    expected = [i for b in submitted if b != 5 for i in range(b * 8, b * 8 + 8)]
    assert written == expected
    assert len({line.split()[1] for line in lines}) == 2, "both workers wrote"


def test_ordered_batches_larger_than_a_chunk_are_split_in_order(tmp_path):
    path = tmp_path / "order.txt"
    pool = WorkerPool(default_registry(), 2)
    try:
        items = list(range(3 * ORDERED_CHUNK + 7))
        pending = pool.submit(append_in_turn, items, str(path), False, ordered=True)
        assert len(pending.futures) == 4
        assert pending.result() == items
    finally:
        pool.close()
    assert [int(line.split()[0]) for line in path.read_text("utf-8").splitlines()] == items


def test_a_closed_pool_releases_chunks_waiting_for_their_turn(tmp_path):
    """Closing the pool while chunks wait on one that never comes does not hang."""
    pool = WorkerPool(default_registry(), 2)
    first = pool.submit(append_in_turn, list(range(8)), str(tmp_path / "x.txt"), False,
                        ordered=True)
    first.futures[0].result(timeout=60)
    # A number is taken but its chunk never reaches a worker: the next one waits.
    with pool._seq_lock:
        pool._next_seq += 1
    waiting = pool.submit(append_in_turn, list(range(8, 16)), str(tmp_path / "x.txt"), False,
                          ordered=True)
    time.sleep(0.5)
    assert not waiting.futures[0].done()
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 30
    assert (tmp_path / "x.txt").read_text("utf-8").count("\n") == 8


def test_in_turn_outside_a_worker_just_runs():
    ran = []
    with in_turn():
        ran.append(1)
    assert ran == [1]


def _hold_the_turn_lock(cond, held) -> None:
    cond.acquire()
    held.set()
    threading.Event().wait()  # until killed, the lock held


def test_a_worker_killed_holding_the_turns_lock_does_not_hang_the_pool(tmp_path):
    """A process of the pool killed (kill -9, the OOM killer) while it held the lock
    of the turn leaves it held for ever: stopping the pool must not wait on it."""
    import multiprocessing
    import signal

    pool = WorkerPool(default_registry(), 2)
    pool.submit(append_in_turn, list(range(8)), str(tmp_path / "x.txt"), False,
                ordered=True).result()
    cond = pool._turn[0]
    context = multiprocessing.get_context("forkserver")
    held = context.Event()
    holder = context.Process(target=_hold_the_turn_lock, args=(cond, held))
    holder.start()
    assert held.wait(60), "the process took the lock"
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(60)
    done = threading.Event()
    threading.Thread(target=lambda: (pool.close(), done.set()), daemon=True).start()
    assert done.wait(60), "closing the pool hung on a dead process's lock"


def notes_of(registry, items):
    from thuvien_interop.wording import Note

    return [Note("read.no-indicators", tag=tag) for tag in items]


def test_a_worker_speaks_the_language_of_the_command_that_started_the_pool():
    from thuvien_interop.wording import speaking

    for lang, said in (("vi", "trường 245 không có chỉ thị; giữ lại với chỉ thị trống"),
                       ("en", "field 245 has no indicators; kept with blanks")):
        pool = WorkerPool(default_registry(), 2)
        try:
            with speaking(lang):  # the pool starts with its first chunk
                pending = pool.submit(notes_of, ["245"] * PARALLEL_MIN)
            notes = pending.result()  # said in the workers: this thread speaks English
        finally:
            pool.close()
        assert len(pending.futures) == 2, "not run in the workers"
        assert notes[0] == notes[-1] == said and notes[0].key == "read.no-indicators"
