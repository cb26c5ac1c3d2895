"""Settings a library gives once, in a TOML file, instead of on every command.

    # thuvien-interop.toml
    [repository]
    name = "Thư viện tỉnh Đắk Lắk"
    identifier = "thuviendaklak.vn"          # oai:thuviendaklak.vn:<local id>
    admin_emails = ["thuvien@daklak.gov.vn"]

    [oai]
    page_size = 500

Every key the file may hold is declared once, in :data:`SETTINGS` (and documented,
key by key, in docs/deploying.md). A misspelt key or section, or a value that
cannot be right, is a :class:`SettingsError` naming the file, the line, and the
nearest valid key — never a setting silently ignored.

    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "thuvien.toml"
    >>> _ = f.write_text('[repository]\\nnmae = "Thư viện"\\n', encoding="utf-8")
    >>> Settings.load(f)
    Traceback (most recent call last):
    ...
    thuvien_interop.settings.SettingsError: ...thuvien.toml, line 2: unknown key 'nmae' in [repository]; did you mean 'name'?
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .oai.config import ProviderConfig
from .oai.harvest_overview import ConsoleConfig
from .paths import DEFAULT_STORE
from .sru.config import SRUConfig, schema_by_name
from .tomlfile import line_of, unknown
from .union.match import KEY_KINDS
from .wording import say

__all__ = ["DEFAULT_STORE", "SETTINGS", "Settings", "SettingsError"]

class SettingsError(ValueError):
    """The settings file cannot be used; the message says why, on one line."""


# -- what each value may be -----------------------------------------------------------
# A check takes the TOML value and returns it as used, or raises ValueError saying
# what is expected (the caller adds the file, line and key).
Check = Callable[[Any], Any]

# OAI-PMH oai-identifier.xsd, repositoryIdentifierType; Identify's emailType.
_DOMAIN = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")
_EMAIL = re.compile(r"[^@\s]+@([^@\s.]+\.)+[^@\s.]+")
_ID_FIELD = re.compile(r"(00[1-9]|0[1-9]\d|[1-9]\d\d)(\$[a-z0-9])?")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(say("value.text", shown=_shown(value)))
    return value


def _nonempty(value: Any) -> str:
    if not _text(value).strip():
        raise ValueError(say("value.nonempty"))
    return value


def _whole(minimum: int, maximum: int | None = None) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(say("value.whole", shown=_shown(value)))
        if value < minimum or (maximum is not None and value > maximum):
            upto = say("value.at-most", maximum=maximum) if maximum is not None else ""
            raise ValueError(say("value.at-least", minimum=minimum, upto=upto, value=value))
        return value
    return check


def _number(minimum: float, maximum: float, *, above: bool = False) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(say("value.number", shown=_shown(value)))
        if value < minimum or (above and value == minimum) or value > maximum:
            raise ValueError(say("value.above" if above else "value.between", minimum=minimum,
                                 maximum=maximum, value=value))
        return float(value)
    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(say("value.flag", shown=_shown(value)))
    return value


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str:
        if _text(value) not in choices:
            raise ValueError(say("value.one-of", choices=say("lint.or").join(map(repr, choices)),
                                 value=value))
        return value
    return check


def _list_of(item: Check) -> Check:
    def check(value: Any) -> list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(say("value.list", shown=_shown(value)))
        return [item(v) for v in value]
    return check


def _domain(value: Any) -> str:
    if not _DOMAIN.fullmatch(_text(value)):
        raise ValueError(say("value.domain", value=value))
    return value


def _email(value: Any) -> str:
    if not _EMAIL.fullmatch(_text(value)):
        raise ValueError(say("value.email", value=value))
    return value


def _url(value: Any) -> str:
    if _text(value) and not re.match(r"https?://[^/\s]+", value):
        raise ValueError(say("value.url", value=value))
    return value


def _base_url(value: Any) -> str:
    return _url(value) if value != "" else value


def _id_field(value: Any) -> str:
    if not _ID_FIELD.fullmatch(_text(value)):
        raise ValueError(say("value.id-field", value=value))
    return value


def _languages(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"vi": value}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(say("value.languages"))
    return dict(value)


def _schema(value: Any) -> str:
    if schema_by_name(_text(value)) is None:
        raise ValueError(say("value.schema", value=value))
    return value


def _ttl_hours(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(say("value.hours", shown=_shown(value)))
    if value < 24:
        raise ValueError(say("value.ttl", value=value))
    return value


@dataclass(frozen=True, slots=True)
class _Table:
    keys: dict[str, Check]
    array: bool = False   # an array of tables ([[renderings]], or a list of inline tables)

    def __call__(self, value: Any) -> Any:  # pragma: no cover - walked, never called
        raise AssertionError("tables are walked, not checked")


_RENDERING = _Table({"namespace": _nonempty, "mime_type": _nonempty, "url": _url}, array=True)

#: Every key a settings file may hold, by section ("" is the top level). A
#: :class:`_Table` value is a sub-table; ``sets`` is read by
#: :meth:`thuvien_interop.oai.setrules.SetRules.from_config`, which checks its own keys.
SETTINGS: dict[str, dict[str, Any]] = {
    "": {"store": _nonempty},
    "repository": {
        "name": _nonempty,
        "identifier": _domain,
        "admin_emails": _list_of(_email),
        "admin_email": _list_of(_email),
        "base_url": _base_url,
        "sample_identifier": _nonempty,
        "friends": _list_of(_url),
        "branding": _Table({"logo": _url, "url": _url, "title": _text,
                            "width": _whole(1), "height": _whole(1), "renderings": _RENDERING}),
    },
    "oai": {
        "page_size": _whole(1, 10_000),
        "token_ttl_hours": _ttl_hours,
        "granularity": _one_of("YYYY-MM-DDThh:mm:ssZ", "YYYY-MM-DD"),
        "compression": _list_of(_one_of("gzip", "deflate")),
        "trusted_proxies": _whole(0, 10),
        "html_view": _flag,
        "secret": _nonempty,
    },
    "import": {"id_field": _id_field},
    "sru": {
        "title": _languages,
        "description": _languages,
        "default_records": _whole(0),
        "max_records": _whole(1),
        "default_terms": _whole(1),
        "max_terms": _whole(1),
        "default_schema": _schema,
        "default_version": _one_of("1.1", "1.2"),
        "default_context_set": _nonempty,
        "base_url": _base_url,
        "html_view": _flag,
        "time_budget": _number(0, 3600, above=True),
        "profile": _nonempty,
    },
    "console": {
        "enabled": _flag,
        "user": _nonempty,
        "password_hash": _nonempty,
        "diagnostics": _nonempty,
        "validate_delay": _number(0, 60),
    },
    "alerts": {"failed_runs": _whole(1), "lost_percent": _number(0, 100, above=True)},
    "union": {
        "enabled": _flag,
        "keys": _list_of(_one_of(*KEY_KINDS)),
        "year_tolerance": _whole(0, 100),
        "pages_slack": _whole(0),
        "pages_ratio": _number(0, 1),
        "title_key_needs_year": _flag,
        "max_key_records": _whole(1),
    },
    "sets": None,  # [[sets]]: SetRules.from_config
}


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return say("value.a-table")
    if isinstance(value, list):
        return say("value.a-list")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return say("value.the-text", value=value)
    return repr(value)


def _name(path: tuple[str | int, ...]) -> str:
    """``[repository] identifier``, ``[repository.branding] logo``, ``store``."""
    keys = [str(p) for p in path if not isinstance(p, int)]
    if len(keys) == 1:
        return keys[0]
    return f"[{'.'.join(keys[:-1])}] {keys[-1]}"


@dataclass(slots=True)
class Settings:
    """What a settings file says, over the defaults: the store, the OAI-PMH
    provider's and the SRU server's configuration, the import's identifier field."""

    store: str = DEFAULT_STORE
    oai: ProviderConfig = field(default_factory=ProviderConfig)
    sru: SRUConfig = field(default_factory=SRUConfig)
    id_field: str = "001"
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    union: dict | None = None
    """The file's ``[union]`` table (clustering; kept in the store by
    :func:`thuvien_interop.union.clusters.configure`), None without one."""
    raw: dict = field(default_factory=dict)
    """The file's tables as parsed (``raw["sets"]`` for the set rules)."""
    path: Path | None = None

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> Settings:
        """Settings from a TOML file (or the defaults when ``path`` is None).

        Raises :class:`SettingsError`, one line naming the file and the line, for a
        file that is missing, not TOML, or holds an unknown key or a bad value.
        """
        s = cls(store=os.environ.get("THUVIEN_STORE", DEFAULT_STORE))
        if path is None:
            return s
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SettingsError(say("settings.missing", path=path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(say("settings.unreadable", path=path, cause=exc)) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(say("settings.not-toml", path=path, cause=exc)) from None
        s.path = Path(path)
        s.raw = data

        def fail(where: tuple[str | int, ...], message: str) -> SettingsError:
            line = line_of(text, where)
            return SettingsError(say("settings.at-line", path=path, line=line, message=message)
                                 if line else f"{path}: {message}")

        _walk(data, fail)
        s._apply(data, fail)
        return s

    def _apply(self, data: dict[str, Any], fail: Callable[..., SettingsError]) -> None:
        repo, oai = data.get("repository", {}), data.get("oai", {})
        c = self.oai
        c.repository_name = repo.get("name", c.repository_name)
        c.repository_identifier = repo.get("identifier", c.repository_identifier)
        for key in ("admin_emails", "admin_email"):
            if key in repo:
                c.admin_emails = _list_of(_email)(repo[key])
        c.base_url = repo.get("base_url", c.base_url)
        c.apply_settings(repo, oai)
        c.page_size = oai.get("page_size", c.page_size)
        if "token_ttl_hours" in oai:
            c.token_ttl = int(oai["token_ttl_hours"] * 3600)
        if c.sample_identifier and not c.sample_identifier.startswith(
                f"oai:{c.repository_identifier}:"):
            raise fail(("repository", "sample_identifier"),
                       f"[repository] sample_identifier {c.sample_identifier!r} must be an "
                       f"identifier of this repository: oai:{c.repository_identifier}:<local id>")
        self.store = data.get("store", self.store)
        if "union" in data:
            self.union = dict(data["union"])
        self.id_field = data.get("import", {}).get("id_field", self.id_field)
        sru = dict(data.get("sru", {}))
        if "profile" in sru and self.path is not None:
            # A profile file is found beside the settings file that names it.
            beside = self.path.parent / sru["profile"]
            if beside.is_file():
                sru["profile"] = str(beside)
        try:
            self.sru = SRUConfig.from_dict(sru)
        except (ValueError, OSError) as exc:
            key = next((k for k in ("default_records", "default_terms") if k in str(exc)),
                       "profile")
            raise fail(("sru", key), f"[sru] {exc}") from None
        try:
            self.console = ConsoleConfig.from_settings(data.get("console", {}),
                                                       data.get("alerts", {}))
        except ValueError as exc:
            raise fail(("console", "enabled"), str(exc)) from None
        if "sets" in data:
            from .oai.setrules import SetRules

            try:
                SetRules.from_config(data["sets"])
            except (ValueError, TypeError) as exc:
                # "[[sets]] table 2: …" is found at the second [[sets]] header.
                n = re.search(r"table (\d+)", str(exc))
                raise fail(("sets", int(n.group(1)) - 1) if n else ("sets",), str(exc)) from None


def _walk(data: dict[str, Any], fail: Callable[..., SettingsError]) -> None:
    """Check every key of the file against :data:`SETTINGS`; raise at the first wrong one."""
    top = SETTINGS[""]
    for key, value in data.items():
        if key in top:
            _check((key,), top[key], value, fail)
        elif key == "sets":
            continue
        elif key in SETTINGS:
            if not isinstance(value, dict):
                raise fail((key,), f"{key} must be a section ([{key}] on a line of its own), "
                                   f"not {_shown(value)}")
            _keys(value, SETTINGS[key], (key,), fail)
        elif isinstance(value, dict | list):
            sections = [f"[{k}]" for k in SETTINGS if k]
            raise fail((key,), unknown(f"[{key}]", sections, say("settings.in-file"), "section"))
        else:
            raise fail((key,), unknown(key, [*top, *(k for k in SETTINGS if k)],
                                       say("settings.at-top")))


def _keys(table: dict[str, Any], keys: dict[str, Any], where: tuple[str | int, ...],
          fail: Callable[..., SettingsError]) -> None:
    section = ".".join(str(p) for p in where if not isinstance(p, int))
    for key, value in table.items():
        if key not in keys:
            raise fail((*where, key), unknown(key, keys, say("settings.in-section",
                                                              section=section)))
        _check((*where, key), keys[key], value, fail)


def _check(path: tuple[str | int, ...], check: Any, value: Any,
           fail: Callable[..., SettingsError]) -> None:
    if isinstance(check, _Table):
        if check.array and not isinstance(value, list):
            raise fail(path, f"{_name(path)} must be a list of tables, not {_shown(value)}")
        rows = value if check.array else [value]
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise fail(path, f"{_name(path)} must be a table, not {_shown(row)}")
            _keys(row, check.keys, (*path, i) if check.array else path, fail)
        return
    try:
        check(value)
    except ValueError as exc:
        raise fail(path, f"{_name(path)} {exc}") from None
