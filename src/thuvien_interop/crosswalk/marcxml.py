"""MARCXML (MARC21 slim) in and out: the one MARCXML writer and element reader.

    >>> from pymarc import Record, Field, Subfield
    >>> r = Record(); r.add_field(Field("001", data="VN-1"))
    >>> record_to_marcxml(r).startswith(b'<record xmlns="http://www.loc.gov/MARC21/slim">')
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import islice, repeat
from operator import getitem

import pymarc
from lxml import etree

from ..xml import MARC21 as MARC_NS
from ..xml import SAFE_PARSER, xml_attr, xml_text
from .marcview import IsoFields, LazyRecord, LightField, fields_of, iso_of, plain_text

_Q = "{" + MARC_NS + "}"

_attr_cache: dict[str, str] = {}
# A data field's text whose indicators ([\da-z ]) and subfield codes ([\da-z])
# MARC21slim.xsd allows as they are, and whose values hold no character XML
# escapes or forbids (the delimiter aside): written without a look at each value.
_plain_datafield = re.compile("[0-9a-z ]{2}(?:\x1f[0-9a-z][^&<>\x00-\x08\x0b\x0c\x0e-\x1f"
                              "\ud800-\udfff\ufffe\uffff]*)*").fullmatch
_text = xml_text


def _attr(value: str) -> str:
    cached = _attr_cache.get(value)
    if cached is None:
        cached = xml_attr(value)
        if len(_attr_cache) < 4096:
            _attr_cache[value] = cached
    return cached


def _valid_code(code: str) -> str:
    # MARC21slim.xsd: subfield code is one printable ASCII char, indicators [\da-z ]{1}.
    return code if len(code) == 1 and code.isprintable() and code.isascii() else "?"


def _valid_ind(ind: str | None) -> str:
    if ind is None or len(ind) != 1:
        return " "
    return ind if (ind == " " or ind.isdigit() or ("a" <= ind <= "z")) else " "


def record_to_marcxml(record: pymarc.Record, *, namespace: bool = True) -> bytes:
    """Serialize a pymarc record as one MARCXML ``<record>`` element (UTF-8 bytes).

    Characters XML 1.0 forbids are replaced with U+FFFD, indicators and subfield
    codes the schema forbids with blanks/``?``, so the output always validates.
    """
    leader = str(record.leader)
    if len(leader) != 24:
        leader = (leader + " " * 24)[:24]
    # Leader/09 is 'a': the XML is Unicode whatever the source was.
    leader = leader[:9] + "a" + leader[10:]
    iso = iso_of(record)
    if iso is not None and iso.plain:
        xml = _iso_marcxml(leader, iso, namespace)
        if xml is not None:
            return xml
    parts = [f'<record xmlns="{MARC_NS}">' if namespace else "<record>",
             f"<leader>{_text(leader)}</leader>"]
    for field in fields_of(record):
        tag = field.tag if len(field.tag) == 3 else (field.tag + "000")[:3]
        if field.control_field:
            parts.append(f'<controlfield tag="{_attr(tag)}">{_text(field.data or "")}</controlfield>')
            continue
        text = plain_text(field)
        if text is not None and _plain_datafield(text) is not None:
            # Indicators and codes the schema allows, values with nothing to
            # escape or replace: the field's text is its XML but for the markup.
            subfields = text[3:].split("\x1f") if len(text) > 2 else ()
            parts.append(f'<datafield tag="{_attr(tag)}" ind1="{text[0]}" ind2="{text[1]}">'
                         + "".join([f'<subfield code="{p[0]}">{p[1:]}</subfield>' for p in subfields])
                         + "</datafield>")
            continue
        parts.append(
            f'<datafield tag="{_attr(tag)}" ind1="{_attr(_valid_ind(field.indicator1))}"'
            f' ind2="{_attr(_valid_ind(field.indicator2))}">'
        )
        for code, value in field.subfields:
            parts.append(f'<subfield code="{_attr(_valid_code(code))}">{_text(value or "")}</subfield>')
        parts.append("</datafield>")
    parts.append("</record>")
    return "".join(parts).encode("utf-8")


# Writing a record from its checked ISO 2709 bytes (IsoFields.plain: valid
# UTF-8 in NFC, nothing XML forbids): markup looked up by tag, indicator pair
# and subfield code, the bytes between copied. A key not found is a tag,
# indicator or code the loop above writes otherwise: that record goes there.
_IND_CHARS = b"0123456789abcdefghijklmnopqrstuvwxyz "
_CODES = frozenset(_IND_CHARS[:-1])


class _Markup(dict[bytes, bytes]):
    """Markup by the bytes it stands for, made the first time a key is seen (a
    file has few); a key the schema does not allow as it is raises KeyError."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[bytes], bytes | None]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: bytes) -> bytes:
        value = self._make(key)
        if value is None:
            raise KeyError(key)
        self[key] = value
        return value


def _first_subfield(key: bytes) -> bytes | None:
    # A data field's indicators, delimiter and first code (b"10\x1fa"): the end
    # of its start tag and the start of its first subfield.
    if len(key) != 4 or key[0] not in _IND_CHARS or key[1] not in _IND_CHARS \
            or key[2] != 0x1F or key[3] not in _CODES:
        return None
    return b'%c" ind2="%c"><subfield code="%c">' % (key[0], key[1], key[3])


def _data_head(tag: bytes) -> bytes | None:
    return b'<datafield tag="%s" ind1="' % tag if tag.isdigit() and tag >= b"010" else None


