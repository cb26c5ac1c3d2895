"""The build's one addition to pyproject.toml: the shipped profiles live at the top of
the repository (``profiles/``, where a library finds one to copy) and the XML schemas in
``xsd/``; a wheel carries both as package data (``thuvien_interop/data/profiles``,
``thuvien_interop/xsd``). An editable install reads them from the checkout instead."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# folder of the repository -> folder inside the package, and which files
SHIPPED = {"profiles": ("data/profiles", "*.toml"), "xsd": ("xsd", "**/*.xsd")}


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, (inside, pattern) in SHIPPED.items():
            for source in sorted((ROOT / folder).glob(pattern)):
                target = Path(self.build_lib, "thuvien_interop", inside,
                              source.relative_to(ROOT / folder))
                self.mkpath(str(target.parent))
                self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildWithShippedFiles})
