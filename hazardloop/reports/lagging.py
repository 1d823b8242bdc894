"""Regions and departments that lag (落后单位督办): the monthly evaluation.

Each month, as of its last day (Shanghai), every region (镇街区) and every supervising
department (行业监管部门) gets the figures of `stats` (the same as-of-the-audit-trail
definitions: one SQL statement over `stats.per_hazard_sql`), is checked against the
thresholds of config/lagging.yaml, and one row per (unit kind, unit, month) is stored.
Consecutive missed months are counted from those stored rows, never recomputed, so a
re-run gives the same answer and a past month is never evaluated differently.  A month
whose predecessor was never evaluated evaluates it first (back to the policy's start).
`run` evaluates and hands the streaks to the ladder (escalation.units), which issues
the steps they make due.

Department figures follow the hazard's industry: the department is the industry's
supervising department in the reference data (as `hazard.supervising_department` is
set at report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.lagging import LaggingPolicy, Threshold
from hazardloop.errors import ValidationError
from hazardloop.escalation import ladder, units
from hazardloop.escalation.units import load_policy
from hazardloop.models import audit
from hazardloop.models.db import insert_or_skip
from hazardloop.models.lagging import LagEvaluation
from hazardloop.models.tables import Industry
from hazardloop.reports import stats

SYSTEM_ACTOR = units.SYSTEM_ACTOR
month_of = calendar.month_of
previous_month = calendar.previous_month


def _check_month(month: str, policy: LaggingPolicy, open_ok: bool = False) -> tuple[date, date]:
    first, last = calendar.month_bounds(month)
    month = month_of(first)
    if month < policy.start:
        raise ValidationError(f"{month} 早于考核起始月份 {policy.start}（见落后单位督办规则文件的 start）。")
    if last >= clock.today() and not open_ok:
        raise ValidationError(f"{month} 尚未结束（今天是 {clock.today().isoformat()}），月末数据未定，不能考核；"
                              f"月度考核在次月第一个工作日进行。")
    return first, last


def is_run_day(day: date) -> bool:
    """The monthly run falls on the month's first working day (China's calendar, 调休 included)."""
    return calendar.is_first_workday_of_month(day)


# --- figures ----------------------------------------------------------------------------------


_FIGURES = ("found", "confirmed", "closed", "open", "overdue", "stock_open")


def figures_at(session: Session, as_of: date) -> dict[tuple[str, str], dict[str, int]]:
    """Per (unit kind, unit code): found, confirmed, closed, open, overdue and stock_open as of
    the end of `as_of`, by the definitions of `stats.compute` -- one statement, grouped by
    (region, industry, found year) and summed here."""
    conn = session.connection()
    sql = text(f"""WITH {stats.per_hazard_sql(conn.dialect.name, None).strip()}
SELECT region_code, industry_code, found_year, COUNT(*) AS found, SUM(confirmed) AS confirmed,
       SUM(CASE WHEN st = 5 THEN 1 ELSE 0 END) AS closed,
       SUM(CASE WHEN st IN (0, 1, 3, 4) THEN 1 ELSE 0 END) AS open,
       SUM(CASE WHEN st = 3 AND deadline < :t THEN 1 ELSE 0 END) AS overdue
