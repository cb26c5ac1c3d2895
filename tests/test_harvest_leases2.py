"""Leases that hold: renewed while a harvest waits on a provider's Retry-After, a
harvester that loses its lease stops at once, a lease whose holder died is taken
over, and a run that finds every provider held says so.

Two harvesters ("nodes") over one SQLite store, each with its own store handle,
harvest a real provider on 127.0.0.1 that answers 503 with a Retry-After longer
than the lease. The tests wait for states (a request arrived, a thread ended),
never for a fixed time."""

from __future__ import annotations

import subprocess
import sys
import threading
from urllib.parse import parse_qsl

import pytest
from click.testing import CliRunner
from conftest import live_server
from test_harvest import ALL, FaultyProvider, identifiers
from test_harvest import source_store as provider_store

from thuvien_interop import dates
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.oai.harvest_lease import Holder, LeaseKeeper
from thuvien_interop.oai.harvest_sources import Source
from thuvien_interop.oai.harvest_state import HarvestState, ProviderStatus
from thuvien_interop.oai.harvester import Harvester
from thuvien_interop.oai.provider import Provider
from thuvien_interop.store import open_store

source_store = provider_store  # the fixture: a provider's store of 45 MARC records


class Watched:
    """Over a FaultyProvider: which node (X-Node header) asked what, and a 503 with
    ``Retry-After: retry_after`` for the 2nd ListRecords request (once)."""

    def __init__(self, app: FaultyProvider, retry_after: int) -> None:
        self.app = app
        self.retry_after = retry_after
        self.asked: list[tuple[str, str, bool]] = []  # (node, verb, with a token)
        self.refused = threading.Event()  # the 503 was sent
        self.retried = threading.Event()  # the request after the 503 came
        self.lock = threading.Lock()
        self.lists = 0

    def __call__(self, environ, start_response):
        args = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        node = environ.get("HTTP_X_NODE", "?")
        verb = args.get("verb", "")
        with self.lock:
            self.asked.append((node, verb, "resumptionToken" in args))
            if verb == "ListRecords":
                self.lists += 1
                n = self.lists
            else:
                n = 0
        if n == 2:
            self.refused.set()
            start_response("503 Service Unavailable",
                           [("Retry-After", str(self.retry_after)), ("Content-Type", "text/plain")])
            return [b"busy"]
        if n == 3:
            self.retried.set()
        return self.app(environ, start_response)

    def nodes(self, verb: str = "ListRecords") -> set[str]:
        return {node for node, v, _ in self.asked if v == verb}


@pytest.fixture
def provider(source_store):
    app = FaultyProvider(Provider(source_store, ProviderConfig(page_size=10)))
    yield app


def node(tmp_path, lease: int) -> Harvester:
    """A harvester with its own handle on the shared union store."""
    return Harvester(open_store(f"sqlite:///{tmp_path / 'union.db'}"), lease_seconds=lease,
                     diagnostics=tmp_path / "diag")


def src(url: str, who: str) -> Source:
    return Source("daklak", url, prefix="marc21", headers={"X-Node": who})


def test_lease_shorter_than_retry_after_is_renewed_and_no_two_nodes_harvest_at_once(
        provider, tmp_path):
    watched = Watched(provider, retry_after=5)
    with live_server(watched) as root:
        url = root + "/oai"
        a, b = node(tmp_path, lease=2), node(tmp_path, lease=2)
        results: dict[str, list] = {}
        claimed_at = dates.now()
        thread = threading.Thread(target=lambda: results.setdefault(
            "a", a.harvest_many([src(url, "A")])))
        thread.start()
        assert watched.refused.wait(30), "node A reached page 2"
        tries = [(dates.now(), b.harvest_many([src(url, "B")]))]
        # Node A waits out the Retry-After, over twice its lease; B tries again
        # once A's first lease would have run out.
        while dates.now() <= claimed_at + 2:
            threading.Event().wait(0.05)
        tries.append((dates.now(), b.harvest_many([src(url, "B")])))
        assert thread.is_alive()
        thread.join(60)
        assert not thread.is_alive()
    assert tries and all(r[0].held_by and "process" in r[0].held_by for _, r in tries)
    assert max(t for t, _ in tries) > claimed_at + 2, "B tried after A's first lease ran out"
    assert watched.nodes() == {"A"}, "B never asked the provider for a list"
    (result,) = results["a"]
    assert result.ok, result.errors
    assert identifiers(a.store) == ALL
    assert a.store.lease_holder("daklak") is None, "released at the end"


