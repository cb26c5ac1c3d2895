"""The harvester's conversion on worker processes: the same store, record for
record and search key for search key, as converting in the harvester's own
process; bad records still quarantined; a pool that cannot start, or dies,
costs nothing but speed."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from conftest import live_server

from thuvien_interop.formats import default_registry
from thuvien_interop.model import ListQuery, MetadataFormat, Record
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.oai.harvest_sources import Source
from thuvien_interop.oai.harvester import Harvester
from thuvien_interop.store import open_store
from thuvien_interop.web import create_app
from thuvien_interop.workers import PARALLEL_MIN

PAGE = 150
assert PAGE >= PARALLEL_MIN, "pages big enough to go to the worker processes"


@pytest.fixture
def provider(sample_store):
    """The sample catalogue (300 MARC + 30 DC records) served in pages of 150,
    plus one record whose metadata no crosswalk reads."""
    sample_store.write([Record("oai:thuvien-interop.vn:foreign", b"<x/>", "marc21",
                               rendered={"marc21": b'<thing xmlns="urn:example:not-marc"/>'})])
    with live_server(create_app(sample_store, ProviderConfig(page_size=PAGE))) as root:
        yield root + "/oai"


def harvest(url: str, path, prefix: str, processes: int | None, tmp_path, **kw):
    store = open_store(path if isinstance(path, str) else f"sqlite:///{path}")
    name = path.stem if not isinstance(path, str) else "mem"
    with Harvester(store, diagnostics=tmp_path / f"diag-{name}", processes=processes,
                   **kw) as h:
        result = h.harvest(Source("samples", url, prefix=prefix))
        used = h.converter.processes
    store.close()
    return result, used


def contents(path) -> dict[str, object]:
    """Everything a harvest leaves in a store that does not depend on the clock."""
    conn = sqlite3.connect(path)
    rendered = {(i, p): x for i, p, x in conn.execute(
        "SELECT r.identifier, x.prefix, x.xml FROM rendered x JOIN records r ON r.id = x.record_id")}
    keys = sorted(conn.execute(
        "SELECT r.identifier, i.name, k.key, k.display FROM search_keys k "
        "JOIN records r ON r.id = k.record_id JOIN search_indexes i ON i.code = k.idx "
        "WHERE i.name <> 'rec.lastModificationDate'"))
    texts = sorted(conn.execute(
        "SELECT r.identifier, t.body FROM search_text t JOIN records r ON r.id = t.rowid >> 7 "
        "WHERE t.body NOT GLOB '[0-9][0-9][0-9][0-9] [0-9][0-9] [0-9][0-9]*'"))
    sets = sorted(conn.execute("SELECT identifier, sets, deleted FROM records"))
    conn.close()
    return {"rendered": rendered, "keys": keys, "texts": texts, "sets": sets}


@pytest.mark.parametrize("prefix", ["marc21", "oai_dc"])
def test_worker_processes_store_exactly_what_one_process_stores(provider, tmp_path, prefix):
    one, used_one = harvest(provider, tmp_path / "one.db", prefix, 1, tmp_path)
    two, used_two = harvest(provider, tmp_path / "two.db", prefix, 2, tmp_path)
    assert (used_one, used_two) == (1, 2)
    assert one.ok and two.ok, (one.errors, two.errors)
    assert one.added == two.added == 330
    # The foreign record has a marc21 rendering only, so only marc21 lists it.
    assert one.quarantined == two.quarantined == (1 if prefix == "marc21" else 0)
    a, b = contents(tmp_path / "one.db"), contents(tmp_path / "two.db")
    assert len(a["rendered"]) >= 3 * 300 and len(a["keys"]) > 1000
    for part in a:
        assert a[part] == b[part], part


def test_a_record_no_crosswalk_reads_is_quarantined_by_the_workers(provider, tmp_path):
    result, used = harvest(provider, tmp_path / "u.db", "marc21", 2, tmp_path)
    assert used == 2 and result.ok and result.quarantined == 1
    lines = (tmp_path / "diag-u" / "samples" / "quarantine.jsonl").read_text("utf-8").splitlines()
    entry = json.loads(lines[0])
    assert entry["identifier"] == "oai:thuvien-interop.vn:foreign"
    assert "urn:example:not-marc" in entry["reason"] and "not-marc" in entry["xml"]


def test_a_registry_that_cannot_travel_is_used_in_this_process(provider, tmp_path):
    registry = default_registry()
    registry.register(MetadataFormat("echo", "https://example.org/echo.xsd",
                                     "https://example.org/echo"),
                      render=lambda source: b'<echo xmlns="https://example.org/echo"/>')
    result, used = harvest(provider, tmp_path / "u.db", "marc21", 2, tmp_path, registry=registry)
    assert used == 1, "a lambda cannot be pickled: no worker processes"
    assert result.ok and result.added == 330
    conn = sqlite3.connect(tmp_path / "u.db")
    echoed = conn.execute("SELECT count(*) FROM rendered WHERE prefix = 'echo'").fetchone()[0]
    conn.close()
    assert echoed == 330


class DiesInWorkers:
    """A renderer that kills the process it runs in, unless it is the harvester's."""

    def __init__(self) -> None:
        self.parent = os.getpid()

    def __call__(self, source: object) -> bytes:
        if os.getpid() != self.parent:
            os._exit(3)
        return b'<ok xmlns="https://example.org/ok"/>'


