"""Words a person reads, in one place: counts with their nouns.

The command line, the validator's report and the console all count things for
a librarian; each says "1 record" and "2 records" the same way::

    >>> from thuvien_interop.wording import plural
    >>> plural(1, "error"), plural(2, "error"), plural(1000, "record")
    ('1 error', '2 errors', '1,000 records')
"""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, word: str) -> str:
    """``1 record``, ``2 records``: a count (with thousands separators) and its English noun."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
