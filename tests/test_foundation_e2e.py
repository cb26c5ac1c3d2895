"""The vertical slice a librarian uses: demo, serve, harvest over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests
from click.testing import CliRunner
from conftest import free_port, live_server, schema
from lxml import etree

from thuvien_interop.cli import main
from thuvien_interop.web import create_app

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def test_demo_loads_the_sample_catalogue(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--store", f"sqlite:///{tmp_path / 'd.db'}"])
    assert result.exit_code == 0, result.output
    assert "0 rejected" in result.output
    again = CliRunner().invoke(main, ["demo", "--no-serve", "--store", f"sqlite:///{tmp_path / 'd.db'}"])
    assert " 0 loaded" in again.output and "unchanged" in again.output


def test_list_records_over_http_is_valid_and_keeps_vietnamese_titles(sample_store):
    with live_server(create_app(sample_store)) as url:
        r = requests.get(f"{url}/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/xml")
    schema("OAI-PMH.xsd").validate(r.content)
    doc = etree.fromstring(r.content)
    titles = [t.text for t in doc.iter(DC + "title")]
    assert titles and any(c in "".join(titles) for c in "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ")


def test_harvest_every_record_once_through_the_pages(sample_store):
    from thuvien_interop.oai.config import ProviderConfig

    total = sample_store.info().record_count
    seen: list[str] = []
    with live_server(create_app(sample_store, ProviderConfig(page_size=50))) as url:
        params = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}
        while True:
            r = requests.get(f"{url}/oai", params=params, timeout=30)
            doc = etree.fromstring(r.content)
            seen += [e.text for e in doc.iter(OAI + "identifier")]
            token = doc.find(f".//{OAI}resumptionToken")
            if token is None or not token.text:
                break
            params = {"verb": "ListIdentifiers", "resumptionToken": token.text}
    assert len(seen) == len(set(seen)) == total


def test_serve_command_runs_a_real_server(sample_db, tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "thuvien_interop", "serve", "--store", f"sqlite:///{sample_db}",
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/oai?verb=Identify", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "no output") from None
                time.sleep(0.2)
        assert r.status_code == 200
        assert b"<repositoryName>" in r.content
        # waitress names itself by the ident we give it: a real WSGI server, not Flask's.
        assert r.headers.get("Server") == "thuvien-interop"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
