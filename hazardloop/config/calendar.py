"""Working days (工作日) for China: statutory holidays and make-up workdays (调休).

One module answers "is this a working day" and "N working days after a date"
for the whole engine.  Where the data come from, first that answers:

1. the calendar file the committee office fills from the State Council's yearly notice
   (国务院办公厅关于某年部分节假日安排的通知): config/workdays.yaml next to this module, or
   $HAZARDLOOP_HOME/workdays.yaml, or $HAZARDLOOP_WORKDAYS -- days off and make-up working
   days per year, checked at load (every statutory holiday present, no overlaps; a bad file
   is refused with its line number, in Chinese);
2. the `holidays` package, for a year whose arrangement it carries (its 调休 entries);
3. for a year neither covers: the package's statutory holidays (and its 补假), weekends
   off, no make-up days -- logged once per year, and from November on `missing_next_year`
   says next year is missing (CLI, web banner, a notice to the office).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import holidays
import yaml

from hazardloop.config import policyfile
from hazardloop.errors import ValidationError

log = logging.getLogger("hazardloop.calendar")

_warned: set[int] = set()
DEFAULT_FILE = Path(__file__).with_name("workdays.yaml")
# The statutory holidays (全国年节及纪念日放假办法, 2024 revision): 13 days a year.
STATUTORY = {"New Year's Day": "元旦", "Chinese New Year's Eve": "除夕", "Chinese New Year (Spring Festival)": "春节",
             "Tomb-Sweeping Day": "清明节", "Labor Day": "劳动节", "Dragon Boat Festival": "端午节",
             "Mid-Autumn Festival": "中秋节", "National Day": "国庆节"}


class CalendarError(ValueError):
    """A calendar file that cannot be used; str() names the file, the line and the reason."""


@dataclass(frozen=True)
class YearArrangement:
    year: int
    off: frozenset[date]
    worked: frozenset[date]
    source: str


def calendar_path() -> Path:
    return policyfile.policy_path(None, "HAZARDLOOP_WORKDAYS", "workdays.yaml", DEFAULT_FILE)


def statutory(year: int) -> dict[date, str]:
    """The statutory holidays of a year (no 补假, no 调休), by the holidays package, in Chinese."""
    out = {}
    for day, name in holidays.China(years=year).items():
        if day.year == year and "observed" not in name:
            for en, cn in STATUTORY.items():
                if en in name.split(";")[0] or name == en:
                    out[day] = cn
    return out


def parse_calendar(text: str, source: str = "<text>") -> dict[int, YearArrangement]:
    """Check and build the office's calendar file (format: docs/escalation.md, 工作日历)."""
    chk = policyfile.LineChecker(source, "节假日安排文件", CalendarError)
    root = chk.compose(text) if text.strip() and not all(
        line.strip().startswith("#") or not line.strip() for line in text.splitlines()) else None
    if root is None:
        return {}
    years = chk.mapping(root, "文件顶层")
    out: dict[int, YearArrangement] = {}
    for key, (knode, node) in years.items():
        try:
            year = int(key)
        except ValueError:
            year = 0
        if not 2000 <= year <= 2100:
            chk.fail(knode, f"顶层键应为年份（如 2027），收到 {key!r}。")
        m = chk.mapping(node, f"{year} 年", {"source", "holidays", "workdays"})
        chk.need(node, m, ("source", "holidays", "workdays"), f"{year} 年")
        src = chk.value(m["source"][1], "source")
        if not src or not str(src).strip():
            chk.fail(m["source"][1], "source 应写明国务院办公厅通知的名称和文号。")
        off: dict[date, str] = {}
        hol = m["holidays"][1]
        if not isinstance(hol, yaml.SequenceNode) or not hol.value:
            chk.fail(hol, "holidays 应为非空列表，每项 {name: 春节, from: 日期, to: 日期}。")
        for item in hol.value:
            h = chk.mapping(item, "放假安排", {"name", "from", "to"})
            chk.need(item, h, ("name", "from", "to"), "放假安排")
            name = str(chk.value(h["name"][1], "name") or "").strip()
            start, end = chk.value(h["from"][1], "from"), chk.value(h["to"][1], "to")
            for node_, value in ((h["from"][1], start), (h["to"][1], end)):
                if not isinstance(value, date):
                    chk.fail(node_, f"日期应写作 YYYY-MM-DD，收到 {node_.value!r}。")
            if end < start or (end - start).days > 15:
                chk.fail(item, f"{name}：放假区间 {start} 至 {end} 不合理（结束早于开始或超过 15 天）。")
            day = start
            while day <= end:
                if day in off:
                    chk.fail(item, f"{name}：{day} 已在“{off[day]}”的放假区间内（区间重叠）。")
                if not _belongs(day, year):
                    chk.fail(item, f"{name}：{day} 不属于 {year} 年的安排。")
                off[day] = name
                day += timedelta(days=1)
        wnode = m["workdays"][1]
        if not isinstance(wnode, yaml.SequenceNode):
            chk.fail(wnode, "workdays 应为调休上班日期的列表（可为空列表 []）。")
        worked: set[date] = set()
        for item in wnode.value:
            day = chk.value(item, "workdays")
            if not isinstance(day, date):
                chk.fail(item, f"日期应写作 YYYY-MM-DD，收到 {item.value!r}。")
            if day in off:
                chk.fail(item, f"{day} 既是放假日又是调休上班日（与“{off[day]}”重叠）。")
            if day.weekday() < 5:
                chk.fail(item, f"{day} 是工作日（星期{'一二三四五'[day.weekday()]}），调休上班日应为周六或周日。")
            if day in worked or not _belongs(day, year):
                chk.fail(item, f"{day} 重复或不属于 {year} 年的安排。")
            worked.add(day)
        missing = {d: n for d, n in statutory(year).items() if d not in off}
        if missing:
            chk.fail(hol, "缺少法定节假日：" + "、".join(f"{n}（{d}）" for d, n in sorted(missing.items()))
                     + "；请按国务院办公厅通知补全。")
        out[year] = YearArrangement(year, frozenset(off), frozenset(worked), str(src).strip())
    return out


