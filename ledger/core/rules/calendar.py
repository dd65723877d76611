"""Calendar dates of log times (UTC): the days a rule judges an entry on.

An entry has two times: the signer's **claimed** time and the log's **append** time (the
trusted clock, specs/rules.md §2). A date-dependent rule holds on the date of each.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache

DAY_MS = 24 * 3600 * 1000


def date_of(ms: int) -> str:
    """UTC calendar date ``YYYY-MM-DD`` of a time in milliseconds."""
    return _date_of_day(ms // DAY_MS)  # UTC days start at whole multiples of DAY_MS


@lru_cache(maxsize=4096)
def _date_of_day(day: int) -> str:
    """The date of day ``day`` since 1970-01-01 (the rules ask for the same few days)."""
    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


def iso_time(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds) of a time in milliseconds."""
    return _dt.datetime.fromtimestamp(ms // 1000, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_start_ms(date: str) -> int:
    """The first millisecond (UTC) of ``date``."""
    d = _dt.date.fromisoformat(date)
    return int(_dt.datetime(d.year, d.month, d.day, tzinfo=_dt.UTC).timestamp()) * 1000


def days_between(first: str, last: str) -> int:
    """Whole days from ``first`` to ``last`` (negative when ``last`` is earlier)."""
    return (_dt.date.fromisoformat(last) - _dt.date.fromisoformat(first)).days


def judged_days(claimed: int, appended: int) -> tuple[str, ...]:
    """The dates an entry is judged on: its claimed date and its append date (once each)."""
    a, b = date_of(claimed), date_of(appended)
    return (a,) if a == b else (a, b)
