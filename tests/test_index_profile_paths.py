"""The SRU index profile of the settings is the one every write path indexes
with: import, harvest and sync, not only ``reindex``. A library that adds an
index finds its records by it at once."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, live_server

from thuvien_interop.cli import main
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.store import open_store
from thuvien_interop.store import search_plan as sp
from thuvien_interop.web import create_app

PROFILE = """
[context_sets]
local = "info:srw/cql-context-set/thuvien-interop/local-1.0"

[indexes."dc.title"]
kind = "text"
title = { en = "Title", vi = "Nhan đề" }
marc = ["245$abnp"]
dc = ["title"]

[indexes."local.ghichu"]
kind = "text"
title = { en = "General note", vi = "Ghi chú chung" }
marc = ["500$a"]
"""


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "indexes.toml").write_text(PROFILE, encoding="utf-8")
    path = tmp_path / "thuvien.toml"
    path.write_text(f'[sru]\nprofile = "{(tmp_path / "indexes.toml").as_posix()}"\n',
                    encoding="utf-8")
    return path


def notes_found(store_url: str) -> int:
    store = open_store(store_url)
    plan = sp.Plan(sp.Phrase("local.ghichu", (sp.Term("chu", "word"), sp.Term("giai", "word"))))
    n = store.search(plan, 1, 100).total
    store.close()
    return n


def test_import_indexes_with_the_profile_of_the_settings(tmp_path, settings):
    store = f"sqlite:///{tmp_path / 'a.db'}"
    result = CliRunner().invoke(main, ["import", str(SAMPLES / "vietnamese-catalogue.mrc"),
                                       "--store", store, "--config", str(settings), "-q"])
    assert result.exit_code == 0, result.output
    assert notes_found(store) == 10, "the ten maps say 'có bảng chú giải' in 500 $a"


def test_harvest_indexes_with_the_profile_of_the_settings(tmp_path, settings, sample_store):
    union = f"sqlite:///{tmp_path / 'u.db'}"
    with live_server(create_app(sample_store, ProviderConfig())) as root:
        result = CliRunner().invoke(main, ["harvest", root + "/oai", "--store", union,
                                           "--name", "mau", "--prefix", "marc21",
                                           "--config", str(settings), "--processes", "1",
                                           "--diagnostics", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert notes_found(union) == 10


def test_without_settings_the_shipped_profile_has_no_such_index(tmp_path):
    store = f"sqlite:///{tmp_path / 'b.db'}"
    result = CliRunner().invoke(main, ["import", str(SAMPLES / "vietnamese-catalogue.mrc"),
                                       "--store", store, "-q"])
    assert result.exit_code == 0, result.output
    assert notes_found(store) == 0
