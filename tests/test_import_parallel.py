"""``import`` with worker processes: the same store and the same report, record
for record and problem for problem, as importing in one process."""

from __future__ import annotations

import sqlite3

import pymarc
import pytest
from click.testing import CliRunner
from conftest import DATA, SAMPLES

from thuvien_interop.cli import main
from thuvien_interop.ingest.loader import BATCH, IdentifierRule, import_files
from thuvien_interop.store import open_store
from thuvien_interop.workers import PARALLEL_MIN, marc_to_tuple, tuple_to_marc

RULE = IdentifierRule("thuvien-interop.vn")


def big_file(tmp_path, n: int):
    """n records: the sample catalogue repeated with new 001s, a few of them twice
    (a later copy replaces the earlier one) and one without a 001 (rejected)."""
    out = tmp_path / "big.mrc"
    records = list(pymarc.MARCReader(open(SAMPLES / "vietnamese-catalogue.mrc", "rb"),
                                     to_unicode=True, force_utf8=True))
    with open(out, "wb") as fh:
        for i in range(n):
            r = records[i % len(records)]
            r["001"].data = f"VN{i % (n - 5):07d}"  # the last five repeat the first five
            if i == 7:
                r.remove_fields("001")
            fh.write(r.as_marc())
            if i == 7:
                r.add_ordered_field(pymarc.Field(tag="001", data="x"))
    return out


def contents(path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    rendered = sorted(conn.execute(
        "SELECT r.identifier, x.prefix, x.xml FROM rendered x JOIN records r ON r.id = x.record_id"))
    keys = sorted(conn.execute(
        "SELECT r.identifier, i.name, k.key, k.display FROM search_keys k "
        "JOIN records r ON r.id = k.record_id JOIN search_indexes i ON i.code = k.idx "
        "WHERE i.name <> 'rec.lastModificationDate'"))
    records = sorted(conn.execute("SELECT identifier, checksum, sets, deleted FROM records"))
    conn.close()
    return {"rendered": rendered, "keys": keys, "records": records}


def test_worker_processes_import_exactly_what_one_process_imports(tmp_path):
    n = BATCH * 2 + 150
    path = big_file(tmp_path, n)
    reports = {}
    for processes in (1, 2):
        store = open_store(f"sqlite:///{tmp_path / f'p{processes}.db'}")
        reports[processes] = import_files(store, [path, DATA / "broken" / "wrong-length.mrc"],
                                          RULE, processes=processes)
        store.close()
    one, two = reports[1], reports[2]
    assert one.read == two.read > n
    assert one.written == two.written and one.written.updated == 5  # the five repeats
    assert [str(p) for p in one.rejected] == [str(p) for p in two.rejected]
    assert [str(p) for p in one.repaired] == [str(p) for p in two.repaired]
    assert any("no identifier" in p.reason for p in one.rejected)
    assert any("wrong-length.mrc" in str(p) for p in one.repaired)
    assert sum("this later record replaces it" in p.reason for p in one.repaired) == 5
    a, b = contents(tmp_path / "p1.db"), contents(tmp_path / "p2.db")
    assert len(a["records"]) == one.written.added
    for part in a:
        assert a[part] == b[part], part


def test_workers_only_build_for_a_store_other_processes_cannot_open(tmp_path):
    """An in-memory store: the workers build, this process writes; same report."""
    n = BATCH + 70
    path = big_file(tmp_path, n)
    reports = {}
    for processes in (1, 2):
        store = open_store("sqlite:///:memory:")
        reports[processes] = import_files(store, [path], RULE, processes=processes)
        assert store.info().record_count == reports[processes].written.added
        store.close()
    one, two = reports[1], reports[2]
    assert one.written == two.written and one.written.added > BATCH
    assert [str(p) for p in one.rejected] == [str(p) for p in two.rejected]
    assert [str(p) for p in one.repaired] == [str(p) for p in two.repaired]


def test_marc_records_cross_to_the_workers_unchanged():
    for r in pymarc.MARCReader(open(SAMPLES / "vietnamese-catalogue.mrc", "rb"),
                               to_unicode=True, force_utf8=True):
        back = tuple_to_marc(marc_to_tuple(r))
        assert back.as_marc() == r.as_marc()
        assert str(back.leader) == str(r.leader)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_command_line_import_with_and_without_workers(tmp_path, processes):
    store = f"sqlite:///{tmp_path / 'c.db'}"
    result = CliRunner().invoke(main, ["import", str(SAMPLES / "vietnamese-catalogue.mrc"),
                                       "--store", store, "-q", "--processes", processes])
    assert result.exit_code == 0, result.output
    assert "Read 300 records: 300 loaded" in result.output
    assert 300 >= PARALLEL_MIN, "big enough to go to the workers"


class DiesInWorkers:
    """A renderer that kills the process it runs in, unless it is the importing one."""

    def __init__(self) -> None:
        import os

        self.parent = os.getpid()

    def __call__(self, source: object) -> bytes:
        import os

        if os.getpid() != self.parent:
            os._exit(3)
        return b'<ok xmlns="https://example.org/ok"/>'


def test_worker_processes_that_die_half_way_cost_nothing_but_speed(tmp_path, caplog):
    from thuvien_interop.formats import default_registry
    from thuvien_interop.model import MetadataFormat

    registry = default_registry()
    registry.register(MetadataFormat("ok", "https://example.org/ok.xsd", "https://example.org/ok"),
                      render=DiesInWorkers())
    path = big_file(tmp_path, BATCH * 4 + 30)
    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    report = import_files(store, [path], RULE, processes=2, registry=registry)
    store.close()
    assert report.read == BATCH * 4 + 30
    assert (report.written.added, len(report.rejected)) == (BATCH * 4 + 30 - 6, 1)
    assert any("worker processes failed" in r.getMessage() for r in caplog.records)
    conn = sqlite3.connect(tmp_path / "u.db")
    assert conn.execute("SELECT count(*) FROM rendered WHERE prefix = 'ok'").fetchone()[0] == \
        BATCH * 4 + 30 - 6
    conn.close()
