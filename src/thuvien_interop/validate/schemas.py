"""The published XML schemas (``xsd/`` of the repository), compiled with every
imported namespace mapped to the local copies, so that validating never touches
the network.

    >>> oai = schema("OAI-PMH.xsd")                        # doctest: +SKIP
    >>> oai.is_valid(b"<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'/>")  # doctest: +SKIP
    False
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from .. import xml

__all__ = ["SCHEMA_FILES", "schema", "schema_dir", "schema_locations"]

#: Namespace -> file in the schema folder, for the namespaces the published
#: schemas import by URL.
SCHEMA_FILES = {
    xml.OAI: "OAI-PMH.xsd",
    xml.OAI_DC: "oai_dc.xsd",
    xml.DC: "simpledc20021212.xsd",
    xml.MARC21: "MARC21slim.xsd",
    xml.MODS: "mods-3-7.xsd",
    xml.XLINK: "xlink.xsd",
    xml.XML: "xml.xsd",
    xml.PROVENANCE: "provenance.xsd",
}


def schema_dir() -> Path:
    """The folder of schemas: ``$THUVIEN_XSD``, else ``xsd/`` inside the package
    (an installed wheel), else ``xsd/`` of the source checkout."""
    env = os.environ.get("THUVIEN_XSD")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "xsd", here.parent.parent / "xsd"):
        if (candidate / "OAI-PMH.xsd").is_file():
            return candidate
    raise FileNotFoundError("the XML schemas (xsd/) are not found: set THUVIEN_XSD to their folder")


def schema_locations() -> dict[str, str]:
    """Namespace -> local path of its schema."""
    folder = schema_dir()
    return {ns: str(folder / name) for ns, name in SCHEMA_FILES.items()}


@cache
def schema(name: str):
    """A compiled schema of the schema folder (``OAI-PMH.xsd``, ``sru1/srw-types.xsd``,
    …), with every imported namespace resolved to the local copies; compiled once."""
    import xmlschema

    return xmlschema.XMLSchema(str(schema_dir() / name), locations=schema_locations())
