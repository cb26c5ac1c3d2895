"""How a record read from a file gets its OAI identifier.

    >>> from thuvien_interop.ingest.loader import IdentifierRule
    >>> IdentifierRule("thuvien.example.vn").identifier("VN 12")
    'oai:thuvien.example.vn:VN%2012'

The import itself (read, identify, build, write) is
:func:`thuvien_interop.pipeline.files.import_files`, also importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ..crosswalk.marcview import fields_of
from .result import DCRecord, Source

# RFC 3986 unreserved and sub-delims that the oai-identifier scheme allows.
_SAFE = "-_.!~*'();/?:@&=+$,"


@dataclass(slots=True)
class IdentifierRule:
    """How a record's OAI identifier is made: ``oai:<repository_id>:<local id>``.

    ``field`` names where the local id is: ``001`` (default), or a data field
    and subfield like ``035$a``; for Dublin Core, ``dc_element`` (default the
    first ``dc:identifier``).
    """

    repository_id: str
    field: str = "001"
    dc_element: str = "identifier"

    def local_id(self, source: Source) -> str | None:
        if isinstance(source, DCRecord):
            values = source.values(self.dc_element)
            return values[0].strip() if values else None
        tag, _, code = self.field.partition("$")
        code = code or "a"
        for f in fields_of(source):
            if f.tag != tag:
                continue
            if f.control_field:
                value = (f.data or "").strip()
            else:
                value = next((v.strip() for c, v in f.subfields if c == code and v.strip()), "")
            if value:
                return value
        return None

    def identifier(self, local: str) -> str:
        return f"oai:{self.repository_id}:{quote(local, safe=_SAFE)}"


# The import door itself is the pipeline's (thuvien_interop.pipeline.files): these
# names stay here for the callers that know them.
_MOVED = {"import_files": "files", "Classifier": "files", "ImportReport": "items:Report",
          "Problem": "items", "build_record": "build", "BATCH": "run"}


def __getattr__(name: str) -> object:
    where = _MOVED.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, _, attr = where.partition(":")
    return getattr(importlib.import_module(f"thuvien_interop.pipeline.{module}"), attr or name)
