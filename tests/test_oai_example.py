"""examples/oai_from_list.py: a developer's own Flask app serving OAI-PMH from a
plain Python list through the blueprint, harvested over real HTTP."""

from __future__ import annotations

import runpy

from conftest import ROOT, live_server

EXAMPLE = ROOT / "examples" / "oai_from_list.py"


def test_example_is_short():
    assert len(EXAMPLE.read_text(encoding="utf-8").splitlines()) < 40


def test_example_app_is_harvestable(tmp_path):
    from sickle import Sickle

    app = runpy.run_path(str(EXAMPLE))["create_app"]()
    with live_server(app) as root:
        sickle = Sickle(root + "/catalogue/oai")
        assert "<repositoryIdentifier>example.vn</repositoryIdentifier>" in sickle.Identify().raw
        titles = {r.header.identifier: r.metadata["title"][0]
                  for r in sickle.ListRecords(metadataPrefix="oai_dc")}
        assert titles == {"oai:example.vn:1": "Truyện Kiều", "oai:example.vn:2": "Số đỏ",
                          "oai:example.vn:3": "Tắt đèn"}
        novels = [h.identifier for h in sickle.ListIdentifiers(metadataPrefix="oai_dc", set="tieu-thuyet")]
        assert novels == ["oai:example.vn:2", "oai:example.vn:3"]
        formats = [f.metadataPrefix for f in sickle.ListMetadataFormats()]
        assert formats == ["oai_dc"]
