"""Being found: schema.org JSON-LD on a record page, the sitemap of record pages,
the OpenSearch description browsers add the catalogue from.

Framework-free like the pages: values in, text out.

    >>> doc = json.loads(record_jsonld(_example(), "https://lib.example/record/oai:x:1",
    ...                                _example_holdings()))
    >>> doc["@type"], doc["offers"][0]["offeredBy"]["@type"]
    ('Book', 'Library')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from urllib.parse import quote

import pymarc

from ..crosswalk.dc import chop_for_reading
from ..crosswalk.text import normalize, xml_text
from ..union.facts import facts_from_marc
from ..union.holdings import Holding, Library

__all__ = ["SCHEMA_TYPES", "SITEMAP_URLS", "opensearch_description", "record_jsonld", "sitemap",
           "sitemap_index"]

#: The schema.org type of each kind of record (union.facts' format).
SCHEMA_TYPES: dict[str, str] = {
    "book": "Book", "ebook": "Book", "serial": "Periodical", "eserial": "Periodical",
    "article": "ScholarlyArticle", "manuscript": "Manuscript", "map": "Map",
    "score": "MusicComposition", "sound": "AudioObject", "music": "MusicRecording",
    "video": "VideoObject", "picture": "VisualArtwork", "software": "SoftwareApplication",
    "kit": "CreativeWork", "mixed": "Collection", "object": "CreativeWork", "unknown": "CreativeWork",
}

SITEMAP_URLS = 50_000
"""At most this many addresses a sitemap file (sitemaps.org protocol)."""

_SCHEMA = "https://schema.org/"


def _subs(f: pymarc.Field, codes: str) -> list[str]:
    return [chop_for_reading(normalize(sf.value))
            for sf in f.subfields if sf.code in codes and sf.value.strip()]


def _person(name: str, tag: str) -> dict:
    return {"@type": "Person" if tag.endswith("00") else "Organization", "name": name}


def record_jsonld(marc: pymarc.Record, url: str, holdings: Sequence[Holding] = (), *,
                  editions: Iterable[str] = ()) -> str:
    """The schema.org description of a record's page as JSON-LD: the work (its
    type from the record's format), and each holding as an ``Offer`` of a
    ``Library`` (lending, free) at its location with its call number as ``sku``
    — the shape bib.schema.org proposes for library holdings. ``editions``: the
    addresses of other editions' pages (``workExample``)."""
    facts = facts_from_marc(marc, url)
    fields = marc.fields
    f245 = next((f for f in fields if f.tag == "245"), None)
    name = " ".join(_subs(f245, "abnp")) if f245 is not None else ""
    doc: dict = {"@context": "https://schema.org", "@type": SCHEMA_TYPES.get(facts.format, "CreativeWork"),
                 "@id": url, "url": url, "name": name or facts.title or url}
    authors = [_person(" ".join(_subs(f, "abcdq")), f.tag) for f in fields if f.tag in ("100", "110", "111")]
    others = [_person(" ".join(_subs(f, "abcdq")), f.tag) for f in fields if f.tag in ("700", "710", "711")]
    if authors:
        doc["author"] = authors if len(authors) > 1 else authors[0]
    if others:
        doc["contributor"] = others
    if facts.year:
        doc["datePublished"] = str(facts.year)
    publishers = [p for f in fields if f.tag in ("260", "264") for p in _subs(f, "b")]
    if publishers:
        doc["publisher"] = {"@type": "Organization", "name": publishers[0]}
    isbns = [v.split()[0] for f in fields if f.tag == "020" for v in _subs(f, "a") if v]
    if isbns and doc["@type"] == "Book":
        doc["isbn"] = isbns if len(isbns) > 1 else isbns[0]
    issns = [v for f in fields if f.tag == "022" for v in _subs(f, "a")]
    if issns and doc["@type"] == "Periodical":
        doc["issn"] = issns[0]
    f008 = next((f.data or "" for f in fields if f.tag == "008"), "")
    if len(f008) >= 38 and f008[35:38].strip(" |"):
        doc["inLanguage"] = f008[35:38]
    edition = [e for f in fields if f.tag == "250" for e in _subs(f, "a")]
    if edition and doc["@type"] == "Book":
        doc["bookEdition"] = edition[0]
    subjects = [" – ".join(_subs(f, "abcdvxyz")) for f in fields
                if f.tag in ("600", "610", "611", "630", "650", "651", "653")]
    if subjects:
        doc["about"] = [{"@type": "Thing", "name": s} for s in dict.fromkeys(subjects) if s]
    summary = [s for f in fields if f.tag == "520" for s in _subs(f, "a")]
    if summary:
        doc["description"] = summary[0]
    extent = [p for f in fields if f.tag == "300" for p in _subs(f, "a")]
    pages = next((int(w) for e in extent for w in e.replace(",", " ").split() if w.isdigit()), None)
    if pages and doc["@type"] == "Book":
        doc["numberOfPages"] = pages
    editions = list(editions)
    if editions:
        doc["workExample"] = [{"@id": e} for e in editions]
    offers = [_offer(h) for h in holdings]
    if offers:
        doc["offers"] = offers
    # "</script>" inside a value must not end the script element.
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _library(lib: Library) -> dict:
    out: dict = {"@type": "Library", "name": lib.label}
    if lib.province:
        out["address"] = {"@type": "PostalAddress", "addressRegion": lib.province, "addressCountry": "VN"}
    return out


