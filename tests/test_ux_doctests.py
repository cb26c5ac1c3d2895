"""The examples in the package's docstrings run, as written, in the suite (so CI runs them
through `python -m pytest`): every module of thuvien_interop, and the public surface of
the top-level package, each name of which has a documented home."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest
from conftest import live_server

import thuvien_interop
from thuvien_interop.web import create_app

MODULES = sorted(m.name for m in pkgutil.walk_packages(thuvien_interop.__path__, "thuvien_interop.")
                 if not m.name.endswith("__main__"))
MODULES.insert(0, "thuvien_interop")


@pytest.fixture(scope="module")
def server(sample_db, tmp_path_factory):
    """A server of the sample catalogue: the address the examples call ``server``."""
    import shutil

    from thuvien_interop.store import open_store

    path = tmp_path_factory.mktemp("doctest") / "samples.db"
    shutil.copy(sample_db, path)
    store = open_store(f"sqlite:///{path}")
    with live_server(create_app(store)) as root:
        yield root
    store.close()


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_of_each_module_run(name, server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(module, name, globs={**vars(module), "server": server}):
        runner.run(test)
    failed, _ = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} example(s) of {name} failed (the report is above)"


def test_the_top_level_package_is_a_small_documented_surface():
    public = thuvien_interop.__all__
    assert len(public) >= 15 and "__version__" in public
    for name in public:
        obj = getattr(thuvien_interop, name)
        if name != "__version__":
            assert inspect.getdoc(obj), f"thuvien_interop.{name} has no docstring"
    help_text = inspect.getdoc(thuvien_interop)
    for named in ("Provider", "SRUServer", "SRUClient", "Harvester", "open_store",
                  "marc_to_dc", "parse_cql"):
        assert f"ti.{named}(" in help_text, f"the package's docstring shows no use of {named}"


def test_the_docs_the_package_cites_exist():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    cited = {w.strip("()`,.") for w in inspect.getdoc(thuvien_interop).split() if w.startswith(("docs/", "(docs/"))}
    assert cited and all((root / c).is_file() for c in cited), cited


def test_every_public_module_says_what_it_exports():
    import thuvien_interop.crosswalk as crosswalk

    assert "marc_to_dc" in crosswalk.__all__ and crosswalk.marc_to_dc.__module__.endswith(".dc")
    for package in ("crosswalk", "ingest", "oai", "sru", "store", "web"):
        module = importlib.import_module(f"thuvien_interop.{package}")
        assert module.__all__, package
        for name in module.__all__:
            assert hasattr(module, name), f"thuvien_interop.{package}.{name}"


def test_the_harvester_says_how_to_make_one():
    from thuvien_interop import Harvester

    doc = inspect.getdoc(Harvester.__init__)
    assert doc and "store" in doc and "processes" in doc


def test_the_package_is_typed():
    from importlib import resources

    assert resources.files("thuvien_interop").joinpath("py.typed").is_file()
