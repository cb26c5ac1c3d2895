"""MARC 21 → MODS 3.7, following the Library of Congress "MARC to MODS
Mapping" (version 3.7), built as strings for speed (no DOM).

    >>> from pymarc import Record, Field, Subfield, Indicators
    >>> r = Record(leader="00000nam a2200000 a 4500")
    >>> r.add_field(Field("245", Indicators("1", "0"), [Subfield("a", "Truyện Kiều /")]))
    >>> b'<title>Truyện Kiều</title>' in marc_to_mods(r)  # doctest: +SKIP
    True
    >>> marc_to_mods(r).startswith(b'<mods xmlns="http://www.loc.gov/mods/v3" version="3.7"')
    True

Top-level elements come out in the order of the LoC stylesheet (titleInfo,
name, typeOfResource, genre, originInfo, language, physicalDescription,
abstract, tableOfContents, note, subject, classification, relatedItem,
identifier, location, accessCondition, recordInfo); the schema allows any order.
"""

from __future__ import annotations

from collections.abc import Callable

import pymarc

from ..xml import MODS as MODS_NS
from ..xml import MODS_SCHEMA, XLINK, XSI, xml_attr, xml_text
from .dc import chop
from .marcview import FieldLike, fields_of
from .profile import CrosswalkProfile, ExtraMapping
from .text import normalize

_HEAD = (
    f'<mods xmlns="{MODS_NS}" version="3.7" xmlns:xlink="{XLINK}"'
    f' xmlns:xsi="{XSI}"'
    f' xsi:schemaLocation="{MODS_NS} {MODS_SCHEMA}">'
)

_ORDER = ("titleInfo", "name", "typeOfResource", "genre", "originInfo", "language",
          "physicalDescription", "abstract", "tableOfContents", "note", "subject",
          "classification", "relatedItem", "identifier", "location", "accessCondition",
          "recordInfo")

Out = dict[str, list[str]]
# handler(field, out, alt) — alt is ' altRepGroup="NN"' for 880 pairs, else "".
Handler = Callable[[FieldLike, Out, str], None]

_CONTROL = frozenset("0123456789")


def _t(value: str) -> str:
    """Text content: NFC, XML-clean, escaped."""
    return xml_text(normalize(value))


def _a(value: str) -> str:
    """Attribute value: as _t plus quotes."""
    return xml_attr(normalize(value))


def _el(name: str, value: str, attrs: str = "") -> str:
    return f"<{name}{attrs}>{_t(value)}</{name}>"


def _join(field: FieldLike, codes: str, sep: str = " ") -> str:
    return sep.join([v for c, v in field.subfields if c in codes and v])


def _alt(field: FieldLike) -> str:
    """altRepGroup for a field with $6 linkage ("880-01" / "245-01/$1"):
    the occurrence number pairs the regular field with its 880 (MODS mapping
    "Alternate graphic representation")."""
    for code, value in field.subfields:
        if code == "6":
            occ = value[4:6]
            if occ.isdigit() and occ != "00":
                return f' altRepGroup="{occ}"'
            return ""
    return ""


# ---------------------------------------------------------------- titles

def _title_245(field: FieldLike, out: Out, alt: str) -> None:
    # 245: $a → title (minus ind2 nonfiling characters → nonSort), $b
    # subTitle, $f$g$k appended to title, $n partNumber, $p partName.
    parts: list[str] = []
    title: list[str] = []
    sub: list[str] = []
    rest: list[str] = []
    resp = ""
    for code, value in field.subfields:
        if not value:
            continue
        if code == "a":
            title.append(value)
        elif code == "c":
            resp = value
        elif code in "fgks":
            title.append(value)
        elif code == "b":
            sub.append(value)
        elif code == "n":
            rest.append(_el("partNumber", chop(value)))
        elif code == "p":
            rest.append(_el("partName", chop(value)))
    text = " ".join(title)
    ind2 = field.indicator2
    if ind2 and ind2 in "123456789" and len(text) > int(ind2):
        n = int(ind2)
        parts.append(f'<nonSort xml:space="preserve">{_t(text[:n])}</nonSort>')
        text = text[n:]
    text = chop(text)
    if text:
        parts.append(_el("title", text))
    if sub:
        s = chop(" ".join(sub))
        if s:
            parts.append(_el("subTitle", s))
    parts.extend(rest)
    if parts:
        out["titleInfo"].append(f"<titleInfo{alt}>{''.join(parts)}</titleInfo>")
    # 245 $c → note type="statement of responsibility" (MODS mapping 245).
    resp = chop(resp)
    if resp:
        out["note"].insert(0, f'<note type="statement of responsibility"{alt}>{_t(resp)}</note>')


