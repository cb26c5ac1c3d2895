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
from datetime import UTC, datetime, timedelta, timezone, tzinfo

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


_LENIENT = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?\s*", re.ASCII)


def parse_lenient(text: str, zone: tzinfo = UTC) -> int | None:
    """UTC seconds of a date, also in the forms bad providers and databases send
    (no ``Z``, a space for the ``T``, fractions, an offset); ``None`` when it is
    not a date. A time without an offset is read in ``zone``.

        >>> parse_lenient("2024-05-01 07:00:00.25+07:00"), parse_lenient("2024-05-01T00:00:00")
        (1714521600, 1714521600)
        >>> parse_lenient("yesterday") is None
        True
    """
    m = _LENIENT.fullmatch(text or "")
    if not m:
        return None
    y, mo, d, h, mi, s, offset = m.groups()
    if offset == "Z":
        zone = UTC
    elif offset:
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        zone = timezone(delta if offset[0] == "+" else -delta)
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=zone)
    except ValueError:
        return None
    return int(dt.timestamp())


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
