"""Check an OAI-PMH provider before harvesting it: :func:`validate` gives a
:class:`Report` (text, HTML, JSON) of every rule it tested.

    >>> from thuvien_interop.validate import Options, validate
    >>> report = validate("https://thuvien.daklak.gov.vn/oai", Options(delay=1))  # doctest: +SKIP
    >>> print(report.to_text())                                                  # doctest: +SKIP
"""

from __future__ import annotations

from .checks import Options, validate
from .report import Check, Report

__all__ = ["Check", "Options", "Report", "validate"]
