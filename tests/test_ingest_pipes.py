"""Catalogues read from a pipe (``zcat catalogue.mrc.gz | thuvien-interop import
/dev/stdin``): a stream that cannot be rewound, whose records arrive as they
are written. The format is told from the first bytes the pipe holds, and
``import``, ``check`` and ``convert`` read it as they read a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from thuvien_interop.model import ListQuery
from thuvien_interop.store import open_store

DATA = Path(__file__).parent / "data"


def run(args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thuvien_interop", *args], input=stdin,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("formats")
    found = {"iso2709": (DATA / "loc-200.mrc").read_bytes()}
    for fmt, to in (("marcxml", "marcxml"), ("dc", "oai_dc")):
        done = run(["convert", str(DATA / "loc-200.mrc"), "--to", to, "-o",
                    str(out / f"{fmt}.xml"), "-q"], b"")
        assert done.returncode == 0, done.stderr
        found[fmt] = (out / f"{fmt}.xml").read_bytes()
    return found


@pytest.mark.parametrize("fmt", ["iso2709", "marcxml", "dc"])
def test_import_from_a_pipe_loads_what_the_file_loads(files, tmp_path, fmt):
    counts = []
    for name, where in (("pipe", "/dev/stdin"), ("file", str(tmp_path / "catalogue"))):
        (tmp_path / "catalogue").write_bytes(files[fmt])
        url = f"sqlite:///{tmp_path / name}.db"
        done = run(["import", where, "--store", url, "--repository-id", "thuvien.example.vn",
                    "-q"], files[fmt])
        assert b"Traceback" not in done.stderr, done.stderr.decode()
        store = open_store(url)
        try:
            items = store.list(ListQuery(), None, 10 ** 6, metadata=False)
            counts.append(sorted(i.header.identifier for i in items))
        finally:
            store.close()
        assert done.stdout.decode().startswith("Read 200 records"), done.stdout + done.stderr
    assert counts[0] == counts[1]
    assert len(counts[0]) > 50  # (the DC of a record without 856 or 020 has no identifier)


def test_check_and_convert_read_a_pipe(files):
    checked = run(["check", "/dev/stdin"], files["marcxml"])
    assert b"Checked 200 records in 1 file" in checked.stdout, checked.stdout + checked.stderr
    converted = run(["convert", "/dev/stdin", "--to", "oai_dc", "-q"], files["iso2709"])
    assert converted.returncode == 0, converted.stderr
    assert converted.stdout.count(b"<oai_dc:dc") == 200
