"""Calendar dates of log times (UTC): the day a rule judges an entry on."""

from __future__ import annotations

import datetime as _dt


def date_of(ms: int) -> str:
    """UTC calendar date of a time in milliseconds."""
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).date().isoformat()


def date_start_ms(date: str) -> int:
    d = _dt.date.fromisoformat(date)
    return int(_dt.datetime(d.year, d.month, d.day, tzinfo=_dt.UTC).timestamp()) * 1000
