"""季度会商研判: at each quarter's end a numbered report (policy ¶三(四) “每季度会商研判”).

Hazards: stock (confirmed, not closed at the quarter's end), increment (found in the
quarter), overdue (in stock, deadline passed), by region, industry and department, with
the change against the previous quarter and the same quarter a year before.  Tasks:
due, done on time, done late, overdue and open, by lead unit.  The problems units wrote
in their monthly reports.  The figures are frozen in the row when the report is issued
(文号 from the shared counter, rendered once, SHA-256 stored); the meeting's conclusions
and measures are recorded afterwards, each measure becoming a task of the city plan.

Counting rules (docs/plans.md): a hazard counts once confirmed (挂牌); its deadline is
the one in force now (an extension moves it for past quarters too: the ledger keeps no
deadline history outside the audit trail).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.settings import get_settings
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.escalation import documents, ladder
from hazardloop.escalation import tasks as lag
from hazardloop.models import audit
from hazardloop.models.plans import PlanTask, PlanTaskReport, QuarterlyReview
from hazardloop.models.tables import AppUser, Department, Hazard, Industry, Region
from hazardloop.plans import plans as plans_mod
from hazardloop.states import plan_guards

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOC_TYPE = "研"
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
DIMENSIONS = {"region": ("region_code", "镇街区"), "industry": ("industry_code", "行业领域"),
              "department": ("supervising_department", "监管部门")}


def parse_quarter(text: str) -> tuple[int, int]:
    m = _QUARTER.match((text or "").strip().upper())
    if not m:
        raise ValidationError(f"季度格式应为 YYYY-QN（如 2025-Q2），收到 {text!r}。")
    return int(m.group(1)), int(m.group(2))


def quarter_bounds(year: int, q: int) -> tuple[date, date]:
    first = date(year, 3 * q - 2, 1)
    return first, calendar.month_bounds(f"{year}-{3 * q:02d}")[1]


def shift(year: int, q: int, by: int) -> tuple[int, int]:
    n = year * 4 + (q - 1) + by
    return n // 4, n % 4 + 1


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=clock.utcnow().tzinfo)


def hazard_figures(session: Session, year: int, q: int) -> dict[str, Any]:
    """stock / increment / overdue in total and by each dimension, for one quarter."""
    first, last = quarter_bounds(year, q)
    end = clock.end_of_day_utc(last)
    start = clock.end_of_day_utc(date.fromordinal(first.toordinal() - 1))  # the quarter begins after this moment
    total = {"stock": 0, "increment": 0, "overdue": 0}
    by: dict[str, dict[str, dict[str, int]]] = {d: {} for d in DIMENSIONS}
    rows = session.execute(select(Hazard.region_code, Hazard.industry_code, Hazard.supervising_department,
                                  Hazard.found_at, Hazard.confirmed_at, Hazard.closed_at, Hazard.deadline)
                           .where(Hazard.confirmed_at.is_not(None))).all()
    for region, industry, dept, found, confirmed, closed, deadline in rows:
        found, confirmed, closed, deadline = _utc(found), _utc(confirmed), _utc(closed), _utc(deadline)
        if confirmed > end:
            continue
        in_stock = closed is None or closed > end
        flags = {"stock": in_stock, "increment": start < found <= end,
                 "overdue": in_stock and deadline is not None and deadline < end}
        keys = {"region": region, "industry": industry, "department": dept or ""}
        for name, on in flags.items():
            if not on:
                continue
            total[name] += 1
            for dim, key in keys.items():
                by[dim].setdefault(key, {"stock": 0, "increment": 0, "overdue": 0})[name] += 1
    return {"quarter": f"{year}-Q{q}", "total": total, "by": by}


def _delta(now: dict[str, int], then: dict[str, int]) -> dict[str, int]:
    return {k: now.get(k, 0) - then.get(k, 0) for k in ("stock", "increment", "overdue")}


def task_figures(session: Session, year: int, q: int) -> dict[str, Any]:
    first, last = quarter_bounds(year, q)
    names = lag.unit_names(session)
    by_unit: dict[str, dict[str, Any]] = {}
    for task in session.execute(select(PlanTask)).scalars():
        key = f"{task.lead_kind}:{task.lead_code}"
        row = by_unit.setdefault(key, {"unit": names.get((task.lead_kind, task.lead_code), task.lead_code),
                                       "due": 0, "done_on_time": 0, "done_late": 0, "overdue_open": 0})
        done = clock.local_date(task.reported_at) if task.reported_at and task.state != "returned" else None
        if first <= task.deadline <= last:
            row["due"] += 1
            if done is not None and done <= task.deadline:
                row["done_on_time"] += 1
        if done is not None and first <= done <= last and done > task.deadline:
            row["done_late"] += 1
        if lag.overdue_as_of(task, last):
            row["overdue_open"] += 1
    units = sorted((r for r in by_unit.values() if any(r[k] for k in ("due", "done_late", "overdue_open"))),
                   key=lambda r: (-r["overdue_open"], -r["done_late"], r["unit"]))
    totals = {k: sum(r[k] for r in units) for k in ("due", "done_on_time", "done_late", "overdue_open")}
    return {"units": units, "total": totals}


def reported_problems(session: Session, year: int, q: int) -> list[dict[str, Any]]:
    months = [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    names = lag.unit_names(session)
    rows = session.execute(select(PlanTaskReport, PlanTask.code, PlanTask.content)
                           .join(PlanTask, PlanTask.id == PlanTaskReport.task_id)
                           .where(PlanTaskReport.month.in_(months), PlanTaskReport.problems != "")
                           .order_by(PlanTaskReport.month, PlanTask.code)).all()
    return [{"month": r.month, "unit": names.get((r.unit_kind, r.unit_code), r.unit_code), "task": code,
             "content": content[:40], "problems": r.problems} for r, code, content in rows]


def compute(session: Session, quarter: str) -> dict[str, Any]:
    year, q = parse_quarter(quarter)
    now = hazard_figures(session, year, q)
    prev = hazard_figures(session, *shift(year, q, -1))
    last_year = hazard_figures(session, *shift(year, q, -4))
    dims = {}
    for dim, (_col, title) in DIMENSIONS.items():
        keys = sorted(set(now["by"][dim]) | set(prev["by"][dim]) | set(last_year["by"][dim]))
        dims[dim] = [{"key": k, "now": now["by"][dim].get(k, {"stock": 0, "increment": 0, "overdue": 0}),
                      "vs_prev": _delta(now["by"][dim].get(k, {}), prev["by"][dim].get(k, {})),
                      "vs_last_year": _delta(now["by"][dim].get(k, {}), last_year["by"][dim].get(k, {}))}
                     for k in keys]
    return {"quarter": f"{year}-Q{q}", "previous": prev["quarter"], "last_year": last_year["quarter"],
            "hazards": {"total": now["total"], "previous": prev["total"], "last_year_total": last_year["total"],
                        "vs_prev": _delta(now["total"], prev["total"]),
                        "vs_last_year": _delta(now["total"], last_year["total"]), "by": dims},
            "tasks": task_figures(session, year, q), "problems": reported_problems(session, year, q)}


def _names(session: Session) -> dict[str, dict[str, str]]:
    return {"region": {r.code: r.name for r in session.execute(select(Region)).scalars()},
            "industry": {i.code: i.name for i in session.execute(select(Industry)).scalars()},
            "department": {d.code: d.name for d in session.execute(select(Department)).scalars()}}


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "html.j2"]),
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["signed"] = lambda v: f"+{v}" if v > 0 else str(v)
    return env


def render(session: Session, figures: dict[str, Any], number: str, issue_day: date, *, conclusions: str = "",
           measures: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    year, q = parse_quarter(figures["quarter"])
    ctx = {"settings": get_settings(), "number": number, "year": year, "q": q, "f": figures, "names": _names(session),
           "dimensions": {k: v[1] for k, v in DIMENSIONS.items()}, "issue_date_cn": documents.cn_date(issue_day),
           "conclusions": conclusions, "measures": measures or []}
    env = _env()
    return env.get_template("quarterly.html.j2").render(**ctx), env.get_template("quarterly.txt.j2").render(**ctx)


def issue(session: Session, actor: AppUser, quarter: str, *, as_of: date | None = None) -> QuarterlyReview:
    """Number and store the quarter's report (once per quarter), after the quarter has ended."""
    plan_guards.manage_plans(actor, "签发季度会商研判报告")
    year, q = parse_quarter(quarter)
    day = as_of or clock.today()
    if quarter_bounds(year, q)[1] >= day:
        raise ValidationError(f"{year}年第{q}季度尚未结束（今天是 {day.isoformat()}），季末后才能会商研判。")
    key = f"{year}-Q{q}"
    if session.execute(select(QuarterlyReview.id).where(QuarterlyReview.quarter == key)).first():
        raise ConflictError(f"{year}年第{q}季度的会商研判报告已签发（见 hazardloop plan review show {key}）。")
    figures = compute(session, key)
    serial, number = ladder.number_one(session, DOC_TYPE, day)
    html, text = render(session, figures, number, day)
    row = QuarterlyReview(quarter=key, number=number, figures=figures, html=html, text=text,
                          sha256=documents.sha256(html), text_sha256=documents.sha256(text), issue_date=day,
                          issued_by=actor.username)
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="quarterly_issued",
                 after={"quarter": key, "number": number, "sha256": row.sha256, "serial": serial,
                        "hazards": figures["hazards"]["total"], "tasks": figures["tasks"]["total"]})
    return row


