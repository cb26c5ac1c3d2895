"""The XML home: the namespaces, the safe parser, escaping and the recovering
record splitter, defined once for import, harvest, the web views and SRU.

Nothing parsed here resolves entities, loads a DTD or touches the network
(ARCHITECTURE.md, "Safe XML"); every module parses with :func:`safe_parser`,
:data:`SAFE_PARSER` or :func:`iterparse`, never with settings of its own.

    >>> from thuvien_interop import xml
    >>> xml.parse(b'<r xmlns="http://www.loc.gov/MARC21/slim">A &amp; B</r>').tag == xml.q(xml.MARC21, "r")
    True
    >>> xml.xml_text("Sách & báo <1945>")
    'Sách &amp; báo &lt;1945&gt;'
    >>> xml.parse(b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>').text is None
    True
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import IO, BinaryIO

from lxml import etree

from .wording import Note

# -- namespaces -------------------------------------------------------------------
OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
OAI_IDENTIFIER = "http://www.openarchives.org/OAI/2.0/oai-identifier"
FRIENDS = "http://www.openarchives.org/OAI/2.0/friends/"
BRANDING = "http://www.openarchives.org/OAI/2.0/branding/"
PROVENANCE = "http://www.openarchives.org/OAI/2.0/provenance"
PROVENANCE_SCHEMA = "http://www.openarchives.org/OAI/2.0/provenance.xsd"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
MARC21 = "http://www.loc.gov/MARC21/slim"
MARC21_SCHEMA = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
MODS = "http://www.loc.gov/mods/v3"
MODS_SCHEMA = "http://www.loc.gov/standards/mods/v3/mods-3-7.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"
SRU1 = "http://www.loc.gov/zing/srw/"
DIAG1 = "http://www.loc.gov/zing/srw/diagnostic/"
SRU2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
SRU2_SCAN = "http://docs.oasis-open.org/ns/search-ws/scan"
SRU2_FACETS = "http://docs.oasis-open.org/ns/search-ws/facetedResults"
DIAG2 = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
XCQL = "http://www.loc.gov/zing/cql/xcql/"
XCQL_SRU2 = "http://docs.oasis-open.org/ns/search-ws/xcql"
ZEEREX = "http://explain.z3950.org/dtd/2.0/"
#: ISO 20775 holdings (the SRU record schema of who holds a record: the namespace is
#: also its schema identifier). The schema's published address, for explain.
ISO20775 = "info:ofi/fmt:xml:xsd:iso20775"
ISO20775_SCHEMA = "http://www.loc.gov/standards/iso20775/N130_ISOholdings_v6_1.xsd"

#: Every namespace above: no other module writes one of these URIs itself (a
#: test reads the source to check).
NAMESPACES = frozenset((OAI, OAI_DC, OAI_IDENTIFIER, FRIENDS, BRANDING, PROVENANCE, DC, DCTERMS,
                        MARC21, MODS, XSI, XLINK, XML, SRU1, DIAG1, SRU2, SRU2_SCAN, SRU2_FACETS, DIAG2, XCQL,
                        XCQL_SRU2, ZEEREX, ISO20775))

#: Prefixes providers use without declaring them: the harvester's tolerant reading
#: declares them for them, so that their records can still be read.
USUAL_PREFIXES: dict[str, str] = {
    "oai_dc": OAI_DC, "dc": DC, "dcterms": DCTERMS, "marc": MARC21, "slim": MARC21,
    "mods": MODS, "xsi": XSI, "xlink": XLINK, "provenance": PROVENANCE, "oai": OAI,
}


def q(namespace: str, name: str) -> str:
    """An lxml qualified name: ``{namespace}name``."""
    return f"{{{namespace}}}{name}"


def local(tag: object) -> str:
    """The local part of an element's tag (``""`` for comments and processing
    instructions, whose tag is not a string)."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def declarations(namespaces: dict[str | None, str] | dict[str, str]) -> str:
    """`` xmlns="…" xmlns:p="…"`` for a prefix → URI mapping (``None`` or ``""``:
    the default namespace)."""
    return "".join(f' xmlns="{uri}"' if not prefix else f' xmlns:{prefix}="{uri}"'
                   for prefix, uri in namespaces.items())


# -- the safe parser --------------------------------------------------------------
_SAFE = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": True}