def _title_other(ttype: str, title_codes: str) -> Handler:
    # 130/240 uniform, 210 abbreviated, 242 translated, 246 alternative.
    attr = f' type="{ttype}"'

    def handler(field: FieldLike, out: Out, alt: str) -> None:
        title = chop(_join(field, title_codes))
        parts = [_el("title", title)] if title else []
        sub = chop(_join(field, "b")) if ttype != "uniform" else ""
        if sub:
            parts.append(_el("subTitle", sub))
        for code, value in field.subfields:
            if value and code == "n":
                parts.append(_el("partNumber", chop(value)))
            elif value and code == "p":
                parts.append(_el("partName", chop(value)))
        if not parts:
            return
        label = ""
        if field.tag == "246":
            i = _join(field, "i")
            if i:
                label = f' displayLabel="{_a(chop(i))}"'
        out["titleInfo"].append(f"<titleInfo{attr}{label}{alt}>{''.join(parts)}</titleInfo>")
    return handler


# ---------------------------------------------------------------- names

def _roles(field: FieldLike, text_code: str) -> str:
    roles = []
    for code, value in field.subfields:
        if not value:
            continue
        if code == text_code:
            v = chop(value)
            if v:
                roles.append(f'<role><roleTerm type="text">{_t(v)}</roleTerm></role>')
        elif code == "4":
            v = value.strip().rstrip(".")
            if v:
                roles.append('<role><roleTerm type="code" authority="marcrelator">'
                             f"{_t(v)}</roleTerm></role>")
    return "".join(roles)


def _name_parts(field: FieldLike, kind: str) -> str:
    parts: list[str] = []
    if kind == "personal":
        # $a$b$q → namePart; $c termsOfAddress; $d date (MODS mapping 100).
        main = chop(_join(field, "abq"))
        if main:
            parts.append(_el("namePart", main))
        for code, value in field.subfields:
            if value and code == "c":
                parts.append(_el("namePart", chop(value), ' type="termsOfAddress"'))
            elif value and code == "d":
                parts.append(_el("namePart", chop(value), ' type="date"'))
    elif kind == "corporate":
        # 110: $a and each $b its own namePart; $c$d$g$n follow the last.
        cur: list[str] = []
        for code, value in field.subfields:
            if not value:
                continue
            if code in "ab":
                if cur:
                    parts.append(_el("namePart", chop(" ".join(cur))))
                cur = [value]
            elif code in "cdgn":
                cur.append(value)
        if cur:
            parts.append(_el("namePart", chop(" ".join(cur))))
    else:
        main = chop(_join(field, "acdegnq"))
        if main:
            parts.append(_el("namePart", main))
    return "".join(parts)


def _name(kind: str, primary: bool) -> Handler:
    type_attr = f' type="{kind}"' if kind else ""
    usage = ' usage="primary"' if primary else ""
    role_code = "j" if kind == "conference" else "e"

    def handler(field: FieldLike, out: Out, alt: str) -> None:
        parts = _name_parts(field, kind) if kind else _el("namePart", chop(_join(field, "a")))
        if not parts or parts == "<namePart></namePart>":
            return
        out["name"].append(f"<name{type_attr}{usage}{alt}>{parts}"
                           f"{_roles(field, role_code)}</name>")
    return handler


# ---------------------------------------------------------------- subjects

_SUBJ_AUTH = {"0": "lcsh", "1": "lcshac", "2": "mesh", "3": "nal", "5": "csh", "6": "rvm"}


