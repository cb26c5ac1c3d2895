"""The OAI-PMH response builder: the envelope, headers, errors and tokens.

Everything here writes text or bytes directly; metadata arrives as stored bytes
and is copied, never re-parsed (ARCHITECTURE.md, "pre-rendered metadata").

    >>> envelope_start(0, "http://127.0.0.1/oai", {"verb": "Identify"})[-55:]
    '<request verb="Identify">http://127.0.0.1/oai</request>'
"""

from __future__ import annotations

from functools import lru_cache

from .. import dates
from ..crosswalk.dc import DC_NS, OAI_DC_NS, XSI_NS
from ..model import Header
from ..store.headers import header_xml as _header_xml
from ..xml import OAI as OAI_NS
from ..xml import OAI_DC_SCHEMA, OAI_SCHEMA, xml_attr, xml_text
from .errors import OAIError

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
    f'xsi:schemaLocation="{OAI_NS} {OAI_SCHEMA}">'
)
ENVELOPE_END = "</OAI-PMH>"



def text(value: str) -> str:
    """Escape text for element content (characters XML forbids become U+FFFD).

        >>> text("a < b")
        'a &lt; b'
    """
    return xml_text(value)


def attr(value: str) -> str:
    """A quoted attribute value.

        >>> attr("a&b")
        '"a&amp;b"'
    """
    return f'"{xml_attr(value)}"'


def envelope_start(response_date: int, base_url: str, request_args: dict[str, str] | None) -> str:
    """The XML declaration, root element, responseDate and request (§3.2).

    ``request_args`` is ``None`` when the request had badVerb or badArgument:
    then the request element carries no attributes.
    """
    attrs = ""
    if request_args:
        attrs = "".join(f" {k}={attr(v)}" for k, v in request_args.items())
    return (f"{_HEAD}<responseDate>{dates.format_utc(response_date)}</responseDate>"
            f"<request{attrs}>{text(base_url)}</request>")


def errors_xml(errors: list[OAIError]) -> str:
    """One ``error`` element per condition, with a readable message (§3.6)."""
    return "".join(f'<error code="{e.code}">{text(e.message)}</error>' for e in errors)


@lru_cache(maxsize=4096)
def datestamp(seconds: int, granularity: str) -> str:
    """A datestamp in the repository's granularity; records loaded together
    share datestamps, so the cache saves most of the formatting."""
    return dates.format_utc(seconds, granularity)


def header_xml(h: Header, granularity: str) -> str:
    """The ``header`` of a record (§2.5): deleted ones say so and carry their sets."""
    return _header_xml(h.identifier, datestamp(h.datestamp, granularity), h.sets, h.deleted)


def token_xml(token: str | None, size: int, cursor: int, expires: int | None) -> str:
    """A ``resumptionToken`` element (§3.5.1); ``None`` is the empty token that
    ends an incomplete list."""
    exp = f' expirationDate="{dates.format_utc(expires)}"' if expires and token else ""
    return (f'<resumptionToken completeListSize="{size}" cursor="{cursor}"{exp}>'
            f"{text(token or '')}</resumptionToken>")


def oai_dc_xml(elements: list[tuple[str, str]], lang: str | None = None) -> str:
    """A small ``oai_dc:dc`` (for setDescription): (element, value) pairs.

        >>> oai_dc_xml([("description", "Sách")]).endswith("<dc:description>Sách</dc:description></oai_dc:dc>")
        True
    """
    body = "".join(f"<dc:{name}>{text(value)}</dc:{name}>" for name, value in elements)
    return (f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
            f'xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">'
            f"{body}</oai_dc:dc>")
