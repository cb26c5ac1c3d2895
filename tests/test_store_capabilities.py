"""The app mounts what a store can do: ``/sru`` only over a store that can search.

A live library database (a read-only source adapter) offers a catalogue and nothing
else; served, its ``/oai`` works and ``/sru`` says plainly why there is none.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from conftest import live_server

from thuvien_interop.store.base import Catalogue, Searchable, Writable
from thuvien_interop.web import create_app

sa = pytest.importorskip("sqlalchemy")
REPO = "thuvien-live.vn"


@pytest.fixture
def live(tmp_path):
    from test_sources_sql import make_template_db

    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import LiveSourceRepository, SQLSource

    make_template_db(tmp_path / "lib.db")
    source = SQLSource(f"sqlite:///{tmp_path / 'lib.db'}", SourceProfile.load("generic-sql"))
    yield LiveSourceRepository(source, REPO)
    source.close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_live_source_is_a_catalogue_that_cannot_search(live):
    assert isinstance(live, Catalogue)
    assert not isinstance(live, Searchable)
    assert not isinstance(live, Writable)


def test_a_live_source_is_served_over_oai_without_sru(live):
    with live_server(create_app(live)) as url:
        status, body = _get(f"{url}/oai?verb=ListIdentifiers&metadataPrefix=oai_dc")
        assert status == 200 and f"oai:{REPO}:1" in body
        for path in ("/sru", "/sru/", "/sru?operation=searchRetrieve&version=1.2&query=viet"):
            status, body = _get(url + path)
            assert status == 404
            assert "cannot be searched" in body and "thuvien-interop sync" in body


def test_a_store_that_can_search_gets_sru(tmp_path):
    from thuvien_interop.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    with live_server(create_app(store)) as url:
        status, body = _get(f"{url}/sru?operation=explain&version=1.2")
        assert status == 200 and "explain" in body.lower()
    store.close()