def _subject(first: str) -> Handler:
    """6XX: $a (and $b..) → first element; $v genre, $x topic, $y temporal,
    $z geographic (MODS mapping 600-651); authority from ind2 or $2."""
    skip = "j4" if first == "name:conference" else "e4"

    def handler(field: FieldLike, out: Out, alt: str) -> None:
        ind2 = field.indicator2
        auth = _join(field, "2").strip() if ind2 == "7" else _SUBJ_AUTH.get(ind2, "")
        parts: list[str] = []
        head: list[str] = []
        for code, value in field.subfields:
            if not value or code in _CONTROL or code in skip:
                continue
            if code in "vxyz":
                v = chop(value)
                if v:
                    parts.append(_el(_SUBDIV[code], v))
            else:
                head.append(value)
        head_el = ""
        if first.startswith("name:"):
            kind = first[5:]
            name_parts = _name_parts(field, kind)
            if name_parts:
                head_el = f'<name type="{kind}">{name_parts}</name>'
            title = chop(_join(field, "tnp"))
            if title and any(c == "t" for c, _ in field.subfields):
                head_el += f"<titleInfo>{_el('title', title)}</titleInfo>"
        elif head:
            text = chop(" ".join(head))
            if text:
                head_el = (f"<titleInfo>{_el('title', text)}</titleInfo>"
                           if first == "titleInfo" else _el(first, text))
        body = head_el + "".join(parts)
        if not body:
            return
        a = f' authority="{_a(auth)}"' if auth else ""
        out["subject"].append(f"<subject{a}{alt}>{body}</subject>")
    return handler


_SUBDIV = {"v": "genre", "x": "topic", "y": "temporal", "z": "geographic"}


def _uncontrolled(field: FieldLike, out: Out, alt: str) -> None:
    for code, value in field.subfields:
        if code == "a" and value:
            v = chop(value)
            if v:
                out["subject"].append(f"<subject{alt}>{_el('topic', v)}</subject>")


def _gac(field: FieldLike, out: Out, alt: str) -> None:
    # 043 $a → subject/geographicCode authority="marcgac".
    for code, value in field.subfields:
        if code == "a" and value:
            v = value.rstrip("-").strip()
            if v:
                out["subject"].append('<subject><geographicCode authority="marcgac">'
                                      f"{_t(v)}</geographicCode></subject>")


def _genre_655(field: FieldLike, out: Out, alt: str) -> None:
    ind2 = field.indicator2
    auth = _join(field, "2").strip() if ind2 == "7" else _SUBJ_AUTH.get(ind2, "")
    text = chop(_join(field, "abvxyz", "--"))
    if text:
        a = f' authority="{_a(auth)}"' if auth else ""
        out["genre"].append(f"<genre{a}{alt}>{_t(text)}</genre>")


# ---------------------------------------------------------------- origin

_EVENT = {"0": "production", "1": "publication", "2": "distribution", "3": "manufacture"}


def _clean_date(value: str) -> str:
    return chop(value.replace("[", "").replace("]", ""))


def _imprint(field: FieldLike, out: Out, alt: str) -> None:
    # 260 $a place, $b publisher, $c dateIssued; 264 likewise with eventType
    # from ind2, ind2 4 → copyrightDate (MODS mapping 264).
    # 880 paired with 264 keeps its ind2; 260 (or its 880, ind2 blank) → "1".
    ind2 = field.indicator2
    if field.tag == "260" or ind2 not in ("0", "1", "2", "3", "4"):
        ind2 = "1"
    parts: list[str] = []
    for code, value in field.subfields:
        if not value:
            continue
        if code == "a":
            v = chop(value.replace("[", "").replace("]", ""))
            if v:
                parts.append(f'<place><placeTerm type="text">{_t(v)}</placeTerm></place>')
        elif code == "b":
            v = chop(value)
            if v:
                parts.append(_el("publisher", v))
        elif code == "c":
            v = _clean_date(value)
            if v:
                parts.append(_el("copyrightDate" if ind2 == "4" else "dateIssued", v))
    if not parts:
        return
    if ind2 == "1":
        out["_imprint"].extend(parts)
    else:
        ev = _EVENT.get(ind2, "")
        ev_attr = f' eventType="{ev}"' if ev else ""
        out["originInfo"].append(f"<originInfo{ev_attr}{alt}>{''.join(parts)}</originInfo>")


def _edition(field: FieldLike, out: Out, alt: str) -> None:
    v = chop(_join(field, "ab"))
    if v:
        out["_origin"].append(_el("edition", v))


def _frequency(field: FieldLike, out: Out, alt: str) -> None:
    v = chop(_join(field, "ab"))
    if v:
        out["_origin"].append(_el("frequency", v))


# ---------------------------------------------------------------- physical

def _extent(field: FieldLike, out: Out, alt: str) -> None:
    v = _join(field, "abcefg").strip().rstrip(";:+ ").strip()
    if v:
        out["_phys"].append(_el("extent", v))


