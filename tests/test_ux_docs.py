"""What the README and docs/ tell a reader is what happens: the demo's terminal, the
curl lines (run against a real server of the sample catalogue, they print something a
person can read), the set a provider's records are in, and the size of a store."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import live_server

from thuvien_interop.oai.harvest_sources import Source
from thuvien_interop.web import create_app

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ADDRESS = "http://127.0.0.1:8000"


def text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_the_readme_says_the_demo_keeps_the_terminal():
    readme = text("README.md")
    after = readme.split("thuvien-interop demo\n```", 1)[1].split("```", 1)[0]
    assert "Ctrl-C" in after and "second terminal" in after


def curl_lines() -> list[tuple[str, str]]:
    found = []
    for doc in DOCUMENTS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("curl ") and ADDRESS in line:
                found.append((f"{doc.relative_to(ROOT)}:{number}", line))
    return found


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("xmllint") and shutil.which("bash")),
                    reason="curl, xmllint (libxml2-utils) and bash are needed to run the docs' lines")
def test_each_curl_line_of_the_docs_prints_something_a_person_can_read(sample_store):
    lines = curl_lines()
    assert len(lines) >= 5
    with live_server(create_app(sample_store)) as root:
        for where, line in lines:
            done = subprocess.run(["bash", "-c", line.replace(ADDRESS, root)], capture_output=True,
                                  text=True, encoding="utf-8", timeout=120)
            shown = done.stdout.splitlines()
            assert shown and not done.stderr, f"{where}: {line}\n{done.stderr}"
            longest = max(len(s) for s in shown)
            assert longest <= 400, f"{where} prints a line of {longest:,} characters: {line}"
            assert "<error" not in done.stdout, f"{where}: {done.stdout[:2000]}"


def test_the_readmes_first_lines_show_records_of_the_demo(sample_store):
    # What the README promises the two lines print: identifiers, then a record laid out.
    [ids, record] = [line for where, line in curl_lines() if where.startswith("README.md")][:2]
    with live_server(create_app(sample_store)) as root:
        got = [subprocess.run(["bash", "-c", c.replace(ADDRESS, root)], capture_output=True,
                              text=True, encoding="utf-8", timeout=120).stdout for c in (ids, record)]
    assert got[0].split() == [f"oai:thuvien-interop.vn:VN-TV-00000{n}" for n in range(1, 6)]
    assert "    <record>" in got[1] and "<dc:title>" in got[1]


def test_the_set_of_a_providers_records_is_named_as_the_harvester_names_it():
    named = set()
    for doc in DOCUMENTS:
        named |= set(re.findall(r"`([a-z]+):(?:NAME|<name>|xyz)`", doc.read_text(encoding="utf-8")))
    assert named == {Source("xyz", "http://x.vn/oai").set_spec.split(":")[0]} == {"source"}


def test_the_documented_size_of_a_store_is_what_the_sample_takes(sample_db, tmp_path):
    said = re.search(r"about \*\*(\d+) KiB a record on SQLite\*\* and \*\*(\d+) KiB a\s+record "
                     r"on PostgreSQL\*\*", text("docs/deploying.md"))
    assert said, "docs/deploying.md says how big a store grows"
    import sqlite3

    copy = tmp_path / "samples.db"
    shutil.copy(sample_db, copy)
    conn = sqlite3.connect(copy)
    records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    per_record = copy.stat().st_size / records / 1024
    # The documented figure comes from bench/stores.py; the sample's records are of
    # the same kind, so a figure off by half or double is out of date.
    assert per_record / 2 <= int(said.group(1)) <= per_record * 2, per_record
