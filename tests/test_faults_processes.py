"""Worker processes die with the command that started them (issue 17): real
``import`` and ``harvest`` processes with two worker processes each, killed with
SIGKILL or stopped with SIGTERM — the signal sent to the command's own process
only, as ``kill PID`` and the OOM killer do, the case that used to leave the
workers, the fork server and the resource tracker running for minutes, a
``pymp-*`` folder in the temporary directory and, on PostgreSQL, their
connections open. Then nothing of the run may remain (processes, temporary
folders, connections, leases), and running the command again must give the
store a clean run gives, record by record. Each test waits for the state it
needs (rows stored, processes gone), never for a fixed time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pymarc
import pytest
from conftest import PG_URL, drop_schema, fresh_store_url, postgres_unreachable
from test_harvest import ALL, identifiers
from test_harvest_faults import blocked, source_store  # noqa: F401 - fixtures

from thuvien_interop.model import ListQuery
from thuvien_interop.pipeline import BATCH
from thuvien_interop.store import open_store
from thuvien_interop.workers import sweep_stale_temp

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="finds the processes a run left in /proc")

#: The catalogue: five whole batches (a transaction each, the pipeline's BATCH,
#: whatever it is) and part of a sixth, so that an import can be killed after any
#: of the first four and still have records to read, and its last batch is short.
RECORDS = 5 * BATCH + BATCH // 2


def wait_until(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not so after {timeout:.0f} s: {what}")
        threading.Event().wait(0.05)


def session_processes(sid: int) -> list[str]:
    """The live processes of session ``sid`` (a command started with
    start_new_session=True, its workers, fork server and resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rpartition(b")")[2].split()
        if fields[0] not in (b"Z", b"X") and int(fields[3]) == sid:
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def pg_connections(app: str) -> int:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (app,)).fetchone()[0]


def contents(url: str) -> dict[str, tuple]:
    """Every record of a store: identifier -> (deleted, sets, canonical format and bytes)."""
    store = open_store(url)
    try:
        items = store.list(ListQuery(), None, 10 ** 7, metadata=False)
        return {i.header.identifier: (i.header.deleted, i.header.sets,
                                      store.canonical(i.header.identifier)) for i in items}
    finally:
        store.close()


def stored(url: str) -> int:
    try:
        store = open_store(url)
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    try:
        return store.info().record_count
    finally:
        store.close()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalogue") / "catalogue.mrc"
    with path.open("wb") as f:
        for i in range(RECORDS):
            r = pymarc.Record(force_utf8=True)
            r.add_field(pymarc.Field("001", data=f"VN{i:06d}"))
            r.add_field(pymarc.Field("245", pymarc.Indicators("1", "0"), [
                pymarc.Subfield("a", f"Truyện Kiều, tập {i} /"),
                pymarc.Subfield("c", "Nguyễn Du.")]))
            r.add_field(pymarc.Field("260", pymarc.Indicators(" ", " "), [
                pymarc.Subfield("a", "Hà Nội :"), pymarc.Subfield("c", str(1950 + i % 70))]))
            f.write(r.as_marc())
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    """A fresh store URL of each backend, and the application name its commands'
    PostgreSQL connections carry."""
    app = f"thuvien-fault-{uuid.uuid4().hex[:10]}"
    if request.param == "postgres" and (reason := postgres_unreachable()):
        pytest.skip(reason)
    return request.param, (lambda name: fresh_store_url(request, request.param, tmp_path,
                                                        f"fault_{name}")), app


def environment(tmp: Path, app: str) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "PGAPPNAME": app}


def left_behind(proc: subprocess.Popen, tmp: Path, app: str, kind: str) -> None:
    """Wait until nothing of the run remains: its processes, its temporary
    folders, its PostgreSQL connections."""
    wait_until(lambda: not session_processes(proc.pid),
               f"processes of the killed run still alive: {session_processes(proc.pid)}")
    assert not list(tmp.glob("pymp-*")), "the run left its multiprocessing folder"
    if kind == "postgres":
        wait_until(lambda: pg_connections(app) == 0,
                   f"{pg_connections(app)} PostgreSQL connections of the killed run still open")


def ended_by(sig: int, proc: subprocess.Popen, out: str) -> None:
    """How a stopped import or sync must end: SIGTERM with 143 and its one line,
    kill -9 killed."""
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, out
        assert "Stopped (SIGTERM). The batches written before are stored" in out, out
        assert "Traceback" not in out, out
    else:
        assert proc.returncode == -signal.SIGKILL