def _form_338(field: FieldLike, out: Out, alt: str) -> None:
    # RDA 336-338 carrier terms → form with authority from $2.
    auth = _join(field, "2").strip()
    a = f' authority="{_a(auth)}"' if auth else ""
    for code, value in field.subfields:
        if code == "a" and value.strip():
            out["_phys"].append(f'<form{a} type="carrier">{_t(value.strip())}</form>'
                                if field.tag == "338" else
                                f'<form{a} type="media">{_t(value.strip())}</form>')


def _electronic(field: FieldLike, out: Out, alt: str) -> None:
    # 856: $u → location/url ($y/$3 displayLabel, $z note), $q → internetMediaType.
    label = _join(field, "y3").strip()
    note = _join(field, "z").strip()
    attrs = ""
    if label:
        attrs += f' displayLabel="{_a(label)}"'
    if note:
        attrs += f' note="{_a(note)}"'
    for code, value in field.subfields:
        if not value:
            continue
        if code == "u":
            url = value.strip().replace(" ", "%20")
            if url:
                out["location"].append(f"<location><url{attrs}>{_t(url)}</url></location>")
        elif code == "q":
            out["_phys"].append(_el("internetMediaType", value.strip()))


# ---------------------------------------------------------------- notes

_NOTE_TYPE = {
    "500": "", "501": "", "502": "thesis", "504": "bibliography", "507": "",
    "508": "creation/production credits", "510": "citation/reference", "511": "performers",
    "513": "", "515": "numbering", "518": "venue", "521": "",
    "524": "preferred citation", "525": "", "533": "reproduction",
    "534": "original version", "535": "original location", "536": "funding",
    "538": "system details", "541": "acquisition", "545": "biographical/historical",
    "546": "language", "550": "issuing body", "555": "", "556": "", "561": "ownership",
    "562": "version identification", "565": "", "567": "", "580": "",
    "581": "publications", "583": "action", "584": "", "585": "exhibitions",
    "586": "awards", "588": "source of description",
}


def _note(field: FieldLike, out: Out, alt: str) -> None:
    text = " ".join([v for c, v in field.subfields if v and c not in _CONTROL]).strip()
    if not text:
        return
    ntype = _NOTE_TYPE.get(field.tag, "")
    t = f' type="{ntype}"' if ntype else ""
    out["note"].append(f"<note{t}{alt}>{_t(text)}</note>")


def _simple(element: str, codes: str | None = None, attrs: str = "") -> Handler:
    def handler(field: FieldLike, out: Out, alt: str) -> None:
        if codes is None:
            text = " ".join([v for c, v in field.subfields if v and c not in _CONTROL]).strip()
        else:
            text = _join(field, codes).strip()
        if text:
            out[element].append(f"<{element}{attrs}{alt}>{_t(text)}</{element}>")
    return handler


def _access(ctype: str) -> Handler:
    return _simple("accessCondition", None, f' type="{ctype}"')


# ---------------------------------------------------------------- classification / ids

def _class_050(field: FieldLike, out: Out, alt: str) -> None:
    a = [v for c, v in field.subfields if c == "a" and v]
    b = _join(field, "b")
    for v in a:
        text = f"{v} {b}".strip() if b else v.strip()
        out["classification"].append(f'<classification authority="lcc">{_t(text)}</classification>')


def _class_082(field: FieldLike, out: Out, alt: str) -> None:
    ed = _join(field, "2").strip()
    e = f' edition="{_a(ed)}"' if ed else ""
    for code, value in field.subfields:
        if code == "a" and value.strip():
            out["classification"].append(
                f'<classification authority="ddc"{e}>{_t(value.strip())}</classification>')


def _class_other(default_auth: str) -> Handler:
    def handler(field: FieldLike, out: Out, alt: str) -> None:
        auth = _join(field, "2").strip() or default_auth
        a = f' authority="{_a(auth)}"' if auth else ""
        for code, value in field.subfields:
            if code == "a" and value.strip():
                out["classification"].append(
                    f"<classification{a}>{_t(value.strip())}</classification>")
    return handler


