"""Sane bounds on what a person types: deadlines, dates, funds, free text.

One place, used by the ledger's guards (states/), the public-report machine and the
forms, so that the CLI, the pages and the API refuse the same input with the same
Chinese message — before anything is written.  Configurable through the environment:

| variable | default | bounds |
|---|---|---|
| HAZARDLOOP_MAX_DEADLINE_DAYS | 730 | a deadline (plan, rejection, extension) at most this many days ahead |
| HAZARDLOOP_EARLIEST_DATE | 2000-01-01 | the earliest date a hazard may have been found (imports) |
| HAZARDLOOP_MAX_FUNDS | 100000000000 | the largest 整改资金 amount, in 元 |

Why: a deadline of 9999-12-31 overflowed the time-zone arithmetic; one of 2200-01-01 meant
the hazard could never escalate; funds of -100, NaN or 0 passed the 五落实 check; a title of
zero-width characters looked empty on every page.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from hazardloop.errors import ValidationError


@dataclass(frozen=True)
class Bounds:
    max_deadline_days: int = 730
    earliest_date: date = date(2000, 1, 1)
    max_funds: Decimal = Decimal(100_000_000_000)


def bounds() -> Bounds:
    """Read on each call (cheap): tests and operators change the environment."""
    try:
        return Bounds(
            max_deadline_days=int(os.environ.get("HAZARDLOOP_MAX_DEADLINE_DAYS", 730)),
            earliest_date=date.fromisoformat(os.environ.get("HAZARDLOOP_EARLIEST_DATE", "2000-01-01")),
            max_funds=Decimal(os.environ.get("HAZARDLOOP_MAX_FUNDS", "100000000000")),
        )
    except (ValueError, InvalidOperation) as exc:
        raise ValidationError(f"边界配置（HAZARDLOOP_MAX_DEADLINE_DAYS / EARLIEST_DATE / MAX_FUNDS）格式错误：{exc}") from None


# --- dates ------------------------------------------------------------------------------------------


def latest_deadline(today: date) -> date:
    return today + timedelta(days=bounds().max_deadline_days)


def check_deadline(value: date, label: str, today: date) -> date:
    """A deadline not in the past and at most max_deadline_days ahead."""
    if value < today:
        raise ValidationError(f"{label} {value.isoformat()} 已经过去（今天是 {today.isoformat()}）。")
    last = latest_deadline(today)
    if value > last:
        raise ValidationError(f"{label} {value.isoformat()} 太远：最晚可设为 {last.isoformat()}"
                              f"（{bounds().max_deadline_days} 天内）。")
    return value


def check_found_date(value: date, today: date, label: str = "发现（检查）日期") -> date:
    earliest = bounds().earliest_date
    if value < earliest:
        raise ValidationError(f"{label} {value.isoformat()} 早于 {earliest.isoformat()}，请核对。")
    if value > today + timedelta(days=1):
        raise ValidationError(f"{label} {value.isoformat()} 在未来（今天是 {today.isoformat()}）。")
    return value


# --- text -----------------------------------------------------------------------------------------

# Control, format (zero-width, bidi overrides), separators, combining marks alone: nothing a reader sees.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"}


def has_visible(text: str) -> bool:
    return any(unicodedata.category(ch) not in _INVISIBLE for ch in text)


def check_text(value: str | None, label: str, *, required: bool = True, limit: int | None = None) -> str | None:
    """Free text: no NUL (PostgreSQL cannot store it), not only invisible characters."""
    if value is None:
        if required:
            raise ValidationError(f"缺少{label}。")
        return None
    value = str(value)
    if "\x00" in value:
        raise ValidationError(f"{label}包含不允许的控制字符（NUL）。")
    if limit is not None and len(value) > limit:
        raise ValidationError(f"{label}太长（最多 {limit} 个字符）。")
    if not has_visible(value) and (required or value):
        raise ValidationError(f"{label}不能为空，或只由不可见字符（零宽字符、方向控制符等）组成。")
    return value


# --- money ----------------------------------------------------------------------------------------

_UNITS = {"亿": Decimal(100_000_000), "万": Decimal(10_000), "千": Decimal(1_000)}
_NUMBER = re.compile(r"(\d[\d,，]*(?:\.\d+)?)\s*(亿|万|千)?")


def funds_amount(value: str | None, label: str = "整改资金") -> Decimal:
    """The amount (元) in a funds entry such as "5万元", "50,000 元", "企业自筹 3.5 万元".

    Refused: no number, a negative number, zero, NaN/inf/exponents (any Latin letters),
    more than the configured maximum."""
    text = (value or "").strip()
    if "\x00" in text:
        raise ValidationError(f"{label}包含不允许的控制字符（NUL）。")
    example = "，例如“5万元”或“50000元”"
    if re.search(r"[A-Za-z]", text):
        raise ValidationError(f"{label}应为金额{example}；收到 {text[:40]!r}。")
    match = _NUMBER.search(text)
    if match is None:
        raise ValidationError(f"{label}应写明金额{example}；收到 {text[:40]!r}。")
    before = text[:match.start()].rstrip()
    if before.endswith(("-", "−", "－", "负")):
        raise ValidationError(f"{label}不能为负数；收到 {text[:40]!r}。")
    try:
        amount = Decimal(match.group(1).replace(",", "").replace("，", "")) * _UNITS.get(match.group(2) or "", 1)
    except InvalidOperation:
        raise ValidationError(f"{label}金额无法识别{example}；收到 {text[:40]!r}。") from None
    if amount <= 0:
        raise ValidationError(f"{label}必须大于 0；收到 {text[:40]!r}。")
    if amount > bounds().max_funds:
        raise ValidationError(f"{label}超过上限（{bounds().max_funds} 元），请核对；收到 {text[:40]!r}。")
    return amount
