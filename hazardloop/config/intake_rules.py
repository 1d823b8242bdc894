"""Public-report rules from config: deadlines (reports.yaml) and rewards (rewards.yaml).

HAZARDLOOP_REPORTS_CONFIG / HAZARDLOOP_REWARDS_CONFIG point at other files.
Working days are the engine's calendar (config/calendar.py): the office's
workdays.yaml first, then the `holidays` package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent


class RuleError(Exception):
    """Config or reward input is wrong (message in Chinese)."""


def _load(env: str, name: str) -> dict[str, Any]:
    import yaml  # only when a rule is read: the guards import this module on every CLI call

    path = Path(os.environ.get(env) or CONFIG_DIR / name)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise RuleError(f"配置文件不存在：{path}") from exc
    if not isinstance(doc, dict):
        raise RuleError(f"配置文件 {path} 的顶层应为映射。")
    return doc


# --- working days -------------------------------------------------------------
# The engine's one calendar (config/calendar.py: the office's workdays.yaml, then the holidays
# package), so a report's deadline and a hazard's ladder agree on every 调休 day. Imported when a
# day is counted: the guards import this module on every CLI call (issue 15, start-up).


def add_days(start: date, days: int, unit: str) -> date:
    """start + days, counting calendar or working days (negative goes back)."""
    if unit == "calendar":
        return start + timedelta(days=days)
    if unit != "working":
        raise RuleError(f"时限单位必须是 working（工作日）或 calendar（自然日），收到 {unit}。")
    from hazardloop.config import calendar

    return calendar.add_workdays(start, days)


# --- report deadlines -----------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    days: int
    unit: str
    note: str = ""


@dataclass(frozen=True)
class ReportRules:
    accepting_role: str
    deadlines: dict[str, Deadline]
    extension_max_days: int
    extension_unit: str
    extension_times: int
    reminders: list[dict[str, Any]]

    def due(self, phase: str, start: date) -> date:
        d = self.deadlines[phase]
        return add_days(start, d.days, d.unit)


@lru_cache(maxsize=1)
def report_rules() -> ReportRules:
    doc = _load("HAZARDLOOP_REPORTS_CONFIG", "reports.yaml")
    deadlines = {}
    for phase in ("accept", "verify", "feedback"):
        raw = (doc.get("deadlines") or {}).get(phase)
        if not isinstance(raw, dict) or not isinstance(raw.get("days"), int):
            raise RuleError(f"reports.yaml 缺少 deadlines.{phase}.days（整数）。")
        if raw.get("unit") not in ("working", "calendar"):
            raise RuleError(f"reports.yaml 的 deadlines.{phase}.unit 必须是 working 或 calendar。")
        deadlines[phase] = Deadline(raw["days"], raw["unit"], raw.get("note", ""))
    ext = doc.get("verify_extension") or {}
    reminders = doc.get("reminders") or []
    for r in reminders:
        if not isinstance(r.get("offset"), int) or not r.get("step") or not r.get("to"):
            raise RuleError("reports.yaml 的 reminders 每项需要 offset（整数）、step 和 to。")
    return ReportRules(
        accepting_role=str(doc.get("accepting_role") or "committee"), deadlines=deadlines,
        extension_max_days=int(ext.get("max_days", 30)), extension_unit=str(ext.get("unit", "calendar")),
        extension_times=int(ext.get("times", 1)), reminders=sorted(reminders, key=lambda r: r["offset"]),
    )


# --- rewards ------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardResult:
    rule: str
    rule_name: str
    source: str
    kind: str  # major / ordinary
    fine: str | None
    amount: int  # 元
    basis: str  # how the amount was reached, in Chinese

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@lru_cache(maxsize=1)
def reward_rules() -> dict[str, Any]:
    doc = _load("HAZARDLOOP_REWARDS_CONFIG", "rewards.yaml")
    rules = doc.get("rules") or {}
    if doc.get("default") not in rules:
        raise RuleError("rewards.yaml 的 default 必须是 rules 中的一条规则。")
    for name, rule in rules.items():
        if not rule.get("source") or not rule.get("major"):
            raise RuleError(f"rewards.yaml 的规则 {name} 需要 source 和 major。")
    return doc


def _money(value: Any, label: str) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError) as exc:
        raise RuleError(f"{label}应为金额（元），收到 {value!r}。") from exc
    if amount < 0:
        raise RuleError(f"{label}不能为负数。")
    return amount


def compute_reward(rule: str | None = None, *, kind: str = "major", fine: Any = None,
                   amount: Any = None) -> RewardResult:
    """The reward under a named rule.  major: percent of the fine within [min, max];
    ordinary: the officer's amount, which must lie within [min, max]."""
    doc = reward_rules()
    name = rule or doc["default"]
    if name not in doc["rules"]:
        raise RuleError(f"没有奖励规则 {name}（可用：{'、'.join(doc['rules'])}）。")
    spec = doc["rules"][name]
    title, source = spec.get("name", name), spec["source"]
    if kind == "major":
        m = spec["major"]
        fine_d = _money(fine if fine is not None else 0, "罚款金额")
        raw = fine_d * Decimal(str(m["percent_of_fine"])) / 100
        value = min(max(raw, Decimal(m["min"])), Decimal(m["max"]))
        value = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        basis = (f"依据{title}（{source}）：重大事故隐患或违法行为按行政处罚金额 {fine_d} 元的 "
                 f"{m['percent_of_fine']}% 计 {raw.quantize(Decimal('0.01'))} 元，"
                 f"最低 {m['min']} 元、最高 {m['max']} 元，核定 {value} 元。")
        return RewardResult(name, title, source, kind, str(fine_d), int(value), basis)
    if kind == "ordinary":
        o = spec.get("ordinary")
        if not o:
            raise RuleError(f"{title}（{source}）未规定一般事故隐患的奖励标准，请改用其他规则或按重大隐患核定。")
        if amount is None:
            raise RuleError(f"一般事故隐患的奖励金额须由核定人员给出（{o['min']}–{o['max']} 元）。")
        value = _money(amount, "奖励金额")
        if not Decimal(o["min"]) <= value <= Decimal(o["max"]):
            raise RuleError(f"依据{title}（{source}），一般事故隐患奖励应在 {o['min']}–{o['max']} 元之间，"
                            f"收到 {value} 元。")
        value = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        basis = f"依据{title}（{source}）：一般事故隐患奖励 {o['min']}–{o['max']} 元，核定 {value} 元。"
        return RewardResult(name, title, source, kind, None, int(value), basis)
    raise RuleError(f"奖励类别必须是 major（重大隐患或违法行为）或 ordinary（一般隐患），收到 {kind}。")


