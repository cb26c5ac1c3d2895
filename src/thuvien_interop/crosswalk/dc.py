"""MARC 21 → simple Dublin Core, following the Library of Congress
"MARC to Dublin Core Crosswalk" (unqualified section), and oai_dc / srw_dc output.

    >>> from pymarc import Record, Field, Subfield, Indicators
    >>> r = Record()
    >>> r.add_field(Field("245", Indicators("1", "0"), [Subfield("a", "Truyện Kiều /"),
    ...                                                 Subfield("c", "Nguyễn Du.")]))
    >>> marc_to_dc(r)
    [('title', 'Truyện Kiều')]
    >>> dc_to_xml(marc_to_dc(r)).startswith(b"<oai_dc:dc ")
    True

Design: one pass over ``record.fields``, dispatching on the tag through a dict
of small handlers that append to per-element lists; values are NFC-normalized,
de-duplicated and ordered by DC element at the end.  No regex runs per field.
"""

from __future__ import annotations

from collections.abc import Callable

import pymarc
from lxml import etree

from ..xml import DC as DC_NS
from ..xml import OAI_DC as OAI_DC_NS
from ..xml import OAI_DC_SCHEMA, xml_text
from ..xml import XSI as XSI_NS
from .marcview import FieldLike, fields_of, values_except, values_of, values_of_code
from .profile import DC_ELEMENTS, CrosswalkProfile, ExtraMapping
from .text import normalize

SRW_DC_NS = "info:srw/schema/1/dc-schema"
SRW_DC_SCHEMA_ID = "info:srw/schema/1/dc-v1.1"

Acc = dict[str, list[str]]
Handler = Callable[[FieldLike, Acc], None]

# Subfield codes that never carry display text: $0-$9 are control subfields
# (authority links, linkage $6, field link $8; MARC 21 "Control Subfields").
_CONTROL = frozenset("0123456789")
_TRAIL = " ,;:/=+"
# Trimming the punctuation in _TRAIL and the white space after each is one
# rstrip of both sets (str.rstrip() strips what str.isspace() calls space).
_TRAIL_OR_SPACE = _TRAIL + "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def chop(value: str) -> str:
    """Trim ISBD/AACR2 terminal punctuation the way the crosswalk's
    "chopPunctuation" does (" /", " :", " ;", " =", ",", final "."), but keep
    the period of an initial ("Smith, J.") or an ellipsis.

    >>> chop("Lịch sử Việt Nam /"), chop("Nguyễn, Du, 1765-1820."), chop("Smith, J.")
    ('Lịch sử Việt Nam', 'Nguyễn, Du, 1765-1820', 'Smith, J.')
    """
    if not value:
        return value
    last = value[-1]
    if last not in _TRAIL and last != "." and value[0] != " ":
        return value  # fast path: nothing to trim (most subfields)
    value = value.strip().rstrip(_TRAIL_OR_SPACE)
    if value.endswith(".") and not value.endswith(".."):
        n = len(value)
        # "J." / "T.T." (an initial) keeps its period.
        if not (n >= 2 and value[-2].isupper() and (n == 2 or value[-3] in " .-")):
            value = value[:-1].rstrip(_TRAIL_OR_SPACE)
    return value


# Words whose period is part of the word, kept when a person reads a value: the
# abbreviations of Vietnamese cataloguing (tr. trang, t. tập, q. quyển, xb. xuất bản,
# tb. tái bản, nxb., bs. bổ sung, h. Hà Nội, tp. thành phố) and of AACR2 (p., v.,
# ill., ed., rev., no., et al.). Not cm or mm: a unit symbol takes no period.
_ABBREVIATIONS = frozenset("tr t q xb tb nxb bs h tp p pp v vol ill col ports facsims ed rev "
                           "enl no approx ca al etc jr sr st".split())


def chop_for_reading(value: str) -> str:
    """:func:`chop` for a page a person reads: an abbreviation keeps its period
    ("120 tr.", "2nd ed.", "[S.l.] : s.n."); what the crosswalks write is unchanged.

    >>> chop_for_reading("120 tr. ;"), chop_for_reading("2nd ed."), chop_for_reading("21 cm.")
    ('120 tr.', '2nd ed.', '21 cm')
    """
    trimmed = chop(value)
    if trimmed == value or not trimmed:
        return trimmed
    kept = value.strip().rstrip(_TRAIL_OR_SPACE)
    if kept.endswith(".") and not kept.endswith(".."):
        words = kept[:-1].split()
        word = words[-1].lstrip("([") if words else ""
        if word and word[-1] not in ")]" and (word.lower() in _ABBREVIATIONS or "." in word):
            return kept
    return trimmed


