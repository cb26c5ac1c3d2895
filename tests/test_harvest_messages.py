"""What a librarian sees of a harvest: messages in words that name the provider and
say what to try, OAI-PMH errors sent with HTTP error statuses, warnings about a
doubtful Identify, a progress bar whose rate and time left make sense, and a
summary of this run with one way of writing numbers."""

from __future__ import annotations

import re

from click.testing import CliRunner
from conftest import free_port, live_server
from test_harvest import _screen, _Terminal

from thuvien_interop.cli import main
from thuvien_interop.model import WriteSummary
from thuvien_interop.oai.harvest_sources import Source
from thuvien_interop.oai.harvester import HarvestResult, ListResult

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        '<responseDate>2026-01-01T00:00:00Z</responseDate>')


def identify(earliest: str = "2020-01-01T00:00:00Z", name: str = "Zenodo") -> str:
    return (HEAD + f'<request verb="Identify">http://x/oai</request><Identify>'
            f'<repositoryName>{name}</repositoryName><baseURL>http://x/oai</baseURL>'
            '<protocolVersion>2.0</protocolVersion><adminEmail>a@b.vn</adminEmail>'
            f'<earliestDatestamp>{earliest}</earliestDatestamp><deletedRecord>no</deletedRecord>'
            '<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>')


class Scripted:
    """A provider answering each verb with (status, body) given up front."""

    def __init__(self, answers: dict[str, tuple[str, str]]) -> None:
        self.answers = answers
        self.verbs: list[str] = []

    def __call__(self, environ, start_response):
        verb = re.search(r"verb=(\w+)", environ.get("QUERY_STRING", ""))
        name = verb.group(1) if verb else ""
        self.verbs.append(name)
        status, body = self.answers.get(name, ("200 OK", HEAD + '<error code="badVerb"/></OAI-PMH>'))
        data = body.encode()
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
        return [data]


def harvest(url: str, tmp_path, *extra: str):
    return CliRunner().invoke(main, ["harvest", url, "--name", "zenodo", "--store",
                                     f"sqlite:///{tmp_path / 'u.db'}", "--retries", "0",
                                     "--processes", "1", *extra])


def test_no_records_match_sent_with_422_is_an_empty_successful_harvest(tmp_path):
    app = Scripted({"Identify": ("200 OK", identify()),
                    "ListRecords": ("422 Unprocessable Entity", HEAD +
                                    '<error code="noRecordsMatch">No records match</error>'
                                    '</OAI-PMH>')})
    with live_server(app) as root:
        out = harvest(root + "/oai", tmp_path, "-q")
    assert out.exit_code == 0, out.output
    assert re.search(r"zenodo\s+ok\s+0\s+0\s", out.output), out.output
    assert "HTTP 422" not in out.output


def test_another_oai_error_with_an_http_error_status_is_reported_by_its_code(tmp_path):
    app = Scripted({"Identify": ("200 OK", identify()),
                    "ListRecords": ("400 Bad Request", HEAD +
                                    '<error code="cannotDisseminateFormat">no marc21 here'
                                    '</error></OAI-PMH>')})
    with live_server(app) as root:
        out = harvest(root + "/oai", tmp_path, "-q")
    assert out.exit_code == 1
    assert "cannotDisseminateFormat: no marc21 here" in out.output


def test_doubtful_identify_answers_are_warned_about(tmp_path):
    empty = ("200 OK", HEAD + '<error code="noRecordsMatch"/></OAI-PMH>')
    for body, warning in [
        (identify(name="Thư viện &nbsp; tỉnh"), "uses an entity XML does not define"),
        (identify().replace("</adminEmail>", "</adminEmial>"), "is not well-formed XML"),
        (identify(earliest="2021-13-45T00:00:00Z"), "earliestDatestamp '2021-13-45T00:00:00Z' "
                                                    "is impossible"),
        (identify(earliest="2999-01-01T00:00:00Z"), "is in the future"),
    ]:
        app = Scripted({"Identify": ("200 OK", body), "ListRecords": empty})
        with live_server(app) as root:
            out = harvest(root + "/oai", tmp_path, "--full")
        assert out.exit_code == 0, out.output
        assert re.search(r"WARNING\s+zenodo: .*" + re.escape(warning), out.output), out.output


def test_a_refused_connection_is_said_in_words_with_what_to_try(tmp_path):
    out = harvest(f"http://127.0.0.1:{free_port()}/oai", tmp_path, "-q")
    assert out.exit_code == 1
    assert "zenodo: connection refused (nothing answers at that address and port)" in out.output
    assert "tried once" in out.output and "Is the provider's server running" in out.output
    for noise in ("HTTPConnectionPool", "NewConnectionError", "Max retries", "1 attempts"):
        assert noise not in out.output
    assert out.output.count("connection refused") == 1, "said once"