def _std_id(id_type: str) -> Handler:
    # 020 isbn / 022 issn: $a valid, $z invalid="yes" (MODS mapping 020, 022).
    t = f' type="{id_type}"'

    def handler(field: FieldLike, out: Out, alt: str) -> None:
        for code, value in field.subfields:
            if not value or not value.strip():
                continue
            if code == "a":
                out["identifier"].append(f"<identifier{t}>{_t(value.strip())}</identifier>")
            elif code == "z":
                out["identifier"].append(
                    f'<identifier{t} invalid="yes">{_t(value.strip())}</identifier>')
            elif code == "l" and id_type == "issn":
                out["identifier"].append(f'<identifier type="issn-l">{_t(value.strip())}</identifier>')
    return handler


_ID_024 = {"0": "isrc", "1": "upc", "2": "ismn", "3": "ean", "4": "sici"}


def _id_024(field: FieldLike, out: Out, alt: str) -> None:
    ind1 = field.indicator1
    id_type = _join(field, "2").strip() if ind1 == "7" else _ID_024.get(ind1, "")
    t = f' type="{_a(id_type)}"' if id_type else ""
    for code, value in field.subfields:
        if code == "a" and value.strip():
            out["identifier"].append(f"<identifier{t}>{_t(value.strip())}</identifier>")


def _lccn(field: FieldLike, out: Out, alt: str) -> None:
    for code, value in field.subfields:
        if code == "a" and value.strip():
            out["identifier"].append(f'<identifier type="lccn">{_t(value.strip())}</identifier>')


def _holding(field: FieldLike, out: Out, alt: str) -> None:
    # 852 $a$b → physicalLocation, $h$i$j$k$m → shelfLocator (sequence order).
    phys = _join(field, "ab").strip()
    shelf = _join(field, "khijm").strip()
    body = ""
    if phys:
        body += _el("physicalLocation", phys)
    if shelf:
        body += _el("shelfLocator", shelf)
    if body:
        out["location"].append(f"<location>{body}</location>")


# ---------------------------------------------------------------- related items

_REL_TYPE = {
    "760": "series", "762": "constituent", "765": "original", "767": "otherVersion",
    "770": "", "772": "host", "773": "host", "774": "constituent", "775": "otherVersion",
    "776": "otherFormat", "777": "", "780": "preceding", "785": "succeeding",
    "786": "original", "787": "",
}


def _linking(field: FieldLike, out: Out, alt: str) -> None:
    rtype = _REL_TYPE.get(field.tag, "")
    parts: list[str] = []
    title = chop(_join(field, "ts"))
    if title:
        parts.append(f"<titleInfo>{_el('title', title)}</titleInfo>")
    name = chop(_join(field, "a"))
    if name:
        parts.append(f"<name>{_el('namePart', name)}</name>")
    for code, value in field.subfields:
        v = value.strip() if value else ""
        if not v:
            continue
        if code == "x":
            parts.append(f'<identifier type="issn">{_t(v)}</identifier>')
        elif code == "z":
            parts.append(f'<identifier type="isbn">{_t(v)}</identifier>')
        elif code == "w":
            parts.append(f'<identifier type="local">{_t(v)}</identifier>')
        elif code == "o":
            parts.append(f"<identifier>{_t(v)}</identifier>")
    if not parts:
        return
    t = f' type="{rtype}"' if rtype else ""
    label = _join(field, "i").strip()
    d = f' displayLabel="{_a(chop(label))}"' if label else ""
    out["relatedItem"].append(f"<relatedItem{t}{d}{alt}>{''.join(parts)}</relatedItem>")


def _series(field: FieldLike, out: Out, alt: str) -> None:
    # 490/440/830 → relatedItem type="series": title $a, partNumber $v.
    title = chop(_join(field, "a"))
    if not title:
        return
    ti = [_el("title", title)]
    for code, value in field.subfields:
        if value and code in "vn":
            v = chop(value)
            if v:
                ti.append(_el("partNumber", v))
        elif value and code == "p":
            ti.append(_el("partName", chop(value)))
    ids = "".join(f'<identifier type="issn">{_t(v.strip())}</identifier>'
                  for c, v in field.subfields if c == "x" and v.strip())
    out["relatedItem"].append(
        f'<relatedItem type="series"{alt}><titleInfo>{"".join(ti)}</titleInfo>{ids}</relatedItem>')


# ---------------------------------------------------------------- control fields

def _control(field: FieldLike, out: Out, alt: str) -> None:
    out["_" + field.tag] = [field.data or ""]


