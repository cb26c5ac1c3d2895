"""The OAI-PMH ``header`` of a record (OAI-PMH 2.0 §2.5), the one renderer of it.

Every record row keeps its header rendered (ARCHITECTURE.md, "Pre-rendered
records"): written with the row, rendered again when its sets or its deletion
change, its datestamp replaced in place when the row is restamped; so that a
ListRecords page is a range scan and a join of stored fragments. The stored form
has second granularity (the provider renders a day-granularity header itself).

    >>> stored_header("oai:x:1", 0, ("a", "a:b"), False)
    '<header><identifier>oai:x:1</identifier><datestamp>1970-01-01T00:00:00Z</datestamp><setSpec>a</setSpec><setSpec>a:b</setSpec></header>'
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from .. import dates
from ..xml import xml_text


@lru_cache(maxsize=4096)
def _set_spec(spec: str) -> str:
    return f"<setSpec>{xml_text(spec)}</setSpec>"


def header_xml(identifier: str, datestamp: str, sets: Sequence[str], deleted: bool) -> str:
    """A ``header``: deleted ones say so and carry their sets (§2.5.1);
    ``datestamp`` is already formatted in the repository's granularity."""
    status = ' status="deleted"' if deleted else ""
    specs = "".join(map(_set_spec, sets)) if sets else ""
    return (f"<header{status}><identifier>{xml_text(identifier)}</identifier>"
            f"<datestamp>{datestamp}</datestamp>{specs}</header>")


def datestamp_element(seconds: int) -> str:
    """The ``datestamp`` element of a stored header (to replace it when restamped)."""
    return f"<datestamp>{dates.format_utc(seconds)}</datestamp>"


def stored_header(identifier: str, seconds: int, sets: Sequence[str], deleted: bool) -> str:
    """The header a record row keeps: second granularity."""
    return header_xml(identifier, dates.format_utc(seconds), sets, deleted)
