"""Identify's sampleIdentifier is a record a harvester can fetch: a union whose records
keep their providers' identifiers does not advertise a made-up oai:<union>:1."""

from __future__ import annotations

import requests
from conftest import live_server
from lxml import etree

from thuvien_interop.model import Record
from thuvien_interop.oai import ProviderConfig
from thuvien_interop.web import create_app

NS = {"o": "http://www.openarchives.org/OAI/2.0/",
      "id": "http://www.openarchives.org/OAI/2.0/oai-identifier"}
DC = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></oai_dc:dc>')


def record(identifier: str) -> Record:
    return Record(identifier, b"<r/>", "marc21", rendered={"oai_dc": DC.format(identifier).encode()})


def identify(store, **config) -> tuple[etree._Element, str]:
    with live_server(create_app(store, ProviderConfig(**config))) as root:
        doc = etree.fromstring(requests.get(f"{root}/oai?verb=Identify", timeout=30).content)
        samples = doc.xpath("//id:sampleIdentifier/text()", namespaces=NS)
        fetched = [requests.get(f"{root}/oai", params={"verb": "GetRecord", "identifier": s,
                                                       "metadataPrefix": "oai_dc"}, timeout=30)
                   for s in samples]
    errors = [etree.fromstring(r.content).xpath("//o:error/@code", namespaces=NS) for r in fetched]
    assert errors == [[]] * len(samples), f"a sampleIdentifier that does not exist: {samples}"
    return doc, samples[0] if samples else None


def test_a_union_of_harvested_records_advertises_no_identifier_it_does_not_hold(store):
    store.write([record(f"oai:thuviendaklak.vn:{n}") for n in range(5)]
                + [record(f"oai:thuvien.hue.vn:{n}") for n in range(5)], now=1_700_000_000)
    doc, sample = identify(store, repository_identifier="nlv.gov.vn")
    assert sample is None
    assert "oai:nlv.gov.vn:1" not in etree.tostring(doc, encoding="unicode")


def test_a_union_with_records_of_its_own_samples_one_of_them(store):
    store.write([record(f"oai:thuviendaklak.vn:{n}") for n in range(5)], now=1_700_000_000)
    store.write([record("oai:nlv.gov.vn:VN-0042")], now=1_700_000_100)
    _, sample = identify(store, repository_identifier="nlv.gov.vn")
    assert sample == "oai:nlv.gov.vn:VN-0042"


def test_a_library_samples_its_first_record(sample_store):
    _, sample = identify(sample_store, repository_identifier="thuvien-interop.vn")
    assert sample == "oai:thuvien-interop.vn:VN-TV-000001"


def test_an_empty_repository_samples_its_scheme(store):
    doc = etree.fromstring(create_app(store, ProviderConfig(repository_identifier="a.vn"))
                           .test_client().get("/oai?verb=Identify").data)
    assert doc.xpath("//id:sampleIdentifier/text()", namespaces=NS) == ["oai:a.vn:1"]
