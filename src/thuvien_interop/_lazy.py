"""Package exports imported when first used (PEP 562).

A package's ``__init__`` names what it offers and where each name lives; the
module is imported the first time the name is read, so that a program (or a
command) that needs one part of a layer does not pay for loading all of it:

    __getattr__, __dir__ = lazy_exports(__name__, {"Provider": ".provider"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, homes: dict[str, str | tuple[str, str]]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``homes`` is read
    from its module (relative to the package), or ``(module, attribute)``."""

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = home if isinstance(home, tuple) else (home, name)
        value = getattr(importlib.import_module(module, package), attr)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    return __getattr__, __dir__
