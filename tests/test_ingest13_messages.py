"""What import, convert and check print (issue 13): counts in English with their
plurals, no lone progress label when the output is not a terminal, and on a
terminal a bar that counts records as well as bytes."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from click.testing import CliRunner
from conftest import SAMPLES

from thuvien_interop.cli import main

CATALOGUE = SAMPLES / "vietnamese-catalogue.mrc"


def first_records(tmp_path, n: int):
    raw = CATALOGUE.read_bytes()
    ends = [i for i, b in enumerate(raw) if b == 0x1D][:n]
    path = tmp_path / f"first-{n}.mrc"
    path.write_bytes(raw[:ends[-1] + 1])
    return path


def test_import_into_a_pipe_prints_no_lone_progress_label_and_one_record_is_singular(tmp_path):
    path = first_records(tmp_path, 1)
    result = CliRunner().invoke(main, ["import", str(path), "--store",
                                       f"sqlite:///{tmp_path / 'x.db'}", "--processes", "1"])
    assert result.exit_code == 0, result.output
    assert "Importing" not in result.output
    assert "Read 1 record: 1 loaded, 0 updated, 0 unchanged, 0 deleted, 0 rejected." in result.output


def test_convert_into_a_file_from_a_pipe_prints_no_lone_label_and_counts_in_english(tmp_path):
    path = first_records(tmp_path, 1)
    result = CliRunner().invoke(main, ["convert", str(path), "--to", "oai_dc",
                                       "-o", str(tmp_path / "out.xml")])
    assert result.exit_code == 0, result.output
    assert "Converting" not in result.stderr
    assert result.stderr.strip() == "Converted 1 of 1 record to oai_dc."


def test_check_of_one_record_says_record_not_records(tmp_path):
    path = first_records(tmp_path, 1)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.stdout.startswith("Checked 1 record in 1 file: ")


def run_on_a_terminal(args: list[str]) -> str:
    """Run the command as a person does, its output a terminal; all it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "thuvien_interop", *args], stdin=slave,
                            stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "120"})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait() == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_the_import_bar_on_a_terminal_counts_records(tmp_path):
    path = first_records(tmp_path, 40)
    out = run_on_a_terminal(["import", str(path), "--store", f"sqlite:///{tmp_path / 'x.db'}",
                             "--processes", "1"])
    assert "Importing" in out and "100%" in out
    assert "40 records" in out.split("Read 40 records")[0]
