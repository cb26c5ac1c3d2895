"""Dublin Core → MARC 21, for collections that only have DC, following the
Library of Congress "Dublin Core to MARC Crosswalk" (unqualified), with
Vietnamese names for types and languages understood.

    >>> r = dc_to_marc([("title", "Truyện Kiều"), ("creator", "Nguyễn Du"),
    ...                 ("language", "Tiếng Việt"), ("date", "2015")])
    >>> r["245"]["a"], r["100"]["a"], r["041"]["a"], r["008"].data[7:11], r["008"].data[35:38]
    ('Truyện Kiều', 'Nguyễn Du', 'vie', '2015', 'vie')
"""

from __future__ import annotations

import re

import pymarc
from pymarc import Field, Indicators, Subfield

from .text import fold, normalize

# ISO 639-1 and ISO 639-2/T codes → MARC (ISO 639-2/B) codes.
_LANG_CODES = {
    "vi": "vie", "en": "eng", "fr": "fre", "fra": "fre", "zh": "chi", "zho": "chi",
    "ru": "rus", "de": "ger", "deu": "ger", "ja": "jpn", "ko": "kor", "lo": "lao",
    "km": "khm", "th": "tha", "es": "spa", "it": "ita", "la": "lat", "pt": "por",
    "nl": "dut", "nld": "dut", "cs": "cze", "ces": "cze", "pl": "pol", "id": "ind",
    "ms": "may", "msa": "may", "my": "bur", "mya": "bur", "ar": "ara", "hi": "hin",
    "sa": "san", "pi": "pli", "bo": "tib", "bod": "tib", "el": "gre", "ell": "gre",
    "fa": "per", "fas": "per", "ro": "rum", "ron": "rum", "sk": "slo", "slk": "slo",
    "hy": "arm", "hye": "arm", "ka": "geo", "kat": "geo", "mk": "mac", "mkd": "mac",
    "sq": "alb", "sqi": "alb", "eu": "baq", "eus": "baq", "is": "ice", "isl": "ice",
    "cy": "wel", "cym": "wel", "uk": "ukr", "bg": "bul", "sv": "swe", "da": "dan",
    "no": "nor", "fi": "fin", "hu": "hun", "tr": "tur", "he": "heb",
}
# Language names (folded: no diacritics, lower case) → MARC codes.
_LANG_NAMES = {
    "tieng viet": "vie", "viet": "vie", "vietnamese": "vie", "viet ngu": "vie",
    "tieng anh": "eng", "anh": "eng", "english": "eng",
    "tieng phap": "fre", "phap": "fre", "french": "fre",
    "tieng trung": "chi", "tieng hoa": "chi", "tieng trung quoc": "chi", "chinese": "chi",
    "han": "chi", "chu han": "chi",
    "tieng nga": "rus", "russian": "rus", "tieng duc": "ger", "german": "ger",
    "tieng nhat": "jpn", "japanese": "jpn", "tieng han": "kor", "tieng han quoc": "kor",
    "korean": "kor", "tieng lao": "lao", "lao": "lao", "tieng khmer": "khm", "khmer": "khm",
    "tieng thai": "tha", "thai": "tha", "tieng tay ban nha": "spa", "spanish": "spa",
    "tieng y": "ita", "italian": "ita", "tieng latinh": "lat", "latin": "lat",
    "chu nom": "vie", "han nom": "chi",
}
# DC type (folded) → (Leader/06, Leader/07 or "", DCMI term for 655 $2 dct).
_TYPES = {
    "text": ("a", "", "Text"), "van ban": ("a", "", "Text"), "sach": ("a", "", "Text"),
    "book": ("a", "", "Text"), "luan van": ("a", "", "Text"), "luan an": ("a", "", "Text"),
    "thesis": ("a", "", "Text"), "image": ("k", "", "Image"), "stillimage": ("k", "", "StillImage"),
    "still image": ("k", "", "StillImage"), "hinh anh": ("k", "", "Image"), "anh": ("k", "", "Image"),
    "movingimage": ("g", "", "MovingImage"), "moving image": ("g", "", "MovingImage"),
    "video": ("g", "", "MovingImage"), "phim": ("g", "", "MovingImage"),
    "sound": ("i", "", "Sound"), "am thanh": ("i", "", "Sound"),
    "cartographic": ("e", "", ""), "map": ("e", "", ""), "ban do": ("e", "", ""),
    "software": ("m", "", "Software"), "dataset": ("m", "", "Dataset"),
    "interactiveresource": ("m", "", "InteractiveResource"),
    "physicalobject": ("r", "", "PhysicalObject"), "collection": ("p", "c", "Collection"),
    "bo suu tap": ("p", "c", "Collection"),
    "serial": ("a", "s", ""), "periodical": ("a", "s", ""), "tap chi": ("a", "s", ""),
    "bao": ("a", "s", ""),
}
_DCMI = {"Text", "Image", "StillImage", "MovingImage", "Sound", "Software", "Dataset",
         "InteractiveResource", "PhysicalObject", "Collection", "Event", "Service"}

