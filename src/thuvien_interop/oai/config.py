"""What a data provider says about itself (the Identify response) and how it pages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ProviderConfig:
    """Configuration of an OAI-PMH data provider.

    ``repository_identifier`` is the namespace of ``oai:<id>:<local>`` identifiers
    and must look like a domain name (the oai-identifier scheme).
    """

    base_url: str = ""
    """Fixed base URL; empty means "the URL the request came to" (see the web layer)."""
    repository_name: str = "Thư viện số — thuvien-interop"
    repository_identifier: str = "thuvien-interop.vn"
    admin_emails: list[str] = field(default_factory=lambda: ["admin@thuvien-interop.vn"])
    granularity: str = "YYYY-MM-DDThh:mm:ssZ"
    deleted_record: str = "persistent"
    page_size: int = 200
    token_ttl: int = 7 * 24 * 3600
    secret: bytes | None = None
    compression: list[str] = field(default_factory=lambda: ["gzip", "deflate"])
    friends: list[str] = field(default_factory=list)
    branding: dict[str, str] = field(default_factory=dict)
    """``title``, ``url``, ``logo`` (an image URL) for the branding description."""
    sample_identifier: str | None = None
