"""The last validation of each provider, kept in the store's meta table beside
the harvester's state (``validation:<provider>``), for the harvest console.

    >>> from thuvien_interop.store import open_store
    >>> store = open_store("sqlite:///:memory:")
    >>> save_validation(store, "daklak", Report("http://a.vn/oai"))
    >>> load_validation(store, "daklak").compliant
    True
"""

from __future__ import annotations

import json

from ..store.base import Repository
from .report import Report

__all__ = ["load_validation", "save_validation"]

_KEY = "validation:"


def save_validation(store: Repository, provider: str, report: Report) -> None:
    store.set_meta(_KEY + provider, json.dumps(report.as_dict(), ensure_ascii=False))


def load_validation(store: Repository, provider: str) -> Report | None:
    raw = store.get_meta(_KEY + provider)
    if not raw:
        return None
    try:
        return Report.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None  # a damaged entry: as if never validated
