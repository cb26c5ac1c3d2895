"""Where thuvien-interop keeps files of its own when the user names no folder.

    >>> from thuvien_interop.paths import user_data_dir
    >>> user_data_dir().name
    'thuvien-interop'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_STORE = "sqlite:///thuvien.db"
"""The store a command uses when neither ``--store``, ``$THUVIEN_STORE`` nor the
settings file names one: a file in the working folder."""


def user_data_dir() -> Path:
    """The user's data folder for thuvien-interop (``$XDG_DATA_HOME/thuvien-interop``,
    ``~/.local/share/thuvien-interop``; ``%LOCALAPPDATA%\\thuvien-interop`` on
    Windows). Not created here."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "thuvien-interop"
