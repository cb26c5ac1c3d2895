"""OAI-PMH 2.0: the data provider engine (framework-free) and the harvester.

    >>> from thuvien_interop.oai import Provider, ProviderConfig
    >>> provider = Provider(store, ProviderConfig(base_url="http://127.0.0.1:8000/oai"))  # doctest: +SKIP
    >>> xml = provider.handle([("verb", "Identify")])                                     # doctest: +SKIP
"""

from .config import ProviderConfig
from .errors import OAIError
from .provider import Provider

__all__ = ["OAIError", "Provider", "ProviderConfig"]