# Words that make a name corporate (110/710) rather than personal.
_CORPORATE = ("truong ", "vien ", "bo ", "nha xuat ban", "cong ty", "hoi ", "uy ban",
              "dai hoc", "trung tam", "so ", "thu vien", "ban ", "tong cuc", "cuc ",
              "university", "institute", "ministry", "company", "association", "library",
              "committee", "council", "department", "society", "press", "corporation")

_DEWEY = re.compile(r"^\d{3}(\.\d+)?$")
_LCC = re.compile(r"^[A-Z]{1,3}\d{1,4}(\.\d+)?(\s*\.?[A-Z]\d+.*)?$")
_NAME_DATES = re.compile(r"^(.*?),?\s+((?:\d{3,4}|\?)\s*-\s*(?:\d{3,4})?\??)$")
_YEAR = re.compile(r"(\d{4})")
_URL = re.compile(r"^(https?|ftp)://\S+$", re.IGNORECASE)
_TEMPORAL = re.compile(r"^(thế kỷ|the century|\d{3,4}s?(\s*-\s*\d{3,4})?|[\d\s\-–/.]+)$", re.IGNORECASE)


def isbn_valid(value: str) -> bool:
    """ISBN-10/13 check digit test on the digits of ``value``.

    >>> isbn_valid("978-604-0-00000-?"), isbn_valid("0-306-40615-2"), isbn_valid("9780306406157")
    (False, True, True)
    """
    s = value.replace("-", "").replace(" ", "").upper()
    if len(s) == 10 and s[:9].isdigit() and (s[9].isdigit() or s[9] == "X"):
        total = sum((10 - i) * int(c) for i, c in enumerate(s[:9]))
        total += 10 if s[9] == "X" else int(s[9])
        return total % 11 == 0
    if len(s) == 13 and s.isdigit():
        total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(s))
        return total % 10 == 0
    return False


def issn_valid(value: str) -> bool:
    """ISSN check digit test (NNNN-NNNC).

    >>> issn_valid("0317-8471"), issn_valid("0317-8472")
    (True, False)
    """
    s = value.replace("-", "").upper()
    if len(s) != 8 or not s[:7].isdigit() or not (s[7].isdigit() or s[7] == "X"):
        return False
    total = sum((8 - i) * int(c) for i, c in enumerate(s[:7]))
    check = (11 - total % 11) % 11
    return (s[7] == "X" and check == 10) or (s[7].isdigit() and int(s[7]) == check)


def _strip_prefix(value: str, *prefixes: str) -> tuple[str, bool]:
    low = value.lower()
    for p in prefixes:
        if low.startswith(p):
            return value[len(p):].strip(), True
    return value, False


def language_code(value: str) -> str | None:
    """A DC language value → MARC language code, or None if not recognized.

    >>> language_code("vi"), language_code("Tiếng Việt"), language_code("vi-VN"), language_code("xyz!")
    ('vie', 'vie', 'vie', None)
    """
    v = value.strip()
    low = v.lower()
    base = low.split("-", 1)[0].split("_", 1)[0]
    if base in _LANG_CODES:
        return _LANG_CODES[base]
    if len(base) == 3 and base.isascii() and base.isalpha():
        return base
    return _LANG_NAMES.get(fold(v))


def _is_corporate(name: str) -> bool:
    f = fold(name) + " "
    return any(w in f for w in _CORPORATE)


