"""The harvest console (/admin/harvest), the per-run history the harvester keeps
for it, the alerts, and ``harvest status --json``: real harvests of a real
server on 127.0.0.1 into a real SQLite union store."""

from __future__ import annotations

import base64
import json
import re

import pytest
from click.testing import CliRunner
from conftest import free_port, live_server
from lxml import etree
from werkzeug.security import generate_password_hash

from thuvien_interop.cli import main
from thuvien_interop.model import ListQuery, Record
from thuvien_interop.oai import ProviderConfig
from thuvien_interop.oai.harvest_http import PoliteClient
from thuvien_interop.oai.harvest_overview import (
    AlertRules,
    ConsoleConfig,
    Run,
    alerts,
    overview,
    runs,
)
from thuvien_interop.oai.harvester import Harvester, Source
from thuvien_interop.store import open_store
from thuvien_interop.web import create_app
from thuvien_interop.web.chart import runs_chart
from thuvien_interop.wording.messages import MESSAGES

PASSWORD = "mật khẩu thư viện"
HASH = generate_password_hash(PASSWORD)


def auth(user: str = "thuvien", password: str = PASSWORD, lang: str | None = "en") -> dict[str, str]:
    """The login, and the browser's language (None: a browser that says none)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", **({"Accept-Language": lang} if lang else {})}


def console(tmp_path, **kw) -> ConsoleConfig:
    return ConsoleConfig(enabled=True, user="thuvien", password_hash=HASH,
                         diagnostics=str(tmp_path / "diag"), validate_delay=0, **kw)


class _DropFirstMetadata:
    """A provider whose first record of every ListRecords page lost its metadata
    (the harvester quarantines such a record)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_ACCEPT_ENCODING", None)
        captured = {}

        def keep(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        body = b"".join(self.app(environ, keep))
        if b"<ListRecords>" in body:
            body = re.sub(rb"<metadata>.*?</metadata>", b"", body, count=1, flags=re.S)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def union(tmp_path, sample_store):
    """A union store after real harvests: ``daklak`` harvested twice (the second
    run after 40% of its records were deleted at the source), ``hue`` with one
    quarantined record, ``gone`` failing three runs in a row."""
    store = open_store(f"sqlite:///{tmp_path / 'union.db'}")
    diag = tmp_path / "diag"
    client = PoliteClient(retries=0, read_timeout=10)
    h = Harvester(store, client=client, diagnostics=diag)
    dead = f"http://127.0.0.1:{free_port()}/oai"
    with live_server(create_app(sample_store, ProviderConfig(page_size=100))) as root, \
            live_server(_DropFirstMetadata(create_app(sample_store))) as root2:
        assert h.harvest(Source("daklak", root + "/oai")).ok
        assert h.harvest(Source("hue", root2 + "/oai")).quarantined >= 1
        for _ in range(3):
            assert not h.harvest(Source("gone", dead)).ok
        items = sample_store.list(ListQuery(prefix="oai_dc"), None, 1000)
        doomed = [it.header.identifier for it in items[: len(items) * 2 // 5]]
        sample_store.write([Record(i, deleted=True) for i in doomed])
        assert h.harvest(Source("daklak", root + "/oai")).deleted == len(doomed)
    h.close()
    yield store
    store.close()


def test_the_harvester_records_every_run(union):
    daklak = runs(union, "daklak")
    assert [r.ok for r in daklak] == [True, True]
    assert daklak[0].added == 330 and daklak[0].live == 330
    assert daklak[1].deleted == 132 and daklak[1].live == 198
    assert round(daklak[1].lost_percent) == 40
    gone = runs(union, "gone")
    assert [r.ok for r in gone] == [False] * 3 and gone[-1].errors
    assert runs(union, "hue")[0].quarantined >= 1


def test_alerts_follow_the_rules():
    failing = [Run("2024-05-01", ok=True), Run("2024-05-02", ok=False), Run("2024-05-03", ok=False)]
    assert alerts(failing, AlertRules(failed_runs=2)) == ["failed 2 runs in a row"]
    assert alerts(failing, AlertRules(failed_runs=3)) == []
    lost = [Run("2024-05-01", added=100, live=100), Run("2024-05-02", deleted=30, live=70)]
    assert alerts(lost, AlertRules(lost_percent=25)) == [
        "the last run deleted 30 records, 30% of the 100 it had"]
    assert alerts(lost, AlertRules(lost_percent=30)) == []


def test_overview_rows(union, tmp_path):
    rows = {r.name: r for r in overview(union, AlertRules(), tmp_path / "diag")}
    assert rows["daklak"].state == "alert" and "deleted 132 records" in rows["daklak"].alerts[0]
    assert rows["daklak"].records == 330 and rows["daklak"].deleted == 132
    assert rows["gone"].state == "alert" and rows["gone"].alerts == ["failed 3 runs in a row"]
    assert rows["gone"].errors == 3 and rows["gone"].last_success is None
    assert rows["hue"].state == "ok" and rows["hue"].quarantined >= 1
    quiet = {r.name: r for r in overview(union, AlertRules(failed_runs=5, lost_percent=50))}
    assert quiet["daklak"].state == "ok" and quiet["gone"].state == "failing"


def test_the_console_is_off_unless_configured(union):
    client = create_app(union).test_client()
    assert client.get("/admin/harvest").status_code == 404
    client = create_app(union, console=ConsoleConfig(enabled=False, user="a",
                                                     password_hash=HASH)).test_client()
    assert client.get("/admin/harvest").status_code == 404


def test_the_console_needs_the_login_of_the_settings(union, tmp_path):
    app = create_app(union, console=console(tmp_path))
    with live_server(app) as root:
        import requests

        for path in ("/admin/harvest", "/admin/harvest/provider/daklak"):
            r = requests.get(root + path, timeout=10)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
            assert "thuvien" not in r.text.split("user")[0]  # nothing of the data
            assert requests.get(root + path, headers=auth(password="sai"),
                                timeout=10).status_code == 401
            assert requests.get(root + path, headers=auth(user="admin"),
                                timeout=10).status_code == 401
            r = requests.get(root + path, headers=auth(), timeout=10)
            assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        r = requests.post(root + "/admin/harvest/provider/daklak/validate", timeout=10)
        assert r.status_code == 401


def _rows(html: str) -> list[str]:
    doc = etree.HTML(html)
    return [a.text for a in doc.iterfind(".//table[@class='rows']/tbody/tr/td[1]/div/a/strong")]


def test_the_list_sorts_and_filters_on_the_server(union, tmp_path):
    client = create_app(union, console=console(tmp_path)).test_client()
    page = client.get("/admin/harvest", headers=auth()).get_data(as_text=True)
    assert "<script" not in page
    # Alerts first by default, then by name.
    assert _rows(page) == ["daklak", "gone", "hue"]
    assert "failed 3 runs in a row" in page and "deleted 132 records" in page
    by_records = client.get("/admin/harvest?sort=records&order=desc", headers=auth())
    assert _rows(by_records.get_data(as_text=True))[0] in ("daklak", "hue")
    assert _rows(client.get("/admin/harvest?sort=records&order=asc",
                            headers=auth()).get_data(as_text=True))[0] == "gone"
    assert _rows(client.get("/admin/harvest?state=ok", headers=auth()).get_data(
        as_text=True)) == ["hue"]
    assert _rows(client.get("/admin/harvest?q=GON", headers=auth()).get_data(
        as_text=True)) == ["gone"]
    empty = client.get("/admin/harvest?q=nothing", headers=auth()).get_data(as_text=True)
    assert "No provider matches this filter" in empty
    # Sorting links keep the filter.
    doc = etree.HTML(client.get("/admin/harvest?state=alert", headers=auth()).get_data(
        as_text=True))
    links = [a.get("href") for a in doc.iterfind(".//thead//a")]
    assert links and all("state=alert" in href for href in links)
    # Nonsense arguments are ignored, not a 500.
    assert client.get("/admin/harvest?sort=%00&order=x&state=zz",
                      headers=auth()).status_code == 200


def test_a_provider_page_shows_history_errors_and_quarantine(union, tmp_path):
    client = create_app(union, console=console(tmp_path)).test_client()
    page = client.get("/admin/harvest/provider/gone", headers=auth()).get_data(as_text=True)
    assert "failed 3 runs in a row" in page
    doc = etree.HTML(page)
    svg = doc.find(".//svg")
    assert svg is not None and len(svg.findall(".//circle")) == 3  # three failed runs
    assert len(doc.findall(".//h2")) == 4
    # The last errors, in the harvester's words.
    assert "connection refused (nothing answers at that address and port)" in page
    hue = client.get("/admin/harvest/provider/hue", headers=auth()).get_data(as_text=True)
    assert "the record is not deleted but has no metadata" in hue
    assert "Quarantine (" in hue and "Offending responses kept" in hue
    assert "Never validated" in hue
    assert client.get("/admin/harvest/provider/nobody", headers=auth()).status_code == 404


def _english_of_the_console() -> list[str]:
    """The English phrases of the console's messages (two words or more)."""
    return [text for key, texts in MESSAGES.items() if key.startswith("console.")
            for text in re.split(r"\{[^}]*\}|[():,.;·]", texts["en"])
            if len(text.split()) >= 2 and text.strip() not in texts["vi"]]


def _said_by_the_console(page: str) -> str:
    """The page less what it shows as recorded (the harvester's errors and reasons, in
    the language of the harvest that wrote them)."""
    page = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)
    return re.sub(r'<td data-label="(Lý do|Reason)">.*?</td>', "", page, flags=re.S)


def test_the_console_speaks_vietnamese_unless_the_browser_or_the_address_asks_for_english(
        union, tmp_path):
    client = create_app(union, console=console(tmp_path)).test_client()
    r = client.get("/admin/harvest", headers=auth(lang=None))
    page = r.get_data(as_text=True)
    assert r.headers["Content-Language"] == "vi" and '<html lang="vi">' in page
    assert "Bảng điều khiển thu hoạch" in page and "thất bại 3 lần liên tiếp" in page
    assert "lần chạy gần nhất đã xóa 132 bản ghi" in page and 'data-label="Nhà cung cấp"' in page
    assert [w for w in _english_of_the_console() if w.strip() in _said_by_the_console(page)] == []
    assert _rows(page) == ["daklak", "gone", "hue"]
    doc = etree.HTML(page)
    switch = doc.find(".//a[@class='lang']")
    assert switch.text == "English" and "lang=en" in switch.get("href")
    # ?lang=en beats the browser, and every link of the page keeps it.
    page = client.get(switch.get("href"), headers=auth(lang="vi")).get_data(as_text=True)
    assert '<html lang="en">' in page and "failed 3 runs in a row" in page
    doc = etree.HTML(page)
    links = [a.get("href") for a in doc.iterfind(".//main//a")]
    assert links and all("lang=en" in href for href in links)
    assert doc.find(".//input[@name='lang']").get("value") == "en"  # the filter form too
    assert "lang=vi" in doc.find(".//a[@class='lang']").get("href")
    # A provider's page, its chart and its quarantine, in Vietnamese.
    hue = client.get("/admin/harvest/provider/hue", headers=auth(lang="vi,en;q=0.5")).get_data(
        as_text=True)
    assert "<h2>Lịch sử</h2>" in hue and "Cách ly (" in hue and "Chưa kiểm tra lần nào" in hue
    assert 'aria-label="Bản ghi và lỗi mỗi lần chạy"' in hue and "← mọi nhà cung cấp" in hue
    assert [w for w in _english_of_the_console() if w.strip() in _said_by_the_console(hue)] == []
    # The status command says its alerts in its own language.
    out = CliRunner().invoke(main, ["--lang", "vi", "harvest", "status", "--store",
                                    f"sqlite:///{tmp_path / 'union.db'}"])
    assert "thất bại 3 lần liên tiếp" in out.stderr, out.stderr


def test_revalidation_from_the_console(sample_store, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'union.db'}")
    with live_server(create_app(sample_store, ProviderConfig(page_size=50))) as root:
        h = Harvester(store, client=PoliteClient(retries=0), diagnostics=tmp_path / "diag")
        assert h.harvest(Source("daklak", root + "/oai")).ok
        h.close()
        app = create_app(store, console=console(tmp_path))
        client = app.test_client()
        r = client.post("/admin/harvest/provider/daklak/validate", headers={
            **auth(), "Origin": "http://evil.example"})
        assert r.status_code == 403
        r = client.post("/admin/harvest/provider/daklak/validate", headers=auth())
        assert r.status_code == 303
        app.extensions["thuvien_console"].join()
    page = client.get("/admin/harvest/provider/daklak", headers=auth()).get_data(as_text=True)
    assert "COMPLIANT: 0 errors" in page
    listing = client.get("/admin/harvest", headers=auth()).get_data(as_text=True)
    assert ">compliant<" in listing
    # Asked for from a Vietnamese page, the validation says its findings in Vietnamese.
    with live_server(create_app(sample_store, ProviderConfig(page_size=50))) as root:
        h = Harvester(store, client=PoliteClient(retries=0), diagnostics=tmp_path / "diag")
        assert h.harvest(Source("daklak", root + "/oai")).ok  # the provider's new address
        h.close()
        r = client.post("/admin/harvest/provider/daklak/validate", headers=auth(lang="vi"))
        assert r.status_code == 303 and r.headers["Location"].endswith("/provider/daklak")
        app.extensions["thuvien_console"].join()
    page = client.get("/admin/harvest/provider/daklak", headers=auth(lang="vi")).get_data(
        as_text=True)
    assert "ĐẠT CHUẨN: 0 lỗi" in page and "<summary>Đạt (" in page and "0 errors" not in page
    assert ">đạt chuẩn<" in client.get("/admin/harvest", headers=auth(lang="vi")).get_data(
        as_text=True)
    store.close()


def test_harvest_status_json_and_exit_status(union, tmp_path):
    path = tmp_path / "union.db"
    settings = tmp_path / "thuvien.toml"
    settings.write_text(f'store = "sqlite:///{path}"\n[console]\ndiagnostics = "{tmp_path / "diag"}"\n',
                        encoding="utf-8")
    out = CliRunner().invoke(main, ["harvest", "status", "--json", "--config", str(settings)])
    assert out.exit_code == 1, out.output
    data = json.loads(out.stdout)
    assert [d["name"] for d in data] == ["daklak", "gone", "hue"]
    assert data[1]["alerts"] == ["failed 3 runs in a row"] and data[1]["state"] == "alert"
    assert set(data[0]) >= {"state", "last_success", "records", "added", "updated", "deleted",
                            "errors", "quarantined", "validation", "alerts"}
    assert "ALERT gone: failed 3 runs in a row" in out.stderr
    # The thresholds come from the settings: nothing flagged, exit status 0.
    settings.write_text(f'store = "sqlite:///{path}"\n[alerts]\nfailed_runs = 4\n'
                        'lost_percent = 50\n', encoding="utf-8")
    out = CliRunner().invoke(main, ["harvest", "status", "--config", str(settings)])
    assert out.exit_code == 0, out.output
    assert "gone" in out.stdout and "ALERT" not in out.output


def test_console_settings_are_checked(tmp_path):
    f = tmp_path / "thuvien.toml"
    f.write_text("[console]\nenabled = true\nuser = \"thuvien\"\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["serve", "--config", str(f)])
    assert out.exit_code == 2 and "needs user and password_hash" in out.output
    assert "line 2" in out.output and "Traceback" not in out.output
    f.write_text("[console]\nenabeld = true\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["serve", "--config", str(f)])
    assert out.exit_code == 2 and "did you mean 'enabled'?" in out.output
    f.write_text("[alerts]\nlost_percent = 0\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["harvest", "status", "--config", str(f)])
    assert out.exit_code == 2 and "line 2: [alerts] lost_percent must be above 0" in out.output


def test_console_password_prints_a_settings_table(tmp_path):
    out = CliRunner().invoke(main, ["console-password", "--user", "thuvien"],
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    assert out.exit_code == 0, out.output
    table = out.output[out.output.index("[console]"):]
    import tomllib

    data = tomllib.loads(table)["console"]
    assert data["enabled"] is True and data["user"] == "thuvien"
    from werkzeug.security import check_password_hash

    assert check_password_hash(data["password_hash"], PASSWORD)


def test_the_chart_is_svg_with_a_bar_per_run():
    history = [Run(f"2024-05-{d:02d}T02:00:00Z", ok=d != 3, added=10 * d, quarantined=d % 2,
                   errors=[] if d != 3 else ["HTTP 500"]) for d in range(1, 8)]
    svg = etree.fromstring(runs_chart(history).encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = svg.findall("s:g", ns)
    assert len(groups) == 7
    assert len(svg.findall(".//s:circle", ns)) == 1
    assert "2024-05-03T02:00:00Z: failed" in groups[2].findtext("s:title", namespaces=ns)
    assert "No runs recorded yet" in runs_chart([])
