"""The OAI-PMH 2.0 engine, verb by verb, argument by argument, error by error.

The engine is called without HTTP (``Provider.handle``), over a real SQLite file;
every response is validated against the published schemas in xsd/.
"""

from __future__ import annotations

import re

import pytest
from conftest import schema
from lxml import etree
from oai_fixtures import REPO_ID, T1, T2, T3, fill, identifier, marc

from thuvien_interop import dates
from thuvien_interop.formats import default_registry
from thuvien_interop.ingest.loader import build_record
from thuvien_interop.model import MetadataFormat, Record
from thuvien_interop.oai import Provider, ProviderConfig
from thuvien_interop.oai.tokens import ResumptionState, TokenCodec

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
      "m": "http://www.loc.gov/MARC21/slim",
      "id": "http://www.openarchives.org/OAI/2.0/oai-identifier",
      "fr": "http://www.openarchives.org/OAI/2.0/friends/",
      "br": "http://www.openarchives.org/OAI/2.0/branding/"}
BASE = "http://127.0.0.1:8000/oai"
NOW = T3 + 86400


@pytest.fixture
def catalogue(store):
    fill(store)
    return store


def make(store, **config) -> Provider:
    config.setdefault("page_size", 7)
    return Provider(store, ProviderConfig(**config), clock=lambda: NOW)


@pytest.fixture
def oai(catalogue):
    return make(catalogue)


def ask(provider: Provider, query: str | list[tuple[str, str]]) -> etree._Element:
    """Send a request, validate the response against OAI-PMH.xsd (and the
    metadata schemas it imports), return the parsed document."""
    params = query if isinstance(query, list) else [
        tuple(p.split("=", 1)) for p in query.split("&") if p]  # type: ignore[misc]
    xml = provider.handle(params, BASE)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    errors = list(schema("OAI-PMH.xsd").iter_errors(xml.decode("utf-8")))
    assert not errors, str(errors[0])
    return etree.fromstring(xml)


def codes(doc) -> list[str]:
    return sorted(e.get("code") for e in doc.findall("o:error", NS))


def request_attrs(doc) -> dict[str, str]:
    return dict(doc.find("o:request", NS).attrib)


def identifiers(doc) -> list[str]:
    return [e.text for e in doc.iterfind(".//o:header/o:identifier", NS)]


# -- Identify -----------------------------------------------------------------------
def test_identify_describes_the_repository(catalogue):
    p = make(catalogue, admin_emails=["thuvien@daklak.gov.vn", "it@daklak.gov.vn"],
             friends=["http://thuvien.hue.vn/oai"],
             branding={"logo": "http://thuviendaklak.vn/logo.png", "url": "http://thuviendaklak.vn",
                       "title": "Thư viện tỉnh Đắk Lắk", "width": 88, "height": 31,
                       "renderings": [{"url": "http://thuviendaklak.vn/dc.xsl"}]})
    doc = ask(p, "verb=Identify")
    idf = doc.find("o:Identify", NS)
    assert idf.findtext("o:baseURL", namespaces=NS) == BASE
    assert idf.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert [e.text for e in idf.findall("o:adminEmail", NS)] == ["thuvien@daklak.gov.vn", "it@daklak.gov.vn"]
    assert idf.findtext("o:earliestDatestamp", namespaces=NS) == dates.format_utc(T1)
    assert idf.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert idf.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert [e.text for e in idf.findall("o:compression", NS)] == ["gzip", "deflate"]
    assert request_attrs(doc) == {"verb": "Identify"}


