"""Settings a library gives once, in a TOML file, instead of on every command.

    # thuvien-interop.toml
    [repository]
    name = "Thư viện tỉnh Đắk Lắk"
    identifier = "thuviendaklak.vn"          # oai:thuviendaklak.vn:<local id>
    admin_emails = ["thuvien@daklak.gov.vn"]
    base_url = ""                             # empty: the URL requests come to

    [oai]
    page_size = 200
    token_ttl_hours = 168

    [import]
    id_field = "001"                          # or "035$a"

    [sru]
    default_records = 10
    max_records = 100
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .oai.config import ProviderConfig
from .oai.harvest_overview import ConsoleConfig
from .sru.config import SRUConfig

DEFAULT_STORE = "sqlite:///thuvien.db"


class SettingsError(ValueError):
    """The settings file cannot be used; the message says why."""


@dataclass(slots=True)
class Settings:
    store: str = DEFAULT_STORE
    oai: ProviderConfig = field(default_factory=ProviderConfig)
    sru: SRUConfig = field(default_factory=SRUConfig)
    id_field: str = "001"
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    raw: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> Settings:
        """Settings from a TOML file (or the defaults when ``path`` is None)."""
        s = cls(store=os.environ.get("THUVIEN_STORE", DEFAULT_STORE))
        if path is None:
            return s
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
        s.raw = data
        repo = data.get("repository", {})
        oai = data.get("oai", {})
        c = s.oai
        c.repository_name = repo.get("name", c.repository_name)
        c.repository_identifier = repo.get("identifier", c.repository_identifier)
        emails = repo.get("admin_emails", repo.get("admin_email", c.admin_emails))
        c.admin_emails = [emails] if isinstance(emails, str) else list(emails)
        c.base_url = repo.get("base_url", c.base_url)
        c.apply_settings(repo, oai)
        c.page_size = int(oai.get("page_size", c.page_size))
        c.token_ttl = int(float(oai.get("token_ttl_hours", c.token_ttl / 3600)) * 3600)
        if c.token_ttl < 24 * 3600:
            raise SettingsError("oai.token_ttl_hours must be at least 24: slow harvesters need a day")
        if "store" in data:
            s.store = data["store"]
        s.id_field = data.get("import", {}).get("id_field", s.id_field)
        try:
            s.sru = SRUConfig.from_dict(data.get("sru", {}))
        except (ValueError, OSError, KeyError) as exc:
            raise SettingsError(f"settings file {path}, [sru]: {exc}") from None
        try:
            s.console = ConsoleConfig.from_settings(data.get("console", {}), data.get("alerts", {}))
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"settings file {path}: {exc}") from None
        return s
