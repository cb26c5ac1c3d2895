"""Shared fixtures: real SQLite files, a real HTTP server on 127.0.0.1, the
published schemas. Area-specific fixtures live in their own test modules."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from waitress_loop import serve_until

from thuvien_interop.validate import schemas as _schemas

ROOT = Path(__file__).resolve().parent.parent
XSD = ROOT / "xsd"
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "src" / "thuvien_interop" / "data" / "samples"

# Published schemas import each other by URL; the package maps them to xsd/
# (one place: the validator uses the same helper).
SCHEMA_LOCATIONS = _schemas.schema_locations()
schema = _schemas.schema


# The commands speak the language of the environment (THUVIEN_LANG, LANG): the
# tests read their English, whatever the machine's locale, unless a test says otherwise.
os.environ["THUVIEN_LANG"] = "en"

PG_URL = os.environ.get("THUVIEN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
@cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'thuvien-interop[postgres]')"
    try:
        psycopg.connect(PG_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_URL} is unreachable: {str(exc).strip()}"
    return None


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def fresh_store_url(request: pytest.FixtureRequest, backend: str, directory: Path | None,
                    name: str) -> str:
    """The URL of a store no test has used yet, for a fixture or a test: on SQLite
    ``directory/name.db``; on PostgreSQL a schema named ``name`` with a random suffix,
    dropped when ``request`` ends (after the fixture's own teardown). Where
    PostgreSQL is unreachable the test is skipped with the reason."""
    if backend == "sqlite":
        assert directory is not None, "a SQLite store needs a directory"
        return f"sqlite:///{directory / name}.db"
    if reason := postgres_unreachable():
        pytest.skip(reason)
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: drop_schema(schema))
    return f"{PG_URL}?schema={schema}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app, threads: int = 4, **adjustments) -> Iterator[str]:
    """Serve a WSGI app with waitress on 127.0.0.1; yield its root URL.
    ``adjustments`` are waitress settings (e.g. ``clear_untrusted_proxy_headers``)."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads, **adjustments)
    port = server.effective_port
    stopping = threading.Event()

    thread = threading.Thread(target=serve_until, args=(server, stopping), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stopping.set()
        thread.join(timeout=10)


@pytest.fixture
def store(tmp_path):
    """An empty SQLite store in a real file."""
    from thuvien_interop.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> str:
    """A SQLite file holding the sample catalogue (built once per session); copy it
    or open it read-only in tests."""
    from thuvien_interop.ingest.loader import IdentifierRule, import_files
    from thuvien_interop.store import open_store

    path = tmp_path_factory.mktemp("samples") / "samples.db"
    s = open_store(f"sqlite:///{path}")
    files = sorted(p for p in SAMPLES.iterdir() if p.name in ("vietnamese-catalogue.mrc", "vietnamese-dc.xml"))
    report = import_files(s, files, IdentifierRule("thuvien-interop.vn"))
    assert not report.rejected, report.rejected[:3]
    s.close()
    return str(path)


@pytest.fixture
def sample_store(sample_db, tmp_path):
    """A private copy of the sample catalogue store."""
    import shutil

    from thuvien_interop.store import open_store

    path = tmp_path / "samples.db"
    shutil.copy(sample_db, path)
    s = open_store(f"sqlite:///{path}")
    yield s
    s.close()