def _clean_date(value: str) -> str:
    """260/264 $c as a date: brackets, "c"/"©"/"p"/"℗" marks and terminal
    punctuation removed ("[c2015]." → "2015")."""
    value = value.replace("[", "").replace("]", "")
    value = chop(value)
    if value[:1] in "c©p℗" and value[1:2].isdigit():
        value = value[1:]
    elif value[:1] in "©℗":
        value = value[1:].lstrip()
    if len(value) == 5 and value[4] == "-" and value[:4].isdigit():
        # A serial still published ("1998-"): dc:date is W3CDTF (DCMI), so the
        # year it began; MODS keeps the open range as it is.
        value = value[:4]
    return value


def _join(field: FieldLike, codes: str, sep: str = " ") -> str:
    return sep.join(values_of(field, codes))


def _all_text(field: FieldLike) -> str:
    return " ".join(values_except(field, _CONTROL))


def _heading(field: FieldLike, skip: str) -> str:
    """A subject/genre heading: main part, then $v/$x/$y/$z subdivisions
    joined with "--" (LoC crosswalk: subdivisions separated by double dash)."""
    parts: list[str] = []
    cur: list[str] = []
    for code, value in field.subfields:
        if not value or code in _CONTROL or code in skip:
            continue
        if code in "vxyz":
            if cur:
                parts.append(chop(" ".join(cur)))
                cur = []
            parts.append(chop(value))
        else:
            cur.append(value)
    if cur:
        parts.append(chop(" ".join(cur)))
    return "--".join([p for p in parts if p])


# ---------------------------------------------------------------- handlers
# Each handler appends the field's values to acc[element].

def _title(field: FieldLike, acc: Acc) -> None:
    # Crosswalk: 245 → Title; $a$b$f$g$k$n$p$s kept, $c (statement of
    # responsibility) and $h (medium) left out.
    value = chop(_join(field, "abfgknps"))
    if value:
        acc["title"].append(value)


def _name(codes: str) -> Handler:
    def handler(field: FieldLike, acc: Acc) -> None:
        value = chop(_join(field, codes))
        if value:
            acc["creator"].append(value)
    return handler


def _subject(skip: str, element: str = "subject") -> Handler:
    def handler(field: FieldLike, acc: Acc) -> None:
        value = _heading(field, skip)
        if value:
            acc[element].append(value)
    return handler


def _uncontrolled(field: FieldLike, acc: Acc) -> None:
    # 653 $a is repeatable, each occurrence one index term.
    out = acc["subject"]
    for value in values_of_code(field, "a"):
        v = chop(value)
        if v:
            out.append(v)


def _classification(codes: str, sep: str = " ") -> Handler:
    # Crosswalk: 050, 060, 080, 082 → Subject (class numbers as subjects).
    def handler(field: FieldLike, acc: Acc) -> None:
        value = _join(field, codes, sep).strip()
        if value:
            acc["subject"].append(value)
    return handler


def _description(field: FieldLike, acc: Acc) -> None:
    value = _all_text(field).strip()
    if value:
        acc["description"].append(value)


def _to(element: str, codes: str | None = None) -> Handler:
    def handler(field: FieldLike, acc: Acc) -> None:
        value = chop(_all_text(field) if codes is None else _join(field, codes))
        if value:
            acc[element].append(value)
    return handler


def _each(element: str, code: str, do_chop: bool = False) -> Handler:
    def handler(field: FieldLike, acc: Acc) -> None:
        out = acc[element]
        for value in values_of_code(field, code):
            v = chop(value) if do_chop else value.strip()
            if v:
                out.append(v)
    return handler


def _imprint(field: FieldLike, acc: Acc) -> None:
    # 260 (AACR2) and 264 (RDA).  Publisher/date candidates are kept apart by
    # function and resolved in _finish: 264 ind2 1 = publication wins; 0
    # production, 2 distribution, 3 manufacture, 4 copyright are fallbacks
    # (MARC 21 Bibliographic 264, Second Indicator).
    # An 880 paired with a 264 keeps the 264's second indicator; 260 (and an
    # 880 paired with one, ind2 blank) is always a publication statement.
    ind2 = field.indicator2
    func = ind2 if field.tag != "260" and ind2 in ("0", "1", "2", "3", "4") else "1"
    # LoC crosswalk: Publisher is 260 $a$b, one dc:publisher a statement, its
    # places and names in field order ("Hà Nội : Kim Đồng ; TP. HCM : Trẻ"): a
    # second publisher stays beside the first, and a place alone still says
    # where the resource was published.
    statement: list[str] = []
    date = acc.setdefault("_date" + func, [])
    for code, value in field.subfields:
        if not value:
            continue
        if code in ("a", "b"):
            statement.append(value.replace("[", "").replace("]", "").strip())
        elif code == "c":
            v = _clean_date(value)
            if v:
                date.append(v)
    publisher = chop(" ".join([p for p in statement if p]))
    if publisher:
        acc.setdefault("_pub" + func, []).append(publisher)