def safe_parser(*, recover: bool = False) -> etree.XMLParser:
    """A parser for XML from outside: no entities, no DTD, no network (``recover``:
    read what can be read of a document that is not well-formed)."""
    return etree.XMLParser(recover=recover, **_SAFE)


SAFE_PARSER = safe_parser()
"""The safe parser, shared (lxml parsers are safe to share within a thread's use)."""


def parse(data: bytes | str, *, recover: bool = False) -> etree._Element:
    """The root element of a document, parsed the safe way."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return etree.fromstring(data, SAFE_PARSER if not recover else safe_parser(recover=True))


def iterparse(source: IO[bytes], **options: object) -> etree.iterparse:
    """``lxml.etree.iterparse`` with the safe settings (``events``, ``tag`` …
    passed on)."""
    return etree.iterparse(source, **_SAFE, **options)  # type: ignore[arg-type]


# -- escaping and XML 1.0's characters ----------------------------------------------
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Most values need nothing: one search decides, on the hot paths (every record of
# every format is written through these at import, every response at serve time).
_XML_NEEDS_WORK = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _check_ref(m: re.Match[str]) -> str:
    """A character reference to a character XML 1.0 forbids becomes U+FFFD (§2.2 Char)."""
    try:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    except ValueError:
        return "\ufffd"
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD \
            or 0x10000 <= code <= 0x10FFFF:
        return m.group()
    return "\ufffd"


def has_forbidden_xml_chars(text: str) -> bool:
    """True if ``text`` holds a character XML 1.0 forbids.

        >>> has_forbidden_xml_chars("a\\x0bb"), has_forbidden_xml_chars("a\\tb")
        (True, False)
    """
    return _XML_FORBIDDEN.search(text) is not None


def clean_xml_text(text: str) -> str:
    """Replace characters XML 1.0 forbids with U+FFFD, so the evidence stays visible.

        >>> clean_xml_text("a\\x00b")
        'a\\ufffdb'
    """
    return _XML_FORBIDDEN.sub("\ufffd", text)


def repair_xml_chars(text: str) -> str:
    """Document text with the characters XML 1.0 forbids, raw or as character
    references (``&#1;``), replaced with U+FFFD.

        >>> repair_xml_chars("a\x01b &#x1; &#233;")
        'a\ufffdb \ufffd &#233;'
    """
    if _XML_FORBIDDEN.search(text) is not None:
        text = _XML_FORBIDDEN.sub("\ufffd", text)
    if "&#" in text:
        text = _CHAR_REF.sub(_check_ref, text)
    return text


def xml_text(value: str) -> str:
    """``value`` as XML element content: escaped, forbidden characters → U+FFFD.

        >>> xml_text("Sách & báo <1945>")
        'Sách &amp; báo &lt;1945&gt;'
    """
    if value.isprintable():
        # Every character XML 1.0 forbids is unprintable (controls, surrogates,
        # U+FFFE/U+FFFF): a printable value needs at most its three escapes.
        # Two C scans at most, half the cost of the search below.
        if "&" not in value and "<" not in value and ">" not in value:
            return value
    elif _XML_NEEDS_WORK.search(value) is None:
        return value
    return clean_xml_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(value: str) -> str:
    """``value`` for a double-quoted attribute (without the quotes).

        >>> xml_attr('say "xin chào"')
        'say &quot;xin chào&quot;'
    """
    if _XML_NEEDS_WORK.search(value) is None:
        return value
    return xml_text(value).replace('"', "&quot;")


# -- the recovering record splitter ---------------------------------------------------
_CHUNK = 1 << 20
DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
"""The encoding an XML declaration names (group 1)."""
NAMESPACE_DECLARATION = re.compile(r"""\sxmlns(?::([\w.-]+))?\s*=\s*(["'])(.*?)\2""")
"""A namespace declaration: prefix (group 1, ``None`` for the default) and URI (group 3)."""


def _text_stream(stream: BinaryIO) -> Iterator[str]:
    head = stream.read(_CHUNK)
    encoding = "utf-8"
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        m = DECLARED_ENCODING.match(head)
        if m:
            try:
                encoding = codecs.lookup(m.group(1).decode("ascii")).name
            except LookupError:
                encoding = "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    data = head
    while data:
        yield decoder.decode(data)
        data = stream.read(_CHUNK)
    yield decoder.decode(b"", final=True)


def split_records(stream: BinaryIO, element: str) -> Iterator[tuple[int, int, str | None, str, list[str]]]:
    """Yield (position, line, chunk text or None, error, repairs) for each ``element``
    (a local name, any prefix) in the stream.

    A file of many records (a MARCXML collection, a DC dump, an OAI-PMH response)
    is cut into one text chunk per record element; each chunk is a complete
    document, the record wrapped in an element that declares the namespaces seen
    before it, so that a record that is not well-formed costs that record, not the
    rest of the file. ``error`` is "" when cutting succeeded. Memory stays flat
    whatever the file's size.
    """
    open_re = re.compile(r"<(?:[\w.-]+:)?" + re.escape(element) + r"(?=[\s/>])")
    close_re = re.compile(r"</(?:[\w.-]+:)?" + re.escape(element) + r"\s*>")
    buf = ""
    line = 1
    namespaces: dict[str | None, str] = {}
    seen_first = False
    position = 0
    decls = ""
    for text in _text_stream(stream):
        # A cursor into the buffer, trimmed once per chunk: slicing the buffer
        # after every record would copy it once per record (quadratic).
        buf += text
        pos = 0
        while True:
            m = open_re.search(buf, pos)
            if not m:
                break
            before = buf[pos:m.start()]
            if not seen_first or "<" in before:
                found = False
                for ns in NAMESPACE_DECLARATION.finditer(before):
                    if ns.group(1) not in namespaces:
                        namespaces[ns.group(1)] = ns.group(3)
                        found = True
                if found or not decls:
                    decls = declarations(namespaces)
            gt = buf.find(">", m.end())
            if gt < 0:
                break
            c = close_re.search(buf, m.end())
            if buf[gt - 1] == "/":
                end = gt + 1  # self-closing <record/>: an empty record
            elif c is None:
                break  # need more text
            else:
                nested_open = open_re.search(buf, m.end(), c.start())
                if nested_open is not None:
                    # A second record opens before this one closes: this one is broken.
                    position += 1
                    line += before.count("\n")
                    yield position, line, None, "the record is not closed before the next one starts", []
                    line += buf.count("\n", m.start(), nested_open.start())
                    pos = nested_open.start()
                    seen_first = True
                    continue
                end = c.end()
            seen_first = True
            position += 1
            line += before.count("\n")
            record_text = buf[m.start():end]
            repairs: list[str] = []
            repaired = repair_xml_chars(record_text)
            if repaired != record_text:
                record_text = repaired
                repairs.append(Note("read.control-characters"))
            yield position, line, f"<wrap{decls}>{record_text}</wrap>", "", repairs
            line += buf.count("\n", m.start(), end)
            pos = end
        buf = buf[pos:]
        # Keep the tail; but do not let text between records grow without bound.
        if len(buf) > 64 * _CHUNK and not open_re.search(buf):
            line += buf[:-1024].count("\n")
            buf = buf[-1024:]
    if buf.strip() and open_re.search(buf):
        position += 1
        yield position, line + buf[:open_re.search(buf).start()].count("\n"), None, \
            "the file ends before this record is closed", []


def parse_chunk(chunk: str) -> etree._Element:
    """Parse a chunk from :func:`split_records`; return the record element."""
    return parse(chunk)[0]


__all__ = [
    "BRANDING", "DC", "DCTERMS", "DECLARED_ENCODING", "DIAG1", "DIAG2", "FRIENDS", "MARC21",
    "MARC21_SCHEMA", "MODS", "MODS_SCHEMA", "NAMESPACES", "NAMESPACE_DECLARATION", "OAI", "OAI_DC", "OAI_DC_SCHEMA", "OAI_IDENTIFIER", "OAI_SCHEMA",
    "PROVENANCE", "PROVENANCE_SCHEMA", "SAFE_PARSER", "SRU1", "SRU2", "SRU2_FACETS", "SRU2_SCAN", "USUAL_PREFIXES",
    "XCQL", "XCQL_SRU2", "XLINK", "XML", "XSI", "ZEEREX",
    "clean_xml_text", "declarations", "has_forbidden_xml_chars", "iterparse", "local", "parse",
    "parse_chunk", "q", "repair_xml_chars", "safe_parser", "split_records", "xml_attr", "xml_text",
]
