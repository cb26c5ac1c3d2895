"""Shipped profiles: found by name in the shipped folder, a file wins over a
name, a wrong name lists the shipped ones, and ``thuvien-interop profiles``."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_sources_sql import make_template_db

from thuvien_interop.cli import main
from thuvien_interop.crosswalk.profile import load_profile as load_crosswalk_profile
from thuvien_interop.ingest.spreadsheet import ColumnMapping
from thuvien_interop.profiles import (
    ProfileFileError,
    ShippedProfile,
    find,
    read_toml,
    shipped_folder,
    shipped_profiles,
)
from thuvien_interop.sru.indexing import default_profile
from thuvien_interop.sru.indexing import profile_from_dict as index_profile_from_dict
from thuvien_interop.store.profile import ProfileError, SourceProfile

SHIPPED = {
    "koha": "source",
    "generic-sql": "source",
    "spreadsheet-vi": "columns",
    "crosswalk-default": "crosswalk",
    "crosswalk-example-local": "crosswalk",
    "sru-indexes": "sru-indexes",
}


def test_every_shipped_profile_is_found_by_name_in_the_shipped_folder():
    assert {p.name: p.kind for p in shipped_profiles()} == SHIPPED
    with resources.as_file(shipped_folder()) as folder:
        for name, kind in SHIPPED.items():
            found = find(name, kind)
            assert isinstance(found, ShippedProfile), name
            with resources.as_file(found.resource) as path:
                assert path.resolve().is_relative_to(Path(folder).resolve()), path
            assert found.description, name


def test_each_kind_loads_by_name_with_its_own_reader():
    koha = SourceProfile.load("koha")
    assert (koha.name, koha.record_format, koha.path) == ("koha", "marcxml", "koha")
    assert SourceProfile.load("generic-sql").columns is not None
    assert load_crosswalk_profile("crosswalk-default").is_default()
    assert not load_crosswalk_profile("crosswalk-example-local").is_default()
    data, where = read_toml("spreadsheet-vi", "columns")
    assert str(ColumnMapping.from_dict(data, where).target("Tác giả")[1]) == "100$a"
    data, _ = read_toml("sru-indexes", "sru-indexes")
    assert index_profile_from_dict(data) == default_profile()


def test_a_name_with_toml_after_it_is_the_shipped_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert SourceProfile.load("koha.toml").name == "koha"


def test_a_file_that_exists_wins_over_a_shipped_name(tmp_path, monkeypatch):
    own = tmp_path / "koha"
    own.write_text('[profile]\nname = "our-koha"\n\n[records]\nquery = "SELECT 1 AS id, '
                   '2 AS datestamp, 3 AS metadata"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert SourceProfile.load("koha").name == "our-koha"
    assert SourceProfile.load(own).name == "our-koha"
    assert find("koha", "source") == Path("koha")


def test_an_unknown_name_is_an_error_listing_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError) as caught:
        SourceProfile.load("kohaa")
    message = str(caught.value)
    assert "'kohaa' is neither a file nor the name of a shipped source profile" in message
    assert "generic-sql, koha" in message and "spreadsheet-vi" not in message
    with pytest.raises(ProfileFileError, match="crosswalk-default, crosswalk-example-local"):
        load_crosswalk_profile("my-library.toml")


def test_a_shipped_profile_of_another_kind_is_refused_by_name():
    with pytest.raises(ProfileError, match="'spreadsheet-vi' is a spreadsheet column mapping, "
                                           "not a source profile"):
        SourceProfile.load("spreadsheet-vi")


def test_a_folder_is_not_a_profile(tmp_path):
    with pytest.raises(ProfileFileError, match="is a folder, not a profile file"):
        find(tmp_path, "source")


def test_broken_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[records\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=f"the profile {bad} is not valid TOML"):
        SourceProfile.load(bad)


# ----------------------------------------------------------------- the command line


def test_profiles_lists_every_shipped_profile_with_its_description():
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 0, result.output
    for p in shipped_profiles():
        assert f"  {p.name}" in result.output and p.description in result.output
    assert "Source profiles (serve --source URL --profile NAME, sync --profile NAME):" in result.output
    assert "thuvien-interop profiles show koha > my-koha.toml" in result.output


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_profiles_show_prints_the_file_as_shipped(name):
    result = CliRunner().invoke(main, ["profiles", "show", name])
    assert result.exit_code == 0, result.output
    [profile] = [p for p in shipped_profiles() if p.name == name]
    assert result.stdout_bytes == profile.resource.read_bytes()
    tomllib.loads(result.output)


def test_profiles_show_of_an_unknown_name_lists_the_shipped_ones():
    result = CliRunner().invoke(main, ["profiles", "show", "kohaa"])
    assert result.exit_code == 1
    assert "there is no shipped profile called 'kohaa'" in result.output
    assert "koha, spreadsheet-vi, crosswalk-default" in result.output
    assert "Traceback" not in result.output


def test_sync_takes_a_shipped_profile_by_name(tmp_path):
    result = _sync(tmp_path, "generic-sql")
    assert result.exit_code == 0, result.output
    assert "(generic-sql)" in result.output and "3 added" in result.output


def test_a_shown_profile_copied_and_edited_is_used_as_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(main, ["profiles", "show", "generic-sql"]).output
    Path("my-library.toml").write_text(shown.replace('name = "generic-sql"', 'name = "thu-vien-xa"'),
                                       encoding="utf-8")
    result = _sync(tmp_path, "my-library.toml")
    assert result.exit_code == 0, result.output
    assert "(thu-vien-xa)" in result.output and "3 added" in result.output


@pytest.mark.parametrize("command", [
    ["sync", "--source", "sqlite:///lib.db"],
    ["serve", "--source", "sqlite:///lib.db"],
])
def test_a_wrong_profile_name_is_a_usage_error_listing_the_source_profiles(command, tmp_path,
                                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [*command, "--profile", "kohaa"])
    assert result.exit_code == 2
    assert "Invalid value for '--profile': 'kohaa' is neither a file nor" in result.output
    assert "the shipped source profiles are: generic-sql, koha" in result.output


def test_import_takes_the_shipped_column_mapping_by_name(tmp_path):
    csv = tmp_path / "danh-muc.csv"
    csv.write_text("Mã sách,Nhan đề,Tác giả\nS1,Số đỏ,Vũ Trọng Phụng\n", encoding="utf-8")
    db = tmp_path / "csv.db"
    result = CliRunner().invoke(main, ["import", str(csv), "--columns", "spreadsheet-vi",
                                       "--store", f"sqlite:///{db}", "-q"])
    assert result.exit_code == 0, result.output
    assert "1 loaded" in result.output


def test_import_refuses_a_source_profile_as_a_column_mapping(tmp_path):
    csv = tmp_path / "danh-muc.csv"
    csv.write_text("Nhan đề\nSố đỏ\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(csv), "--columns", "koha",
                                       "--store", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2
    assert "'koha' is a source profile, not a spreadsheet column mapping" in result.output
    assert "the shipped spreadsheet column mappings are: spreadsheet-vi" in result.output


@pytest.mark.parametrize("command, option", [
    ("sync", "--profile"), ("serve", "--profile"), ("import", "--columns"),
    ("reindex", "--profile")])
def test_help_says_a_name_or_a_path_will_do(command, option):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert f"{option} NAME|FILE" in text
    assert "A file that exists wins over a name." in text
    assert "`thuvien-interop profiles" in text


def _sync(tmp_path: Path, profile: str):
    """sync --profile PROFILE from the generic-sql example schema (three books, one deletion)."""
    make_template_db(tmp_path / "lib.db")
    return CliRunner().invoke(main, [
        "sync", "--profile", profile, "--source", f"sqlite:///{tmp_path / 'lib.db'}",
        "--store", f"sqlite:///{tmp_path / 'store.db'}"])


def test_reindex_takes_the_shipped_index_profile_by_name(sample_db, tmp_path):
    import shutil

    shutil.copy(sample_db, tmp_path / "s.db")
    store = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(main, ["reindex", "--store", store, "--profile", "sru-indexes"])
    assert result.exit_code == 0, result.output
    assert "Reindexed 330 records." in result.output
    wrong = CliRunner().invoke(main, ["reindex", "--store", store, "--profile", "koha"])
    assert wrong.exit_code == 2
    assert "'koha' is a source profile, not an SRU index profile" in " ".join(wrong.output.split())