def test_identify_descriptions_have_the_published_structure(catalogue):
    # oai-identifier.xsd, friends.xsd and branding.xsd are not bundled in xsd/, and
    # xmlschema skips elements of namespaces it has no schema for: check by hand.
    p = make(catalogue, friends=["http://thuvien.hue.vn/oai", "http://thuvien.hcm.vn/oai"],
             branding={"logo": "http://a.vn/logo.png", "url": "http://a.vn", "title": "A",
                       "width": 88, "height": 31,
                       "renderings": [{"namespace": "http://www.openarchives.org/OAI/2.0/oai_dc/",
                                       "mime_type": "text/xsl", "url": "http://a.vn/dc.xsl"}]})
    doc = ask(p, "verb=Identify")
    descs = doc.findall("o:Identify/o:description", NS)
    assert [etree.QName(d[0]).localname for d in descs] == ["oai-identifier", "friends", "branding"]
    oid = descs[0][0]
    assert [etree.QName(c).localname for c in oid] == [
        "scheme", "repositoryIdentifier", "delimiter", "sampleIdentifier"]
    assert oid.findtext("id:scheme", namespaces=NS) == "oai"
    repo = oid.findtext("id:repositoryIdentifier", namespaces=NS)
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]+)+", repo)
    assert oid.findtext("id:delimiter", namespaces=NS) == ":"
    sample = oid.findtext("id:sampleIdentifier", namespaces=NS)
    assert re.fullmatch(r"oai:[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]+)+:"
                        r"[a-zA-Z0-9\-_\.!~\*'\(\);/\?:@&=\+$,%]+", sample)
    assert sample.startswith(f"oai:{repo}:")
    assert ask(p, f"verb=GetRecord&identifier={sample}&metadataPrefix=oai_dc").find("o:GetRecord", NS) is not None
    friends = descs[1][0]
    assert [e.text for e in friends.findall("fr:baseURL", NS)] == [
        "http://thuvien.hue.vn/oai", "http://thuvien.hcm.vn/oai"]
    br = descs[2][0]
    icon = br.find("br:collectionIcon", NS)
    assert [etree.QName(c).localname for c in icon] == ["url", "link", "title", "width", "height"]
    assert icon.findtext("br:url", namespaces=NS) == "http://a.vn/logo.png"
    rendering = br.find("br:metadataRendering", NS)
    assert rendering.get("mimeType") == "text/xsl" and rendering.text == "http://a.vn/dc.xsl"
    for d in descs:
        loc = d[0].get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
        ns, xsd = loc.split()
        assert ns == etree.QName(d[0]).namespace and xsd.startswith("http://www.openarchives.org/OAI/2.0/")


def test_identify_of_an_empty_repository_is_valid(store):
    doc = ask(make(store), "verb=Identify")
    assert doc.find("o:Identify/o:earliestDatestamp", NS).text == dates.format_utc(NOW)


# -- badVerb / badArgument: the argument table ----------------------------------------
@pytest.mark.parametrize("query", ["", "verb=Nonsense", "verb=Identify&verb=Identify",
                                   "verb=listrecords&metadataPrefix=oai_dc"])
def test_missing_illegal_or_repeated_verb_is_badVerb(oai, query):
    doc = ask(oai, query)
    assert codes(doc) == ["badVerb"]
    assert request_attrs(doc) == {}, "§3.2: no attributes after badVerb"


@pytest.mark.parametrize("query", [
    "verb=Identify&extra=1",
    "verb=GetRecord&metadataPrefix=oai_dc",
    "verb=GetRecord&identifier=oai:thuvien-interop.vn:tv0001",
    "verb=ListRecords",
    "verb=ListIdentifiers&set=type",
    "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=marc21",
    "verb=ListRecords&metadataPrefix=oai_dc&from=junk",
    "verb=ListRecords&metadataPrefix=oai_dc&until=2024-02-30",
    "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01T00:00:00",
    "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01&until=2024-02-01T00:00:00Z",
    "verb=ListRecords&metadataPrefix=oai_dc&from=2024-03-01&until=2024-02-01",
    "verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=abc",
    "verb=ListIdentifiers&resumptionToken=abc&until=2000-02-05",
    "verb=ListSets&resumptionToken=abc&set=type",
    "verb=ListMetadataFormats&metadataPrefix=oai_dc",
    "verb=GetRecord&identifier=invalid\"id&metadataPrefix=oai_dc",
    "verb=ListRecords&metadataPrefix=oai dc",
    "verb=ListRecords&metadataPrefix=oai_dc&set=not a set",
])
def test_bad_arguments_are_badArgument_without_request_echo(oai, query):
    doc = ask(oai, query)
    assert "badArgument" in codes(doc)
    assert request_attrs(doc) == {}, "§3.2: no attributes after badArgument"
    assert all(e.text for e in doc.findall("o:error", NS)), "every error says why"


