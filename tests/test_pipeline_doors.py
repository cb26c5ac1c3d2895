"""The one write path: deletions from every door, the delete command, Dublin Core
imported again another day, the richer record kept."""

from __future__ import annotations

import time

import pymarc
import pytest
from click.testing import CliRunner
from conftest import SAMPLES

from thuvien_interop import dates
from thuvien_interop.cli import main
from thuvien_interop.crosswalk.marcxml import record_to_marcxml
from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import IdentifierRule
from thuvien_interop.model import ListQuery
from thuvien_interop.pipeline.files import import_files
from thuvien_interop.store import open_store

RULE = IdentifierRule("thuvien-interop.vn")


def _stamps(store) -> dict[str, tuple[int, bool]]:
    return {i.header.identifier: (i.header.datestamp, i.header.deleted)
            for i in store.list(ListQuery(), None, 1000, metadata=False)}


def test_dublin_core_imported_again_another_day_is_unchanged(store, monkeypatch):
    first = import_files(store, [SAMPLES / "vietnamese-dc.xml"], RULE)
    assert first.written.added > 0 and not first.rejected
    stamps = _stamps(store)
    # Three days later, by every clock (dates.now and datetime.date.today read time.time).
    later = time.time() + 3 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert dates.now() == int(later)
    again = import_files(store, [SAMPLES / "vietnamese-dc.xml"], RULE)
    assert (again.written.unchanged, again.written.updated) == (first.written.added, 0)
    assert _stamps(store) == stamps


def _marc_file(tmp_path, records, name="cat.xml"):
    path = tmp_path / name
    path.write_bytes(b'<collection xmlns="http://www.loc.gov/MARC21/slim">'
                     + b"".join(record_to_marcxml(r, namespace=False) for r in records)
                     + b"</collection>")
    return path


def _sample(n: int) -> list[pymarc.Record]:
    return [r.record for r in read_file(SAMPLES / "vietnamese-catalogue.mrc")][:n]


def _withdrawn(record: pymarc.Record) -> pymarc.Record:
    leader = str(record.leader)
    record.leader = pymarc.Leader(leader[:5] + "d" + leader[6:])
    return record


def test_a_withdrawn_record_in_a_file_is_a_deletion(store, tmp_path):
    records = _sample(4)
    import_files(store, [_marc_file(tmp_path, records)], RULE)
    ident = RULE.identifier(records[1]["001"].value())
    again = import_files(store, [_marc_file(tmp_path, [_withdrawn(records[1])], "w.xml")], RULE)
    assert (again.written.deleted, again.written.updated, again.written.added) == (1, 0, 0)
    item = store.get(ident)
    assert item is not None and item.header.deleted
    assert (store.info().record_count, store.info().deleted_count) == (4, 1)
    # Withdrawn again: nothing new; a withdrawal of a record never loaded: named, not written.
    stranger = _sample(6)[5]
    third = import_files(store, [_marc_file(tmp_path, [records[1], _withdrawn(stranger)], "x.xml")],
                         RULE)
    assert (third.written.deleted, third.written.unchanged, third.written.added) == (0, 1, 0)
    assert any("nothing to delete" in p.reason for p in third.repaired)
    assert store.get(RULE.identifier(stranger["001"].value())) is None


def test_the_delete_command_withdraws_and_names_the_unknown(tmp_path):
    db = tmp_path / "d.db"
    url = f"sqlite:///{db}"
    runner = CliRunner()
    records = _sample(5)
    assert runner.invoke(main, ["import", str(_marc_file(tmp_path, records)), "--store", url,
                                "-q", "--repository-id", "thuvien-interop.vn"]).exit_code == 0
    ids = [r["001"].value() for r in records]
    listing = tmp_path / "withdrawn.txt"
    listing.write_text(f"# withdrawn in 2026\n{ids[2]}\n\nNO-SUCH-ID\n", encoding="utf-8")
    result = runner.invoke(main, ["delete", ids[0], RULE.identifier(ids[1]), "--from-file",
                                  str(listing), "--store", url,
                                  "--repository-id", "thuvien-interop.vn"])
    assert result.exit_code == 1, result.output
    assert "Deleted 3 records, 1 unknown." in result.output
    assert "withdrawn.txt: line 4: oai:thuvien-interop.vn:NO-SUCH-ID is not in the store" \
        in result.output
    store = open_store(url)
    assert (store.info().record_count, store.info().deleted_count) == (5, 3)
    store.close()
    again = runner.invoke(main, ["delete", ids[0], "--store", url,
                                 "--repository-id", "thuvien-interop.vn"])
    assert again.exit_code == 0 and "Deleted 0 records, 1 already deleted." in again.output
    assert runner.invoke(main, ["delete", "--store", url]).exit_code == 2


def _library_db(path, n: int) -> None:
    """The generic-sql template's database with n books, every 50th deleted."""
    import sqlite3

    from test_sources_sql import make_template_db

    make_template_db(path)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO books VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
        (i, f"Sách số {i}" if i % 97 else None, "Trần Trọng Kim", "Tân Việt", "Hà Nội",
         str(1950 + i % 70), None, f"{300 + i % 600}.5", "Lịch sử; Việt Nam", "vie",
         f"K{i % 7}", f"2024-02-{1 + i % 27:02d} 10:00:00") for i in range(4, n + 1)])
    conn.executemany("INSERT INTO deleted_books VALUES (?, '2024-03-01 00:00:00')",
                     [(i,) for i in range(1, n + 1, 50)])
    conn.commit()
    conn.close()