# --- names as people write them (明细表 import) --------------------------------------

ALIASES_FILE = CONFIG_DIR / "reference" / "aliases.yaml"


@lru_cache(maxsize=1)
def aliases() -> dict[str, Any]:
    """config/reference/aliases.yaml (or HAZARDLOOP_ALIASES_CONFIG): common names of the catalogue
    entries, umbrella terms with their members and holding (待细分) entry, the holding region.
    Checked here so that a broken file is one clear message, not a failure halfway through an import."""
    path = Path(os.environ.get("HAZARDLOOP_ALIASES_CONFIG") or ALIASES_FILE)
    doc = _load("HAZARDLOOP_ALIASES_CONFIG", str(path))
    for section in ("industries", "regions", "departments"):
        table = doc.get(section) or {}
        if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
            raise RuleError(f"{path.name} 的 {section} 应为“代码: [常用名, …]”的映射。")
        doc[section] = {str(k): [str(n) for n in v] for k, v in table.items()}
    umbrellas = doc.get("umbrellas") or {}
    for term, spec in umbrellas.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("members"), list) or not spec["members"]:
            raise RuleError(f"{path.name} 的统称“{term}”需要 members（目录代码列表）。")
        hold = spec.get("holding")
        if not isinstance(hold, dict) or not all(hold.get(k) for k in ("code", "name", "department")):
            raise RuleError(f"{path.name} 的统称“{term}”需要 holding: {{code, name, department}}（待细分条目）。")
        spec["aliases"] = [str(a) for a in spec.get("aliases") or []]
    doc["umbrellas"] = umbrellas
    hold = doc.get("holding_region")
    if not isinstance(hold, dict) or not hold.get("code") or not hold.get("name"):
        raise RuleError(f"{path.name} 需要 holding_region: {{code, name}}（待确认镇街区）。")
    hold.setdefault("kind", "holding")
    affixes = doc.get("enterprise_affixes") or {}
    doc["enterprise_affixes"] = {"prefixes": [str(a) for a in affixes.get("prefixes") or []],
                                 "suffixes": [str(a) for a in affixes.get("suffixes") or []]}
    return doc