def _name_field(tag_personal: str, name: str) -> Field:
    """A personal (X00) or corporate (X10) name field from a DC name string."""
    if _is_corporate(name):
        return Field(str(int(tag_personal) + 10), Indicators("2", " "), [Subfield("a", name)])
    m = _NAME_DATES.match(name)
    subs = [Subfield("a", m.group(1) + ","), Subfield("d", m.group(2))] if m else [Subfield("a", name)]
    # Inverted "Surname, Forename" → ind1 1; Vietnamese direct order → ind1 0.
    ind1 = "1" if "," in subs[0].value.rstrip(",") else "0"
    return Field(tag_personal, Indicators(ind1, " "), subs)


def _leader(l6: str, l7: str) -> str:
    # 24 positions; /09 'a' (UCS/Unicode); /17 '3' abbreviated level (converted
    # from DC); /18 'u' unknown descriptive form; /20-23 "4500".
    return f"00000n{l6}{l7} a22000003u 4500"


def dc_to_marc(elements: list[tuple[str, str]]) -> pymarc.Record:
    """Build a MARC 21 bibliographic record from DC ``(element, value)`` pairs.

    Mapping (LoC DC→MARC crosswalk): title→245/246, creator→100/700 (110/710
    for bodies), contributor→720, subject→650 (082 Dewey, 050 LCC), description
    →520, publisher/date→264 _1 $b/$c and 008/07-10, type→Leader/06 + 655,
    format→300 or 856 $q, identifier→020/022/856 $u/024, language→041 and
    008/35-37, relation→787, coverage→651/648, rights→540, source→786.
    """
    fields: list[Field] = []
    titles: list[str] = []
    creators: list[str] = []
    publishers: list[str] = []
    dates: list[str] = []
    langs: list[str] = []
    lang_notes: list[str] = []
    urls: list[str] = []
    mimes: list[str] = []
    l6, l7 = "", ""
    thesis = False

    for name, raw in elements:
        value = normalize(raw).strip()
        if not value:
            continue
        if name == "title":
            titles.append(value)
        elif name == "creator":
            creators.append(value)
        elif name == "contributor":
            ind1 = "2" if _is_corporate(value) else ("1" if "," in value else " ")
            fields.append(Field("720", Indicators(ind1, " "), [Subfield("a", value)]))
        elif name == "subject":
            if _DEWEY.match(value):
                fields.append(Field("082", Indicators("0", "4"), [Subfield("a", value)]))
            elif _LCC.match(value):
                fields.append(Field("050", Indicators(" ", "4"), [Subfield("a", value)]))
            else:
                parts = [p.strip() for p in value.split("--") if p.strip()]
                subs = [Subfield("a", parts[0])] + [Subfield("x", p) for p in parts[1:]]
                fields.append(Field("650", Indicators(" ", "4"), subs))
        elif name == "description":
            fields.append(Field("520", Indicators(" ", " "), [Subfield("a", value)]))
        elif name == "publisher":
            publishers.append(value)
        elif name == "date":
            dates.append(value)
        elif name == "type":
            t = _TYPES.get(fold(value))
            if t is not None and not l6:
                l6, l7 = t[0], t[1]
            thesis = thesis or fold(value) in ("luan van", "luan an", "thesis")
            if value in _DCMI:
                fields.append(Field("655", Indicators(" ", "7"), [Subfield("a", value), Subfield("2", "dct")]))
            else:
                fields.append(Field("655", Indicators(" ", "4"), [Subfield("a", value)]))
        elif name == "format":
            if "/" in value and " " not in value and len(value) < 80:
                mimes.append(value)  # an Internet media type → 856 $q
            else:
                fields.append(Field("300", Indicators(" ", " "), [Subfield("a", value)]))
        elif name == "identifier":
            fields.extend(_identifier(value, urls))
        elif name == "language":
            code = language_code(value)
            if code:
                langs.append(code)
            else:
                lang_notes.append(value)
        elif name == "relation":
            code = "o" if _URL.match(value) or value.lower().startswith(("urn:", "doi:")) else "t"
            fields.append(Field("787", Indicators("0", " "), [Subfield(code, value)]))
        elif name == "coverage":
            tag = "648" if _TEMPORAL.match(value) else "651"
            parts = [p.strip() for p in value.split("--") if p.strip()]
            subs = [Subfield("a", parts[0])] + [Subfield("z" if tag == "651" else "y", p)
                                                for p in parts[1:]]
            fields.append(Field(tag, Indicators(" ", "4"), subs))
        elif name == "rights":
            fields.append(Field("540", Indicators(" ", " "), [Subfield("a", value)]))
        elif name == "source":
            code = "o" if _URL.match(value) else "t"
            fields.append(Field("786", Indicators("0", " "), [Subfield(code, value)]))

    for i, title in enumerate(titles):
        if i == 0:
            a, sep, b = title.partition(" : ")
            subs = [Subfield("a", a + " :"), Subfield("b", b)] if sep and b else [Subfield("a", title)]
            ind1 = "1" if creators else "0"
            fields.append(Field("245", Indicators(ind1, "0"), subs))
        else:
            fields.append(Field("246", Indicators("3", " "), [Subfield("a", title)]))
    for i, creator in enumerate(creators):
        fields.append(_name_field("100" if i == 0 else "700", creator))
    if publishers or dates:
        subs = [Subfield("b", p) for p in publishers] + [Subfield("c", d) for d in dates]
        fields.append(Field("264", Indicators(" ", "1"), subs))
    langs = list(dict.fromkeys(langs))
    if langs:
        fields.append(Field("041", Indicators("0", " "), [Subfield("a", c) for c in langs]))
    for note in lang_notes:
        fields.append(Field("546", Indicators(" ", " "), [Subfield("a", note)]))
    if urls or mimes:
        subs = [Subfield("u", u) for u in urls] + [Subfield("q", m) for m in mimes]
        fields.append(Field("856", Indicators("4", "0" if urls else " "), subs))
    fields.append(Field("042", Indicators(" ", " "), [Subfield("a", "dc")]))

    year = ""
    for d in dates:
        m = _YEAR.search(d)
        if m:
            year = m.group(1)
            break
    f008 = _make_008(year, langs[0] if langs else "und", l6 or "a", thesis)
    record = pymarc.Record(leader=_leader(l6 or "a", l7 or "m"), force_utf8=True)
    record.add_field(Field("008", data=f008))
    for f in sorted(fields, key=lambda f: f.tag):
        record.add_field(f)
    return record


