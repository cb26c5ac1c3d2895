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
from collections.abc import Callable
from typing import Any


def gunicorn_available() -> bool:
    """True where gunicorn can run: a POSIX system with the package installed."""
    return os.name == "posix" and importlib.util.find_spec("gunicorn") is not None


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_workers(make_app: Callable[[], Any], host: str, port: int, *, workers: int,
                  threads: int, prefer_gunicorn: bool = True,
                  announce: Callable[[str], None] = print) -> None:
    """Serve the WSGI app ``make_app()`` until stopped.

    With gunicorn, each of ``workers`` processes calls ``make_app`` after the fork,
    so no database connection crosses a fork; each runs ``threads`` threads.
    Without it, one waitress process runs ``workers × threads`` threads.
    """
    if prefer_gunicorn and gunicorn_available():
        _serve_gunicorn(make_app, host, port, workers, threads)
        return
    import waitress

    announce(f"gunicorn is not available here: one process with {workers * threads} threads "
             "(waitress) serves instead.")
    waitress.serve(make_app(), host=host, port=port, threads=workers * threads,
                   ident="thuvien-interop", _quiet=True)


def _serve_gunicorn(make_app: Callable[[], Any], host: str, port: int, workers: int,
                    threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class _Application(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": _bind(host, port), "workers": workers, "threads": threads,
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
