"""Working days: China's statutory holidays and make-up workdays (调休), and the fallback."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hazardloop.config import calendar


def test_holidays_and_make_up_workdays():
    assert not calendar.is_workday(date(2024, 10, 1))  # 国庆
    assert not calendar.is_workday(date(2024, 10, 7))
    assert calendar.is_workday(date(2024, 9, 29))  # Sunday worked (调休)
    assert calendar.is_workday(date(2024, 10, 12))  # Saturday worked
    assert calendar.is_workday(date(2024, 2, 4)) and calendar.is_workday(date(2024, 2, 18))
    assert not calendar.is_workday(date(2024, 2, 12))  # 春节
    assert calendar.is_workday(date(2025, 1, 26)) and not calendar.is_workday(date(2025, 1, 29))
    assert not calendar.is_workday(date(2024, 9, 28))  # an ordinary Saturday


def test_add_workdays_across_national_day():
    assert calendar.add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 8)
    assert calendar.add_workdays(date(2024, 9, 27), 1) == date(2024, 9, 29)  # the make-up Sunday counts
    assert calendar.add_workdays(date(2024, 10, 8), -3) == date(2024, 9, 27)
    assert calendar.add_workdays(date(2024, 10, 3), 0) == date(2024, 10, 3)
    assert calendar.workdays_between(date(2024, 9, 30), date(2024, 10, 8)) == 1
    assert calendar.workdays_between(date(2024, 10, 8), date(2024, 9, 30)) == -1


def test_uncovered_year_keeps_the_statutory_holidays_and_logs(caplog):
    year = 2035
    assert not calendar.covered(year)
    assert calendar.covered(2026)
    calendar._warned.discard(year)
    calendar.is_workday.cache_clear()
    with caplog.at_level(logging.WARNING, logger="hazardloop.calendar"):
        # issue 14: without the year's 调休 the statutory holidays still hold (国庆 was counted as a working day)
        assert not calendar.is_workday(date(year, 10, 1))
        assert calendar.is_workday(date(year, 10, 9))  # a Tuesday after the break
        assert not calendar.is_workday(date(year, 10, 6))  # Saturday
    assert any("2035" in r.getMessage() and "不含调休" in r.getMessage() for r in caplog.records)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 1)), st.integers(-5, 35))
def test_latest_with_offset_due_is_the_exact_boundary(as_of, offset):
    d = calendar.latest_with_offset_due(as_of, offset)
    assert calendar.add_workdays(d, offset) <= as_of
    assert calendar.add_workdays(d + timedelta(days=1), offset) > as_of
