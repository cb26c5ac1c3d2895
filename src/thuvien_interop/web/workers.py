"""Serve one app from several processes: gunicorn where it runs (Linux, macOS)
and is installed, waitress threads anywhere else (Windows included).

Workers share nothing but the store: resumption tokens are stateless and signed
with the secret kept in the store's meta, so any worker continues any token.

    >>> from thuvien_interop.web import create_app
    >>> serve_workers(lambda: create_app("postgresql://postgres@127.0.0.1/union"),
    ...               "0.0.0.0", 8000, workers=4, threads=8)        # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Callable
from typing import Any


def gunicorn_available() -> bool:
    """True where gunicorn can run: a POSIX system with the package installed."""
    return os.name == "posix" and importlib.util.find_spec("gunicorn") is not None


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_workers(make_app: Callable[[], Any], host: str, port: int, *, workers: int,
                  threads: int, prefer_gunicorn: bool = True,
                  announce: Callable[[str], None] = print,
                  sock: socket.socket | None = None) -> None:
    """Serve the WSGI app ``make_app()`` until stopped.

    With gunicorn, each of ``workers`` processes calls ``make_app`` after the fork,
    so no database connection crosses a fork; each runs ``threads`` threads.
    Without it, one waitress process runs ``workers × threads`` threads (and
    ``announce`` says so). ``sock``, a socket already listening, is served instead
    of binding host:port (the caller then knows the port is its own before it says
    anything).
    """
    if prefer_gunicorn and gunicorn_available():
        _serve_gunicorn(make_app, host, port, workers, threads, sock)
        return
    from waitress.server import create_server

    if sock is None:
        announce(f"gunicorn is not available here: one process with {workers * threads} "
                 "threads (waitress) serves instead.")
        where: dict[str, Any] = {"host": host, "port": port}
    else:
        where = {"sockets": [sock]}
    server = create_server(make_app(), threads=workers * threads, ident="thuvien-interop",
                           **where)
    try:
        server.run()
    finally:
        server.close()


def _serve_gunicorn(make_app: Callable[[], Any], host: str, port: int, workers: int,
                    threads: int, sock: socket.socket | None = None) -> None:
    from gunicorn.app.base import BaseApplication

    fd = None
    if sock is not None:
        # gunicorn takes a socket by its descriptor as bound and listening, and
        # closes that descriptor: give it a copy of ours, and close ours.
        fd = os.dup(sock.fileno())
        sock.close()

    class _Application(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": f"fd://{fd}" if fd is not None else _bind(host, port),
                "workers": workers, "threads": threads,
                "worker_class": "gthread", "proc_name": "thuvien-interop",
                "loglevel": "warning", "errorlog": "-",
                # A long ListRecords page over a slow link must not be cut off.
                "timeout": 120, "graceful_timeout": 30,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return make_app()

    _Application().run()


__all__ = ["gunicorn_available", "serve_workers"]
