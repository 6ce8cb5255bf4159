"""Times: accepted as datetime, ISO-8601 text or epoch seconds; stored as integer microseconds UTC."""

from __future__ import annotations

import math
import time as _time
from datetime import date, datetime, timedelta, timezone

from .errors import InvalidInput

_MIN_US = int(datetime(1, 1, 2, tzinfo=timezone.utc).timestamp() * 1_000_000)
_MAX_US = int(datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp() * 1_000_000)


def now_us() -> int:
    return _time.time_ns() // 1000


def to_us(value: object, *, field: str = "time") -> int:
    """Convert a user-supplied time to microseconds since the epoch (UTC).

    Naive datetimes and ISO strings without an offset are taken as UTC.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a datetime, ISO-8601 string or epoch seconds, "
                           f"not {value!r}", field=field)
    if isinstance(value, datetime):
        try:
            # (a tzinfo is the caller's code: its utcoffset() may raise, or return more than a
            # day or something else than a timedelta, which datetime itself refuses)
            offset = value.utcoffset()
        except Exception as exc:  # noqa: BLE001
            raise InvalidInput(f"{field} {value!r} has a time zone without a valid UTC offset "
                               f"({type(exc).__name__}: {exc})", field=field) from None
        # naive, or a tzinfo whose utcoffset() is None (naive too, as Python reads it): UTC
        dt = value if offset is not None else value.replace(tzinfo=timezone.utc)
        delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
        us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        if not _MIN_US <= us <= _MAX_US:  # e.g. 9999-12-31T23:00-05:00 is year 10000 in UTC
            raise InvalidInput(f"{field} {value.isoformat()} is out of range (from "
                               "0001-01-02 to 9999-12-30T00:00 in UTC)", field=field)
        return us
    if isinstance(value, date):
        return to_us(datetime(value.year, value.month, value.day), field=field)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{field} must be finite, got {value!r}", field=field)
        if not -1e14 < value < 1e14:
            raise InvalidInput(f"{field} {value!r} is out of range", field=field)
        us = int(round(value * 1_000_000))
        if not _MIN_US <= us <= _MAX_US:
            raise InvalidInput(f"{field} {value!r} is out of range (from 0001-01-02 to "
                               "9999-12-30T00:00 in UTC)", field=field)
        return us
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{field} {value!r} is not an ISO-8601 time "
                               "(e.g. 2026-03-02T10:00:00Z)", field=field) from None
        return to_us(dt, field=field)
    raise InvalidInput(f"{field} must be a datetime, ISO-8601 string or epoch seconds, "
                       f"not {type(value).__name__}", field=field)


def opt_us(value: object, *, field: str) -> int | None:
    return None if value is None else to_us(value, field=field)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def from_us(us: int) -> datetime:
    # integer arithmetic: exact, any year datetime holds, ~3x faster than fromtimestamp
    return _EPOCH + timedelta(microseconds=us)


def opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def iso(us: int) -> str:
    return from_us(us).isoformat().replace("+00:00", "Z")
