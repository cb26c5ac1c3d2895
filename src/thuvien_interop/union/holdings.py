"""Who holds what: the libraries of a union and the copies each record says they have.

A :class:`Library` is a provider as the harvest configuration describes it (its
``[provider.library]`` table: the name people know, province, kind of library). A
:class:`Holding` is one place in one library — branch, shelving location, call
number, copies — read from the item data a record carries:

* MARC 852 (location): $a institution, $b sublocation/collection ("Kho"),
  $c shelving location, $k $h $i $m call number ("Ký hiệu xếp giá", or $j),
  $p piece designation ("Số ĐKCB", one a copy), $t copy number;
* Koha's 952 (one item each): $a home branch, $b holding branch, $c shelving
  location, $o call number, $p barcode; withdrawn ($0) and lost ($1) items are not
  counted;
* the spreadsheet import writes each column as its own 852 ("Kho" → 852 $b,
  each "Số ĐKCB" → 852 $p, "Ký hiệu xếp giá" → 852 $h): such one-subfield 852s are
  read together, as the one place they describe.

A record without item data still has one holding: its library holds it. A cluster's
holdings are the union of its records' (:func:`cluster_holdings`). Over SRU a
record's holdings are the ISO 20775 record schema (:func:`iso20775`).

    >>> lib = Library("buonho-thcs", "Thư viện THCS Buôn Hồ", "Đắk Lắk", "school")
    >>> lib.kind_label("en")
    'School library'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pymarc

from .. import xml
from ..crosswalk.marcview import fields_of
from ..crosswalk.marcxml import parse_marcxml_record
from ..crosswalk.text import fold, normalize
from ..model import Header, Record
from .facts import provider_of, record_marc

__all__ = ["KINDS", "Holding", "Library", "cluster_holdings", "holdings_of", "holdings_writer",
           "iso20775", "libraries_of", "record_holdings"]

#: Kinds of library: (Vietnamese, English).
KINDS: dict[str, tuple[str, str]] = {
    "national": ("Thư viện quốc gia", "National library"),
    "public": ("Thư viện công cộng", "Public library"),
    "school": ("Thư viện trường học", "School library"),
    "university": ("Thư viện đại học", "University library"),
    "special": ("Thư viện chuyên ngành", "Special library"),
    "other": ("Thư viện khác", "Other library"),
}


@dataclass(frozen=True, slots=True)
class Library:
    """A library of the union: ``name`` is its provider name (the harvest's
    ``source:<name>`` set), ``label`` the name people know."""

    name: str
    label: str = ""
    province: str = ""
    kind: str = "other"

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def kind_label(self, lang: str = "vi") -> str:
        pair = KINDS.get(self.kind, KINDS["other"])
        return pair[0] if lang == "vi" else pair[1]

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any], where: str = "") -> Library:
        """From a provider's ``library`` table::

            [[provider]]
            name = "buonho-thcs"
            url = "https://…/oai"
            library = { name = "Thư viện THCS Buôn Hồ", province = "Đắk Lắk", kind = "school" }

        A wrong key or kind raises ValueError saying which and what is allowed.
        """
        unknown = set(data) - {"name", "province", "kind"}
        if unknown:
            raise ValueError(f"{where}library: unknown key(s) {', '.join(sorted(unknown))}; "
                             "known: name, province, kind")
        kind = str(data.get("kind", "other"))
        if kind not in KINDS:
            raise ValueError(f"{where}library: kind '{kind}' is not one of {', '.join(KINDS)}")
        return cls(name, normalize(str(data.get("name", ""))), normalize(str(data.get("province", ""))),
                   kind)


def libraries_of(sources: Iterable[Any]) -> dict[str, Library]:
    """Provider name → :class:`Library` for the harvest's sources
    (:class:`thuvien_interop.oai.harvest_sources.Source`: ``name`` and ``library``)."""
    return {s.name: Library.from_dict(s.name, s.library) for s in sources}


@dataclass(frozen=True, slots=True)
class Holding:
    """One place in one library where a record's copies are."""

    library: Library
    record: str
    branch: str = ""
    location: str = ""
    call_number: str = ""
    copies: int | None = None
    """How many copies the item data counts; ``None`` when it does not say."""
    barcodes: tuple[str, ...] = field(default=(), compare=False)


