"""The rules' calendar: the UTC date of a log time, exactly."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from ledger.core.rules.calendar import DAY_MS, date_of, date_start_ms

# Years 1 to 9999, in milliseconds since the epoch (the range datetime can name).
_LOW = int(dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp()) * 1000
_HIGH = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()) * 1000 + 999


@given(st.integers(min_value=_LOW, max_value=_HIGH))
def test_date_of_is_the_utc_date(ms: int) -> None:
    seconds, rest = divmod(ms, 1000)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC) + dt.timedelta(milliseconds=rest)
    assert date_of(ms) == moment.date().isoformat()


@given(st.integers(min_value=_LOW // DAY_MS + 1, max_value=_HIGH // DAY_MS))
def test_day_boundaries(day: int) -> None:
    start = day * DAY_MS
    assert date_of(start) != date_of(start - 1)
    assert date_of(start) == date_of(start + DAY_MS - 1)
    assert date_start_ms(date_of(start)) == start


def test_examples() -> None:
    assert date_of(0) == "1970-01-01"
    assert date_of(-1) == "1969-12-31"
    assert date_of(DAY_MS - 1) == "1970-01-01"
    assert date_of(1_733_356_800_000) == "2024-12-05"
