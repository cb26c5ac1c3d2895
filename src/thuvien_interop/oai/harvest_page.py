"""Reading one OAI-PMH response page, in a streaming way, and surviving bad ones.

The fast path parses the page with :func:`lxml.etree.iterparse` straight from
the downloaded file: each ``<record>`` (or ``<header>`` of ListIdentifiers) is
handed over as soon as it is complete and then freed, so memory stays flat
whatever the page's size, and the page is read to its end (no size cap).
OAI elements are matched with and without the OAI namespace (some providers
forget it).

When the page is not well-formed the *tolerant* path takes over: the bytes are
decoded (the declared encoding is checked against the bytes), characters XML
1.0 forbids are replaced with U+FFFD, the page is cut into one chunk per record
and each chunk is parsed on its own (with the namespace declarations of the
root and the usual prefixes a provider forgets to declare). A broken record is
yielded as a :class:`BrokenRecord` with its reason and text — the good records
of the page still arrive. The resumption token, responseDate and errors are
then found by pattern.

Nothing here resolves entities, loads a DTD or touches the network.

    >>> reader = PageReader(open("page.xml", "rb"), "ListRecords")   # doctest: +SKIP
    >>> for item in reader.items(): ...                              # doctest: +SKIP
    >>> reader.page.token.value                                      # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from lxml import etree

from .. import xml
from ..wording import Note, say
from ..xml import SAFE_PARSER, USUAL_PREFIXES, local
from .response import OAI_NS

_Q = "{" + OAI_NS + "}"
_TAGS = ("responseDate", "error", "record", "header", "resumptionToken")
_LIST_PARENTS = {"ListRecords", "GetRecord"}

_DECL = xml.DECLARED_ENCODING
_XMLNS = xml.NAMESPACE_DECLARATION
_REC_START = re.compile(r"<(?:[\w.-]+:)?record\s*>\s*(?:<!--.*?-->\s*)*<(?:[\w.-]+:)?header[\s>/]", re.S)
_HEADER = re.compile(r"<(?:[\w.-]+:)?header\b[^>]*?(?:/>|>.*?</(?:[\w.-]+:)?header\s*>)", re.S)
_LIST_END = re.compile(r"<(?:[\w.-]+:)?resumptionToken\b|</(?:[\w.-]+:)?(?:ListRecords|GetRecord)\s*>")
_TOKEN = re.compile(
    r"<(?:[\w.-]+:)?resumptionToken\b([^>]*?)(?:/>|>(.*?)</(?:[\w.-]+:)?resumptionToken\s*>)", re.S)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(["'])(.*?)\2""", re.S)
_RESPONSE_DATE = re.compile(r"<(?:[\w.-]+:)?responseDate\s*>\s*([^<]*?)\s*<", re.S)
_ERROR = re.compile(
    r"<(?:[\w.-]+:)?error\b([^>]*?)(?:/>|>(.*?)</(?:[\w.-]+:)?error\s*>)", re.S)
_IDENTIFIER = re.compile(r"<(?:[\w.-]+:)?identifier\s*>\s*([^<]*?)\s*<", re.S)
_OAI_ROOT = re.compile(rb"<(?:[\w.-]+:)?OAI-PMH[\s>]")
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<body[\s>]", re.I)


@dataclass(slots=True)
class Token:
    """A ``resumptionToken`` (OAI-PMH 2.0 §3.5): an empty ``value`` ends the list."""

    value: str
    complete_list_size: int | None = None
    cursor: int | None = None
    expiration_date: str | None = None


@dataclass(slots=True)
class RawRecord:
    """One record (or header) as the provider sent it, before any crosswalk.

    ``metadata`` and ``abouts`` are live elements. The reader frees each record
    of the page once read, to keep memory flat; an element held here stays whole
    (lxml keeps a detached subtree alive while it is referenced)."""

    identifier: str
    datestamp: str
    sets: list[str]
    deleted: bool
    metadata: etree._Element | None = None
    abouts: list[etree._Element] = field(default_factory=list)
    position: int = 0


@dataclass(slots=True)
class BrokenRecord:
    """A record that could not be read; ``text`` is its raw XML, for the quarantine."""

    position: int
    identifier: str | None
    reason: str
    text: str


@dataclass(slots=True)
class Page:
    """What a page said besides its records."""

    response_date: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    token: Token | None = None
    repairs: list[str] = field(default_factory=list)
    tolerant: bool = False
    """True when the page was not well-formed and was read record by record."""
    oai: bool = True
    """False when the document is not an OAI-PMH response at all."""
    well_formed: bool = True


