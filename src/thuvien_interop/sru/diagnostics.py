"""SRU diagnostics: the protocol's error vocabulary (SRU 1.2 / 2.0 diagnostics list,
``info:srw/diagnostic/1/N``), as an exception carrying number, details and a message
a person can understand.

    >>> d = Diagnostic(16, "dc.colour")
    >>> d.uri, d.message
    ('info:srw/diagnostic/1/16', 'Unsupported index')
"""

from __future__ import annotations

__all__ = ["DIAGNOSTIC_PREFIX", "MESSAGES", "Diagnostic", "FATAL_FOR_QUERY", "too_slow"]

DIAGNOSTIC_PREFIX = "info:srw/diagnostic/1/"

#: The diagnostics of the SRU list this server can give, with their titles.
MESSAGES: dict[int, str] = {
    1: "General system error",
    4: "Unsupported operation",
    5: "Unsupported version",
    6: "Unsupported parameter value",
    7: "Mandatory parameter not supplied",
    8: "Unsupported parameter",
    10: "Query syntax error",
    13: "Invalid or unsupported use of parentheses",
    14: "Invalid or unsupported use of quotes",
    15: "Unsupported context set",
    16: "Unsupported index",
    18: "Unsupported combination of indexes",
    19: "Unsupported relation",
    20: "Unsupported relation modifier",
    21: "Unsupported combination of relation modifiers",
    22: "Unsupported combination of relation and index",
    24: "Unsupported combination of relation and term",
    27: "Empty term unsupported",
    29: "Masked words too short",
    32: "Anchoring character in unsupported position",
    36: "Term in invalid format for index or relation",
    37: "Unsupported boolean operator",
    38: "Too many boolean operators in query",
    40: "Unsupported proximity relation",
    41: "Unsupported proximity distance",
    42: "Unsupported proximity unit",
    43: "Unsupported proximity ordering",
    45: "Prefix assigned to multiple identifiers",
    46: "Unsupported boolean modifier",
    47: "Cannot process query; reason unknown",
    48: "Query feature unsupported",
    61: "First record position out of range",
    66: "Unknown schema for retrieval",
    67: "Record not available in this schema",
    71: "Unsupported record packing",
    72: "XPath retrieval unsupported",
    80: "Sort not supported",
    82: "Unsupported sort sequence",
    84: "Too many sort keys to sort",
    88: "Unsupported path for sort",
    91: "Unsupported case",
    92: "Unsupported missing value action",
    94: "Sort spec included both in query and protocol: query prevails",
    120: "Response position out of range",
}

#: Diagnostics after which a searchRetrieve has no result (numberOfRecords 0).
FATAL_FOR_QUERY = frozenset(MESSAGES) - {94}


class Diagnostic(Exception):
    """An SRU diagnostic: ``number``, ``details`` (what was wrong: the parameter,
    index or term) and ``message`` (its title, or a fuller explanation)."""

    def __init__(self, number: int, details: str = "", message: str | None = None) -> None:
        self.number = number
        self.details = details
        self.message = message or MESSAGES.get(number, "Diagnostic")
        super().__init__(f"diagnostic {number}: {self.message}" + (f" ({details})" if details else ""))

    @property
    def uri(self) -> str:
        return f"{DIAGNOSTIC_PREFIX}{self.number}"


def too_slow(seconds: float) -> Diagnostic:
    """The diagnostic of a search stopped at its time budget (``seconds``).

    47, "Cannot process query; reason unknown": the SRU list has no diagnostic for
    a time or resource limit (57, which YAZ maps Z39.50's "resources exhausted"
    to, is deprecated); 38 names a number of booleans, wrong for one masked term;
    2, "system temporarily unavailable", invites sending the same query again.
    The message says what the reason is.
    """
    return Diagnostic(47, f"time budget {seconds:g} s", "The search took longer than this "
                      f"server allows ({seconds:g} s) and was stopped: use fewer terms, or "
                      "more letters beside a * or ?")
