"""SRU: the CQL query language (:mod:`thuvien_interop.sru.cql`), the SRU protocol
engine (:mod:`~thuvien_interop.sru.server`) and a client.

    >>> from thuvien_interop.sru import Client
    >>> from thuvien_interop.sru.cql import parse
    >>> parse('dc.title = "ha noi"').root.term
    'ha noi'

A search of a running server (``thuvien-interop demo`` serves one; the tests run
these lines against a server of their own): CQL words that go together are
quoted, diacritics are optional.

    >>> server = "http://127.0.0.1:8000"                                # doctest: +SKIP
    >>> client = Client(server + "/sru")
    >>> client.count('dc.title = "ha noi"')
    6
    >>> sorted(r.values("title")[0] for r in client.search('dc.title = "ha noi"', page_size=4))
    ['Hà Nội : bản đồ du lịch', 'Hà Nội mùa thu vàng : tập thơ', 'Hà Nội nghìn năm văn hiến', 'Làng nghề truyền thống Hà Nội', 'Phố cổ Hà Nội', 'Thăng Long - Hà Nội : lịch sử và văn hóa']
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .client import Client, SRUError
    from .config import SRUConfig
    from .diagnostics import Diagnostic
    from .server import Server

__getattr__, __dir__ = lazy_exports(__name__, {
    "Client": ".client",
    "SRUError": ".client",
    "SRUConfig": ".config",
    "Diagnostic": ".diagnostics",
    "Server": ".server",
})

__all__ = ["Client", "Diagnostic", "SRUConfig", "SRUError", "Server"]