def check_body(body: IO[bytes], _fetched: object = None) -> str | tuple[str, str] | None:
    """Why a downloaded page must be asked again (with what to try, if the fault
    may be the user's), or ``None``.

    An HTML page served with status 200 (a proxy or a crashed application) and
    a page that stops before ``</OAI-PMH>`` (a dropped connection without a
    Content-Length) are transient more often than not.
    """
    body.seek(0)
    head = body.read(4096)
    body.seek(0, 2)
    size = body.tell()
    body.seek(max(0, size - 2048))
    tail = body.read()
    body.seek(0)
    if not head.strip():
        return say("page.empty")
    if _HTML.search(head) and not _OAI_ROOT.search(head):
        return say("page.html"), say("page.not-oai-hint")
    if not _OAI_ROOT.search(head) and not _utf16(head):
        start = " ".join(head[:60].decode("utf-8", "replace").split())
        return say("page.not-oai", start=start), say("page.not-oai-hint")
    if not re.search(rb"</(?:[\w.-]+:)?OAI-PMH\s*>\s*$", tail) and not _utf16(head):
        return say("page.cut")
    return None


def _utf16(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head[:2] in (b"<\0", b"\0<")


class PageReader:
    """Reads one response page; :meth:`items` yields records, then :attr:`page`
    holds the token, responseDate, errors and repairs."""

    def __init__(self, body: IO[bytes], verb: str) -> None:
        self.body = body
        self.verb = verb
        self.page = Page()
        self._position = 0
        self.cutter: _Cutter | None = None
        """The tolerant reader's window over the page, once it has taken over."""

    # -- strict, streaming ---------------------------------------------------
    def items(self) -> Iterator[RawRecord | BrokenRecord]:
        self.body.seek(0)
        if self._declared_encoding_is_wrong():
            yield from self._tolerant()
            return
        tags = [_Q + t for t in _TAGS] + list(_TAGS)
        context = xml.iterparse(self.body, events=("end",), tag=tags)
        try:
            for _, elem in context:
                name = local(elem.tag)
                parent = elem.getparent()
                pname = local(parent.tag) if parent is not None else ""
                if name in ("record", "header") and len(context.error_log):
                    # libxml2 goes on past some errors (a namespace prefix nobody
                    # declared) and builds what it read wrong; the page then fails
                    # at its end. A record is handed over only while nothing has
                    # gone wrong yet: all of it was read before any error.
                    first = _first_error(context.error_log)
                    if first is not None:
                        raise _Untrusted(first)
                if name == "record" and pname in _LIST_PARENTS:
                    self._position += 1
                    yield self._record(elem)
                    self._free(elem, parent)
                elif name == "header" and pname == "ListIdentifiers":
                    self._position += 1
                    yield self._header_only(elem)
                    self._free(elem, parent)
                elif name == "responseDate" and pname == "OAI-PMH":
                    self.page.response_date = (elem.text or "").strip()
                elif name == "error" and pname == "OAI-PMH":
                    self.page.errors.append((elem.get("code", ""), (elem.text or "").strip()))
                elif name == "resumptionToken":
                    self.page.token = Token(
                        (elem.text or "").strip(), _int(elem.get("completeListSize")),
                        _int(elem.get("cursor")), elem.get("expirationDate"))
        except (etree.XMLSyntaxError, _Untrusted) as exc:
            # Records already handed over were read whole before any error and
            # stay; the tolerant reader yields the page again, record by record
            # (the harvester passes over the second copy of what it has).
            self.page.well_formed = False
            self.page.repairs.append(Note("page.repair.not-well-formed", cause=exc))
            yield from self._tolerant()
            return
        root = context.root
        if root is None or local(root.tag) != "OAI-PMH":
            self.page.oai = False

    @staticmethod
    def _free(elem: etree._Element, parent: etree._Element) -> None:
        elem.clear()
        while elem.getprevious() is not None:
            del parent[0]

    def _record(self, elem: etree._Element) -> RawRecord | BrokenRecord:
        header = metadata = None
        abouts = []
        for child in elem:
            name = local(child.tag)
            if name == "header":
                header = child
            elif name == "metadata":
                metadata = next((c for c in child if isinstance(c.tag, str)), None)
            elif name == "about":
                abouts.extend(c for c in child if isinstance(c.tag, str))
        if header is None:
            return BrokenRecord(self._position, None, "the record has no header",
                                etree.tostring(elem, encoding="unicode"))
        rec = self._header_only(header)
        if isinstance(rec, BrokenRecord):
            rec.text = etree.tostring(elem, encoding="unicode")
            return rec
        rec.metadata = metadata
        rec.abouts = abouts
        if metadata is None and not rec.deleted:
            return BrokenRecord(self._position, rec.identifier,
                                "the record is not deleted but has no metadata",
                                etree.tostring(elem, encoding="unicode"))
        return rec

    def _header_only(self, header: etree._Element) -> RawRecord | BrokenRecord:
        identifier = datestamp = ""
        sets = []
        for child in header:
            name = local(child.tag)
            if name == "identifier":
                identifier = (child.text or "").strip()
            elif name == "datestamp":
                datestamp = (child.text or "").strip()
            elif name == "setSpec":
                if child.text and child.text.strip():
                    sets.append(child.text.strip())
        if not identifier:
            return BrokenRecord(self._position, None, "the header has no identifier",
                                etree.tostring(header, encoding="unicode"))
        return RawRecord(identifier, datestamp, sets, header.get("status") == "deleted",
                         position=self._position)

    # -- tolerant ------------------------------------------------------------
    def _declared_encoding_is_wrong(self) -> bool:
        head = self.body.read(256)
        self.body.seek(0)
        m = _DECL.match(head)
        if not m:
            return False
        try:
            declared = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            return True  # an encoding nobody knows: let the tolerant reader decide
        if declared in ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "ascii"):
            return False
        # A page declared Latin-1 (or windows-125x) that is really UTF-8 parses
        # without error into mojibake; only the bytes can tell (read a MB at a
        # time: a page may be of any size).
        decoder = codecs.getincrementaldecoder("utf-8")()
        ascii_only = True
        try:
            while chunk := self.body.read(1 << 20):
                decoder.decode(chunk)
                ascii_only = ascii_only and chunk.isascii()
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
        finally:
            self.body.seek(0)
        return not ascii_only

    def _encoding(self) -> tuple[str, int]:
        """The codec the tolerant reader reads the page in, and the bytes of BOM
        to skip: the declared encoding when the bytes are valid in it, UTF-8
        when they are not but are valid UTF-8 (or are UTF-8 under another
        declared encoding), else Windows-1258. One pass over the bytes, a MB at
        a time; each decision other than the declared encoding is a repair."""
        self.body.seek(0)
        head = self.body.read(1024)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8", 3
        if _utf16(head[:4]):
            return "utf-16", 0
        m = _DECL.match(head)
        declared = "utf-8"
        if m:
            try:
                declared = codecs.lookup(m.group(1).decode("ascii")).name
            except LookupError:
                self.page.repairs.append(Note("page.repair.unknown-encoding",
                                              declared=m.group(1).decode("ascii", "replace")))
        strict = codecs.getincrementaldecoder(declared)()
        utf8 = codecs.getincrementaldecoder("utf-8")() if declared != "utf-8" else None
        failed: UnicodeDecodeError | None = None
        utf8_ok = ascii_only = True
        offset = 0  # bytes read before the chunk
        self.body.seek(0)
        while True:
            chunk = self.body.read(_READ)
            final = not chunk
            if failed is None:
                pending = len(strict.getstate()[0])
                try:
                    strict.decode(chunk, final)
                except UnicodeDecodeError as exc:
                    # Where the whole page's decoding would have said it went wrong.
                    exc.start += offset - pending
                    failed = exc
            if utf8 is not None and utf8_ok:
                try:
                    utf8.decode(chunk, final)
                except UnicodeDecodeError:
                    utf8_ok = False
            ascii_only = ascii_only and chunk.isascii()
            offset += len(chunk)
            if final or (failed is not None and (utf8 is None or not utf8_ok)):
                break  # decided
        if failed is not None:
            if declared != "utf-8" and utf8_ok:
                self.page.repairs.append(Note("page.repair.utf8", declared=declared))
                return "utf-8", 0
            # Vietnamese providers that are not UTF-8 are mostly Windows-1258.
            self.page.repairs.append(Note("page.repair.cp1258", declared=declared,
                                          reason=failed.reason, byte=failed.start))
            return "cp1258", 0
        if declared not in ("utf-8", "ascii") and not ascii_only and utf8_ok:
            self.page.repairs.append(Note("page.repair.utf8", declared=declared))
            return "utf-8", 0
        return declared, 0

    def _text(self, codec: str, skip: int) -> Iterator[str]:
        """The page's text, a MB at a time, characters XML 1.0 forbids (raw or as
        character references) replaced with U+FFFD."""
        decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self.body.seek(skip)
        held = ""  # a character reference the chunk cut in two
        repaired = False
        while True:
            chunk = self.body.read(_READ)
            text = held + decoder.decode(chunk, not chunk)
            held = ""
            if chunk:
                amp = text.rfind("&", max(0, len(text) - 32))
                if amp >= 0 and ";" not in text[amp:]:
                    text, held = text[:amp], text[amp:]
            fixed = xml.repair_xml_chars(text)
            if fixed != text and not repaired:
                repaired = True
                self.page.repairs.append(Note("read.control-characters"))
            if fixed:
                yield fixed
            if not chunk:
                return

    def _tolerant(self) -> Iterator[RawRecord | BrokenRecord]:
        """The page record by record, from a window over its text (:class:`_Cutter`):
        memory is bounded whatever the page's size; a record is yielded as soon
        as it is complete; text between records that is not a record is
        blamed on itself, not on the record before it."""
        self.page.tolerant = True
        cutter = _Cutter(self._text(*self._encoding()), self.verb)
        self.cutter = cutter
        namespaces: dict[str, str] = {}
        decls: str | None = None
        token_wanted = True  # the first token after the last record's start
        first = True
        blamed = False  # the junk after the last record was
        for kind, text in cutter:
            if first:
                first = False
                self.page.oai = bool(_OAI_ROOT.search(cutter.begin.encode("utf-8", "replace")))
            if self.page.response_date is None:
                m = _RESPONSE_DATE.search(text)
                if m:
                    self.page.response_date = m.group(1)
            for em in _ERROR.finditer(text):
                attrs = dict((a, v) for a, _, v in _ATTR.findall(em.group(1)))
                self.page.errors.append((attrs.get("code", ""), html.unescape(em.group(2) or "").strip()))
            if kind in ("record", "long"):
                token_wanted = True
                self.page.token = None
            if token_wanted and (tm := _TOKEN.search(text)):
                token_wanted = False
                attrs = dict((a, v) for a, _, v in _ATTR.findall(tm.group(1)))
                self.page.token = Token(html.unescape(tm.group(2) or "").strip(),
                                        _int(attrs.get("completeListSize")), _int(attrs.get("cursor")),
                                        attrs.get("expirationDate"))
            if kind == "head":
                namespaces.update((p, uri) for p, _, uri in _XMLNS.findall(text))
                continue
            if kind == "junk" and not blamed and _COMMENT.sub("", text).strip():
                blamed = True  # once, with its start: it may be of any length
                yield self._junk(text[:_MARGIN], None)
            if kind not in ("record", "long"):
                continue
            blamed = False
            if decls is None:
                for prefix, uri in USUAL_PREFIXES.items():
                    namespaces.setdefault(prefix, uri)
                decls = xml.declarations(namespaces)
            self._position += 1
            if kind == "long":
                im = _IDENTIFIER.search(text)
                yield BrokenRecord(self._position, html.unescape(im.group(1)) if im else None,
                                   f"the record is longer than {_WINDOW:,} characters; not read",
                                   text)
                continue
            yield from self._chunk(text, decls)

    def _chunk(self, chunk: str, decls: str) -> Iterator[RawRecord | BrokenRecord]:
        """One record's text (up to the next record's start): the record, and
        what follows its end on its own when that is more than whitespace and
        comments and the record is well-formed without it."""
        end = _record_end(chunk) if self.verb != "ListIdentifiers" else None
        if end is not None and _COMMENT.sub("", chunk[end:]).strip():
            elem = self._element(chunk[:end].strip(), decls)
            if isinstance(elem, etree._Element):
                rec = self._read(elem)
                yield rec
                yield self._junk(chunk[end:].strip(), rec.identifier)
                return
        elem = self._element(chunk.strip(), decls)
        if isinstance(elem, etree._Element):
            yield self._read(elem)
        else:
            im = _IDENTIFIER.search(chunk)
            yield BrokenRecord(self._position, html.unescape(im.group(1)) if im else None,
                               f"not well-formed XML: {elem}", chunk.strip())

    def _junk(self, text: str, before: str | None) -> BrokenRecord:
        self._position += 1
        im = _IDENTIFIER.search(text)
        after = f"record {self._position - 1}" + (f" ({before})" if before else "")
        return BrokenRecord(self._position, html.unescape(im.group(1)) if im else None,
                            f"text after {after} that is not a record", text)

    @staticmethod
    def _element(chunk: str, decls: str) -> etree._Element | Exception:
        """The chunk parsed (with the page's namespace declarations), or why not."""
        try:
            return etree.fromstring(f"<wrap{decls}>{chunk}</wrap>".encode(), SAFE_PARSER)[0]
        except (etree.XMLSyntaxError, IndexError) as exc:
            return exc

    def _read(self, elem: etree._Element) -> RawRecord | BrokenRecord:
        return self._header_only(elem) if local(elem.tag) == "header" else self._record(elem)