def feed_pipe(pipe: Path, catalogue: Path, records: int, release: threading.Event) -> None:
    """Write the first ``records`` records of ``catalogue`` into the named pipe,
    then hold it open (no end of file) until ``release`` is set."""
    data = catalogue.read_bytes()
    end = 0
    for _ in range(records):
        end = data.index(b"\x1d", end) + 1
    try:
        with pipe.open("wb") as out:
            out.write(data[:end])
            out.flush()
            release.wait()
    except BrokenPipeError:  # the import was killed first
        pass


def import_command(catalogue: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "thuvien_interop", "import", str(catalogue), "--store", url,
            "--processes", "2", "-q"]


@pytest.fixture(scope="module")
def clean_imports() -> dict[str, dict]:
    """What a clean import of the catalogue stores, per backend (made on first use)."""
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("sig, moment", [(signal.SIGKILL, 1), (signal.SIGKILL, 4),
                                         (signal.SIGTERM, 2)],
                         ids=["kill-9-after-batch-1", "kill-9-after-batch-4",
                              "sigterm-after-batch-2"])
def test_killed_import_leaves_nothing_running_and_a_rerun_completes_it(
        catalogue, backend, clean_imports, tmp_path, sig, moment):
    kind, new_url, app = backend
    if kind == "postgres" and moment == 4:
        pytest.skip("one kill -9 moment is enough on PostgreSQL (the suite's time)")
    if kind not in clean_imports:
        clean = new_url("clean")
        done = subprocess.run(import_command(catalogue, clean), capture_output=True, text=True,
                              env=environment(tmp_path / "tmp-clean", app), timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        clean_imports[kind] = contents(clean)
    url = new_url("killed")
    tmp = tmp_path / "tmp"
    # The killed import reads the catalogue from a pipe that gives it the records of
    # `moment` + 1 batches and then nothing more, never the end: batch `moment` is
    # written once the next one is read, and the import cannot end before the signal
    # however fast the machine is.
    fed = BATCH * (moment + 1)
    assert fed < RECORDS, "the rerun has records the killed run never read"
    pipe = tmp_path / "catalogue.pipe"
    os.mkfifo(pipe)
    release = threading.Event()
    threading.Thread(target=feed_pipe, args=(pipe, catalogue, fed, release),
                     daemon=True).start()
    proc = subprocess.Popen(import_command(pipe, url) + ["--format", "iso2709"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=environment(tmp, app))
    try:
        wait_until(lambda: proc.poll() is not None or stored(url) >= BATCH * moment,
                   f"{BATCH * moment} records stored ({moment} batches)")
        assert proc.poll() is None, proc.communicate()[0]
        if kind == "postgres":
            assert pg_connections(app) >= 2, "the workers write with connections of their own"
        os.kill(proc.pid, sig)  # the command only, not its process group
        out, _ = proc.communicate(timeout=120)
        left_behind(proc, tmp, app, kind)
    finally:
        release.set()
        if session_processes(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    ended_by(sig, proc, out)
    if sig == signal.SIGTERM:
        # (the batches handed over are written before it exits: maybe all of them)
        assert BATCH * moment <= stored(url) <= fed
    else:
        # (the workers may have written the batch after it too: it was read)
        assert BATCH * moment <= stored(url) <= fed
    # Whole batches only: a batch is one transaction, committed or not at all.
    assert stored(url) % BATCH == 0, f"{stored(url)} records: part of a batch committed"
    rerun = subprocess.run(import_command(catalogue, url), capture_output=True, text=True,
                           env=environment(tmp_path / "tmp-rerun", app), timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert contents(url) == clean_imports[kind], "the rerun's store is not a clean run's"


def harvest_command(url: str, store: str, name: str = "daklak") -> list[str]:
    return [sys.executable, "-m", "thuvien_interop", "harvest", url, "--store", store,
            "--name", name, "--prefix", "marc21", "--processes", "2", "-q"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killed_harvest_leaves_nothing_running_and_a_rerun_completes_it(
        blocked, backend, tmp_path, sig):  # noqa: F811 - the fixture
    kind, new_url, app = backend
    clean = new_url("clean")
    blocked.gate.set()
    done = subprocess.run(harvest_command(blocked.url, clean), capture_output=True, text=True,
                          env=environment(tmp_path / "tmp-clean", app), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = contents(clean)
    blocked.gate.clear()
    blocked.requests.clear()
    blocked._counts.clear()  # the 3rd ListRecords answer of the next run waits again
    url = new_url("killed")
    tmp = tmp_path / "tmp"
    proc = subprocess.Popen(harvest_command(blocked.url, url), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env=environment(tmp, app))
    try:
        union = open_store(url)
        try:
            while blocked.count("ListRecords") < 3 or len(identifiers(union)) < 20:
                assert proc.poll() is None, proc.communicate()[0]
                threading.Event().wait(0.05)
        finally:
            union.close()
        os.kill(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.communicate(timeout=60)
        else:
            # Page 3 is held back: the harvest stops without it.
            out, _ = proc.communicate(timeout=60)
        left_behind(proc, tmp, app, kind)
    finally:
        blocked.gate.set()
        if session_processes(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    union = open_store(url)
    try:
        if sig == signal.SIGTERM:
            assert proc.returncode == 143, out
            assert union.lease_holder("daklak") is None, "released on the way out"
        else:
            assert str(proc.pid) in (union.lease_holder("daklak") or "")
    finally:
        union.close()
    rerun = subprocess.run(harvest_command(blocked.url, url), capture_output=True, text=True,
                           env=environment(tmp_path / "tmp-rerun", app), timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    got = contents(url)
    assert sorted(i for i in got if i.startswith("oai:daklak.vn:")) == ALL
    assert got == expected, "the rerun's store is not a clean run's"
    union = open_store(url)
    try:
        assert union.lease_holder("daklak") is None
    finally:
        union.close()


def test_a_dead_programs_multiprocessing_folder_is_swept_and_a_live_ones_kept(tmp_path):
    """What a run killed as a whole (kill -9 of its process group) leaves: a
    ``pymp-*`` folder with the socket of a fork server that is gone. The next
    pool removes it; a folder whose socket some process has open stays, and so
    do folders holding anything else."""
    import socket

    dead, live, other = (tmp_path / f"pymp-{n}" for n in ("dead", "live", "other"))
    for d in (dead, live, other):
        d.mkdir()
    gone = socket.socket(socket.AF_UNIX)
    gone.bind(str(dead / "listener-1"))
    gone.close()  # the file stays, the socket is gone
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(live / "listener-2"))
    listening.listen()
    (other / "notes.txt").write_text("not a fork server's")
    try:
        assert sweep_stale_temp(str(tmp_path), min_age=0) == [str(dead)]
        assert not dead.exists() and live.exists() and other.exists()
        (tmp_path / "pymp-young").mkdir()
        young = socket.socket(socket.AF_UNIX)
        young.bind(str(tmp_path / "pymp-young" / "listener-3"))
        young.close()
        assert sweep_stale_temp(str(tmp_path)) == [], "a folder made a moment ago stays"
    finally:
        listening.close()


def test_sweeping_leaves_a_live_fork_server_working(tmp_path):
    """The sweep never touches the socket of a live fork server (connecting to it
    and leaving would crash it): a pool started before a sweep still starts
    workers after it."""
    script = tmp_path / "pool.py"
    script.write_text(
        "import multiprocessing.util, sys\n"
        "from thuvien_interop.formats import default_registry\n"
        "from thuvien_interop.workers import WorkerPool, sweep_stale_temp\n"
        "def double(registry, items):\n"
        "    return [2 * i for i in items]\n"
        "if __name__ == '__main__':\n"
        "    pool = WorkerPool(default_registry(), 2)\n"
        "    assert pool.submit(double, list(range(100))).result() == [2 * i for i in range(100)]\n"
        "    pool.close()\n"
        "    folder = multiprocessing.util.get_temp_dir()\n"
        "    assert sweep_stale_temp(min_age=0) == [], 'a live fork server swept'\n"
        "    pool = WorkerPool(default_registry(), 2)\n"
        "    assert pool.submit(double, list(range(100))).result() == [2 * i for i in range(100)]\n"
        "    assert pool.parallel, 'the workers failed after the sweep'\n"
        "    pool.close()\n"
        "    print('ok', folder)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok "), done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "failed" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("pymp-*")), "the program's own folder is removed at its exit"


# -- sync ---------------------------------------------------------------------------

# A sync reads the source a page of BATCH rows at a time and writes each page as
# one batch. The sets of the first two pages are read; the third page's wait at
# the gate.
SYNC_OPEN = 2 * BATCH
SYNC_ROWS = SYNC_OPEN + BATCH // 2


@pytest.fixture
def gated_source(tmp_path):
    """A library's database in the real PostgreSQL: SYNC_ROWS books, one a second
    in id order, and a profile whose set memberships go through a gate for the
    rows after the first SYNC_OPEN (the list of sets has a query of its own). ``gate`` is the advisory lock the test holds to
    close it: a sync reading the sets of the fourth page waits there, however
    fast the machine. Yields (SQLAlchemy URL, profile file, the lock's key)."""
    if reason := postgres_unreachable():
        pytest.skip(reason)
    import psycopg

    schema = f"syncgate_{uuid.uuid4().hex[:10]}"
    key = int(uuid.uuid4().int % (1 << 31))
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.sach (ma_sach integer PRIMARY KEY, nhan_de text, "
                     "tac_gia text, kho text, cap_nhat timestamp NOT NULL)")
        conn.execute(f"CREATE TABLE {schema}.sach_xoa (ma_sach integer, luc_xoa timestamp NOT NULL)")
        conn.execute(f"""INSERT INTO {schema}.sach
            SELECT i, 'Truyện Kiều, tập ' || i, 'Nguyễn Du', CASE WHEN i % 2 = 0 THEN 'GK' ELSE 'TK' END,
                   timestamp '2024-03-01 09:00:00' + i * interval '1 second'
            FROM generate_series(1, {SYNC_ROWS}) AS i""")
        # COST: the planner tests the cheap "id IN (...)" of the page first, so only
        # the page's own rows reach the gate.
        conn.execute(f"""CREATE FUNCTION {schema}.gate(id integer) RETURNS boolean
            LANGUAGE plpgsql VOLATILE COST 100000 AS $$
            BEGIN
              IF id > {SYNC_OPEN} THEN
                PERFORM pg_advisory_lock_shared({key});
                PERFORM pg_advisory_unlock_shared({key});
              END IF;
              RETURN true;
            END $$""")
    profile = tmp_path / "gated.toml"
    profile.write_text(f'''[profile]
name = "gated"
[source]
timezone = "UTC"
[records]
format = "columns"
query = "SELECT s.ma_sach AS id, s.cap_nhat AS datestamp, s.nhan_de, s.tac_gia FROM {schema}.sach s"
[deleted]
query = "SELECT x.ma_sach AS id, x.luc_xoa AS datestamp FROM {schema}.sach_xoa x"
[columns]
nhan_de = "245$a"
tac_gia = "100$a"
[[sets]]
spec = "kho"
name = "Kho"
members = "SELECT s.ma_sach AS id, s.kho AS value FROM {schema}.sach s WHERE {schema}.gate(s.ma_sach)"
names = "SELECT DISTINCT s.kho AS value, 'Kho ' || s.kho AS name FROM {schema}.sach s"
''', encoding="utf-8")
    source = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    yield source, profile, key
    drop_schema(schema)


def sync_command(source: str, profile: Path, store: str) -> list[str]:
    return [sys.executable, "-m", "thuvien_interop", "sync", "--profile", str(profile),
            "--source", source, "--store", store, "--repository-id", "thuvien-gate.vn",
            "--processes", "2"]


def waiting_at_the_gate(app: str) -> bool:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                            (app,)).fetchone()[0] > 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killed_sync_leaves_nothing_running_and_a_rerun_completes_it(
        gated_source, backend, tmp_path, sig):
    import psycopg

    kind, new_url, app = backend
    source, profile, key = gated_source
    clean = new_url("clean")
    done = subprocess.run(sync_command(source, profile, clean), capture_output=True, text=True,
                          env=environment(tmp_path / "tmp-clean", app), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = contents(clean)
    assert len(expected) == SYNC_ROWS
    url = new_url("killed")
    tmp = tmp_path / "tmp"
    gate = psycopg.connect(PG_URL, autocommit=True)
    gate.execute("SELECT pg_advisory_lock(%s)", (key,))
    opened = False
    proc = subprocess.Popen(sync_command(source, profile, url), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env=environment(tmp, app))
    try:
        # Pages 1-2 are read and handed over; the sets of page 3 wait at the gate.
        wait_until(lambda: proc.poll() is not None or (
            stored(url) >= SYNC_OPEN - BATCH and waiting_at_the_gate(app)),
            "the sync's first batches stored and its reading held at the gate")
        assert proc.poll() is None, proc.communicate()[0]
        os.kill(proc.pid, sig)  # the command only, not its process group
        out, _ = proc.communicate(timeout=120)
        # The killed run's source connection waits on the lock until it opens.
        gate.execute("SELECT pg_advisory_unlock(%s)", (key,))
        opened = True
        left_behind(proc, tmp, app, kind)
    finally:
        if not opened:
            gate.execute("SELECT pg_advisory_unlock(%s)", (key,))
        gate.close()
        if session_processes(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    ended_by(sig, proc, out)
    assert SYNC_OPEN - BATCH <= stored(url) <= SYNC_OPEN, "nothing past the gate was read"
    assert stored(url) % BATCH == 0, f"{stored(url)} records: part of a page committed"
    rerun = subprocess.run(sync_command(source, profile, url), capture_output=True, text=True,
                           env=environment(tmp_path / "tmp-rerun", app), timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert contents(url) == expected, "the rerun's store is not a clean run's"