FROM hz GROUP BY region_code, industry_code, found_year""")
    dept_of = {i.code: i.department_code for i in session.execute(select(Industry)).scalars()}
    out: dict[tuple[str, str], dict[str, int]] = {}
    for r in conn.execute(sql, {"t": stats.bind_time(conn, stats.cutoff(as_of))}).mappings():
        stock = int(r["found_year"]) <= stats.STOCK_LAST_YEAR
        for key in (("region", r["region_code"]), ("department", dept_of.get(r["industry_code"], ""))):
            f = out.setdefault(key, dict.fromkeys(_FIGURES, 0))
            for m in ("found", "confirmed", "closed", "open", "overdue"):
                f[m] += int(r[m] or 0)
            if stock:
                f["stock_open"] += int(r["open"] or 0)
    return out


def metric_value(metric: str, f: dict[str, int]) -> float | None:
    """The value a threshold is checked on (one decimal, as shown); None: no base (not applicable)."""
    if metric == "overdue_share":
        return round(f["overdue"] * 100.0 / f["open"], 1) if f["open"] else None
    if metric == "closure_rate":
        return round(f["closed"] * 100.0 / f["confirmed"], 1) if f["confirmed"] else None
    return float(f["stock_open"])


def _fmt(value: float, unit: str) -> str:
    return (str(int(value)) if float(value).is_integer() else f"{value:.1f}") + unit


def check(policy: LaggingPolicy, month: str, f: dict[str, int]) -> list[dict[str, Any]]:
    """The thresholds missed, each with its value and limit (empty: all met)."""
    missed = []
    for t in policy.thresholds:
        if not t.applies(month):
            continue
        value = metric_value(t.metric, f)
        if t.missed(value):
            missed.append({"metric": t.metric, "name": t.name, "value": value, "limit": t.limit, "op": t.op,
                           "unit": t.unit, "value_text": _fmt(value, t.unit), "rule": t.describe()})
    return missed


# --- evaluation -----------------------------------------------------------------------------


def _stored(session: Session, month: str) -> dict[tuple[str, str], LagEvaluation]:
    rows = session.execute(select(LagEvaluation).where(LagEvaluation.month == month)).scalars()
    return {(r.unit_kind, r.unit_code): r for r in rows}


def _evaluate_one(session: Session, month: str, policy: LaggingPolicy, unit_list: list[units.Unit],
                  prev: dict[tuple[str, str], LagEvaluation]) -> tuple[dict[tuple[str, str], LagEvaluation], int]:
    have = _stored(session, month)
    todo = [u for u in unit_list if (u.kind, u.code) not in have]
    if not todo:
        return have, 0
    _, last = calendar.month_bounds(month)
    figs = figures_at(session, last)
    now = clock.utcnow()
    rows = []
    for u in todo:
        f = figs.get((u.kind, u.code), dict.fromkeys(_FIGURES, 0))
        missed = check(policy, month, f)
        p = prev.get((u.kind, u.code))
        last_cycle = p.cycle if p else 0
        if missed:
            continuing = p is not None and p.streak > 0
            streak = p.streak + 1 if continuing else 1
            cycle = last_cycle if continuing else last_cycle + 1
        else:
            streak, cycle = 0, last_cycle
        rows.append({"unit_kind": u.kind, "unit_code": u.code, "month": month, "figures": f, "missed": missed,
                     "streak": streak, "cycle": cycle, "policy_version": policy.version, "evaluated_at": now})
    table = LagEvaluation.__table__
    new = session.execute(insert_or_skip(session, table, ["unit_kind", "unit_code", "month"])
                          .returning(table.c.id), rows).all()
    for r in rows:
        p = prev.get((r["unit_kind"], r["unit_code"]))
        if new and r["streak"] == 0 and p is not None and p.streak > 0:
            # The unit met every threshold: its cycle is over, and so are its undecided proposals.
            units.withdraw_ended(session, r["unit_kind"], r["unit_code"], p.cycle,
                                 f"{month} 已达到考核要求，本轮督办结束")
    if new:
        lagging = [f"{r['unit_kind']}:{r['unit_code']}" for r in rows if r["missed"]]
        audit.append(session, actor=SYSTEM_ACTOR, action="lag_evaluated",
                     after={"month": month, "units": len(new), "missed": lagging, "policy": policy.version})
    session.expire_all()
    return _stored(session, month), len(new)


def evaluate(session: Session, month: str, *, policy: LaggingPolicy | None = None,
             open_ok: bool = False) -> list[dict[str, Any]]:
    """Every unit's evaluation of `month` (stored once; earlier unevaluated months first).

    Each dict: unit kind/code/name, month, figures, missed thresholds (name, value vs limit),
    streak (consecutive missed months), cycle, and the ladder steps due by the streak."""
    return _evaluate_months(session, month, policy or load_policy(), open_ok)[month_of(
        calendar.month_bounds(month)[0])]


def _evaluate_months(session: Session, month: str, policy: LaggingPolicy,
                     open_ok: bool = False) -> dict[str, list[dict[str, Any]]]:
    """evaluate() for every month from the policy's start to `month`, in order (the catch-up
    issues each month's steps from these, oldest first)."""
    first, _ = _check_month(month, policy, open_ok)
    month = month_of(first)
    unit_list = units.units(session, policy)
    prev: dict[tuple[str, str], LagEvaluation] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for m in calendar.months_between(policy.start, month):
        prev, _n = _evaluate_one(session, m, policy, unit_list, prev)
        out[m] = [{"unit_kind": u.kind, "unit_code": u.code, "unit_name": u.name, "month": m,
                   "figures": dict(ev.figures), "missed": list(ev.missed), "streak": ev.streak, "cycle": ev.cycle,
                   "steps_due": [s.code for s in policy.steps_due(ev.streak)], "evaluation_id": ev.id}
                  for u in unit_list for ev in (prev[(u.kind, u.code)],)]
    return out


