"""SRU: the CQL query language (:mod:`thuvien_interop.sru.cql`), the SRU protocol
engine (:mod:`~thuvien_interop.sru.server`) and a client.

    >>> from thuvien_interop.sru import Client
    >>> [r.values("title") for r in Client("http://127.0.0.1:8000/sru").search("ha noi", limit=3)]  # doctest: +SKIP
"""

from .client import Client, SRUError
from .config import SRUConfig
from .diagnostics import Diagnostic
from .server import Server

__all__ = ["Client", "Diagnostic", "SRUConfig", "SRUError", "Server"]
