"""Failures that leave the store right and say why (issue 17): a full disk (a
small tmpfs where this test may mount one, else a file size limit on the real
``import`` process, else SQLite's max_page_count), a locked database and a batch
failed on purpose. The command ends with one line naming the store and the
cause and what was written before, never a traceback; the store holds exactly
what that line says, and its search index is what it was before the failed
batch."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_faults_processes import RECORDS, catalogue, stored  # noqa: F401 - fixture
from test_store import found, indexed, phrase

from thuvien_interop.cli import main
from thuvien_interop.pipeline import BATCH
from thuvien_interop.store import open_store
from thuvien_interop.store import sqlite as sqlite_store
from thuvien_interop.store.base import StoreError

LINE = re.compile(r"Error: import stopped: writing to (?P<store>\S+) failed: (?P<cause>.+)\. "
                  r"(Written before: (?P<added>[\d,]+) added, 0 updated, 0 unchanged, 0 deleted"
                  r"|Nothing was written); import the same files again to add the rest\.")


#: Bytes the store may grow to before the disk is "full": a few batches' worth of
#: the catalogue's records (~2.3 kB each in the store), so that some batches are
#: written before it and the catalogue's later ones cannot be.
FULL_AT = 6_000 * BATCH


def import_cmd(path: Path, url: str, processes: str) -> list[str]:
    return [sys.executable, "-m", "thuvien_interop", "import", str(path), "--store", url,
            "--processes", processes, "-q"]


def check_one_line(out: str, db: Path) -> int:
    """The command's last words: one line, the store and the cause; what it says it
    wrote is what the store holds. Returns that number."""
    assert "Traceback" not in out, out
    assert "worker processes failed" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    m = LINE.fullmatch(lines[0])
    assert m, out
    assert m["store"] == str(db)
    added = int((m["added"] or "0").replace(",", ""))
    assert 0 <= added < RECORDS
    assert added % BATCH == 0, "a batch is one transaction: whole batches only"
    assert stored(f"sqlite:///{db}") == added
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()  # (a connection left open would keep the tmpfs busy)
    return added


def _limited(size: int):
    def limit() -> None:
        import resource

        # Without SIG_IGN the kernel kills the process at the limit (SIGXFSZ);
        # ignored, a write past it fails with EFBIG, as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize("processes", ["1", "2"])
def test_import_past_a_file_size_limit_ends_with_one_line_and_a_whole_store(
        catalogue, tmp_path, processes):  # noqa: F811 - the fixture
    db = tmp_path / "store.db"
    done = subprocess.run(import_cmd(catalogue, f"sqlite:///{db}", processes),
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=_limited(FULL_AT))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    check_one_line(done.stderr, db)
    assert "(ulimit -f)" in done.stderr
    again = subprocess.run(import_cmd(catalogue, f"sqlite:///{db}", processes),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert stored(f"sqlite:///{db}") == RECORDS


@pytest.fixture
def tmpfs():
    """A tmpfs of FULL_AT bytes, where this process may mount one (root on Linux)."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux (the file size limit test stands in)")
    folder = Path(tempfile.mkdtemp(prefix="thuvien-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FULL_AT // 1024}k", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        done = subprocess.run(["umount", str(folder)], capture_output=True, text=True)
        if done.returncode != 0:  # still busy: detached now, gone when released
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        folder.rmdir()


def test_import_on_a_full_disk_ends_with_one_line_and_a_whole_store(catalogue, tmpfs):  # noqa: F811
    db = tmpfs / "store.db"
    done = subprocess.run(import_cmd(catalogue, f"sqlite:///{db}", "1"), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    check_one_line(done.stderr, db)
    assert "database or disk is full (SQLITE_FULL; " in done.stderr


def test_a_locked_store_ends_import_with_one_line(catalogue, tmp_path, monkeypatch):  # noqa: F811
    db = tmp_path / "store.db"
    open_store(f"sqlite:///{db}").close()
    monkeypatch.setattr(sqlite_store, "LOCK_TIMEOUT", 0.2)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, holding on
    try:
        result = CliRunner().invoke(main, ["import", str(catalogue), "--store", f"sqlite:///{db}",
                                           "--processes", "1", "-q"])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip() == (
        f"Error: cannot open the store {db}: database is locked: another process held it for "
        "longer than 0 s (another import, harvest or sync writing to it?)")
    assert stored(f"sqlite:///{db}") == 0


def test_a_store_locked_mid_import_ends_it_with_one_line_and_what_was_written(
        catalogue, tmp_path, monkeypatch):  # noqa: F811 - the fixture
    """Another writer takes the store after the first batch and holds on."""
    from thuvien_interop.pipeline import files

    db = tmp_path / "store.db"
    monkeypatch.setattr(sqlite_store, "LOCK_TIMEOUT", 0.2)
    other = sqlite3.connect(db, isolation_level=None)
    batches = []
    real = files.Pipeline.feed

    def feed(self, name, items, on_batch=None):
        def locked_after_first(report):
            batches.append(report)
            if len(batches) == 1:
                other.execute("BEGIN IMMEDIATE")
        return real(self, name, items, on_batch=locked_after_first)

    monkeypatch.setattr(files.Pipeline, "feed", feed)
    try:
        result = CliRunner().invoke(main, ["import", str(catalogue), "--store", f"sqlite:///{db}",
                                           "--processes", "1", "-q"])
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip() == (
        f"Error: import stopped: writing to {db} failed: database is locked: another process "
        "held it for longer than 0 s (another import, harvest or sync writing to it?). "
        f"Written before: {BATCH:,} added, 0 updated, 0 unchanged, 0 deleted; import the same "
        "files again to add the rest.")
    assert RECORDS > BATCH, "a second batch to be locked out"
    assert stored(f"sqlite:///{db}") == BATCH


def test_a_batch_failed_by_a_full_disk_leaves_the_search_index_as_it_was(tmp_path):
    """The SQLite store keeps memos of the words and index codes it wrote: a batch
    that fails (here at the database's size limit, as on a full disk) must not
    leave them believing its words are stored."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        store.write([indexed(i, dc_title=[f"Ngựa vằn số {i}"]) for i in range(1, 4)], now=100)
        conn = store._conn()  # noqa: SLF001 - this thread's connection: the limit is its own
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        words = " ".join(f"Quagmireword{i:04d}" for i in range(3000))
        with pytest.raises(StoreError, match="database or disk is full"):
            store.write([indexed(i, dc_title=[f"Zebrawords {words}"]) for i in range(4, 60)],
                        now=200)
        conn.execute("PRAGMA max_page_count = 1073741823")
        assert sorted(found(store, phrase("dc.title", "ngua"))) == ["1", "2", "3"]
        assert found(store, phrase("dc.title", "zebrawords")) == []
        assert found(store, phrase("dc.title", "*ebrawords", kind="glob")) == []
        store.write([indexed(i, dc_title=[f"Zebrawords {words}"]) for i in range(4, 6)], now=300)
        assert sorted(found(store, phrase("dc.title", "*ebrawords", kind="glob"))) == ["4", "5"]
        assert sorted(found(store, phrase("dc.title", "quagmireword2999"))) == ["4", "5"]
        assert sorted(found(store, phrase("dc.title", "ngua"))) == ["1", "2", "3"]
    finally:
        store.close()
