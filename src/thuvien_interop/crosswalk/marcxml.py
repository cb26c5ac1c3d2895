"""MARCXML (MARC21 slim) in and out: the one MARCXML writer and element reader.

    >>> from pymarc import Record, Field, Subfield
    >>> r = Record(); r.add_field(Field("001", data="VN-1"))
    >>> record_to_marcxml(r).startswith(b'<record xmlns="http://www.loc.gov/MARC21/slim">')
    True
"""

from __future__ import annotations

import re

import pymarc
from lxml import etree

from ..xml import MARC21 as MARC_NS
from ..xml import SAFE_PARSER, xml_attr, xml_text
from .marcview import LazyRecord, LightField, fields_of, plain_text

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