def test_worker_processes_that_die_cost_nothing_but_speed(provider, tmp_path, caplog):
    registry = default_registry()
    registry.register(MetadataFormat("ok", "https://example.org/ok.xsd", "https://example.org/ok"),
                      render=DiesInWorkers())
    result, used = harvest(provider, tmp_path / "u.db", "marc21", 2, tmp_path, registry=registry)
    assert result.ok and result.added == 330 and result.quarantined == 1
    assert used == 1, "after the pool broke, the harvester converts on its own"
    assert any("worker processes failed" in r.getMessage() for r in caplog.records)


def test_command_line_harvest_with_worker_processes(provider, tmp_path):
    from click.testing import CliRunner

    from thuvien_interop.cli import main

    store = f"sqlite:///{tmp_path / 'cli.db'}"
    out = CliRunner().invoke(main, ["harvest", provider, "--store", store, "--name", "samples",
                                    "--prefix", "marc21", "--processes", "2",
                                    "--diagnostics", str(tmp_path / "d")])
    assert out.exit_code == 0, out.output
    assert "samples" in out.output and "330" in out.output
    union = open_store(store)
    assert union.count(ListQuery(set="source:samples")) == 330
    union.close()


def test_workers_write_the_records_themselves_when_they_can_open_the_store(provider, tmp_path):
    """A store in a file: the workers settle and write each chunk, in order; only
    the records' fate comes back to the harvester (a collision included)."""
    one, _ = harvest(provider, tmp_path / "one.db", "marc21", 1, tmp_path)
    first = sqlite3.connect(tmp_path / "one.db").execute(
        "SELECT identifier FROM records ORDER BY datestamp, seq LIMIT 1 OFFSET 7").fetchone()[0]
    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    # Another source holds one identifier already: a collision, found on a worker.
    store.write([Record(first, b"<x/>", "marc21", sets=("source:other",),
                        rendered={"marc21": b'<record xmlns="http://www.loc.gov/MARC21/slim"/>'})])
    with Harvester(store, diagnostics=tmp_path / "d", processes=2) as h:
        assert h.pipeline._target == f"sqlite:///{(tmp_path / 'u.db').resolve()}"
        result = h.harvest(Source("samples", provider, prefix="marc21"))
    store.close()
    assert result.ok and result.added == 329 and result.quarantined == 2
    lines = [json.loads(x) for x in
             (tmp_path / "d" / "samples" / "quarantine.jsonl").read_text("utf-8").splitlines()]
    assert sorted(x["reason"].split(":")[0] for x in lines) == [
        "identifier collision", "metadata in namespace urn"]
    # Chunks were written one after the other, in the provider's order.
    def order(path):
        conn = sqlite3.connect(path)
        rows = [i for (i,) in conn.execute(
            "SELECT identifier FROM records WHERE sets LIKE '%source:samples%' AND identifier <> ? "
            "ORDER BY datestamp, seq", (first,))]
        conn.close()
        return rows
    assert order(tmp_path / "u.db") == order(tmp_path / "one.db")
    assert len(order(tmp_path / "u.db")) == 329