#: The tolerant reader reads a page this many bytes at a time and holds at most
#: about _WINDOW characters of it (a record longer than that is not read).
_READ = 1 << 20
_WINDOW = 16 << 20
#: Text a match may need before the end of what was read: searched again when
#: more comes.
_MARGIN = 64 << 10
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_RECORD_TAG = re.compile(r"<(/?)(?:[\w.-]+:)?record(?=[\s/>])[^>]*?(/?)>")


def _record_end(chunk: str) -> int | None:
    """Where the record the chunk begins with ends: after the close tag that
    balances its open tag (a MARCXML ``<record>`` inside it has its own), or
    None when it never closes."""
    depth = 0
    for m in _RECORD_TAG.finditer(chunk):
        if m.group(1):
            depth -= 1
            if depth == 0:
                return m.end()
        elif not m.group(2):
            depth += 1
    return None


class _Cutter:
    """A window over a page's text, cut into what the tolerant reader reads:
    ``("head", text)`` before the first record, ``("record", text)`` from a
    record's start to the next one's (or the list's end), ``("long", text)`` for
    the start of a record longer than the window, ``("junk", text)`` for the
    text after a record that runs on past the window, ``("other", text)`` for
    the rest (between records, after the last). ListIdentifiers: the ``<header>`` elements are the
    records. ``peak``: the most text held at once."""

    def __init__(self, texts: Iterator[str], verb: str) -> None:
        self._texts = texts
        self._headers = verb == "ListIdentifiers"
        self._buf = ""
        self._eof = False
        self.begin = ""  # the page's first 4,096 characters
        self.peak = 0

    def _more(self, keep: int) -> int:
        """Read on, keeping the buffer from ``keep``; how far the buffer moved."""
        text = next(self._texts, None)
        self._buf = self._buf[keep:]
        if text is None:
            self._eof = True
        else:
            if len(self.begin) < 4096:
                self.begin += text[:4096 - len(self.begin)]
            self._buf += text
        self.peak = max(self.peak, len(self._buf))
        return keep

    @staticmethod
    def _outside(seen: bool, junk: bool) -> str:
        return "junk" if junk else "other" if seen else "head"

    def __iter__(self) -> Iterator[tuple[str, str]]:
        pos = scan = 0  # consumed up to pos; matches searched for from scan on
        seen = False  # a record was found
        inside = False  # buf[pos:] begins with a record
        junk = False  # what is read now follows a record, beyond the window
        while True:
            buf = self._buf
            if inside:
                nxt = _REC_START.search(buf, max(scan, pos + 1))
                if nxt is not None:
                    yield "record", buf[pos:nxt.start()]
                    pos = scan = nxt.start()
                    continue
                if self._eof or len(buf) - pos > _WINDOW:
                    end = _LIST_END.search(buf, pos)
                    if end is not None:
                        yield "record", buf[pos:end.start()]
                        pos = scan = end.start()
                    elif self._eof:
                        yield "record", buf[pos:]
                        return
                    elif (close := _record_end(buf[pos:])) is not None:
                        # A record, then more text than the window before the next.
                        yield "record", buf[pos:pos + close]
                        pos = scan = pos + close
                        junk = True
                    else:
                        yield "long", buf[pos:pos + _MARGIN]
                        pos = scan = len(buf)
                    inside = False
                    continue
            else:
                m = (_HEADER if self._headers else _REC_START).search(buf, scan)
                if m is not None:
                    if m.start() > pos:
                        yield self._outside(seen, junk), buf[pos:m.start()]
                    seen, junk = True, False
                    if self._headers:
                        yield "record", m.group()
                        pos = scan = m.end()
                    else:
                        pos = scan = m.start()
                        inside = True
                    continue
                if self._eof:
                    if len(buf) > pos:
                        yield self._outside(seen, junk), buf[pos:]
                    return
                if len(buf) - pos > _WINDOW:
                    # Nothing but text between records: let go of all but the end.
                    cut = buf.rfind("<", pos, len(buf) - _MARGIN)
                    cut = cut if cut > pos else len(buf) - _MARGIN
                    yield self._outside(seen, junk), buf[pos:cut]
                    pos = cut
            scan = max(pos, len(buf) - _MARGIN)
            moved = self._more(pos)
            pos, scan = pos - moved, scan - moved


class _Untrusted(Exception):
    """The parser met an error it went on past: what follows is not to be trusted."""


def _first_error(log: etree._ListErrorLog) -> str | None:
    for entry in log:
        if entry.level >= etree.ErrorLevels.ERROR:
            return f"{entry.message}, line {entry.line}, column {entry.column}"
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None and value.strip() else None
    except ValueError:
        return None