def _belongs(day: date, year: int) -> bool:
    """A year's notice covers that year, and late December of the year before (a 元旦 break or
    its make-up Sunday may fall there)."""
    return day.year == year or (day.year == year - 1 and day.month == 12)


@lru_cache(maxsize=4)
def _file(path: str, mtime: float) -> dict[int, YearArrangement]:  # noqa: ARG001 - mtime keys the cache
    p = Path(path)
    return parse_calendar(policyfile.read(p, "节假日安排文件", CalendarError), str(p))


def arrangements() -> dict[int, YearArrangement]:
    """The office's file, read once per change (a bad file is refused, not ignored)."""
    p = calendar_path()
    if not p.is_file():
        return {}
    return _file(str(p), os.path.getmtime(p))


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[frozenset[date], frozenset[date], bool]:
    """(days off, weekend days worked, covered) for one year."""
    filed = arrangements()
    nxt = filed.get(year + 1)  # next year's notice may reach into this December
    spill_off = frozenset(d for d in nxt.off if d.year == year) if nxt else frozenset()
    spill_worked = frozenset(d for d in nxt.worked if d.year == year) if nxt else frozenset()
    mine = filed.get(year)
    if mine is not None:
        return (frozenset(d for d in mine.off if d.year == year) | spill_off,
                frozenset(d for d in mine.worked if d.year == year) | spill_worked, True)
    cn = holidays.China(years=year)
    workdays = frozenset(d for d in getattr(cn, "weekend_workdays", ()) if d.year == year)
    # Without the year's arrangement the statutory holidays (and the package's 补假) still hold.
    off = frozenset(d for d in cn if d.year == year)
    return off | spill_off, workdays | spill_worked, bool(workdays)


def covered(year: int) -> bool:
    """Whether that year's official arrangement (with its 调休) is known: the office's file or the package."""
    return _year(year)[2]


def missing_next_year(today: date) -> int | None:
    """From November on: next year's number when its arrangement is not known yet (warn loudly), else None."""
    if today.month >= 11 and not covered(today.year + 1):
        return today.year + 1
    return None


def missing_message(year: int) -> str:
    return (f"尚未录入 {year} 年节假日安排（国务院办公厅通知中的放假和调休上班日期）：{year} 年的工作日将只按"
            f"法定节假日和周末计算，调休上班日不计、调休放假日按工作日计，督办时限和公文日期可能出错。"
            f"请市安委办按通知填写 {calendar_path()}（格式见 docs/escalation.md）。")


def reset() -> None:
    """Forget cached calendar data (after the office edits the file; tests)."""
    _year.cache_clear()
    _file.cache_clear()
    is_workday.cache_clear()
    add_workdays.cache_clear()
    workdays_between.cache_clear()


@lru_cache(maxsize=8192)
def is_workday(day: date) -> bool:
    off, worked, ok = _year(day.year)
    if not ok and day.year not in _warned:
        _warned.add(day.year)
        log.warning("节假日数据未覆盖 %s 年（节假日安排文件和 holidays 包均无当年调休安排），该年按法定节假日和"
                    "周末计算工作日，不含调休。", day.year)
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