def _source_040(field: FieldLike, out: Out, alt: str) -> None:
    for code, value in field.subfields:
        v = value.strip() if value else ""
        if not v:
            continue
        if code == "a":
            out["_rec"].append(f'<recordContentSource authority="marcorg">{_t(v)}</recordContentSource>')
        elif code == "b":
            out["_rec"].append('<languageOfCataloging><languageTerm type="code" '
                               f'authority="iso639-2b">{_t(v)}</languageTerm></languageOfCataloging>')
        elif code == "e":
            out["_rec"].append(f"<descriptionStandard>{_t(v)}</descriptionStandard>")


def _lang_041(field: FieldLike, out: Out, alt: str) -> None:
    for code, value in field.subfields:
        if code in "ad" and value:
            v = value.strip().lower()
            if len(v) > 3 and len(v) % 3 == 0 and v.isalpha():
                out["_lang"].extend(v[i:i + 3] for i in range(0, len(v), 3))
            elif v:
                out["_lang"].append(v)


def _build_default() -> dict[str, Handler]:
    t: dict[str, Handler] = {
        "001": _control, "003": _control, "005": _control, "008": _control,
        "010": _lccn, "020": _std_id("isbn"), "022": _std_id("issn"), "024": _id_024,
        "040": _source_040, "041": _lang_041, "043": _gac,
        "050": _class_050, "082": _class_082, "080": _class_other("udc"),
        "060": _class_other("nlm"), "084": _class_other(""),
        "245": _title_245,
        "130": _title_other("uniform", "adfklmors"), "240": _title_other("uniform", "adfklmors"),
        "210": _title_other("abbreviated", "a"), "242": _title_other("translated", "a"),
        "246": _title_other("alternative", "af"),
        "100": _name("personal", True), "110": _name("corporate", True),
        "111": _name("conference", True),
        "700": _name("personal", False), "710": _name("corporate", False),
        "711": _name("conference", False), "720": _name("", False),
        "250": _edition, "260": _imprint, "264": _imprint, "310": _frequency,
        "300": _extent, "337": _form_338, "338": _form_338,
        "856": _electronic, "852": _holding,
        "505": _simple("tableOfContents"), "520": _simple("abstract", "ab"),
        "506": _access("restriction on access"), "540": _access("use and reproduction"),
        "600": _subject("name:personal"), "610": _subject("name:corporate"),
        "611": _subject("name:conference"), "630": _subject("titleInfo"),
        "648": _subject("temporal"), "650": _subject("topic"), "651": _subject("geographic"),
        "654": _subject("topic"), "656": _subject("occupation"),
        "653": _uncontrolled, "655": _genre_655,
        "440": _series, "490": _series, "830": _series,
    }
    for tag in _NOTE_TYPE:
        t.setdefault(tag, _note)
    for tag in _REL_TYPE:
        t[tag] = _linking
    return t


_DEFAULT: dict[str, Handler] = _build_default()

# Leader/06 → typeOfResource (MODS mapping, Leader/06).
_RESOURCE = {
    "a": "text", "t": "text", "e": "cartographic", "f": "cartographic",
    "c": "notated music", "d": "notated music", "i": "sound recording-nonmusical",
    "j": "sound recording-musical", "k": "still image", "g": "moving image",
    "r": "three dimensional object", "m": "software, multimedia", "p": "mixed material",
    "o": "kit",
}
# Leader/07 → issuance (MODS 3.7 issuance vocabulary).
_ISSUANCE = {"a": "monographic", "c": "monographic", "d": "monographic", "m": "monographic",
             "b": "serial", "s": "serial", "i": "integrating resource"}
# 008/23 (books, serials, music...) or 008/29 (maps, visual) form of item → marcform.
_FORM = {"a": "microfilm", "b": "microfiche", "c": "microopaque", "d": "large print",
         "f": "braille", "o": "online", "q": "direct electronic", "r": "regular print reproduction",
         "s": "electronic"}
# 008/24-27 nature of contents (books) → marcgt genre.
_NATURE = {"b": "bibliography", "c": "catalog", "d": "dictionary", "e": "encyclopedia",
           "f": "handbook", "i": "index", "k": "discography", "l": "legislation",
           "m": "thesis", "o": "review", "r": "directory", "s": "statistics",
           "t": "technical report", "v": "legal case and case notes", "w": "law report or digest",
           "y": "yearbook", "z": "treaty"}