def _std_number(prefix: str) -> Handler:
    # 020/022 $a: the crosswalk's Identifier; the number without its
    # qualifier ("978-604-1-00000-0 (bìa mềm)" → the number) behind a URN prefix.
    def handler(field: FieldLike, acc: Acc) -> None:
        for value in values_of_code(field, "a"):
            number = value.strip().split(" ", 1)[0].rstrip(":;,.")
            if number:
                acc["identifier"].append(prefix + number)
    return handler


def _series(field: FieldLike, acc: Acc) -> None:
    # 490/440/830: "Series title ; number" as one relation.
    title = chop(_join(field, "anp"))
    vol = chop(_join(field, "v"))
    if title:
        acc["relation"].append(f"{title} ; {vol}" if vol else title)


def _linking(element: str) -> Handler:
    # 760–787: crosswalk takes $t (title) and $o (other identifier).
    def handler(field: FieldLike, acc: Acc) -> None:
        out = acc[element]
        for code, value in field.subfields:
            if value and (code == "t" or code == "o"):
                v = chop(value)
                if v:
                    out.append(v)
    return handler


def _place_hierarchy(field: FieldLike, acc: Acc) -> None:
    # 662/752 hierarchical place name, country → city, joined like headings.
    value = "--".join([chop(v) for v in values_of(field, "abcdfgh")])
    if value:
        acc["coverage"].append(value)


def _extent(field: FieldLike, acc: Acc) -> None:
    # 300 $a: ISBD " :" / " ;" / " +" before $b/$c/$e trimmed, but abbreviations
    # keep their period ("262 tr.").
    for value in values_of_code(field, "a"):
        v = value.rstrip(" :;+")
        if v:
            acc["format"].append(v)


def _electronic(field: FieldLike, acc: Acc) -> None:
    # 856 $u → Identifier (URI), $q → Format (IMT), per the crosswalk.
    for code, value in field.subfields:
        if code == "u" and value:
            acc["identifier"].append(value.strip())
        elif code == "q" and value:
            acc["format"].append(value.strip())


def _control_008(field: FieldLike, acc: Acc) -> None:
    data = field.data or ""
    acc["_008"] = [data]


def _language_041(field: FieldLike, acc: Acc) -> None:
    out = acc["language"]
    for value in values_of_code(field, "a"):
        v = value.strip().lower()
        # Pre-2001 records pack several codes into one $a ("vieeng").
        if len(v) > 3 and len(v) % 3 == 0 and v.isalpha():
            out.extend(v[i:i + 3] for i in range(0, len(v), 3))
        elif v:
            out.append(v)


def _build_default() -> dict[str, Handler]:
    table: dict[str, Handler] = {
        "008": _control_008,
        "020": _std_number("URN:ISBN:"),
        "022": _std_number("URN:ISSN:"),
        "024": _each("identifier", "a"),
        "041": _language_041,
        "050": _classification("ab"),
        "060": _classification("ab"),
        "080": _classification("a"),
        "082": _classification("a"),
        "245": _title,
        # Crosswalk lists 246 with 245 under Title.
        "246": _to("title", "abnp"),
        "100": _name("abcdq"), "700": _name("abcdq"),
        "110": _name("abcdgn"), "710": _name("abcdgn"),
        "111": _name("acdegnq"), "711": _name("acdegnq"),
        "720": _name("a"),
        "260": _imprint, "264": _imprint,
        "300": _extent,  # qualified crosswalk: Format.Extent
        "340": _to("format", "a"),
        "856": _electronic,
        "490": _series, "440": _series, "830": _series,
        "530": _to("relation"),
        "506": _to("rights"), "540": _to("rights"),
        "546": _to("language", "a"),
        "534": _to("source", "t"),
        "653": _uncontrolled,
        "655": _subject("24", "type"),
        "651": _subject("", "coverage"),
        "648": _subject("", "coverage"),
        "662": _place_hierarchy, "752": _place_hierarchy,
        "751": _to("coverage", "a"),
    }
    for tag in ("600", "610"):
        table[tag] = _subject("e4")
    table["611"] = _subject("j4")
    for tag in ("630", "650", "654", "656", "657"):
        table[tag] = _subject("e4")
    for n in range(500, 600):
        tag = str(n)
        # Crosswalk: Description = 500-599 except 506, 530, 540, 546.
        if tag not in table:
            table[tag] = _description
    for n in range(760, 788):
        tag = str(n)
        table[tag] = _linking("source" if tag == "786" else "relation")
    return table