def _identifier(value: str, urls: list[str]) -> list[Field]:
    if _URL.match(value):
        urls.append(value)
        return []
    v, isbn_hint = _strip_prefix(value, "urn:isbn:", "isbn:", "isbn ")
    if isbn_hint or len(v.replace("-", "").replace(" ", "")) in (10, 13):
        number = v.split(" (", 1)[0].strip()
        if isbn_valid(number):
            return [Field("020", Indicators(" ", " "), [Subfield("a", number)])]
        if isbn_hint:
            return [Field("020", Indicators(" ", " "), [Subfield("z", number)])]
    v, issn_hint = _strip_prefix(value, "urn:issn:", "issn:", "issn ")
    if issn_valid(v):
        return [Field("022", Indicators(" ", " "), [Subfield("a", v)])]
    if issn_hint:
        return [Field("022", Indicators(" ", " "), [Subfield("z", v)])]
    low = value.lower()
    if low.startswith(("doi:", "10.")) and "/" in value:
        doi = value[4:] if low.startswith("doi:") else value
        return [Field("024", Indicators("7", " "), [Subfield("a", doi), Subfield("2", "doi")])]
    return [Field("024", Indicators("8", " "), [Subfield("a", value)])]


#: 008/00-05 of a record made from Dublin Core: DC does not say when the record
#: entered a file, and a crosswalk has no clock (a record converted again on
#: another day must come out the same, or re-importing an unchanged file would
#: "update" every record and bump every datestamp). Fill characters: not coded;
#: the MODS crosswalk then gives no recordCreationDate.
UNKNOWN_ENTERED = "||||||"


def _make_008(year: str, lang: str, l6: str, thesis: bool) -> str:
    """40-character 008: date entered not coded (:data:`UNKNOWN_ENTERED`), single
    date (or none), place unknown, material-specific 18-34 left as fill characters,
    language, source 'd'."""
    entered = UNKNOWN_ENTERED
    dtype, d1 = ("s", year) if year else ("n", "uuuu")
    middle = list("|" * 17)  # 008/18-34
    if l6 in "at" and thesis:
        middle[24 - 18:28 - 18] = list("m   ")  # nature of contents: thesis
    f = f"{entered}{dtype}{d1}    xx {''.join(middle)}{lang[:3]:<3} d"
    return f