def test_several_errors_in_one_response(oai):
    doc = ask(oai, "verb=ListRecords&metadataPrefix=nope&from=junk&until=also-junk&bogus=1")
    assert codes(doc) == ["badArgument", "badArgument", "badArgument", "cannotDisseminateFormat"]


def test_finer_granularity_than_the_repository_is_badArgument(catalogue):
    p = make(catalogue, granularity="YYYY-MM-DD")
    assert ask(p, "verb=Identify").findtext("o:Identify/o:granularity", namespaces=NS) == "YYYY-MM-DD"
    assert codes(ask(p, "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01T00:00:00Z")) == ["badArgument"]
    doc = ask(p, "verb=ListIdentifiers&metadataPrefix=oai_dc&from=2024-03-05&until=2024-03-05")
    assert doc.findtext(".//o:datestamp", namespaces=NS) == "2024-03-05"


# -- the other errors -------------------------------------------------------------------
def test_unknown_format_is_cannotDisseminateFormat_with_echo(oai):
    doc = ask(oai, "verb=ListRecords&metadataPrefix=dublin")
    assert codes(doc) == ["cannotDisseminateFormat"]
    assert request_attrs(doc) == {"verb": "ListRecords", "metadataPrefix": "dublin"}


def test_unknown_identifier_is_idDoesNotExist(oai):
    for q in ("verb=GetRecord&identifier=oai:thuvien-interop.vn:none&metadataPrefix=oai_dc",
              "verb=ListMetadataFormats&identifier=oai:thuvien-interop.vn:none"):
        doc = ask(oai, q)
        assert codes(doc) == ["idDoesNotExist"]
        assert request_attrs(doc)["identifier"] == "oai:thuvien-interop.vn:none"


