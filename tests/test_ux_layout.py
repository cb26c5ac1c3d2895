"""The shipped profiles live once, in profiles/ at the top of the repository, where a
library finds one to copy; the wheel carries them (and the schemas) from there, and
the command and the README say where they are."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from thuvien_interop.cli import main
from thuvien_interop.profiles import shipped_profiles

ROOT = Path(__file__).resolve().parent.parent


def test_the_profiles_are_one_copy_at_the_top_of_the_repository():
    top = sorted(p.stem for p in (ROOT / "profiles").glob("*.toml"))
    assert top == sorted(p.name for p in shipped_profiles())
    assert "koha" in top
    assert list((ROOT / "src").rglob("*.toml")) == [], "a second copy inside the package"


def test_profiles_says_where_the_files_are():
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 0, result.output
    # An editable install reads profiles/ of the checkout; an installed wheel (as CI
    # installs it) its packaged copy: either way the folder named holds the profiles.
    from thuvien_interop.profiles import shipped_folder

    assert f"The files are in {shipped_folder()} (profiles/ of the source repository)." \
        in result.output
    assert (Path(shipped_folder()) / "koha.toml").is_file()
    shown = CliRunner().invoke(main, ["profiles", "show", "--help"]).output
    assert "profiles/NAME.toml" in shown


def test_the_readme_points_at_the_profiles_folder():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`profiles/`" in readme and "src/thuvien_interop/data/profiles" not in readme


@pytest.mark.slow
def test_the_wheel_carries_the_profiles_and_schemas_from_the_top_folders(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = tmp_path.glob("thuvien_interop-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in (ROOT / "profiles").glob("*.toml"):
        assert f"thuvien_interop/data/profiles/{p.name}" in names
    assert "thuvien_interop/xsd/OAI-PMH.xsd" in names
    assert "thuvien_interop/xsd/sru2/sruResponse.xsd" in names
    assert "thuvien_interop/py.typed" in names
    assert "thuvien_interop/data/samples/vietnamese-catalogue.mrc" in names
