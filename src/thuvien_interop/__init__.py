"""thuvien-interop: OAI-PMH, SRU/CQL and MARC21 ⇄ Dublin Core for libraries.

The names below are the public surface; each lives in the module its name says,
and the layers (docs/architecture.md) run from the bottom up: ``model`` (plain
dataclasses) → ``store`` (where records live) → ``crosswalk`` (record formats and
Vietnamese text) → ``oai`` / ``sru`` (protocol engines, framework-free) → ``web``
(Flask glue) and ``cli`` (the ``thuvien-interop`` command).

A store, and the OAI-PMH engine answering over it (bytes in, bytes out):

    >>> import thuvien_interop as ti
    >>> store = ti.open_store("sqlite:///:memory:")
    >>> provider = ti.Provider(store, ti.ProviderConfig(repository_identifier="thuviendaklak.vn"))
    >>> xml = provider.handle([("verb", "Identify")], "http://127.0.0.1:8000/oai")
    >>> b"<repositoryIdentifier>thuviendaklak.vn</repositoryIdentifier>" in xml
    True

The SRU engine over the same store, and the CQL parser it uses:

    >>> response = ti.SRUServer(store).handle([("version", "1.2"), ("operation", "explain")])
    >>> response.content_type
    'text/xml; charset=utf-8'
    >>> query = ti.parse_cql('dc.title = "Hà Nội" and dc.date > 2000')
    >>> query.root.op, query.root.left.term
    ('and', 'Hà Nội')

The crosswalks, from a :class:`pymarc.Record`:

    >>> from pymarc import Field, Record, Subfield
    >>> r = Record()
    >>> r.add_field(Field("245", ["1", "0"], [Subfield("a", "Truyện Kiều /"), Subfield("c", "Nguyễn Du.")]))
    >>> ti.marc_to_dc(r)
    [('title', 'Truyện Kiều')]
    >>> ti.fold("Truyện Kiều")
    'truyen kieu'

A running server (``thuvien-interop demo`` serves the sample catalogue at
http://127.0.0.1:8000; the test suite runs these lines against a server of its own)
is searched with the SRU client and harvested into another store:

    >>> server = "http://127.0.0.1:8000"                      # doctest: +SKIP
    >>> client = ti.SRUClient(server + "/sru")
    >>> first = next(iter(client.search('dc.title = "Hà Nội"', limit=1)))
    >>> "Hà Nội" in first.values("title")[0]
    True
    >>> union = ti.open_store("sqlite:///:memory:")
    >>> result = ti.Harvester(union, diagnostics=None).harvest(ti.Source("mau", server + "/oai"))
    >>> result.ok, union.info().record_count
    (True, 330)
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING

# The public names are imported when first used (PEP 562), not with the package:
# every process that imports any module of it (each worker process of an import
# or a harvest, each command) would otherwise load the harvester, the SRU client
# and their HTTP stack first. Eagerly, that took a worker pool 2.2 s to start
# instead of 0.8 s: 1.4 s of a 20,000-record import with workers (issue 12).
_PUBLIC = {
    "dc_to_marc": "crosswalk", "fold": "crosswalk", "marc_to_dc": "crosswalk",
    "marc_to_mods": "crosswalk", "normalize": "crosswalk", "record_to_marcxml": "crosswalk",
    "read_file": "ingest",
    "OAIError": "oai", "Provider": "oai", "ProviderConfig": "oai",
    "Source": "oai.harvest_sources",
    "Harvester": "oai.harvester", "HarvestResult": "oai.harvester",
    "SRUClient": "sru:Client", "SRUServer": "sru:Server", "SRUConfig": "sru", "SRUError": "sru",
    "CQLError": "sru.cql", "parse_cql": "sru.cql:parse",
    "StoreError": "store", "open_store": "store",
}

if TYPE_CHECKING:
    from .crosswalk import dc_to_marc, fold, marc_to_dc, marc_to_mods, normalize, record_to_marcxml
    from .ingest import read_file
    from .oai import OAIError, Provider, ProviderConfig
    from .oai.harvest_sources import Source
    from .oai.harvester import Harvester, HarvestResult
    from .sru import Client as SRUClient
    from .sru import Server as SRUServer
    from .sru import SRUConfig, SRUError
    from .sru.cql import CQLError
    from .sru.cql import parse as parse_cql
    from .store import StoreError, open_store


def __getattr__(name: str) -> object:
    where = _PUBLIC.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr or name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


__all__ = [
    "CQLError",
    "HarvestResult",
    "Harvester",
    "OAIError",
    "Provider",
    "ProviderConfig",
    "SRUClient",
    "SRUConfig",
    "SRUError",
    "SRUServer",
    "Source",
    "StoreError",
    "__version__",
    "dc_to_marc",
    "fold",
    "marc_to_dc",
    "marc_to_mods",
    "normalize",
    "open_store",
    "parse_cql",
    "read_file",
    "record_to_marcxml",
]