# 008/33 literary form (books) → marcgt genre.
_LITFORM = {"1": "fiction", "d": "drama", "e": "essay", "f": "novel", "h": "humor, satire, etc.",
            "i": "letter", "j": "short story", "p": "poetry", "s": "speech"}
# 008/21 type of continuing resource → marcgt genre.
_SERIAL = {"d": "database", "l": "loose-leaf", "m": "series", "n": "newspaper",
           "p": "periodical", "w": "web site"}


def _extra_handler(m: ExtraMapping) -> Handler:
    codes, sep, prefix, element = m.subfields, m.join, m.prefix, m.element
    attrs = ""
    if m.type:
        attrs += f' type="{_a(m.type)}"'
    if m.authority:
        attrs += f' authority="{_a(m.authority)}"'
    if m.display_label:
        attrs += f' displayLabel="{_a(m.display_label)}"'
    ind1, ind2 = m.ind1, m.ind2

    def handler(field: FieldLike, out: Out, alt: str) -> None:
        if (ind1 is not None and field.indicator1 != ind1) or \
                (ind2 is not None and field.indicator2 != ind2):
            return
        value = _join(field, codes, sep).strip()
        if not value:
            return
        value = prefix + value
        if element == "subject":
            out["subject"].append(f"<subject{attrs}><topic>{_t(value)}</topic></subject>")
        else:
            out[element].append(f"<{element}{attrs}>{_t(value)}</{element}>")
    return handler


def _dispatch(profile: CrosswalkProfile | None) -> dict[str, Handler]:
    if profile is None or not (profile.mods_extra or profile.mods_drop_fields):
        return _DEFAULT
    table = profile._cache.get("mods")
    if table is None:
        table = {t: h for t, h in _DEFAULT.items() if t not in profile.mods_drop_fields}
        for m in profile.mods_extra:
            h = _extra_handler(m)
            prev = table.get(m.field)
            if prev is None:
                table[m.field] = h
            else:
                def both(f: pymarc.Field, o: Out, a: str, _p: Handler = prev, _h: Handler = h) -> None:
                    _p(f, o, a)
                    _h(f, o, a)
                table[m.field] = both
        profile._cache["mods"] = table
    return table


def marc_to_mods(record: pymarc.Record, profile: CrosswalkProfile | None = None) -> bytes:
    """MARC 21 record → one MODS 3.7 ``<mods>`` element (UTF-8, no declaration).

    >>> from pymarc import Record, Field
    >>> r = Record(); r.add_field(Field("001", data="VN001"))
    >>> b"<recordIdentifier>VN001</recordIdentifier>" in marc_to_mods(r)
    True
    """
    table = _dispatch(profile)
    out: Out = {k: [] for k in _ORDER}
    out["_origin"] = []
    out["_imprint"] = []
    out["_phys"] = []
    out["_rec"] = []
    out["_lang"] = []
    get = table.get
    for field in fields_of(record):
        tag = field.tag
        alt = ""
        if tag == "880":
            link = ""
            for code, value in field.subfields:
                if code == "6":
                    link = value
                    break
            tag = link[:3]
            if not tag or tag == "880":
                continue
            occ = link[4:6]
            alt = f' altRepGroup="{occ}"' if occ.isdigit() and occ != "00" else ""
        elif not field.control_field and field.subfields and field.subfields[0][0] == "6":
            alt = _alt(field)
        handler = get(tag)
        if handler is not None:
            handler(field, out, alt)
    return _finish(record, out, profile)