# --- the monthly run -------------------------------------------------------------------------


@dataclass
class RunResult:
    month: str
    dry_run: bool
    units: int = 0
    lagging: int = 0
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # issued or proposed by this run
    documents: int = 0
    proposed: int = 0
    notifications: int = 0
    future: bool = False  # the month is not over yet: a dry run unless forced
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "dry_run": self.dry_run, "future": self.future, "forced": self.forced, "units": self.units, "lagging": self.lagging,
                "documents": self.documents, "proposed": self.proposed, "notifications": self.notifications,
                "steps": self.steps, "evaluations": self.evaluations}


def run(session: Session, month: str, *, dry_run: bool = False, policy: LaggingPolicy | None = None,
        as_of: date | None = None, force: bool = False, actor: str = SYSTEM_ACTOR) -> RunResult:
    """Evaluate `month` and issue every ladder step due by it, each once per unit and cycle.

    dry_run: everything is worked out in the transaction (文号 included) and rolled back.
    A month not yet over (or an issue date after today) is a dry run unless `force` (audited).

    Catch-up: when earlier months of a unit's current streak were never run, their steps are
    issued first, month by month (a 函告 before the 通报 that cites it), and a document whose
    next step is issued the same day says so instead of announcing it for next month."""
    policy = policy or load_policy()
    today = clock.today()
    day = as_of or today
    first, last = calendar.month_bounds(month)
    future = last >= today
    if future and not force:
        dry_run = True
    by_month = _evaluate_months(session, month, policy, open_ok=future)
    month = month_of(first)
    evals = by_month[month]
    result = RunResult(month, dry_run, units=len(evals), lagging=sum(1 for e in evals if e["missed"]),
                       evaluations=evals, future=future, forced=future and not dry_run)
    if result.forced:
        ladder.audit_forced(session, actor, "lagging run", month)
    for m, rows in _catch_up(by_month, month, policy):
        units.issue_due(session, rows, m, policy, day, result)
    session.flush()
    if dry_run:
        session.rollback()
    return result




def _catch_up(by_month: dict[str, list[dict[str, Any]]], month: str, policy: LaggingPolicy
              ) -> list[tuple[str, list[dict[str, Any]]]]:
    """The months whose steps this run issues, oldest first: for each unit, every month of its
    current streak (earlier months' steps are unique rows, so a month already run adds nothing).
    Each row carries `followed_by`: the step the next month of the streak makes due, if any."""
    months = sorted(by_month)
    idx = {m: i for i, m in enumerate(months)}
    streak_now = {(e["unit_kind"], e["unit_code"]): e["streak"] for e in by_month[month]}
    plan: dict[str, list[dict[str, Any]]] = {}
    for key, streak in streak_now.items():
        if streak < policy.consecutive:
            continue
        for back in range(streak - policy.consecutive, -1, -1):
            m = months[idx[month] - back]
            row = next(e for e in by_month[m] if (e["unit_kind"], e["unit_code"]) == key)
            nxt = policy.steps_due(row["streak"] + 1) if back else ()
            later = nxt[-1] if len(nxt) > len(policy.steps_due(row["streak"])) else None
            plan.setdefault(m, []).append(row | {"followed_by": later})
    return sorted(plan.items())


__all__ = ["evaluate", "run", "figures_at", "check", "metric_value", "is_run_day", "load_policy", "Threshold",
           "RunResult"]