def _offer(h: Holding) -> dict:
    offer: dict = {"@type": "Offer", "offeredBy": _library(h.library),
                   "businessFunction": "http://purl.org/goodrelations/v1#LeaseOut",
                   "price": 0, "priceCurrency": "VND", "availability": _SCHEMA + "InStock"}
    place = ", ".join(p for p in (h.branch, h.location) if p)
    if place:
        offer["availableAtOrFrom"] = {"@type": "Place", "name": place}
    if h.call_number:
        offer["sku"] = h.call_number
    if h.copies is not None:
        offer["inventoryLevel"] = {"@type": "QuantitativeValue", "value": h.copies}
    return offer


# -- sitemaps -----------------------------------------------------------------------------

def record_url(root: str, identifier: str) -> str:
    """The page of a record (its permanent address)."""
    return f"{root}/record/{quote(identifier, safe=':/')}"


def sitemap(entries: Iterable[tuple[str, str]]) -> bytes:
    """A sitemaps.org ``urlset`` of (address, lastmod) pairs."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    parts += [f"<url><loc>{xml_text(loc)}</loc><lastmod>{lastmod}</lastmod></url>" for loc, lastmod in entries]
    parts.append("</urlset>\n")
    return "".join(parts).encode("utf-8")


def sitemap_index(pages: Iterable[str]) -> bytes:
    """A sitemaps.org ``sitemapindex`` of sitemap addresses."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    parts += [f"<sitemap><loc>{xml_text(loc)}</loc></sitemap>" for loc in pages]
    parts.append("</sitemapindex>\n")
    return "".join(parts).encode("utf-8")


# -- OpenSearch -----------------------------------------------------------------------------

def opensearch_description(root: str, title: str, description: str, language: str = "vi") -> bytes:
    """The OpenSearch 1.1 description document: the search page for browsers,
    SRU 2.0 (``queryType=searchTerms``) for programs that read it."""
    short = title if len(title) <= 16 else title[:15].rstrip() + "…"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">'
        f"<ShortName>{xml_text(short)}</ShortName>"
        f"<LongName>{xml_text(title[:48])}</LongName>"
        f"<Description>{xml_text(description[:1024])}</Description>"
        f'<Url type="text/html" method="get" template="{xml_text(root)}/?q={{searchTerms}}"/>'
        f'<Url type="application/sru+xml" method="get" template="{xml_text(root)}/sru?'
        'queryType=searchTerms&amp;query={searchTerms}"/>'
        f'<Url type="application/opensearchdescription+xml" rel="self" template="{xml_text(root)}/opensearch.xml"/>'
        f"<Language>{xml_text(language)}</Language>"
        "<InputEncoding>UTF-8</InputEncoding><OutputEncoding>UTF-8</OutputEncoding>"
        "</OpenSearchDescription>\n").encode()


def _example() -> pymarc.Record:
    r = pymarc.Record(force_utf8=True)
    r.leader = "00000nam a22000007a 4500"
    r.add_field(pymarc.Field("245", ["0", "0"], [pymarc.Subfield("a", "Tiếng Việt 1")]))
    return r


def _example_holdings() -> list[Holding]:
    return [Holding(Library("x", "Thư viện X", "Đắk Lắk", "school"), "oai:x:1", call_number="372.6")]

