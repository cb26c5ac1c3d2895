"""What `serve` and `demo` tell the person who starts them: a busy port in one line with
the fix, what is served once it is served, one access-log line a request; a live source
says it cannot be searched. Real processes, real HTTP on 127.0.0.1."""

from __future__ import annotations

import queue
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from conftest import free_port, live_server
from lxml import etree

from thuvien_interop.web import create_app

COMMAND = [sys.executable, "-c", "from thuvien_interop.cli import main; main()"]
CHROME_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# The combined log format: host ident user [time] "request" status bytes "referer" "agent".
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED = re.compile(r'^(\S+) - (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
                      rf'{_QUOTED} (\d{{3}}) (\d+|-) {_QUOTED} {_QUOTED}$')


@contextmanager
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as s:
        yield s.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_busy_port_is_one_line_with_the_fix(tmp_path, command):
    with busy_port() as port:
        done = subprocess.run([*COMMAND, command, "--store", f"sqlite:///{tmp_path / 's.db'}",
                               "--port", str(port)], capture_output=True, text=True, timeout=120)
    said = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 1
    assert said == [f"Error: port {port} on 127.0.0.1 is already in use (is another server "
                    f"running there?): stop it, or choose another port with --port {port + 1}"]


class Running:
    """A `thuvien-interop` process whose output is read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                     env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        # The bound only keeps a broken server from hanging the suite.
        line = self.lines.get(timeout=120)
        assert line is not None, f"the process ended ({self.proc.wait()})"
        return line

    def until(self, last: str) -> list[str]:
        seen = []
        while not seen or seen[-1] != last:
            seen.append(self.line())
        return seen

    def stop(self) -> list[str]:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        rest = []
        while (line := self.lines.get(timeout=60)) is not None:
            rest.append(line)
        return rest


@contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    r = Running(*args, env=env)
    try:
        yield r
    finally:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


@pytest.fixture
def catalogue(sample_db, tmp_path) -> str:
    import shutil

    shutil.copy(sample_db, tmp_path / "thuvien.db")
    return f"sqlite:///{tmp_path / 'thuvien.db'}"


def test_start_up_says_what_is_served_once_it_listens_and_logs_each_request(tmp_path, catalogue):
    cfg = tmp_path / "thuvien.toml"
    cfg.write_text('[repository]\nname = "Thư viện tỉnh Đắk Lắk"\n'
                   'identifier = "thuvien-interop.vn"\n', encoding="utf-8")
    port = free_port()
    with running("serve", "--store", catalogue, "--config", str(cfg), "--port", str(port)) as r:
        banner = r.until("Stop with Ctrl-C.")
        # Said once listening: the port takes a connection now.
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        root = f"http://127.0.0.1:{port}"
        assert banner == [
            "Serving Thư viện tỉnh Đắk Lắk (oai:thuvien-interop.vn:…)",
            f"  Store:    {catalogue} — 330 records",
            f"  OAI-PMH:  {root}/oai?verb=Identify",
            f"  Search:   {root}/  (tra cứu — open it in a browser)",
            f"  SRU:      {root}/sru",
            "  Workers:  1 process × 8 threads (waitress)",
            "  Access log: here, one line a request",
            "Stop with Ctrl-C.",
        ]
        resp = requests.get(f"{root}/oai", params={"verb": "Identify"},
                            headers={"User-Agent": "Sickle/0.7.3", "Accept-Encoding": "identity",
                                     "Referer": 'http://a.vn/"x"'}, timeout=30)
        line = r.line()
        logged = COMBINED.match(line)
        assert logged, f"not a line of the combined log format: {line}"
        host, user, _when, req, status, size, referer, agent = logged.groups()
        assert (host, user, req, status) == ("127.0.0.1", "-", "GET /oai?verb=Identify HTTP/1.1", "200")
        assert int(size) == len(resp.content)
        assert (referer, agent) == (r'http://a.vn/\"x\"', "Sickle/0.7.3")
        requests.get(f"{root}/oai", params={"verb": "Nonsense"}, timeout=30)
        assert '"GET /oai?verb=Nonsense HTTP/1.1" 200 ' in r.line()


def test_the_access_log_goes_to_a_file_or_nowhere(tmp_path, catalogue):
    log = tmp_path / "access.log"
    port = free_port()
    with running("serve", "--store", catalogue, "--port", str(port), "--access-log", str(log)) as r:
        assert f"  Access log: {log}" in r.until("Stop with Ctrl-C.")
        requests.get(f"http://127.0.0.1:{port}/sru", params={"operation": "explain"}, timeout=30)
        # The line is written once the response is sent: wait for that state.
        for _ in range(1200):
            if log.exists() and log.read_text(encoding="utf-8"):
                break
            threading.Event().wait(0.05)
        assert r.stop() == []
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and COMBINED.match(lines[0]) and '"GET /sru?operation=explain' in lines[0]

    port = free_port()
    with running("serve", "--store", catalogue, "--port", str(port), "--access-log", "off") as r:
        assert "  Access log: off" in r.until("Stop with Ctrl-C.")
        for _ in range(3):
            requests.get(f"http://127.0.0.1:{port}/oai?verb=Identify", timeout=30)
        assert r.stop() == []


def test_an_access_log_that_cannot_be_written_is_one_line(tmp_path, catalogue):
    done = subprocess.run([*COMMAND, "serve", "--store", catalogue, "--port", str(free_port()),
                           "--access-log", str(tmp_path / "no" / "such" / "folder.log")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert (done.stdout + done.stderr).strip().splitlines() == [
        f"Error: cannot write the access log {tmp_path / 'no' / 'such' / 'folder.log'}: "
        "No such file or directory"]


def library_db(path) -> None:
    """The example schema of the shipped generic-sql profile, with one book."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE books (book_id INTEGER PRIMARY KEY, title TEXT, author TEXT, publisher TEXT,
            place TEXT, year TEXT, isbn TEXT, ddc TEXT, subjects TEXT, language TEXT, shelf TEXT,
            updated_at TIMESTAMP);
        CREATE TABLE deleted_books (book_id INTEGER, deleted_at TIMESTAMP);
        INSERT INTO books VALUES (1, 'Lịch sử Việt Nam', 'Trần Trọng Kim', 'Tân Việt', 'Hà Nội',
            '1951', NULL, '959.7', 'Lịch sử', 'vie', 'A1', '2024-02-01 10:00:00');
    """)
    conn.commit()
    conn.close()


def test_a_live_source_says_it_has_no_search_and_how_to_get_one(tmp_path):
    pytest.importorskip("sqlalchemy")
    library_db(tmp_path / "lib.db")
    port = free_port()
    source = f"sqlite:///{tmp_path / 'lib.db'}"
    with running("serve", "--source", source, "--profile", "generic-sql",
                 "--port", str(port), "--access-log", "off") as r:
        banner = r.until("Stop with Ctrl-C.")
        assert f"  Source:   {source} (read live, profile generic-sql) — 1 record" in banner
        assert ("  SRU:      none — a live source cannot be searched; `thuvien-interop sync` "
                "copies it into a store that can") in banner
        # The landing page (/ leads to Identify's page) says it too, and offers no search.
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=30,
                            headers={"Accept": CHROME_ACCEPT, "Sec-Fetch-Dest": "document"})
        html = etree.HTML(page.content)
        note = "".join(html.xpath("//*[@id='no-search']")[0].itertext())
        assert "thuvien-interop sync" in note and "cannot be searched" in note
        assert not html.xpath("//a[@id='sru-search']")


def test_the_oai_and_sru_pages_link_to_each_other(sample_store):
    browser = {"Accept": CHROME_ACCEPT, "Sec-Fetch-Dest": "document"}
    with live_server(create_app(sample_store)) as root:
        oai = etree.HTML(requests.get(f"{root}/oai?verb=ListSets", headers=browser, timeout=30).content)
        search = oai.xpath("//a[@id='sru-search']/@href")
        assert search == ["/"]          # the readers' search, which /sru also is for browsers
        sru = etree.HTML(requests.get(root + search[0], headers=browser, timeout=30).content)
        back = sru.xpath("//a[@id='oai-pmh']/@href")
        assert back == ["/oai?verb=Identify"]
        identify = requests.get(root + back[0], headers=browser, timeout=30)
        assert identify.headers["Content-Type"].startswith("text/html")
        labels = [("".join(th.itertext())) for th in etree.HTML(identify.content).xpath("//th")]
        assert "Base URL · Địa chỉ thu thập" in [label.replace("\xa0", " ") for label in labels] \
            or any("Địa chỉ thu thập" in label and "Base URL" in label for label in labels)
        assert not any(label in ("baseURL", "repositoryName", "adminEmail") for label in labels)