_PLACE_CODES = frozenset("abcdefghijkmns")


def _subs(f: pymarc.Field, code: str) -> list[str]:
    return [normalize(v).strip() for c, v in f.subfields if c == code and v.strip()]


def _one(f: pymarc.Field, *codes: str) -> str:
    for code in codes:
        values = _subs(f, code)
        if values:
            return values[0]
    return ""


def _call_852(subs: Mapping[str, list[str]]) -> str:
    parts = [v for code in "khim" for v in subs.get(code, [])]
    return " ".join(parts) or " ".join(subs.get("j", []))


def _from_852(fields: list[pymarc.Field], record: str, library: Library) -> list[Holding]:
    merged: list[dict[str, list[str]]] = []
    if all(len(f.subfields) == 1 for f in fields):
        # The spreadsheet import: one column, one 852. Together they are one place.
        whole: dict[str, list[str]] = {}
        for f in fields:
            for code, value in f.subfields:
                if value.strip():
                    whole.setdefault(code, []).append(normalize(value).strip())
        merged.append(whole)
    else:
        for f in fields:
            subs: dict[str, list[str]] = {}
            for code, value in f.subfields:
                if value.strip():
                    subs.setdefault(code, []).append(normalize(value).strip())
            if merged and not (set(subs) & _PLACE_CODES):
                # copies only ($p, $t): they belong to the place before
                for code, values in subs.items():
                    merged[-1].setdefault(code, []).extend(values)
            else:
                merged.append(subs)
    out = []
    for subs in merged:
        barcodes = tuple(subs.get("p", []))
        copies = len(barcodes) or len(subs.get("t", [])) or None
        out.append(Holding(library, record, branch=(subs.get("b") or subs.get("a") or [""])[0],
                           location=(subs.get("c") or [""])[0], call_number=_call_852(subs),
                           copies=copies, barcodes=barcodes))
    return out


def _from_952(fields: list[pymarc.Field], record: str, library: Library) -> list[Holding]:
    places: dict[tuple[str, str, str], list[str]] = {}
    for f in fields:
        if any(v != "0" for v in _subs(f, "0") + _subs(f, "1")):
            continue   # withdrawn ($0) or lost ($1): 0 means neither
        key = (_one(f, "b", "a"), _one(f, "c"), _one(f, "o"))
        places.setdefault(key, []).append(_one(f, "p"))
    return [Holding(library, record, branch=b, location=c, call_number=o, copies=len(items),
                    barcodes=tuple(i for i in items if i))
            for (b, c, o), items in places.items()]


def holdings_of(marc: pymarc.Record, record: str, library: Library) -> list[Holding]:
    """The holdings one record's item data gives for its library; one bare holding
    (the library holds it) when it carries none."""
    fields = fields_of(marc)
    f852 = [f for f in fields if f.tag == "852"]
    f952 = [f for f in fields if f.tag == "952"]
    out = (_from_852(f852, record, library) if f852 else []) + (_from_952(f952, record, library)
                                                                 if f952 else [])
    return out or ([] if f952 else [Holding(library, record)])


def record_holdings(record: Record, libraries: Mapping[str, Library] | None = None,
                    default: Library | None = None) -> list[Holding]:
    """The holdings of a stored record: its provider's :class:`Library` (from
    ``libraries`` by provider name; ``default`` in a single library's store)."""
    marc = record_marc(record)
    if marc is None:
        return []
    return holdings_of(marc, record.identifier, _library_of(provider_of(record), libraries, default))


def _library_of(name: str, libraries: Mapping[str, Library] | None, default: Library | None) -> Library:
    library = (libraries or {}).get(name) if name else None
    if library is None:
        library = default if (default is not None and not name) else Library(name or "local")
    return library


def _code(value: str, source: str) -> str:
    """ISO 20775's codeOrIdentifier: a value and where it comes from."""
    return (f"<value>{xml.xml_text(value)}</value>"
            f"<typeOrSource><text>{xml.xml_text(source)}</text></typeOrSource>")


