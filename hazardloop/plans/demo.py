"""The demo's action-plan year (called once by hazardloop.demo): the city plan from the policy
text, the earlier years' tasks done, this year's sub-plans filed (those not filed three working
days before 15 March reminded, one filed late), tasks reported every month (one unit skipping
months, one task left overdue), the monthly evaluation with its ladder, and a quarterly review
for each finished quarter with a measure decided.

Everything goes through the same functions as the CLI and the pages, with the clock set
to the day each thing happens.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.errors import HazardLoopError
from hazardloop.escalation import tasks as lag
from hazardloop.models.plans import Plan, PlanTask
from hazardloop.models.tables import AppUser
from hazardloop.plans import dispatch, plans, tasks
from hazardloop.reports import quarterly

LATE_FILER = "jiaotong"  # files its sub-plan in April
SKIPPER = "xiaofang"  # misses two monthly reports
STUCK_UNIT = "yingji"  # leaves one task overdue


def _user_for(session: Session, kind: str, code: str) -> AppUser | None:
    stmt = select(AppUser).where(AppUser.active == True)  # noqa: E712
    if kind == "region":
        stmt = stmt.where(AppUser.role == "township", AppUser.region_code == code)
    elif code == plans.COMMITTEE_UNIT:
        stmt = stmt.where(AppUser.role == "committee")
    else:
        stmt = stmt.where(AppUser.role == "supervisor", AppUser.department_code == code)
    return session.execute(stmt.order_by(AppUser.id)).scalars().first()


def _at(day: date, hour: int = 10):  # noqa: ANN202
    return clock.frozen(datetime(day.year, day.month, day.day, hour, tzinfo=clock.SHANGHAI))


def seed(engine: Engine, end: date, seed: int = 7) -> dict[str, Any]:
    """Seed the plans up to `end` (the demo's today); returns counts for the summary."""
    rng = random.Random(seed)
    year = end.year
    out: dict[str, Any] = {"reports": 0, "steps": 0, "reviews": []}

    def session() -> Session:
        return Session(engine.execution_options(hazardloop_write=True), expire_on_commit=False)

    with session() as s:
        office = s.execute(select(AppUser).where(AppUser.role == "committee").order_by(AppUser.id)).scalars().first()
        if office is None or s.execute(select(Plan.id)).first():
            return {"skipped": True}
        with _at(date(2024, 3, 8)):  # 肥安发〔2024〕5号 issued
            out["loaded"] = plans.load_plan(s, office)["added"]
            s.commit()
        # the earlier years' tasks: reported a little before (now and then after) the deadline, verified
        for task in s.execute(select(PlanTask).where(PlanTask.deadline < date(year, 1, 1))
                              .order_by(PlanTask.deadline)).scalars().all():
            lead = _user_for(s, task.lead_kind, task.lead_code)
            if lead is None:
                continue
            day = task.deadline - timedelta(days=rng.randint(-12, 20))
            with _at(day):
                tasks.fire(s, lead, task.id, "report_done", summary="已按期完成", evidence=[f"{task.code} 完成报告"])
            with _at(day + timedelta(days=5)):  # the reporter never verifies: another office member
                verifier = s.execute(select(AppUser).where(AppUser.role == "committee", AppUser.id != lead.id)
                                     .order_by(AppUser.id)).scalars().first()
                tasks.fire(s, verifier, task.id, "verify")
            s.commit()
        # this year's sub-plans
        with _at(date(year, 1, 6)):
            subs = plans.open_filings(s, office, year, date(year, 3, 15))
            s.commit()
        filings = []
        for sub in subs:
            lead = _user_for(s, sub.unit_kind, sub.unit_code)
            if lead is None:
                continue
            day = date(year, 4, 9) if sub.unit_code == LATE_FILER else date(year, 3, rng.randint(2, 14))
            filings.append((day, sub, lead))
        # the reminder before the filing date goes to those not filed by then (the flow's daily run)
        remind_day = dispatch.filing_reminder_day(date(year, 3, 15), lag.load_policy())
        pending = remind_day is not None and remind_day < end
        out["filing_reminders"] = 0
        for day, sub, lead in sorted(filings, key=lambda f: pending and f[0] >= remind_day):  # stable: rng order kept
            if pending and day >= remind_day:
                with _at(remind_day, 9):
                    out["filing_reminders"] = dispatch.remind_filings(s, remind_day)["units"]
                    s.commit()
                pending = False
            with _at(day):
                plans.submit_plan(s, lead, sub.code, summary=f"{sub.title}：任务分解、责任分工、时间节点")
            with _at(day + timedelta(days=2)):
                plans.approve_plan(s, office, sub.code)
            s.commit()
        stuck = s.execute(select(PlanTask).join(Plan, Plan.id == PlanTask.plan_id).where(
            Plan.year == year, PlanTask.lead_code == STUCK_UNIT, PlanTask.deadline < end)
            .order_by(PlanTask.deadline)).scalars().first()
        policy = replace(lag.load_policy(), start=f"{year}-01")
        month = f"{year}-01"
        last_month = calendar.previous_month(calendar.month_of(end))
        while month <= last_month:
            first, last = calendar.month_bounds(month)
            skip = month in (f"{year}-02", f"{year}-05")
            for task, _plan in lag.tasks_in_force(s, month):
                if task.state in ("reported", "verified") or (skip and task.lead_code == SKIPPER):
                    continue
                lead = _user_for(s, task.lead_kind, task.lead_code)
                if lead is None:
                    continue
                with _at(date(first.year, first.month, rng.randint(12, 22))):
                    try:
                        tasks.monthly_report(
                            s, lead, task.id, month, percent=min(95, task.percent + rng.randint(8, 20)),
                            done=f"{month} 按计划推进", problems="专业技术力量不足，需市级统筹" if rng.random() < 0.15
                            else "", next_steps="下月继续推进")
                        out["reports"] += 1
                    except HazardLoopError:
                        pass
                if first <= task.deadline <= last and (stuck is None or task.id != stuck.id):
                    with _at(task.deadline - timedelta(days=rng.randint(0, 6))):
                        tasks.fire(s, lead, task.id, "report_done", summary="已完成", evidence=[f"{task.code} 完成报告"])
            s.commit()
            with _at(last + timedelta(days=2)):
                out["steps"] += len(lag.evaluate(s, month, policy=policy).steps)
                s.commit()
            if first.month in (3, 6, 9, 12):
                quarter = f"{year}-Q{first.month // 3}"
                with _at(last + timedelta(days=3)):
                    row = quarterly.issue(s, office, quarter)
                    quarterly.conclude(s, office, quarter, "重点行业领域任务总体按计划推进，个别部门任务滞后，需加强调度。",
                                       [{"content": f"{quarter} 会商：滞后任务牵头部门制定攻坚计划并按周报送",
                                         "lead": STUCK_UNIT, "deadline": (last + timedelta(days=60)).isoformat()}])
                    s.commit()
                    out["reviews"].append(row.number)
            month = calendar.month_of(last + timedelta(days=1))
    return out