def get(session: Session, quarter: str) -> QuarterlyReview:
    year, q = parse_quarter(quarter)
    row = session.execute(select(QuarterlyReview).where(QuarterlyReview.quarter == f"{year}-Q{q}")).scalars().first()
    if row is None:
        raise NotFound(f"{year}年第{q}季度的会商研判报告尚未签发。")
    return row


def conclude(session: Session, actor: AppUser, quarter: str, conclusions: str,
             measures: list[dict[str, Any]]) -> tuple[QuarterlyReview, list[PlanTask]]:
    """Record the meeting's conclusions and the measures decided; each measure becomes a task of
    the city plan of its deadline's year (source: review), led by the unit named."""
    plan_guards.manage_plans(actor, "记录会商结论和措施")
    row = get(session, quarter)
    if row.concluded_at is not None:
        raise ConflictError(f"{row.quarter} 的会商结论已于 {clock.local_date(row.concluded_at)} 记录，不能重复记录。")
    if not (conclusions or "").strip():
        raise ValidationError("请写明会商结论。")
    units = plans_mod.UnitIndex(session)
    rows, problems = [], []
    for i, m in enumerate(measures, 1):
        raw = {"code": f"HS{row.quarter.replace('-', '')}-{i:02d}", "content": m.get("content"),
               "lead": m.get("lead"), "deadline": m.get("deadline"), "measure": m.get("measure") or "",
               "paragraph": "三(四)"}
        clean, bad = plans_mod.check_task(raw, units, {})
        if bad:
            problems.append(f"第 {i} 项措施：" + "；".join(bad))
        rows.append(clean)
    if problems:
        raise ValidationError("会商措施不合格，未记录任何内容：\n" + "\n".join(problems))
    created: list[PlanTask] = []
    for clean in rows:
        year = clean["deadline"].year
        plan = plans_mod.ensure_plan(session, actor.username, unit_kind="department",
                                     unit_code=plans_mod.COMMITTEE_UNIT, year=year,
                                     title=f"全市{year}年度安全生产治本攻坚行动任务清单", source="review")
        clean = {**clean, "action_name": "季度会商研判确定的措施"}
        plans_mod.upsert_tasks(session, actor.username, plan, [clean], "review", review_id=row.id)
        created.append(session.execute(select(PlanTask).where(PlanTask.plan_id == plan.id,
                                                              PlanTask.code == clean["code"])).scalars().one())
    row.conclusions = conclusions.strip()
    row.measures = [{"task": t.code, "content": t.content, "lead": t.lead_code, "deadline": t.deadline.isoformat()}
                    for t in created]
    row.concluded_by, row.concluded_at = actor.username, clock.utcnow()
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="quarterly_concluded",
                 after={"quarter": row.quarter, "number": row.number, "measures": row.measures})
    return row, created


def summary(row: QuarterlyReview) -> dict[str, Any]:
    return {"quarter": row.quarter, "number": row.number, "issue_date": row.issue_date.isoformat(),
            "issued_by": row.issued_by, "sha256": row.sha256, "figures": row.figures,
            "conclusions": row.conclusions, "measures": row.measures,
            "concluded": row.concluded_at is not None}


__all__ = ["compute", "issue", "conclude", "get", "summary", "quarter_of", "parse_quarter"]
