"""The one place that parses and formats datestamps.

Inside, a datestamp is an ``int`` of UTC seconds. OAI-PMH speaks UTCdatetime in
two granularities (§3.3.1): ``YYYY-MM-DD`` and ``YYYY-MM-DDThh:mm:ssZ``.

    >>> parse_utc("2024-05-01")
    (1714521600, 'day')
    >>> format_utc(1714521600)
    '2024-05-01T00:00:00Z'
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

# ASCII digits and the whole text: \d alone takes "٢٠٢٤" and $ a trailing newline,
# which an OAI-PMH request would then echo as a date the schema refuses.
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_SECOND = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z", re.ASCII)

DAY = "day"
SECOND = "second"


def parse_utc(text: str) -> tuple[int, str]:
    """Parse an OAI-PMH UTCdatetime; return (seconds, granularity).

    Raises ``ValueError`` with a readable message for anything else.
    """
    m = _SECOND.fullmatch(text)
    gran = SECOND
    if not m:
        m = _DAY.fullmatch(text)
        gran = DAY
    if not m:
        raise ValueError(
            f"'{text}' is not a date of the form YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"
        )
    parts = [int(p) for p in m.groups()]
    try:
        dt = datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a real date ({exc})") from None
    return int(dt.timestamp()), gran


def format_utc(seconds: int, granularity: str = SECOND) -> str:
    """Format UTC seconds in the given granularity."""
    t = time.gmtime(seconds)
    if granularity == DAY:
        return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    )


def now() -> int:
    """Current UTC time in whole seconds."""
    return int(time.time())


def end_of_day(seconds: int) -> int:
    """The last second of the UTC day that contains ``seconds``."""
    return seconds - seconds % 86400 + 86399
