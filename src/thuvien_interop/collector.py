"""The garbage collector during bulk work (an import, a harvest, a conversion).

Its own module, light to import: ``convert`` uses it without the worker pool's
imports (multiprocessing, the stores), which would double its start-up.

    >>> import gc
    >>> with fewer_collections():
    ...     gc.get_threshold()[0] >= BULK_GC_THRESHOLD
    True
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two runs of the garbage collector's youngest generation
#: during bulk work (the default is 700).
BULK_GC_THRESHOLD = 50_000

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections(threshold: int | None = None) -> Iterator[None]:
    """Run the cyclic garbage collector's youngest generation every ``threshold``
    allocations instead of every 700 while bulk work runs (an import, a harvest).

    Such work allocates millions of small objects that live for one batch: with
    the default threshold the collector walks them over and over (8% of an
    import with worker processes). Reference counting still frees them as
    usual; the collector still runs, less often. Nested and concurrent uses
    (several harvests in threads) share one setting, restored by the last.
    """
    global _gc_users, _gc_saved
    threshold = threshold or BULK_GC_THRESHOLD
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(threshold, _gc_saved[0]), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                _gc_saved = None
