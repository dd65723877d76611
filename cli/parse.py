"""Parsers for CLI arguments: carats, money, dates, lists, outputs, countries, roles.

Each raises ``UsageError`` naming the option and the expected form, so a typo
becomes one clear line and exit status 2. Syntax only: whether a parcel, participant or
certificate exists, and what the rules allow, is the ledger's to say.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

from ledger import ROLES, EncodingError, LimitError, UsageError, check_date

_CARATS = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?\Z")  # ASCII digits only
_AMOUNT = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,3}))?\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
#: ISO 4217 minor-unit exponents that are not 2 (the common case).
_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}


def carats(text: str, what: str = "carats") -> int:
    """``"12.5"`` -> 1250 points (hundredths of a carat); must be positive."""
    m = _CARATS.match(text.strip())
    if not m:
        raise UsageError(f"{what}: expected a weight in carats like 12.50, got {text!r}")
    points = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if points <= 0:
        raise UsageError(f"{what}: the weight must be above zero")
    return points


_DIGITS = re.compile(r"[0-9]{1,12}\Z")


def read_limited(path: str, limit: int, what: str) -> bytes:
    """Read a file of at most ``limit`` bytes without reading more than that.

    Raises:
        UsageError: the file cannot be read.
        LimitError: it is larger than ``limit``.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:  # a regular file: refuse before reading anything
                raise LimitError(f"{what}: {path} is {size} bytes, the limit is {limit}")
            chunks = []
            total = 0
            while chunk := fh.read(1 << 20):  # pipes and devices: read in bounded steps
                total += len(chunk)
                if total > limit:
                    raise LimitError(f"{what}: {path} is larger than the limit of {limit} bytes")
                chunks.append(chunk)
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc.strerror}") from exc
    return b"".join(chunks)


def positive_int(text: str, what: str) -> int:
    # ASCII digits only: str.isdigit() accepts superscripts that int() refuses.
    if not _DIGITS.match(text) or int(text) <= 0:
        raise UsageError(f"{what}: expected a positive whole number, got {text!r}")
    return int(text)


def whole(text: str, what: str) -> int:
    """A non-negative whole number (ASCII digits)."""
    if not _DIGITS.match(text):
        raise UsageError(f"{what}: expected a whole number, got {text!r}")
    return int(text)


def money(amount: str, currency: str, what: str = "price") -> dict[str, Any]:
    """``("1250.00", "USD")`` -> ``{"amount": 125000, "currency": "USD"}`` (minor units)."""
    cur = currency.upper()
    if not _CURRENCY.match(cur):
        raise UsageError(f"{what}: currency must be an ISO 4217 code like USD, got {currency!r}")
    exp = _EXPONENTS.get(cur, 2)
    m = _AMOUNT.match(amount.strip())
    if not m or len(m.group(2) or "") > exp:
        raise UsageError(
            f"{what}: expected an amount with at most {exp} decimals like 1250.00, got {amount!r}"
        )
    minor = int(m.group(1)) * 10**exp + int((m.group(2) or "").ljust(exp, "0") or "0")
    return {"amount": minor, "currency": cur}


def date(text: str, what: str) -> str:
    try:
        return check_date(text, what)
    except EncodingError as exc:
        raise UsageError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from exc


_DAYS_AHEAD = re.compile(r"\+([0-9]{1,4})d\Z")


def date_or_days(text: str, what: str, today: str) -> str:
    """A date ``YYYY-MM-DD``, or ``+Nd``: N days after ``today`` (UTC), as a date."""
    found = _DAYS_AHEAD.match(text)
    if found is None:
        return date(text, what)
    day = dt.date.fromisoformat(today) + dt.timedelta(days=int(found.group(1)))
    return day.isoformat()


_INSTANT = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?Z?\Z"
)


def instant(text: str, what: str) -> int:
    """``2026-03-01`` or ``2026-03-01T14:30[:05][Z]`` (UTC) -> milliseconds since 1970."""
    import datetime as dt

    m = _INSTANT.match(text.strip())
    if not m:
        raise UsageError(
            f"{what}: expected a UTC time like 2026-03-01 or 2026-03-01T14:30Z, got {text!r}"
        )
    day = date(m.group(1), what)
    hour, minute, second = (int(g) if g else 0 for g in m.groups()[1:])
    if hour > 23 or minute > 59 or second > 59:
        raise UsageError(f"{what}: {text!r} is not a time of day")
    moment = dt.datetime.fromisoformat(day).replace(
        hour=hour, minute=minute, second=second, tzinfo=dt.UTC
    )
    return int(moment.timestamp()) * 1000


def id_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise UsageError(f"{what}: expected a comma-separated list like P1,P2, got {text!r}")
    if len(set(items)) != len(items):
        raise UsageError(f"{what}: an id is listed twice")
    return items


def outputs(text: str, what: str, *, stones: bool = True) -> list[dict[str, Any]]:
    """``"A:10.5:40,B:2"`` -> ``[{parcel: A, carats: 1050, stones: 40}, {parcel: B, ...}]``."""
    out = []
    for item in id_list(text, what):
        parts = item.split(":")
        if len(parts) not in ((2, 3) if stones else (2,)):
            form = "ID:CARATS[:STONES]" if stones else "ID:CARATS"
            raise UsageError(f"{what}: expected {form}, got {item!r}")
        o: dict[str, Any] = {"parcel": parts[0], "carats": carats(parts[1], f"{what} {parts[0]}")}
        if len(parts) == 3:
            o["stones"] = positive_int(parts[2], f"{what} {parts[0]} stones")
        out.append(o)
    return out


def country(text: str, what: str = "--country") -> str:
    """``"bw"`` -> ``"BW"``: an ISO 3166-1 alpha-2 code, upper-cased."""
    cc = text.upper()
    if len(cc) != 2 or not cc.isalpha() or not cc.isascii():
        raise UsageError(f"{what}: expected an ISO 3166-1 alpha-2 code like BW, got {text!r}")
    return cc


def countries(text: str, what: str) -> list[str]:
    """``"RU,by"`` -> ``["RU", "BY"]``: a comma-separated list of country codes."""
    return [country(c, what) for c in id_list(text, what)]


def roles(text: str, what: str = "--role") -> list[str]:
    """``"trader,cutter"`` -> ``["trader", "cutter"]``: known participant roles only."""
    items = id_list(text, what)
    for r in items:
        if r not in ROLES:
            raise UsageError(f"{what}: {r!r} is not one of {', '.join(ROLES)}")
    return items
