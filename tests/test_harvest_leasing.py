"""Several harvester processes over one PostgreSQL store share a provider list by
leasing providers: every provider is harvested once, by one of them."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from contextlib import ExitStack

import pytest
from conftest import fresh_store_url, live_server

from thuvien_interop.crosswalk.dc import dc_to_xml
from thuvien_interop.model import ListQuery, Record
from thuvien_interop.store import open_store
from thuvien_interop.web import create_app

PROVIDERS = 6
RECORDS = 25


class Counting:
    """WSGI middleware counting the first-page list requests a provider receives."""

    def __init__(self, app) -> None:
        self.app = app
        self.first_pages = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        qs = environ.get("QUERY_STRING", "")
        if "verb=ListRecords" in qs and "resumptionToken" not in qs:
            with self.lock:
                self.first_pages += 1
        return self.app(environ, start_response)


def provider_store(path, n: int):
    store = open_store(f"sqlite:///{path}")
    store.write(Record(f"oai:p{n}.vn:{i}", rendered={"oai_dc": dc_to_xml(
        [("title", f"Sách {i} của thư viện {n}"), ("identifier", f"p{n}-{i}")], "oai_dc")},
        canonical_format="oai_dc") for i in range(RECORDS))
    return store


@pytest.fixture
def union_url(request):
    return fresh_store_url(request, "postgres", None, "t_lease")


def test_three_harvester_processes_share_the_providers(tmp_path, union_url):
    open_store(union_url).close()  # create the schema once, before the race
    with ExitStack() as stack:
        apps, lines = [], ["[harvest]\nworkers = 2\n"]
        for n in range(PROVIDERS):
            from thuvien_interop.oai.config import ProviderConfig

            app = Counting(create_app(provider_store(tmp_path / f"p{n}.db", n),
                                      ProviderConfig(page_size=10)))
            url = stack.enter_context(live_server(app))
            apps.append(app)
            lines.append(f'[[provider]]\nname = "p{n}"\nurl = "{url}/oai"\nprefix = "oai_dc"\n')
        sources = tmp_path / "providers.toml"
        sources.write_text("\n".join(lines), encoding="utf-8")
        procs = [subprocess.Popen(
            [sys.executable, "-m", "thuvien_interop", "harvest", "--sources", str(sources),
             "--store", union_url, "--skip-recent", "3600", "-q",
             "--diagnostics", str(tmp_path / f"diag{k}")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for k in range(3)]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        # A process that found every provider held or done by the others says so
        # and exits 75; none fails.
        codes = [p.returncode for p in procs]
        assert set(codes) <= {0, 75} and 0 in codes, outputs
        assert all("Nothing harvested" in out for c, out in zip(codes, outputs, strict=True)
                   if c == 75), outputs
        # Each provider's list was started exactly once, by one of the three.
        assert [a.first_pages for a in apps] == [1] * PROVIDERS, outputs
    union = open_store(union_url)
    try:
        idents = [i.header.identifier for i in union.list(ListQuery("oai_dc"), None, 10_000)]
        assert len(idents) == len(set(idents)) == PROVIDERS * RECORDS
        per_provider = Counter(i.split(":")[1] for i in idents)
        assert set(per_provider.values()) == {RECORDS}
    finally:
        union.close()
