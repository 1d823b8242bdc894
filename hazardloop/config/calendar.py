"""Working days (工作日) for China: statutory holidays and make-up workdays (调休).

One module answers "is this a working day" and "N working days after a date"
for the whole engine.  The data come from the `holidays` package (its China
calendar carries the State Council's yearly arrangement, including the weekend
days that are worked).  A year whose arrangement the package does not carry
(no 调休 entries, i.e. not yet published) falls back to weekends-only, and the
log says so once per year.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import lru_cache

import holidays

from hazardloop.errors import ValidationError

log = logging.getLogger("hazardloop.calendar")

_warned: set[int] = set()


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[frozenset[date], frozenset[date], bool]:
    """(holidays off, weekend days worked, covered) for one year."""
    cn = holidays.China(years=year)
    workdays = frozenset(d for d in getattr(cn, "weekend_workdays", ()) if d.year == year)
    if not workdays:
        return frozenset(), frozenset(), False
    return frozenset(d for d in cn if d.year == year), workdays, True


def covered(year: int) -> bool:
    """Whether the package carries that year's official arrangement."""
    return _year(year)[2]


@lru_cache(maxsize=8192)
def is_workday(day: date) -> bool:
    off, worked, ok = _year(day.year)
    if not ok and day.year not in _warned:
        _warned.add(day.year)
        log.warning("节假日数据未覆盖 %s 年（holidays 包无当年调休安排），该年按仅周末休息计算工作日。", day.year)
    if day in worked:
        return True
    if day in off:
        return False
    return day.weekday() < 5


@lru_cache(maxsize=65536)
def add_workdays(day: date, n: int) -> date:
    """The n-th working day after `day` (n > 0), before it (n < 0), or `day` itself (n == 0).

    An offset of +1 from a deadline is the first working day after it, whatever
    day of the week the deadline falls on."""
    if n == 0:
        return day
    step = timedelta(days=1 if n > 0 else -1)
    left = abs(n)
    current = day
    while left:
        current += step
        if is_workday(current):
            left -= 1
    return current


@lru_cache(maxsize=65536)
def workdays_between(start: date, end: date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end == start:
        return 0
    sign = 1 if end > start else -1
    lo, hi = (start, end) if sign > 0 else (end, start)
    count, current = 0, lo
    while current < hi:
        current += timedelta(days=1)
        if is_workday(current):
            count += 1
    return sign * count


def latest_with_offset_due(as_of: date, offset: int) -> date:
    """The latest deadline date d for which add_workdays(d, offset) <= as_of.

    The sweep selects candidate hazards with `deadline <= this` (an index range),
    instead of scanning every hazard."""
    # add_workdays is monotone non-decreasing in d, so step d forward from a safe lower bound.
    d = as_of - timedelta(days=max(0, offset) * 3 + 30)
    while add_workdays(d + timedelta(days=1), offset) <= as_of:
        d += timedelta(days=1)
    return d


# --- months (the monthly evaluation, bulletin and red/black list all count by calendar month) ---


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a YYYY-MM month; a malformed month is a ValidationError in Chinese."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        first = date(year, mon, 1)
    except (ValueError, TypeError):
        raise ValidationError(f"月份格式应为 YYYY-MM，收到 {month!r}。") from None
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def previous_month(month: str) -> str:
    first, _ = month_bounds(month)
    return month_of(first - timedelta(days=1))


def months_between(start: str, end: str) -> list[str]:
    """Every month from start to end inclusive, in order."""
    out, m = [], end
    while m >= start:
        out.append(m)
        m = previous_month(m)
    return out[::-1]


def first_workday(year: int, month: int) -> date:
    day = date(year, month, 1)
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def is_first_workday_of_month(day: date) -> bool:
    """The monthly runs (evaluation, bulletin) fall on the month's first working day (调休 included)."""
    return day == first_workday(day.year, day.month)