def test_until_before_earliest_is_noRecordsMatch(oai):
    assert codes(ask(oai, "verb=ListRecords&metadataPrefix=oai_dc&until=2023-01-01")) == ["noRecordsMatch"]
    assert codes(ask(oai, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=nowhere")) == ["noRecordsMatch"]


def test_repository_without_sets_is_noSetHierarchy(store):
    store.write([build_record(marc(1, "Truyện Kiều"), identifier(1), default_registry())], now=T1)
    p = make(store)
    assert codes(ask(p, "verb=ListSets")) == ["noSetHierarchy"]
    assert codes(ask(p, "verb=ListRecords&metadataPrefix=oai_dc&set=type")) == ["noSetHierarchy"]


def test_deleted_record_has_noMetadataFormats(oai):
    assert codes(ask(oai, f"verb=ListMetadataFormats&identifier={identifier(0)}")) == ["noMetadataFormats"]


# -- formats -------------------------------------------------------------------------
def test_list_metadata_formats(oai):
    doc = ask(oai, "verb=ListMetadataFormats")
    assert [e.text for e in doc.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc", "marc21", "mods"]


def test_list_metadata_formats_of_one_record_lists_what_it_has(catalogue):
    rec = build_record(marc(99, "Số đỏ"), identifier(99), default_registry())
    rec.rendered = {"oai_dc": rec.rendered["oai_dc"]}
    catalogue.write([rec], now=T2)
    p = make(catalogue)
    doc = ask(p, f"verb=ListMetadataFormats&identifier={identifier(99)}")
    assert [e.text for e in doc.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc"]
    assert codes(ask(p, f"verb=GetRecord&identifier={identifier(99)}&metadataPrefix=marc21")) == [
        "cannotDisseminateFormat"]


def test_a_developer_registers_their_own_format(store):
    registry = default_registry()
    fmt = MetadataFormat("vn_simple", "http://www.w3.org/2001/XMLSchema.xsd", "https://thuvien.example.vn/ns")
    registry.register(fmt, lambda src: b'<t xmlns="https://thuvien.example.vn/ns">'
                      + src["245"]["a"].encode() + b"</t>")
    store.write([build_record(marc(1, "Truyện Kiều"), identifier(1), registry)], now=T1)
    p = Provider(store, ProviderConfig(), registry, clock=lambda: NOW)
    assert "vn_simple" in [e.text for e in ask(p, "verb=ListMetadataFormats").iterfind(".//o:metadataPrefix", NS)]
    xml = p.handle([("verb", "GetRecord"), ("identifier", identifier(1)), ("metadataPrefix", "vn_simple")])
    assert '<metadata><t xmlns="https://thuvien.example.vn/ns">Truyện Kiều /</t></metadata>'.encode() in xml


# -- records, headers, deletions --------------------------------------------------------
def test_get_record_in_oai_dc_and_marc21_keeps_vietnamese_text(oai):
    doc = ask(oai, f"verb=GetRecord&identifier={identifier(3)}&metadataPrefix=oai_dc")
    assert doc.findtext(".//dc:title", namespaces=NS).startswith("Dế Mèn phiêu lưu ký")
    assert request_attrs(doc) == {"verb": "GetRecord", "identifier": identifier(3), "metadataPrefix": "oai_dc"}
    doc = ask(oai, f"verb=GetRecord&identifier={identifier(3)}&metadataPrefix=marc21")
    assert doc.find(".//m:datafield[@tag='852']/m:subfield[@code='b']", NS).text == "Chi nhánh Krông Pắc"


def test_deleted_record_keeps_header_and_sets_without_metadata(oai):
    doc = ask(oai, f"verb=GetRecord&identifier={identifier(0)}&metadataPrefix=oai_dc")
    header = doc.find(".//o:header", NS)
    assert header.get("status") == "deleted"
    assert header.findtext("o:datestamp", namespaces=NS) == dates.format_utc(T3)
    assert "library:tvt-dlk:chi-nhanh-buon-ho" in [s.text for s in header.findall("o:setSpec", NS)]
    assert doc.find(".//o:metadata", NS) is None
    # A selective harvester of the set sees it go.
    doc = ask(oai, "verb=ListRecords&metadataPrefix=marc21&set=library:tvt-dlk:chi-nhanh-buon-ho"
                   f"&from={dates.format_utc(T3)}")
    assert identifiers(doc) == [identifier(0)]
    assert doc.find(".//o:header", NS).get("status") == "deleted"


def test_from_until_select_by_datestamp(oai):
    doc = ask(oai, "verb=ListIdentifiers&metadataPrefix=oai_dc&from=2024-03-05&until=2024-03-05")
    assert identifiers(doc) == [identifier(i) for i in range(20, 25)]
    doc = ask(oai, f"verb=ListIdentifiers&metadataPrefix=oai_dc&from={dates.format_utc(T2 + 1)}")
    assert identifiers(doc) == [identifier(0)]


# -- sets ------------------------------------------------------------------------------
def test_list_sets_names_and_describes_every_level(oai):
    specs, names = [], {}
    doc = ask(oai, "verb=ListSets")
    while True:
        for s in doc.iterfind(".//o:set", NS):
            specs.append(s.findtext("o:setSpec", namespaces=NS))
            names[specs[-1]] = s.findtext("o:setName", namespaces=NS)
            assert s.find("o:setDescription/oai_dc:dc/dc:description", NS).text
        token = doc.findtext(".//o:resumptionToken", namespaces=NS)
        if not token:
            break
        doc = ask(oai, [("verb", "ListSets"), ("resumptionToken", token)])
    assert specs == sorted(specs) and len(specs) == len(set(specs))
    assert {"ddc", "ddc:3", "ddc:3:30", "ddc:3:30:305", "ddc:8:89:895", "library", "library:tvt-dlk",
            "library:tvt-dlk:chi-nhanh-buon-ho", "type", "type:book", "type:serial"} <= set(specs)
    assert names["ddc:8"] == "Văn học — Literature"
    assert names["type:serial"] == "Ấn phẩm định kỳ — Serials"
    assert "Chi nhánh Krông Pắc" in names["library:tvt-dlk:chi-nhanh-krong-pac"]


def test_membership_in_a_child_set_implies_the_parent(oai):
    def harvest(query):
        doc, out = ask(oai, query), []
        while True:
            out += identifiers(doc)
            token = doc.findtext(".//o:resumptionToken", namespaces=NS)
            if not token:
                return out
            doc = ask(oai, [("verb", "ListIdentifiers"), ("resumptionToken", token)])

    child = harvest("verb=ListIdentifiers&metadataPrefix=oai_dc&set=ddc:3:30:305")
    parent = harvest("verb=ListIdentifiers&metadataPrefix=oai_dc&set=ddc:3")
    assert child == parent == [identifier(i) for i in range(20, 25)]
    everything = harvest("verb=ListIdentifiers&metadataPrefix=oai_dc&set=library")
    assert sorted(everything) == sorted(identifier(i) for i in range(25))


# -- flow control --------------------------------------------------------------------------
def harvest_all(p: Provider, verb: str, prefix: str, **extra) -> tuple[list[str], list[etree._Element]]:
    docs = [ask(p, [("verb", verb), ("metadataPrefix", prefix), *extra.items()])]
    while (token := docs[-1].findtext(".//o:resumptionToken", namespaces=NS)):
        docs.append(ask(p, [("verb", verb), ("resumptionToken", token)]))
    return [i for d in docs for i in identifiers(d)], docs


def test_complete_harvest_pages_with_cursor_size_and_expiry(oai):
    got, docs = harvest_all(oai, "ListRecords", "oai_dc")
    assert sorted(got) == sorted(identifier(i) for i in range(25)) and len(got) == 25
    assert len(docs) == 4  # 7 + 7 + 7 + 4
    for n, d in enumerate(docs):
        t = d.find(".//o:resumptionToken", NS)
        assert t.get("completeListSize") == "25" and t.get("cursor") == str(7 * n)
        if n < 3:
            expires = dates.parse_utc(t.get("expirationDate"))[0]
            assert expires - NOW >= 24 * 3600, "a token lives at least a day"
        else:
            assert not t.text and t.get("expirationDate") is None, "§3.5.1: the last token is empty"


def test_one_page_list_has_no_token(catalogue):
    doc = ask(make(catalogue, page_size=100), "verb=ListIdentifiers&metadataPrefix=oai_dc")
    assert len(identifiers(doc)) == 25 and doc.find(".//o:resumptionToken", NS) is None


def test_record_changed_mid_harvest_is_not_lost(catalogue):
    p = make(catalogue)
    first = ask(p, "verb=ListIdentifiers&metadataPrefix=oai_dc")
    seen = identifiers(first)
    # Record 20 (not yet harvested) changes: it moves to the end of the list.
    changed = build_record(marc(20, "Bỉ vỏ (bản mới)", serial=True, ddc="305.8"), identifier(20),
                           default_registry())
    catalogue.write([changed], now=T3 + 60)
    token = first.findtext(".//o:resumptionToken", namespaces=NS)
    while token:
        doc = ask(p, [("verb", "ListIdentifiers"), ("resumptionToken", token)])
        seen += identifiers(doc)
        token = doc.findtext(".//o:resumptionToken", namespaces=NS)
    assert set(seen) == {identifier(i) for i in range(25)}
    assert seen[-1] == identifier(20)


def test_forged_garbled_expired_and_foreign_tokens_are_badResumptionToken(oai, catalogue):
    token = ask(oai, "verb=ListRecords&metadataPrefix=oai_dc").findtext(".//o:resumptionToken", namespaces=NS)
    body, sig = token.split(".")
    state = ResumptionState("ListRecords", "oai_dc", None, None, None, (T1, 3), 7, 25, NOW + 3600)
    other = TokenCodec(b"someone else's secret").encode(state)
    expired = oai.tokens.encode(ResumptionState("ListRecords", "oai_dc", None, None, None, (T1, 3), 7,
                                                25, NOW - 1))
    bad = [token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature altered
           body[:-3] + "xyz." + sig,                                   # body altered
           "junk", ".", "a.b", "%%%.%%%", "Truyện.Kiều", token + token,
           other, expired]
    for t in bad:
        doc = ask(oai, [("verb", "ListRecords"), ("resumptionToken", t)])
        assert codes(doc) == ["badResumptionToken"], t
        assert request_attrs(doc) == {"verb": "ListRecords", "resumptionToken": t}
    doc = ask(oai, [("verb", "ListIdentifiers"), ("resumptionToken", token)])
    assert codes(doc) == ["badResumptionToken"], "a ListRecords token does not continue ListIdentifiers"


def test_tokens_survive_a_restart_and_other_workers(catalogue):
    # The secret lives in the store: a second provider (another worker) continues.
    token = ask(make(catalogue), "verb=ListRecords&metadataPrefix=marc21").findtext(
        ".//o:resumptionToken", namespaces=NS)
    doc = ask(make(catalogue), [("verb", "ListRecords"), ("resumptionToken", token)])
    assert len(identifiers(doc)) == 7


# -- valid XML, always --------------------------------------------------------------------
def test_forbidden_characters_never_make_ill_formed_xml(store):
    m = marc(1, "Truyện\x0b Kiều\x01")
    store.write([build_record(m, identifier(1), default_registry(), ["type:book"])], now=T1)
    store.write([Record("oai:thuvien-interop.vn:weird\x02", b"<r/>", "oai_dc", deleted=True)], now=T1)
    p = make(store)
    for prefix in ("oai_dc", "marc21", "mods"):
        ask(p, f"verb=ListRecords&metadataPrefix={prefix}")
    doc = ask(p, "verb=GetRecord&identifier=oai:thuvien-interop.vn:x\x01&metadataPrefix=oai_dc")
    assert codes(doc) == ["badArgument"]


def test_every_verb_answers_valid_xml(oai):
    for q in ("verb=Identify", "verb=ListSets", "verb=ListMetadataFormats",
              f"verb=ListMetadataFormats&identifier={identifier(2)}",
              "verb=ListIdentifiers&metadataPrefix=marc21", "verb=ListRecords&metadataPrefix=marc21",
              "verb=ListRecords&metadataPrefix=mods", "verb=ListRecords&metadataPrefix=oai_dc&set=type:serial",
              f"verb=GetRecord&identifier={identifier(5)}&metadataPrefix=mods"):
        doc = ask(oai, q)
        assert not codes(doc), q


def test_repository_identifier_default_is_a_domain():
    assert re.fullmatch(r"[a-z][a-z0-9\-]*(\.[a-z][a-z0-9\-]+)+", ProviderConfig().repository_identifier)
    assert ProviderConfig().repository_identifier == REPO_ID


def test_complete_list_size_is_counted_once_until_the_repository_changes(catalogue):
    counted = []
    real_count = catalogue.count

    def spy(q):
        counted.append(q)
        return real_count(q)

    catalogue.count = spy  # a spy on the real store: how often does a list get counted?
    p = Provider(catalogue, ProviderConfig(page_size=7))  # real clock: writes happen "now"
    size = lambda: ask(p, "verb=ListIdentifiers&metadataPrefix=oai_dc").find(  # noqa: E731
        ".//o:resumptionToken", NS).get("completeListSize")
    assert size() == "25" and size() == "25"
    assert len(counted) == 1
    catalogue.write([build_record(marc(77, "Số đỏ"), identifier(77), default_registry())])
    assert size() == "26" and len(counted) == 2