def test_a_url_that_is_not_an_oai_endpoint_is_said_so(tmp_path):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status": "ok", "items": []}']

    with live_server(app) as root:
        out = harvest(root + "/api", tmp_path, "-q")
    assert out.exit_code == 1
    assert "zenodo: not an OAI-PMH response (it begins '{\"status\": \"ok\"" in out.output
    assert "Is the URL the provider's OAI-PMH base URL?" in out.output
    assert "connection dropped" not in out.output


def test_progress_rate_counts_this_run_only_and_time_left_is_shown(monkeypatch):
    from thuvien_interop.cli import harvest as cli

    clock = [1000.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    term = _Terminal()
    board = cli._Board(term)
    # A resumed list: the first update already counts 4,228,330 records of the
    # runs before; it took no time in this one.
    board.update("daklak", None, 4_228_330, 4_300_000)
    assert _screen(term.text)[-1] == "daklak [###################.] 4,228,330/4,300,000"
    clock[0] += 10
    board.update("daklak", None, 4_238_330, 4_300_000)
    line = _screen(term.text)[-1]
    assert line == ("daklak [###################.] 4,238,330/4,300,000, 1,000 records/s, "
                    "about 1 min left")


def test_summary_is_this_runs_figures_with_thousand_separators(capsys):
    from thuvien_interop.cli.harvest import _summary

    r = HarvestResult(Source("daklak", "http://x/oai"), seconds=1234.5, requests=1001)
    r.lists.append(ListResult(None, pages=40, written=WriteSummary(added=4000, unchanged=12_345),
                              resumed=True))
    stopped = HarvestResult(Source("hue", "http://y/oai"))
    stopped.lists.append(ListResult(None, pages=2, interrupted=True))
    _summary([r, stopped])
    out = capsys.readouterr().out
    assert re.search(r"daklak\s+ok, resumed\s+40\s+4,000\s+0\s+12,345\s+0\s+0\s+1,001\s+1,234\.5",
                     out), out
    assert re.search(r"hue\s+interrupted\s+2\s", out) and "FAILED" not in out


def test_diagnostics_go_beside_the_store_never_into_the_working_directory(
        tmp_path, monkeypatch):
    from conftest import PG_URL, postgres_unreachable

    from thuvien_interop.oai.harvester import default_diagnostics
    from thuvien_interop.store import open_store

    broken = ("200 OK", HEAD + '<ListRecords><record><header><identifier>oai:z:1</identifier>'
              '<datestamp>2026-01-01T00:00:00Z</datestamp></header><metadata><oai_dc:dc '
              'xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://'
              'purl.org/dc/elements/1.1/"><dc:title>Sách</dc:title></oai_dc:dc></metadata>'
              '</record><record><header><identifier>oai:z:2</identifier><datestamp>2026-01-01'
              'T00:00:00Z</datestamp></header></record></ListRecords></OAI-PMH>')
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    app = Scripted({"Identify": ("200 OK", identify()), "ListRecords": broken})
    with live_server(app) as root:
        out = CliRunner().invoke(main, ["harvest", root + "/oai", "--name", "zenodo",
                                        "--store", f"sqlite:///{tmp_path / 'data' / 'union.db'}",
                                        "-q"])
        assert out.exit_code == 0, out.output
        quarantine = tmp_path / "data" / "union-harvest-diagnostics" / "zenodo" / "quarantine.jsonl"
        assert "oai:z:2" in quarantine.read_text(encoding="utf-8")
        assert list(work.iterdir()) == [], "nothing in the working directory"
        out = CliRunner().invoke(main, ["harvest", root + "/oai", "--name", "zenodo", "--full",
                                        "--store", f"sqlite:///{tmp_path / 'data' / 'union.db'}",
                                        "--diagnostics", str(tmp_path / "mine"), "-q"])
        assert out.exit_code == 0, out.output
        assert (tmp_path / "mine" / "zenodo" / "quarantine.jsonl").exists()
    memory = default_diagnostics(open_store("sqlite:///:memory:"))
    assert memory == tmp_path / "xdg" / "thuvien-interop" / "harvest-diagnostics"
    if not postgres_unreachable():
        pg = open_store(PG_URL)
        try:
            folder = default_diagnostics(pg)
        finally:
            pg.close()
        assert folder.parent == memory and "@" not in folder.name and folder.name