def test_sync_on_worker_processes_leaves_the_store_one_process_leaves(tmp_path):
    from test_import_parallel import contents

    from thuvien_interop.pipeline.sources import sync
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    _library_db(tmp_path / "lib.db", 1200)
    reports = {}
    for processes in (1, 2):
        source = SQLSource(f"sqlite:///{tmp_path / 'lib.db'}", SourceProfile.load("generic-sql"))
        store = open_store(f"sqlite:///{tmp_path / f's{processes}.db'}")
        reports[processes] = sync(source, store, "thuvien-interop.vn", processes=processes,
                                  now=1_800_000_000)
        store.close()
        source.close()
    one, two = reports[1], reports[2]
    assert one.written == two.written and one.written.added > 1000
    assert [str(p) for p in one.rejected] == [str(p) for p in two.rejected]
    assert len(one.rejected) == 12 and "no title" in one.rejected[0].reason
    a, b = contents(tmp_path / "s1.db"), contents(tmp_path / "s2.db")
    for part in a:
        assert a[part] == b[part], part


def _synced(tmp_path, n: int = 60):
    from thuvien_interop.store.profile import SourceProfile
    from thuvien_interop.store.sqlsource import SQLSource

    _library_db(tmp_path / "lib.db", n)
    return SQLSource(f"sqlite:///{tmp_path / 'lib.db'}", SourceProfile.load("generic-sql"))


def _gone_from_the_source(tmp_path, *books: int) -> None:
    """Books deleted from the library's database without a trace."""
    import sqlite3

    conn = sqlite3.connect(tmp_path / "lib.db")
    conn.execute(f"DELETE FROM books WHERE book_id IN ({','.join('?' * len(books))})", books)
    conn.commit()
    conn.close()


def test_a_full_sync_withdraws_only_its_own_records_not_those_imported_beside_them(tmp_path):
    """Imported and synced records share the repository identifier's prefix; the
    records gone from the source are those of the sync's origin only."""
    from thuvien_interop.pipeline.sources import sync

    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    imported = import_files(store, [SAMPLES / "vietnamese-catalogue.mrc"],
                            IdentifierRule("thuvien-interop.vn"))
    assert imported.written.added > 20
    source = _synced(tmp_path)
    first = sync(source, store, "thuvien-interop.vn", now=1_800_000_000)
    assert first.written.added > 40 and not [p for p in first.rejected if "collision" in p.reason]
    _gone_from_the_source(tmp_path, 5, 6)
    full = sync(source, store, "thuvien-interop.vn", full=True, now=1_800_000_100)
    source.close()
    assert full.reconciled == 2
    assert not [p for p in full.rejected if "collision" in p.reason], full.rejected
    assert store.get("oai:thuvien-interop.vn:5").header.deleted
    live = [i.header for i in store.list(ListQuery(), None, 1000) if i.header.origin is None]
    assert len(live) == imported.written.added and not any(h.deleted for h in live)
    store.close()


def test_reindex_sets_leaves_synced_records_to_their_source(tmp_path):
    from thuvien_interop.oai.setrules import SetRules
    from thuvien_interop.pipeline.sets import reevaluate
    from thuvien_interop.pipeline.sources import sync

    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    source = _synced(tmp_path)
    synced = sync(source, store, "thuvien-interop.vn", now=1_800_000_000)
    source.close()
    before = {i.header.identifier: (i.header.sets, i.header.datestamp)
              for i in store.list(ListQuery(), None, 1000)}
    assert len(before) == synced.written.added > 50
    rules = SetRules.from_config([{"field": "leader/06", "spec": "type:{value}", "name": "{value}"}])
    report = reevaluate(store, rules, now=1_800_000_500)
    assert (report.read, report.written.updated) == (0, 0)
    after = {i.header.identifier: (i.header.sets, i.header.datestamp)
             for i in store.list(ListQuery(), None, 1000)}
    assert after == before
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_every_door_keeps_each_formats_rows_counted(request, tmp_path, kind):
    """Imports on worker processes, the same files again, withdrawals in a file, a
    sync and a full sync that withdraws what left the source: each format's counted
    rows stay a real COUNT of its rendered rows, and the whole lists' counts right."""
    from conftest import fresh_store_url
    from test_store import counted

    from thuvien_interop.pipeline.sources import sync

    store = open_store(fresh_store_url(request, kind, tmp_path, "counted"))
    request.addfinalizer(store.close)
    first = import_files(store, [SAMPLES / "vietnamese-catalogue.mrc"], RULE, processes=2)
    assert first.written.added > 20
    assert counted(store)["marc21"] == first.written.added
    import_files(store, [SAMPLES / "vietnamese-catalogue.mrc", SAMPLES / "vietnamese-dc.xml"],
                 RULE, processes=2)
    both = counted(store)
    gone = import_files(store, [_marc_file(tmp_path, [_withdrawn(r) for r in _sample(5)])], RULE)
    assert gone.written.deleted == 5
    after_import = counted(store)
    assert after_import["marc21"] == both["marc21"] - 5
    source = _synced(tmp_path, 120)
    synced = sync(source, store, "thuvien-interop.vn", now=1_800_000_000, processes=2)
    assert synced.written.added > 100
    after_sync = counted(store)
    _gone_from_the_source(tmp_path, 5, 6, 7)
    full = sync(source, store, "thuvien-interop.vn", full=True, now=1_800_000_100)
    source.close()
    assert full.reconciled >= 2
    assert counted(store)["marc21"] <= after_sync["marc21"] - full.reconciled