_DEFAULT: dict[str, Handler] = _build_default()

# LoC crosswalk, "Type": Leader/06 → DCMI Type vocabulary.
_TYPE_BY_LDR6 = {
    "a": "Text", "c": "Text", "d": "Text", "t": "Text",
    "e": "Image", "f": "Image", "g": "Image", "k": "Image",
    "i": "Sound", "j": "Sound",
}


def _extra_handler(m: ExtraMapping) -> Handler:
    codes, prefix, sep, element = m.subfields, m.prefix, m.join, m.element
    ind1, ind2 = m.ind1, m.ind2

    def handler(field: FieldLike, acc: Acc) -> None:
        if ind1 is not None and field.indicator1 != ind1:
            return
        if ind2 is not None and field.indicator2 != ind2:
            return
        value = _join(field, codes, sep).strip()
        if value:
            acc[element].append(prefix + value)
    return handler


def _chain(a: Handler, b: Handler) -> Handler:
    def handler(field: FieldLike, acc: Acc) -> None:
        a(field, acc)
        b(field, acc)
    return handler


def _dispatch(profile: CrosswalkProfile | None) -> dict[str, Handler]:
    if profile is None or profile.is_default():
        return _DEFAULT
    table = profile._cache.get("dc")
    if table is None:
        table = dict(_DEFAULT)
        table["020"] = _std_number(profile.isbn_prefix)
        table["022"] = _std_number(profile.issn_prefix)
        for tag in profile.dc_drop_fields:
            table.pop(tag, None)
        for m in profile.dc_extra:
            h = _extra_handler(m)
            table[m.field] = _chain(table[m.field], h) if m.field in table else h
        profile._cache["dc"] = table
    return table


def marc_to_dc(record: pymarc.Record, profile: CrosswalkProfile | None = None) -> list[tuple[str, str]]:
    """MARC 21 record → ``[(dc_element, value), ...]`` per the LoC crosswalk.

    Order is stable: elements in DCMES order (title, creator, subject, ...),
    values in field order; exact duplicates dropped; values NFC.

    >>> from pymarc import Record, Field, Subfield
    >>> r = Record(); r.add_field(Field("650", [" ", "0"], [Subfield("a", "Văn học"),
    ...     Subfield("z", "Việt Nam"), Subfield("y", "Thế kỷ 20.")]))
    >>> marc_to_dc(r)
    [('subject', 'Văn học--Việt Nam--Thế kỷ 20')]
    """
    table = _dispatch(profile)
    # A literal is measurably cheaper than a comprehension, once per record.
    acc: Acc = {"title": [], "creator": [], "subject": [], "description": [], "publisher": [],
                "contributor": [], "date": [], "type": [], "format": [], "identifier": [],
                "source": [], "language": [], "relation": [], "coverage": [], "rights": []}
    get = table.get
    for field in fields_of(record):
        tag = field.tag
        if tag == "880":
            # Alternate graphic representation: $6 "245-01/$1" names the
            # field it pairs with (MARC 21 Appendix A, 880 / $6 linkage).
            link = ""
            for code, value in field.subfields:
                if code == "6":
                    link = value[:3]
                    break
            if link == "880" or not link:
                continue
            tag = link
        handler = get(tag)
        if handler is not None:
            handler(field, acc)
    return _finish(record, acc, profile)


