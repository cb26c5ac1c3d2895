"""The providers a harvester visits: one :class:`Source` each, from code or a TOML file.

    # providers.toml
    [harvest]
    workers = 4                       # providers harvested at once (one request at a time per host)
    lease = 120                       # seconds a provider's lease lasts unless renewed
    max_pages = 100000                # pages of one list run at most

    [[provider]]
    name = "daklak"                   # the union's set source:daklak
    url = "https://thuvien.daklak.gov.vn/oai"
    prefix = "marc21"                 # default oai_dc
    sets = ["sach", "baochi"]         # default: the whole repository
    delay = 1.0                       # seconds between two requests to this provider
    username = "union"                # HTTP basic auth, if the provider wants it
    password_env = "DAKLAK_OAI_PASSWORD"
    library = { name = "Thư viện tỉnh Đắk Lắk", province = "Đắk Lắk", kind = "public" }

    >>> sources, options = load_sources("providers.toml")     # doctest: +SKIP
    >>> sources[0].name, sources[0].sets                      # doctest: +SKIP
    ('daklak', ('sach', 'baochi'))
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..dates import parse_utc
from ..wording import say

# A source name becomes part of a setSpec (OAI-PMH 2.0 §4.6 setSpecType), so it
# may only use the characters a setSpec segment allows.
_NAME = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$")
_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")


class SourcesError(ValueError):
    """A providers file (or a Source) cannot be used; the message says why."""


@dataclass(slots=True)
class Source:
    """One OAI-PMH provider to harvest.

    >>> Source("daklak", "https://thuvien.daklak.gov.vn/oai", prefix="marc21").host
    'thuvien.daklak.gov.vn'
    """

    name: str
    url: str
    prefix: str = "oai_dc"
    sets: tuple[str, ...] = ()
    """Sets to harvest, each on its own; empty means the whole repository."""
    delay: float = 0.0
    """Seconds to wait between two requests to this provider (politeness)."""
    username: str | None = None
    password: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    by_identifier: bool = False
    """ListIdentifiers + GetRecord instead of ListRecords (for providers whose
    ListRecords keeps failing)."""
    from_: str | None = None
    until: str | None = None
    library: dict[str, str] = field(default_factory=dict)
    """The ``library`` table: the name people know, province, kind (see
    :class:`thuvien_interop.union.holdings.Library`)."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name or ""):
            raise SourcesError(
                f"provider name '{self.name}' can only use letters, digits and - _ . ! ~ * ' ( ): "
                "it becomes the set source:<name> of the union")
        parts = urlsplit(self.url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourcesError(say("sources.not-a-url", name=self.name, url=self.url))
        for spec in self.sets:
            if not _SPEC.match(spec):
                raise SourcesError(f"provider '{self.name}': '{spec}' is not a valid setSpec")
        if self.delay < 0:
            raise SourcesError(f"provider '{self.name}': delay cannot be negative")
        window = []
        for name, value in (("from", self.from_), ("until", self.until)):
            if value is not None:
                try:
                    window.append(parse_utc(str(value))[0])
                except ValueError as exc:
                    raise SourcesError(f"provider '{self.name}': {name} {exc}") from None
        if len(window) == 2 and window[0] > window[1]:
            # OAI-PMH 2.0 §3.3.1 makes that a badArgument; say it before asking.
            raise SourcesError(f"provider '{self.name}': from {self.from_} is after until "
                               f"{self.until}")
        self.sets = tuple(self.sets)

    @property
    def host(self) -> str:
        """The host (and port) requests go to; one request at a time per host."""
        return urlsplit(self.url).netloc.lower()

    @property
    def set_spec(self) -> str:
        """The union's set holding this provider's records."""
        return f"source:{self.name}"

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.username is None:
            return None
        return self.username, self.password or ""


@dataclass(slots=True)
class HarvestOptions:
    """Options of a providers file's ``[harvest]`` table."""

    workers: int = 4
    lease: int | None = None
    """Seconds a provider's lease lasts unless renewed (``None``: the harvester's default)."""
    max_pages: int | None = None
    """Pages of one list run at most (``None``: the harvester's default)."""


_OPTIONS = {"workers": 1, "lease": 2, "max_pages": 1}  # each a whole number, at least this


_KEYS = {"name", "url", "base_url", "prefix", "metadata_prefix", "sets", "set", "delay",
         "username", "password", "password_env", "headers", "by_identifier", "from", "until",
         "library"}


def source_from_dict(data: dict, where: str = "") -> Source:
    """A :class:`Source` from one ``[[provider]]`` table (unknown keys are an error:
    a misspelt key must not be ignored silently)."""
    unknown = set(data) - _KEYS
    if unknown:
        raise SourcesError(f"{where}unknown key(s) {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(sorted(_KEYS))}")
    if "name" not in data or not (data.get("url") or data.get("base_url")):
        raise SourcesError(f"{where}each provider needs a name and a url")
    sets = data.get("sets", data.get("set", ()))
    if isinstance(sets, str):
        sets = (sets,)
    password = data.get("password")
    if data.get("password_env"):
        # Secrets stay out of the file: the file names the variable that holds them.
        password = os.environ.get(data["password_env"])
        if password is None:
            raise SourcesError(f"{where}environment variable {data['password_env']} is not set")
    return Source(
        name=str(data["name"]), url=str(data.get("url") or data.get("base_url")),
        prefix=str(data.get("prefix", data.get("metadata_prefix", "oai_dc"))),
        sets=tuple(str(s) for s in sets), delay=float(data.get("delay", 0.0)),
        username=data.get("username"), password=password,
        headers={str(k): str(v) for k, v in data.get("headers", {}).items()},
        by_identifier=bool(data.get("by_identifier", False)),
        from_=data.get("from"), until=data.get("until"), library=_library(data, where))


def _library(data: dict, where: str) -> dict[str, str]:
    from ..union.holdings import Library

    table = data.get("library", {})
    if not isinstance(table, dict):
        raise SourcesError(f"{where}library must be a table: "
                           'library = { name = "…", province = "…", kind = "school" }')
    try:
        Library.from_dict(str(data["name"]), table)
    except ValueError as exc:
        raise SourcesError(f"{where}{exc}") from None
    return {str(k): str(v) for k, v in table.items()}


def load_sources(path: str | os.PathLike) -> tuple[list[Source], HarvestOptions]:
    """Read a providers file; raise :class:`SourcesError` with a readable message."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(say("sources.missing", path=path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(say("sources.not-toml", path=path, cause=exc)) from None
    providers = data.get("provider", data.get("providers", []))
    if not isinstance(providers, list) or not providers:
        raise SourcesError(say("sources.no-providers", path=path))
    sources: list[Source] = []
    seen: set[str] = set()
    for i, entry in enumerate(providers, 1):
        source = source_from_dict(entry, f"{path}: provider {i}: ")
        if source.name in seen:
            raise SourcesError(f"{path}: provider name '{source.name}' is used twice")
        seen.add(source.name)
        sources.append(source)
    return sources, _options(data.get("harvest", {}), path)


def _options(table: object, path: str | os.PathLike) -> HarvestOptions:
    if not isinstance(table, dict):
        raise SourcesError(f"{path}: [harvest] must be a table")
    unknown = set(table) - set(_OPTIONS)
    if unknown:
        raise SourcesError(f"{path}: [harvest] has unknown key(s) {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(sorted(_OPTIONS))}")
    values: dict[str, int] = {}
    for key, least in _OPTIONS.items():
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise SourcesError(f"{path}: [harvest] {key} = {value!r}: give a whole number "
                                   f"of at least {least}")
            values[key] = value
    return HarvestOptions(**values)
