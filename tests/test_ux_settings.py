"""A settings file is checked as providers.toml is: a misspelt key or section and a value
that cannot be right stop the command with one line naming the line and the nearest
valid key; every setting the code accepts is documented in docs/deploying.md."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from thuvien_interop.cli import main
from thuvien_interop.settings import SETTINGS, Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def serve_with(tmp_path, text: str):
    cfg = tmp_path / "thuvien.toml"
    cfg.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["serve", "--config", str(cfg),
                                     "--store", f"sqlite:///{tmp_path / 's.db'}"])


@pytest.mark.parametrize(("text", "said"), [
    ('[repositry]\nname = "Thư viện"\n',
     "line 1: unknown section '[repositry]' in the settings file; did you mean '[repository]'?"),
    ('[repository]\nname = "Thư viện"\nnmae = "Thư viện tỉnh"\n',
     "line 3: unknown key 'nmae' in [repository]; did you mean 'name'?"),
    ('[oai]\n# records per page\npage_sise = 500\n',
     "line 3: unknown key 'page_sise' in [oai]; did you mean 'page_size'?"),
    ('[repository]\nidentifier = "Thư viện tỉnh Đắk Lắk"\n',
     "line 2: [repository] identifier 'Thư viện tỉnh Đắk Lắk' is not a domain name"),
    ('[repository]\nadmin_emails = ["thuvien.daklak.gov.vn"]\n',
     "line 2: [repository] admin_emails 'thuvien.daklak.gov.vn' is not an e-mail address"),
    ('[oai]\npage_size = "200"\n',
     "line 2: [oai] page_size must be a whole number, not the text '200'"),
    ('[sru]\ntitle = { vi = "Thư viện" }\ndefault_records = 500\n',
     "line 3: [sru] default_records (500) is larger than max_records (100)"),
    ('[repository.branding]\nlogo = "https://a.vn/l.png"\nwidht = 88\n',
     "line 3: unknown key 'widht' in [repository.branding]; did you mean 'width'?"),
])
def test_a_wrong_settings_file_is_one_line_naming_the_line(tmp_path, text, said):
    result = serve_with(tmp_path, text)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert said in lines[0]
    assert lines[0].startswith(f"Error: {tmp_path / 'thuvien.toml'}, line ")
    assert "Traceback" not in result.output and "OAI-PMH" not in result.output


def test_a_good_file_names_nothing_wrong(tmp_path):
    cfg = tmp_path / "thuvien.toml"
    cfg.write_text('store = "sqlite:///x.db"\n[repository]\nname = "Thư viện tỉnh"\n'
                   'identifier = "thuviendaklak.vn"\nadmin_emails = "thuvien@daklak.gov.vn"\n'
                   '[oai]\npage_size = 50\ntoken_ttl_hours = 48\n[sru]\ntitle = "Tra cứu"\n',
                   encoding="utf-8")
    s = Settings.load(cfg)
    assert (s.store, s.oai.page_size, s.oai.token_ttl) == ("sqlite:///x.db", 50, 48 * 3600)
    assert s.oai.admin_emails == ["thuvien@daklak.gov.vn"] and s.sru.title == {"vi": "Tra cứu"}


def test_an_sru_profile_is_found_beside_the_settings_file(tmp_path, monkeypatch):
    from thuvien_interop.profiles import shipped_profile

    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "indexes.toml").write_text(shipped_profile("sru-indexes").read_text(), "utf-8")
    (folder / "thuvien.toml").write_text('[sru]\nprofile = "indexes.toml"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Settings.load(folder / "thuvien.toml").sru.profile.get("dc.title") is not None


def documented() -> set[str]:
    """The settings named in docs/deploying.md's table "Every setting"."""
    text = (DOCS / "deploying.md").read_text(encoding="utf-8")
    table = text.split("### Every setting", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", table, re.M)}


def accepted() -> set[str]:
    names = set()
    for section, keys in SETTINGS.items():
        if keys is None:
            names.add(f"[[{section}]]")
            continue
        for key, check in keys.items():
            sub = getattr(check, "keys", None)
            if sub is not None and not getattr(check, "array", False):
                names.update(f"[{section}.{key}] {k}" for k in sub)
            else:
                names.add(f"[{section}] {key}" if section else key)
    return names


def test_every_setting_the_code_accepts_is_documented_and_no_other():
    assert accepted() - documented() == set(), "settings docs/deploying.md does not name"
    assert documented() - accepted() == set(), "settings documented that the code refuses"
    assert "[sru] title" in documented()


def test_the_documented_example_file_loads(tmp_path):
    text = (DOCS / "deploying.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(# thuvien.toml\n.*?)```", text, re.S).group(1)
    tomllib.loads(example)
    cfg = tmp_path / "thuvien.toml"
    cfg.write_text(example, encoding="utf-8")
    s = Settings.load(cfg)
    assert s.oai.repository_identifier == "thuviendaklak.vn"
