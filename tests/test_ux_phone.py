"""The OAI-PMH pages on a phone (360 px wide), measured in a real headless Chromium:
no page is wider than the screen, and no label column squeezes the values into one
word a line. Skipped where Chromium is not installed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest
from conftest import live_server
from flask import Response, request

from thuvien_interop.web import create_app

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")

WIDTH = 360
PAGES = [
    "verb=Identify",
    "verb=ListRecords&metadataPrefix=oai_dc",
    "verb=ListRecords&metadataPrefix=marc21",
    "verb=ListSets",
    "verb=ListMetadataFormats",
    "verb=GetRecord&metadataPrefix=mods&identifier=oai:thuvien-interop.vn:VN-TV-000001",
    "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:thuvien-interop.vn:nothing",
]

# Each page in a 360 px frame of the same origin, measured once loaded: the widest
# element against the frame, and the narrowest value cell of a label/value table.
MEASURE = """<!DOCTYPE html><html><body style="margin:0">
<pre id="result">pending</pre>
<script>
const pages = %s, width = %d, out = {};
let left = pages.length;
for (const p of pages) {
  const f = document.createElement("iframe");
  f.style.cssText = `width:${width}px;height:800px;border:0;display:block`;
  f.onload = () => {
    const d = f.contentDocument;
    const cells = [...d.querySelectorAll("table.rows td")].map(td => td.getBoundingClientRect().width);
    const marc = [...d.querySelectorAll("table.marc td:last-child")].map(td => td.getBoundingClientRect().width);
    out[p] = {scroll: d.documentElement.scrollWidth, client: d.documentElement.clientWidth,
              value: cells.length ? Math.min(...cells) : null,
              marc: marc.length ? Math.min(...marc) : null,
              title: d.title, text: d.body.innerText.slice(0, 2000)};
    if (--left === 0) document.getElementById("result").textContent = JSON.stringify(out);
  };
  f.src = "/oai?" + p;
  document.body.appendChild(f);
}
</script></body></html>"""


def measure(sample_store) -> dict:
    app = create_app(sample_store)

    @app.route("/measure")
    def page() -> Response:
        return Response(MEASURE % (json.dumps(PAGES), WIDTH), content_type="text/html")

    with live_server(app) as root:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={WIDTH},800", "--virtual-time-budget=60000", "--dump-dom",
             f"{root}/measure"], capture_output=True, text=True, timeout=180).stdout
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found and found.group(1) != "pending", dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def test_every_oai_page_is_readable_at_360_px(sample_store):
    seen = measure(sample_store)
    assert set(seen) == set(PAGES)
    for page, m in seen.items():
        assert m["scroll"] <= m["client"] == WIDTH, f"{page} is {m['scroll']} px wide at {WIDTH} px"
        if m["value"] is not None:
            # The label above the value, the value the whole card: never a narrow column.
            assert m["value"] >= 0.75 * WIDTH, f"{page}: a value cell only {m['value']} px wide"
        if m["marc"] is not None:
            assert m["marc"] >= 0.55 * WIDTH, f"{page}: MARC values only {m['marc']} px wide"
    identify = seen["verb=Identify"]["text"]
    assert "Base URL" in identify and "Địa chỉ thu thập" in identify
    assert "baseURL" not in identify and "repositoryName" not in identify
    assert seen[PAGES[-1]]["title"].startswith("idDoesNotExist")


def test_the_measure_is_what_a_browser_is_sent(sample_store):
    """The frames are navigations: they get the HTML page, not the XML."""
    app = create_app(sample_store)
    kinds = []

    @app.after_request
    def kind(resp):
        if request.path == "/oai":
            kinds.append(resp.content_type)
        return resp

    @app.route("/measure")
    def page() -> Response:
        return Response(MEASURE % (json.dumps(PAGES[:1]), WIDTH), content_type="text/html")

    with live_server(app) as root:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--virtual-time-budget=30000", "--dump-dom", f"{root}/measure"],
                       capture_output=True, text=True, timeout=120)
    assert kinds and all(k.startswith("text/html") for k in kinds)
