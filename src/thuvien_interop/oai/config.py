"""What a data provider says about itself (the Identify response) and how it pages.

    >>> c = ProviderConfig(repository_identifier="thuviendaklak.vn", page_size=500)
    >>> c.token_ttl >= 24 * 3600
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ProviderConfig:
    """Configuration of an OAI-PMH data provider.

    ``repository_identifier`` is the namespace of ``oai:<id>:<local>`` identifiers
    and must look like a domain name (OAI identifier guidelines §2.1).
    """

    base_url: str = ""
    """Fixed base URL; empty means "the URL the request came to" (see the web layer)."""
    repository_name: str = "Thư viện số — thuvien-interop"
    repository_identifier: str = "thuvien-interop.vn"
    admin_emails: list[str] = field(default_factory=lambda: ["admin@thuvien-interop.vn"])
    granularity: str = "YYYY-MM-DDThh:mm:ssZ"
    deleted_record: str = "persistent"
    page_size: int = 500
    token_ttl: int = 7 * 24 * 3600
    """Seconds a resumption token stays valid (at least a day: slow harvesters)."""
    secret: bytes | None = None
    """HMAC key of resumption tokens; ``None`` keeps a random one in the store."""
    compression: list[str] = field(default_factory=lambda: ["gzip", "deflate"])
    friends: list[str] = field(default_factory=list)
    """Base URLs of other data providers, for the ``friends`` description."""
    branding: dict[str, Any] = field(default_factory=dict)
    """``logo`` (an image URL), ``url`` (where it links), ``title``, ``width``,
    ``height`` and ``renderings`` (a list of {namespace, mime_type, url})."""
    sample_identifier: str | None = None
    trusted_proxies: int = 0
    """How many reverse proxies in front set X-Forwarded-* headers; 0 ignores them."""
    html_view: bool = True
    """Show browsers an HTML page of each response (harvesters always get XML)."""

    def apply_settings(self, repository: dict[str, Any], oai: dict[str, Any]) -> None:
        """Read the keys of the ``[repository]`` and ``[oai]`` tables of a settings
        file that :mod:`thuvien_interop.settings` does not read itself.

            >>> c = ProviderConfig()
            >>> c.apply_settings({"friends": ["http://a.vn/oai"]}, {"trusted_proxies": 1})
            >>> c.friends, c.trusted_proxies
            (['http://a.vn/oai'], 1)
        """
        if "friends" in repository:
            self.friends = [str(u) for u in repository["friends"]]
        if "branding" in repository:
            self.branding = dict(repository["branding"])
        if "sample_identifier" in repository:
            self.sample_identifier = str(repository["sample_identifier"])
        if "granularity" in oai:
            self.granularity = str(oai["granularity"])
        if "compression" in oai:
            self.compression = [str(x) for x in oai["compression"]]
        if "trusted_proxies" in oai:
            self.trusted_proxies = int(oai["trusted_proxies"])
        if "html_view" in oai:
            self.html_view = bool(oai["html_view"])
        if "secret" in oai:
            self.secret = str(oai["secret"]).encode("utf-8")
