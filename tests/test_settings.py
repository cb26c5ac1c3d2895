"""The settings file reaches every part that reads it."""

from __future__ import annotations

import requests
from conftest import live_server
from lxml import etree

from thuvien_interop.settings import Settings, SettingsError
from thuvien_interop.web import create_app


def positions(body: bytes) -> int:
    return len(etree.fromstring(body).xpath("//*[local-name()='recordPosition']"))


def test_sru_settings_reach_the_server(tmp_path, sample_store):
    cfg = tmp_path / "thuvien-interop.toml"
    cfg.write_text('[repository]\nname = "Thư viện tỉnh Đắk Lắk"\nidentifier = "thuviendaklak.vn"\n'
                   '[sru]\ndefault_records = 3\nmax_records = 5\n', encoding="utf-8")
    settings = Settings.load(cfg)
    assert settings.oai.repository_name == "Thư viện tỉnh Đắk Lắk"
    app = create_app(sample_store, settings.oai, sru_config=settings.sru)
    with live_server(app) as url:
        r = requests.get(f"{url}/sru", params={"version": "1.2", "operation": "searchRetrieve",
                                               "query": "cql.allRecords = 1"}, timeout=30)
        assert positions(r.content) == 3
        r = requests.get(f"{url}/sru", params={"version": "1.2", "operation": "searchRetrieve",
                                               "query": "cql.allRecords = 1", "maximumRecords": "50"},
                         timeout=30)
        # More than the configured maximum is diagnostic 60 or capped: never 50 records.
        assert positions(r.content) <= 5


def test_a_short_token_lifetime_is_refused(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[oai]\ntoken_ttl_hours = 1\n", encoding="utf-8")
    try:
        Settings.load(cfg)
    except SettingsError as exc:
        assert "24" in str(exc)
    else:
        raise AssertionError("a 1-hour token lifetime must be refused")