def _finish(record: pymarc.Record, acc: Acc, profile: CrosswalkProfile | None) -> list[tuple[str, str]]:
    leader = str(record.leader) if record.leader is not None else ""
    f008 = acc["_008"][0] if "_008" in acc else ""

    # Publisher: publication (260, 264_1) else distribution (264_2).
    pub = acc.get("_pub1") or acc.get("_pub2") or []
    acc["publisher"].extend(pub)
    # Date: publication, else production, distribution, manufacture, copyright.
    dates = (acc.get("_date1") or acc.get("_date0") or acc.get("_date2")
             or acc.get("_date3") or acc.get("_date4") or [])
    if dates:
        acc["date"].extend(dates)
    elif len(f008) >= 11 and f008[6] not in "nb|":
        # Crosswalk: Date also from 008/07-10 when the imprint gives none.
        d1 = f008[7:11]
        if d1.isdigit():
            acc["date"].append(d1)

    # Type from Leader/06-07 (crosswalk table), placed before any 655 genre.
    types: list[str] = []
    if len(leader) >= 8:
        l6, l7 = leader[6], leader[7]
        labels = profile.dc_type_labels if profile is not None else None
        label = (labels.get(l6) if labels else None) or _TYPE_BY_LDR6.get(l6)
        if label:
            types.append(label)
        if l7 == "c" or (l6 == "p" and l7 == "s"):
            types.append("Collection")
    if types:
        acc["type"][:0] = types

    # Language: 008/35-37 first, then 041 codes.
    if len(f008) >= 38:
        lang = f008[35:38].strip().lower()
        if len(lang) == 3 and lang.isalpha():
            acc["language"].insert(0, lang)

    drop = profile.dc_drop_elements if profile is not None else ()
    out: list[tuple[str, str]] = []
    # normalize() returns ASCII as it is: most values skip the call.
    for element in DC_ELEMENTS:
        values = acc[element]
        if not values or element in drop:
            continue
        if len(values) == 1:
            v = values[0]
            out.append((element, v if v.isascii() else normalize(v)))
            continue
        seen: set[str] = set()
        for v in values:
            if not v.isascii():
                v = normalize(v)
            if v not in seen:
                seen.add(v)
                out.append((element, v))
    return out


# ---------------------------------------------------------------- XML out

_esc = xml_text


_OPEN = {
    "oai_dc": (
        f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}"'
        f' xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">',
        "</oai_dc:dc>",
    ),
    "srw_dc": (
        f'<srw_dc:dc xmlns:srw_dc="{SRW_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}"'
        f' xsi:schemaLocation="{SRW_DC_NS} http://www.loc.gov/standards/sru/recordSchemas/dc-schema.xsd">',
        "</srw_dc:dc>",
    ),
}
_TAGS = {e: (f"<dc:{e}>", f"</dc:{e}>") for e in DC_ELEMENTS}


def dc_to_xml(elements: list[tuple[str, str]], schema: str = "oai_dc") -> bytes:
    """Serialize DC pairs as an ``oai_dc:dc`` (OAI-PMH) or ``srw_dc:dc``
    (SRU schema ``info:srw/schema/1/dc-v1.1``) element, UTF-8, no declaration.

    >>> dc_to_xml([("title", "A & B")], "srw_dc")[-42:]
    b'<dc:title>A &amp; B</dc:title></srw_dc:dc>'
    """
    try:
        head, tail = _OPEN[schema]
    except KeyError:
        raise ValueError(f"unknown DC schema {schema!r} (use 'oai_dc' or 'srw_dc')") from None
    parts = [head]
    tags = _TAGS
    # One look at all the values says whether any needs escaping (most records: none).
    values = " ".join([value for _, value in elements])
    esc = _esc if _esc(values) is not values else None
    for name, value in elements:
        try:
            open_tag, close_tag = tags[name]
        except KeyError:
            raise ValueError(f"{name!r} is not a Dublin Core 1.1 element") from None
        parts.append(open_tag + (value if esc is None else esc(value)) + close_tag)
    parts.append(tail)
    return "".join(parts).encode("utf-8")


def marc_to_oai_dc(record: pymarc.Record, profile: CrosswalkProfile | None = None) -> bytes:
    """``dc_to_xml(marc_to_dc(record, profile))``: the OAI-PMH oai_dc payload."""
    return dc_to_xml(marc_to_dc(record, profile))


_DC_PREFIX = "{" + DC_NS + "}"


def parse_dc(elem: etree._Element) -> list[tuple[str, str]]:
    """Read the DC 1.1 children of ``elem`` (oai_dc:dc, srw_dc:dc or any
    container) as ``[(element, value)]``; values NFC and stripped, empty dropped.

    >>> x = etree.fromstring(dc_to_xml([("title", "Hà Nội"), ("date", " ")]))
    >>> parse_dc(x)
    [('title', 'Hà Nội')]
    """
    out: list[tuple[str, str]] = []
    n = len(_DC_PREFIX)
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(_DC_PREFIX):
            continue
        text = "".join(child.itertext()).strip()
        if text:
            out.append((tag[n:], normalize(text)))
    return out
