"""One clock for the whole engine: UTC for storage, Asia/Shanghai for dates people see.

Every datetime the engine handles is aware UTC; SQLModel's UTCDateTime stores it
as UTC (SQLite keeps no zone, so it is written without one and read back as UTC).
Tests and simulations freeze the clock with `frozen()` instead of patching datetime.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_fixed: datetime | None = None


def utcnow() -> datetime:
    """Aware UTC now (what goes into the database)."""
    if _fixed is not None:
        return _fixed
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in Asia/Shanghai."""
    return to_local(utcnow()).date()


def to_local(value: datetime) -> datetime:
    """UTC datetime (naive means UTC) -> aware Asia/Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(SHANGHAI)


def end_of_day_utc(day: date) -> datetime:
    """The last moment of a Shanghai calendar day, in UTC: a deadline day is
    fully available to the enterprise."""
    local = datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)
    return local.astimezone(timezone.utc)


def local_date(value: datetime) -> date:
    return to_local(value).date()


def set_fixed(value: datetime | None) -> None:
    global _fixed
    if value is not None:
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    _fixed = value


@contextlib.contextmanager
def frozen(value: datetime | date) -> Iterator[None]:
    """Freeze the clock; a date means 09:00 that day in Shanghai."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(9, 0), tzinfo=SHANGHAI)
    previous = _fixed
    set_fixed(value)
    try:
        yield
    finally:
        set_fixed(previous)


def advance(delta: timedelta) -> None:
    if _fixed is None:
        raise RuntimeError("clock is not frozen")
    set_fixed(_fixed + delta)
