"""Streaming XML record reading that survives a broken record.

A file of many records (a MARCXML collection, a DC dump, an OAI-PMH response)
is cut into one text chunk per record element; each chunk is parsed on its own
inside a wrapper that carries the namespace declarations seen before the first
record. A record that is not well-formed is reported and the next one parsed:
one broken record costs one record, not the rest of the file. Memory stays flat
whatever the file's size.

Nothing here resolves entities, loads a DTD or touches the network.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from .result import ReadResult

_CHUNK = 1 << 20
_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")
_XMLNS = re.compile(r"""\sxmlns(?::([\w.-]+))?\s*=\s*(["'])(.*?)\2""")
# Characters XML 1.0 forbids, raw or as character references.
_BAD_RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BAD_REF = re.compile(
    r"&#(?:x0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
    r"|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));")

SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              huge_tree=True, remove_blank_text=False)


def safe_parser(*, recover: bool = False) -> etree.XMLParser:
    """A parser for XML from outside: no entities, no DTD, no network (``recover``:
    read what can be read of a document that is not well-formed)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=True, recover=recover)


def _text_stream(stream: BinaryIO) -> Iterator[str]:
    head = stream.read(_CHUNK)
    encoding = "utf-8"
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        m = _DECL.match(head)
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

    The chunk is a complete document: the record wrapped in an element that
    declares the namespaces in scope. ``error`` is "" when cutting succeeded.
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
                for ns in _XMLNS.finditer(before):
                    if ns.group(1) not in namespaces:
                        namespaces[ns.group(1)] = ns.group(3)
                        found = True
                if found or not decls:
                    decls = "".join(
                        f' xmlns="{uri}"' if prefix is None else f' xmlns:{prefix}="{uri}"'
                        for prefix, uri in namespaces.items())
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
            if _BAD_RAW.search(record_text) or _BAD_REF.search(record_text):
                record_text = _BAD_REF.sub("\ufffd", _BAD_RAW.sub("\ufffd", record_text))
                repairs.append("characters XML 1.0 forbids replaced with U+FFFD")
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
    wrap = etree.fromstring(chunk.encode("utf-8"), SAFE_PARSER)
    return wrap[0]


def read_elements(stream: BinaryIO, element: str) -> Iterator[tuple[ReadResult, etree._Element | None]]:
    """Every ``element`` of a stream, parsed: (result, element), or (result with its
    error, None) for a record that cannot be cut out or is not well-formed. Line
    numbers in errors are the file's, not the chunk's."""
    for position, line, chunk, error, repairs in split_records(stream, element):
        result = ReadResult(position, f"line {line}", warnings=repairs)
        if chunk is None:
            result.error = error
            yield result, None
            continue
        try:
            yield result, parse_chunk(chunk)
        except etree.XMLSyntaxError as exc:
            msg = str(getattr(exc, "msg", None) or exc).split(", line")[0]
            lineno = getattr(exc, "lineno", None)
            where = f" (line {line + lineno - 1})" if lineno else ""
            result.error = f"not well-formed XML: {msg}{where}"
            yield result, None
