"""OAI-PMH 2.0: the data provider engine (framework-free) and the harvester.

    >>> from thuvien_interop.oai import Provider, ProviderConfig
    >>> from thuvien_interop.store import open_store
    >>> provider = Provider(open_store("sqlite:///:memory:"),
    ...                     ProviderConfig(base_url="http://127.0.0.1:8000/oai"))
    >>> xml = provider.handle([("verb", "ListRecords"), ("metadataPrefix", "oai_dc")])
    >>> b'<error code="noRecordsMatch">' in xml
    True

The harvester (:class:`~thuvien_interop.oai.harvester.Harvester`) fetches from
providers into a store; :mod:`~thuvien_interop.oai.harvest_sources` reads the
list of providers.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .config import ProviderConfig
    from .errors import OAIError
    from .provider import Provider

__getattr__, __dir__ = lazy_exports(__name__, {
    "ProviderConfig": ".config",
    "OAIError": ".errors",
    "Provider": ".provider",
})

__all__ = ["OAIError", "Provider", "ProviderConfig"]
