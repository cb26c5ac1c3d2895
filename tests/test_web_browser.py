"""The HTML view in a real browser: headless Chromium (Debian's ``chromium``)
opens the base URL like a librarian would; the page is rendered on the server,
so no XSLT runs and no deprecation banner shows."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import live_server
from lxml import etree
from oai_fixtures import fill

from thuvien_interop.oai import ProviderConfig
from thuvien_interop.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str, profile) -> str:
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={profile}", "--lang=vi", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'b.db'}")
    fill(store)
    with live_server(create_app(store, ProviderConfig(page_size=7))) as url:
        yield url + "/oai"
    store.close()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_chromium_shows_records_as_a_page_not_xml(root, tmp_path):
    dom = dump_dom(root + "?verb=ListRecords&metadataPrefix=oai_dc", tmp_path / "profile")
    html = etree.HTML(dom)
    titles = [t.text for t in html.xpath("//div[@class='record-title']")]
    assert titles[0] == "Nhật ký trong tù (tập 1)" and len(titles) == 7
    assert html.xpath("//a[@id='raw-xml']/@href")[0].startswith(root + "/xml?")
    assert html.xpath("//a[@id='next-page']/@href")
    assert "XSLT" not in dom and "This XML file does not appear" not in dom
    assert "Biểu ghi" in dom and "Records" in dom

    dom = dump_dom(root + "?verb=ListSets", tmp_path / "profile")
    assert "Văn học — Literature" in dom
    dom = dump_dom(root + "?verb=GetRecord&identifier=nope", tmp_path / "profile")
    assert "badArgument" in dom and "Lỗi" in dom