_FIRST = _Markup(_first_subfield)
# Each later subfield closes the one before it.
_SUB = {bytes((c,)): b'</subfield><subfield code="%c">' % c for c in _CODES}
_DATA_HEAD = _Markup(_data_head)
_CONTROL_HEAD = {b"%03d" % i: b'<controlfield tag="%03d">' % i for i in range(10)}
_DATA_TAIL = b"</subfield></datafield>"
# A data field without a subfield, or with bytes between its indicators and
# its first delimiter (its light field skips them); searched from the
# terminator before the first data field.
_NOT_SUBFIELD_FIRST = re.compile(rb"\x1e[^\x1e]{2}[^\x1f]")
_LEADER_UNSAFE = re.compile(r"[^ -%'-;=?-~]").search  # outside printable ASCII, or &<>
_FOUR, _FROM_FOUR, _ONE, _FROM_ONE = slice(None, 4), slice(4, None), slice(None, 1), slice(1, None)


def _iso_marcxml(leader: str, iso: IsoFields, namespace: bool) -> bytes | None:
    """The MARCXML of a record from its checked bytes; None when a tag,
    indicator, code or leader needs what :func:`record_to_marcxml` does per value."""
    if _LEADER_UNSAFE(leader) is not None:
        return None
    tags, pieces, data = iso.tag_bytes, iso.pieces, iso.data
    n = len(pieces)
    controls = 0
    while controls < n and tags[controls] < b"010":
        controls += 1
    if controls < n and min(tags[controls:]) < b"010":
        return None  # a control field after a data field
    control_end = sum(map(len, pieces[:controls])) + controls  # offset of the first data field
    if b"\x1f" in data[:control_end] or \
            _NOT_SUBFIELD_FIRST.search(data, control_end - 1 if controls else 0) is not None or \
            (not controls and pieces[0][2:3] != b"\x1f"):
        return None
    if b"&" in data or b"<" in data or b">" in data:
        pieces = data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;").split(b"\x1e")
        pieces.pop()
    out = [f'<record xmlns="{MARC_NS}"><leader>'.encode() if namespace else b"<record><leader>",
           leader.encode("ascii"), b"</leader>"]
    try:
        for i in range(controls):
            out += (_CONTROL_HEAD[tags[i]], pieces[i], b"</controlfield>")
        fields = pieces[controls:]
        m = len(fields)
        if m:
            body: list[bytes | None] = [None] * (4 * m)
            body[0::4] = map(_DATA_HEAD.__getitem__, islice(tags, controls, None))
            body[1::4] = map(_FIRST.__getitem__, map(getitem, fields, repeat(_FOUR, m)))
            body[2::4] = map(getitem, fields, repeat(_FROM_FOUR, m))
            body[3::4] = repeat(_DATA_TAIL, m)
            parts = b"".join(body).split(b"\x1f")  # type: ignore[arg-type]
            k = len(parts) - 1
            subfields: list[bytes | None] = [None] * (2 * k)
            subfields[0::2] = map(_SUB.__getitem__, map(getitem, islice(parts, 1, None), repeat(_ONE, k)))
            subfields[1::2] = map(getitem, islice(parts, 1, None), repeat(_FROM_ONE, k))
            out.append(parts[0])
            out += subfields
    except KeyError:
        return None
    out.append(b"</record>")
    return b"".join(out)  # type: ignore[arg-type]


# Element names, namespaced or not, straight to what they are (one dict lookup
# per element instead of splitting every tag: this is the hot loop of every
# MARCXML read).
_KINDS = {f"{prefix}{name}": kind for prefix in (_Q, "")
          for name, kind in (("datafield", "d"), ("controlfield", "c"), ("leader", "l"))}
_SUBFIELD_TAGS = frozenset((_Q + "subfield", "subfield"))


def _local(tag: object) -> str:
    # "{ns}datafield" or "datafield"; comments and PIs have non-str tags.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def element_to_record(elem: etree._Element) -> pymarc.Record:
    """Build a pymarc record from a parsed MARCXML ``<record>`` element
    (namespaced or not). Text is taken as it is; callers normalize.

    The record is a :class:`~.marcview.LazyRecord`: its pymarc fields are made
    when first asked for; the crosswalks read its light fields."""
    fields = []
    append = fields.append
    kinds, subfield_tags = _KINDS, _SUBFIELD_TAGS
    leader = None
    for child in elem:
        kind = kinds.get(child.tag) if isinstance(child.tag, str) else None
        if kind == "d":
            get = child.get
            append(LightField(_tag(get("tag", "   ")), get("ind1", " ")[:1] or " ",
                              get("ind2", " ")[:1] or " ",
                              subfields=[(sf.get("code", "?"), sf.text or "")
                                         for sf in child if sf.tag in subfield_tags]))
        elif kind == "c":
            append(LightField(_tag(child.get("tag", "   ")), data=child.text or ""))
        elif kind == "l":
            leader = child.text or ""
    record = LazyRecord.from_fields(" " * 24, fields)
    if leader is not None:
        record.leader = pymarc.Leader((leader + " " * 24)[:24])
    return record


def _tag(tag: str) -> str:
    # As pymarc.Field spells a tag: a number is three digits ("1" is "001").
    return tag if len(tag) == 3 or not tag.isdigit() else f"{int(tag):03}"


def parse_marcxml_record(data: bytes) -> pymarc.Record:
    """Parse the bytes of one stored MARCXML record (trusted: written by us)."""
    return element_to_record(etree.fromstring(data, SAFE_PARSER))