def iso20775(holdings: Iterable[Holding]) -> str:
    """Holdings as an ISO 20775 ``<holdings>`` document (namespace
    :data:`thuvien_interop.xml.ISO20775`), one ``<holding>`` a library and place:

    * ``institutionIdentifier``: the provider name (the harvest's ``source:<name>``
      set); ``physicalLocation``: the name people know; ``physicalAddress``: the
      province;
    * with copies' numbers (852 $p, 952 $p): ``holdingSimple`` — ``copiesCount``,
      one ``pieceIdentifier`` a copy, the branch and shelving location as
      ``sublocation``, the call number as ``shelfLocator``;
    * without: ``holdingStructured`` with one ``set`` of the place (branch and
      location as its one ``sublocation``) and call number, since a
      ``copyInformation`` must name at least one piece.

    >>> lib = Library("krongpac", "Thư viện huyện Krông Pắc", "Đắk Lắk", "public")
    >>> out = iso20775([Holding(lib, "oai:krongpac:1", call_number="895.9 Đ406G")])
    >>> out[:103]
    '<holdings xmlns="info:ofi/fmt:xml:xsd:iso20775"><holding><institutionIdentifier><value>krongpac</value>'
    >>> out[-111:]
    '<holdingStructured><set><shelfLocator>895.9 Đ406G</shelfLocator></set></holdingStructured></holding></holdings>'
    """
    t = xml.xml_text
    out = [f'<holdings xmlns="{xml.ISO20775}">']
    for h in holdings:
        lib = h.library
        out.append(f"<holding><institutionIdentifier>{_code(lib.name, 'provider')}</institutionIdentifier>"
                   f"<physicalLocation>{t(lib.label)}</physicalLocation>")
        if lib.province:
            out.append(f"<physicalAddress><text>{t(lib.province)}</text></physicalAddress>")
        shelf = f"<shelfLocator>{t(h.call_number)}</shelfLocator>" if h.call_number else ""
        if h.barcodes:
            places = "".join(f"<sublocation>{t(p)}</sublocation>" for p in (h.branch, h.location) if p)
            pieces = "".join(f"<pieceIdentifier>{_code(b, 'barcode')}</pieceIdentifier>" for b in h.barcodes)
            out.append(f"<holdingSimple><copiesSummary><copiesCount>{h.copies or len(h.barcodes)}"
                       f"</copiesCount></copiesSummary><copyInformation>{pieces}{places}{shelf}"
                       "</copyInformation></holdingSimple>")
        else:
            place = ", ".join(p for p in (h.branch, h.location) if p)
            place = f"<sublocation>{t(place)}</sublocation>" if place else ""
            out.append(f"<holdingStructured><set>{place}{shelf}</set></holdingStructured>")
        out.append("</holding>")
    out.append("</holdings>")
    return "".join(out)


def holdings_writer(libraries: Mapping[str, Library] | None = None,
                    default: Library | None = None) -> Callable[[Header, bytes], str]:
    """What SRU's ``holdings`` record schema writes for a record: its header (whose
    ``source:`` set names its provider) and its MARCXML → :func:`iso20775` of the
    holdings its item data gives (``default``: a single library's own)."""

    def write(header: Header, marcxml: bytes) -> str:
        library = _library_of(provider_of(header), libraries, default)
        return iso20775(holdings_of(parse_marcxml_record(marcxml), header.identifier, library))

    return write


def cluster_holdings(holdings: Iterable[Iterable[Holding]], province: str | None = None) -> list[Holding]:
    """The union of a cluster's records' holdings, one row per library and place;
    libraries of the reader's ``province`` first, then by library name."""
    seen: dict[tuple, Holding] = {}
    for group in holdings:
        for h in group:
            key = (h.library.name, fold(h.branch), fold(h.location), fold(h.call_number))
            if key in seen:
                old = seen[key]
                copies = None if old.copies is None and h.copies is None else (old.copies or 0) + (h.copies or 0)
                seen[key] = Holding(old.library, old.record, old.branch, old.location,
                                    old.call_number, copies, old.barcodes + h.barcodes)
            else:
                seen[key] = h
    near = fold(province) if province else None

    def order(h: Holding) -> tuple:
        return (near is not None and fold(h.library.province) != near, fold(h.library.label),
                fold(h.branch), fold(h.location), fold(h.call_number))

    return sorted(seen.values(), key=order)