def test_workers_only_convert_for_a_store_other_processes_cannot_open(provider, tmp_path):
    """An in-memory store: the workers convert, the harvester writes."""
    result, used = harvest(provider, ":memory:", "marc21", 2, tmp_path)
    assert used == 2 and result.ok and result.added == 330 and result.quarantined == 1


def test_workers_write_to_postgresql(provider, tmp_path, request):
    from conftest import fresh_store_url

    url = fresh_store_url(request, "postgres", None, "harvest_workers")
    store = open_store(url)
    try:
        with Harvester(store, diagnostics=tmp_path / "d", processes=2) as h:
            assert h.pipeline._target == url
            result = h.harvest(Source("samples", provider, prefix="marc21"))
            again = h.harvest(Source("samples", provider, prefix="marc21"), full=True)
        assert result.ok and result.added == 330 and result.quarantined == 1
        assert again.ok and again.unchanged == 330 and again.added == 0
        assert store.count(ListQuery(prefix="mods")) == 330
    finally:
        store.close()


def _province(tmp_path, name: str, n: int):
    """A provider store of n MARC records with identifiers of its own."""
    import pymarc

    from thuvien_interop.ingest.loader import build_record

    store = open_store(f"sqlite:///{tmp_path / f'{name}.db'}")
    reg = default_registry()
    batch = []
    for i in range(n):
        r = pymarc.Record()
        r.add_field(pymarc.Field("001", data=f"{name}-{i:04d}"))
        r.add_field(pymarc.Field("245", pymarc.Indicators("1", "0"), [
            pymarc.Subfield("a", f"Địa chí {name}, tập {i} /"), pymarc.Subfield("c", "Sở Văn hoá.")]))
        batch.append(build_record(r, f"oai:{name}.vn:{i}", reg, []))
    store.write(batch)
    return store


def test_several_providers_at_once_share_the_workers_and_their_turn(tmp_path):
    """Two providers harvested side by side (harvest_many) by two worker processes
    that write in one shared turn: every record once, each provider's pages in
    its own order, the same store as one process leaves."""
    stores = [_province(tmp_path, name, n) for name, n in (("daklak", 420), ("hue", 390))]
    try:
        with live_server(create_app(stores[0], ProviderConfig(page_size=70))) as a, \
                live_server(create_app(stores[1], ProviderConfig(page_size=70))) as b:
            sources = [Source("daklak", a + "/oai", prefix="marc21"),
                       Source("hue", b + "/oai", prefix="marc21")]
            for processes in (1, 2):
                union = open_store(f"sqlite:///{tmp_path / f'union{processes}.db'}")
                with Harvester(union, diagnostics=tmp_path / "d", processes=processes) as h:
                    results = h.harvest_many(sources, workers=2)
                union.close()
                assert [(r.source.name, r.ok, r.added) for r in results] == [
                    ("daklak", True, 420), ("hue", True, 390)]
    finally:
        for s in stores:
            s.close()
    one, two = contents(tmp_path / "union1.db"), contents(tmp_path / "union2.db")
    for part in one:
        assert one[part] == two[part], part
    for name in ("daklak", "hue"):
        conn = sqlite3.connect(tmp_path / "union2.db")
        order = [int(i.rsplit(":", 1)[1]) for (i,) in conn.execute(
            "SELECT identifier FROM records WHERE identifier LIKE ? ORDER BY datestamp, seq",
            (f"oai:{name}.vn:%",))]
        conn.close()
        assert order == sorted(order), f"{name}'s pages were written in its order"


def test_harvest_many_leaves_no_store_connection_open_per_thread(provider, tmp_path):
    """Each harvest thread has its own connection to the store; a thread that is done
    closes it (a harvester run every hour would otherwise gather them)."""
    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    sources = [Source(name, provider, prefix="oai_dc") for name in ("a", "b", "c")]
    with Harvester(store, diagnostics=tmp_path / "d", processes=1) as h:
        before = len(store._all)  # noqa: SLF001 - the store's open connections
        assert len(h.harvest_many(sources, workers=3)) == 3
        first = len(store._all)  # noqa: SLF001
        assert len(h.harvest_many(sources, workers=3)) == 3
        assert len(store._all) == first <= before + 1  # noqa: SLF001 - the lease keeper's
    store.close()
