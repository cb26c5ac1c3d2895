"""The OAI-PMH response builder: the envelope, headers and errors as bytes.

Everything here writes strings; metadata arrives as stored bytes and is copied,
never re-parsed.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .. import dates
from ..crosswalk.text import clean_xml_text
from ..model import Header
from .errors import OAIError

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
    f'xsi:schemaLocation="{OAI_NS} {OAI_SCHEMA}">'
)


def text(value: str) -> str:
    """Escape text for element content (forbidden characters repaired)."""
    return escape(clean_xml_text(value))


def attr(value: str) -> str:
    """A quoted attribute value."""
    return quoteattr(clean_xml_text(value))


def envelope_start(response_date: int, base_url: str, request_args: dict[str, str] | None) -> str:
    """The XML declaration, root element, responseDate and request."""
    attrs = ""
    if request_args:
        attrs = "".join(f" {k}={attr(v)}" for k, v in request_args.items())
    return (f"{_HEAD}<responseDate>{dates.format_utc(response_date)}</responseDate>"
            f"<request{attrs}>{text(base_url)}</request>")


ENVELOPE_END = "</OAI-PMH>"


def errors_xml(errors: list[OAIError]) -> str:
    return "".join(f'<error code="{e.code}">{text(e.message)}</error>' for e in errors)


def header_xml(h: Header, granularity: str) -> str:
    status = ' status="deleted"' if h.deleted else ""
    sets = "".join(f"<setSpec>{text(s)}</setSpec>" for s in h.sets)
    return (f"<header{status}><identifier>{text(h.identifier)}</identifier>"
            f"<datestamp>{dates.format_utc(h.datestamp, granularity)}</datestamp>{sets}</header>")


def token_xml(token: str | None, size: int, cursor: int, expires: int | None) -> str:
    exp = f' expirationDate="{dates.format_utc(expires)}"' if expires and token else ""
    return (f'<resumptionToken completeListSize="{size}" cursor="{cursor}"{exp}>'
            f"{text(token or '')}</resumptionToken>")