def _finish(record: pymarc.Record, out: Out, profile: CrosswalkProfile | None) -> bytes:
    leader = str(record.leader) if record.leader is not None else ""
    leader = (leader + " " * 24)[:24]
    f008 = out["_008"][0] if "_008" in out else ""
    l6, l7 = leader[6], leader[7]

    # typeOfResource: Leader/06; collection="yes" for Leader/07 c; manuscript
    # for Leader/06 d, f, t (MODS mapping Leader/06-07).
    res = _RESOURCE.get(l6)
    if res:
        attrs = ' collection="yes"' if l7 == "c" else ""
        if l6 in "dft":
            attrs += ' manuscript="yes"'
        out["typeOfResource"].append(f"<typeOfResource{attrs}>{res}</typeOfResource>")

    has_008 = len(f008) >= 40
    genres: list[str] = []
    if has_008:
        if l6 in "at" and l7 in "acdm":
            for c in f008[24:28]:
                g = _NATURE.get(c)
                if g:
                    genres.append(g)
            g = _LITFORM.get(f008[33])
            if g:
                genres.append(g)
        elif l7 in "bis" and l6 in "at":
            g = _SERIAL.get(f008[21])
            if g:
                genres.append(g)
        elif l6 in "ef":
            g = {"a": "map", "e": "atlas", "d": "globe"}.get(f008[25])
            if g:
                genres.append(g)
    if genres:
        out["genre"][:0] = [f'<genre authority="marcgt">{g}</genre>' for g in dict.fromkeys(genres)]

    # originInfo: 008/15-17 place code, 008/07-14 dates (encoding="marc"),
    # then 260/264_1 text, 250 edition, Leader/07 issuance, 310 frequency.
    origin: list[str] = []
    if has_008:
        place = f008[15:18].strip().rstrip("#")
        if place and place.isalpha():
            origin.append('<place><placeTerm type="code" authority="marccountry">'
                          f"{_t(place)}</placeTerm></place>")
    origin.extend(out["_imprint"])
    if has_008:
        dtype, d1, d2 = f008[6], f008[7:11], f008[11:15]
        if dtype not in "nb|" and d1.strip() and d1 != "||||":
            if dtype in "dikmq" and d2.strip() and d2 not in ("||||", "9999", "uuuu"):
                origin.append('<dateIssued encoding="marc" point="start" keyDate="yes">'
                              f"{_t(d1)}</dateIssued>"
                              f'<dateIssued encoding="marc" point="end">{_t(d2)}</dateIssued>')
            else:
                origin.append(f'<dateIssued encoding="marc" keyDate="yes">{_t(d1)}</dateIssued>')
    origin.extend(out["_origin"])
    iss = _ISSUANCE.get(l7)
    if iss:
        origin.append(f"<issuance>{iss}</issuance>")
    if origin:
        ev = ' eventType="publication"' if out["_imprint"] else ""
        out["originInfo"].insert(0, f"<originInfo{ev}>{''.join(origin)}</originInfo>")

    # language: 008/35-37, then 041 $a/$d (iso639-2b codes).
    langs: list[str] = []
    if has_008:
        code = f008[35:38].strip().lower()
        if len(code) == 3 and code.isalpha():
            langs.append(code)
    langs.extend(out["_lang"])
    for code in dict.fromkeys(langs):
        out["language"].append('<language><languageTerm type="code" authority="iso639-2b">'
                               f"{_t(code)}</languageTerm></language>")

    # physicalDescription: form (008/23 or /29), extent, internetMediaType.
    phys: list[str] = []
    if has_008:
        form = _FORM.get(f008[29] if l6 in "efgk" else f008[23])
        if form:
            phys.append(f'<form authority="marcform">{form}</form>')
    phys.extend(out["_phys"])
    if phys:
        out["physicalDescription"].append(
            f"<physicalDescription>{''.join(dict.fromkeys(phys))}</physicalDescription>")

    # recordInfo: 040, 008/00-05 creation date, 005 change date, 001 + 003.
    rec = list(out["_rec"])
    if has_008 and f008[:6].isdigit():
        rec.append(f'<recordCreationDate encoding="marc">{f008[:6]}</recordCreationDate>')
    f005 = out["_005"][0].strip() if "_005" in out else ""
    if f005:
        rec.append(f'<recordChangeDate encoding="iso8601">{_t(f005)}</recordChangeDate>')
    f001 = out["_001"][0].strip() if "_001" in out else ""
    if f001:
        f003 = out["_003"][0].strip() if "_003" in out else ""
        src = f' source="{_a(f003)}"' if f003 else ""
        rec.append(f"<recordIdentifier{src}>{_t(f001)}</recordIdentifier>")
    origin_text = profile.mods_record_origin if profile is not None else \
        "Converted from MARC 21 to MODS version 3.7 by thuvien-interop"
    rec.append(f"<recordOrigin>{_t(origin_text)}</recordOrigin>")
    out["recordInfo"].append(f"<recordInfo>{''.join(rec)}</recordInfo>")

    parts = [_HEAD]
    for key in _ORDER:
        parts.extend(out[key])
    parts.append("</mods>")
    return "".join(parts).encode("utf-8")