def test_a_node_whose_lease_was_taken_stops_at_once_and_says_so(provider, tmp_path):
    watched = Watched(provider, retry_after=600)
    with live_server(watched) as root:
        url = root + "/oai"
        a = node(tmp_path, lease=2)
        results: dict[str, list] = {}
        thread = threading.Thread(target=lambda: results.setdefault(
            "a", a.harvest_many([src(url, "A")])))
        thread.start()
        assert watched.refused.wait(30)
        # Meanwhile another harvester took the provider (A's lease ran out while
        # its machine was suspended, say).
        other = open_store(f"sqlite:///{tmp_path / 'union.db'}")
        held_by_a = other.lease_holder("daklak")
        assert held_by_a and other.release("daklak", held_by_a)
        assert other.lease("daklak", "node-2.example:4242:0:x", 600)
        thread.join(30)  # A does not wait out the 600 s Retry-After
        assert not thread.is_alive(), "A stopped at its next renewal"
    (result,) = results["a"]
    assert not result.ok
    assert "lease lost" in result.errors[0] and "process 4242 on node-2.example" in result.errors[0]
    assert watched.asked[-1] == ("A", "ListRecords", True), "no request after the 503"
    assert len(identifiers(a.store)) == 10, "page 1 stays stored"
    assert other.lease_holder("daklak") == "node-2.example:4242:0:x", "A left the lease alone"
    assert "lease lost" not in (a.state.load_status("daklak").last_error or ""), \
        "the status is the new holder's to write"
    other.close()


def test_a_lease_whose_process_died_is_taken_over_at_once(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = Holder(Holder.here().host, dead.pid, 1, "x")
    assert ghost.alive() is False
    assert store.lease("daklak", str(ghost), 3600)
    assert store.lease("hue", "elsewhere.example:99:0:y", 3600)
    keeper = LeaseKeeper(store, seconds=60)
    lease = keeper.claim(["hue", "daklak"])
    assert lease is not None and lease.name == "daklak"
    assert keeper.claim(["hue"]) is None, "a holder on another machine is waited for"
    assert [(h.name, h.holder) for h in keeper.holders(["hue"])] == [
        ("hue", "process 99 on elsewhere.example")]
    lease.release()
    keeper.close()


def test_a_run_that_finds_every_provider_held_says_so_and_exits_75(provider, tmp_path):
    from thuvien_interop.cli import main

    db = tmp_path / "union.db"
    store = open_store(f"sqlite:///{db}")
    assert store.lease("daklak", "node-2.example:4242:0:x", 600)
    store.close()
    with live_server(provider) as root:
        out = CliRunner().invoke(main, ["harvest", root + "/oai", "--name", "daklak",
                                        "--store", f"sqlite:///{db}", "-q"])
    assert out.exit_code == 75, out.output
    assert "Nothing harvested: other harvesters hold every provider" in out.output
    assert "process 4242 on node-2.example" in out.output
    assert provider.requests == []
    store = open_store(f"sqlite:///{db}")
    HarvestState(store).save_status(ProviderStatus("daklak", added=12_345))
    HarvestState(store).remember_provider("daklak")
    store.close()
    status = CliRunner().invoke(main, ["harvest", "status", "--store", f"sqlite:///{db}"])
    assert "daklak: being harvested now by process 4242 on node-2.example." in status.output
    assert " 12,345 " in status.output


def test_lease_length_from_the_command_line_and_the_providers_file(provider, tmp_path,
                                                                   monkeypatch):
    from thuvien_interop.cli import main

    seen = []

    class Spy(LeaseKeeper):
        def __init__(self, store, seconds: int = 120) -> None:
            seen.append(seconds)
            super().__init__(store, seconds)

    monkeypatch.setattr("thuvien_interop.oai.harvester.LeaseKeeper", Spy)
    db = f"sqlite:///{tmp_path / 'union.db'}"
    runner = CliRunner()
    with live_server(provider) as root:
        sources = tmp_path / "p.toml"
        sources.write_text(f'[harvest]\nlease = 7\n\n[[provider]]\nname = "daklak"\n'
                           f'url = "{root}/oai"\nprefix = "marc21"\n', encoding="utf-8")
        out = runner.invoke(main, ["harvest", "--sources", str(sources), "--store", db, "-q"])
        assert out.exit_code == 0, out.output
        out = runner.invoke(main, ["harvest", "--sources", str(sources), "--lease", "30",
                                   "--store", db, "-q"])
        assert out.exit_code == 0, out.output
        out = runner.invoke(main, ["harvest", root + "/oai", "--store", db, "-q"])
        assert out.exit_code == 0, out.output
        sources.write_text(f'[harvest]\nlease = "long"\n\n[[provider]]\nname = "daklak"\n'
                           f'url = "{root}/oai"\n', encoding="utf-8")
        out = runner.invoke(main, ["harvest", "--sources", str(sources), "--store", db])
    assert seen == [7, 30, 120]
    assert out.exit_code == 2 and "lease = 'long'" in out.output
