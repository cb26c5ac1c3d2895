"""A waitress server run by our own loop, in short slices: the tests' live
servers (conftest.live_server) and the benches' (bench/faults.py) alike. Stopping
sets an event; every socket is then closed in the loop's own thread, so stopping
never depends on waitress's wake-up pipe (its ``close()`` from another thread
closed sockets under its select and printed "Bad file descriptor")."""

from __future__ import annotations

import threading
from typing import Any


def serve_until(server: Any, stopping: threading.Event) -> None:
    """Run ``server`` (waitress's ``create_server``) until ``stopping`` is set."""
    from waitress import wasyncore

    try:
        while not stopping.is_set() and server._map:
            wasyncore.loop(timeout=0.05, map=server._map, count=1,
                           use_poll=server.adj.asyncore_use_poll)
    finally:
        for channel in list(server._map.values()):
            try:
                channel.close()
            except OSError:
                pass
        server.task_dispatcher.shutdown()
