"""月调度: the monthly reminder to units that have not yet reported, the reminder before the
sub-plan filing date (附件: 3月15日前报市安委会办公室审核备案) to units that have not filed,
and the month's figures for the bulletin's plan-work section (tasks due, done, overdue by
unit; units that did not report), all as of the month's end from the rows' timestamps.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.plans import PlansPolicy
from hazardloop.escalation import tasks as lag
from hazardloop.escalation.units import unit_recipients
from hazardloop.models import audit
from hazardloop.models.plans import Plan, PlanTask, PlanTaskReport
from hazardloop.models.tables import Notification
from hazardloop.notifications import outbox
from hazardloop.plans import chart
from hazardloop.plans.tasks import task_dict
from hazardloop.states.plan_guards import COMMITTEE_UNIT

EVENT_REMIND = "plan_report_due"
EVENT_FILING = "plan_filing_due"
NOT_FILED = ("draft", "returned")  # what unit_problems also counts as not filed


def remind_unreported(session: Session, month: str, *, policy: PlansPolicy | None = None) -> dict[str, Any]:
    """Queue one notice per unit that still owes reports for `month` (idempotent per unit and
    month: the outbox key)."""
    policy = policy or lag.load_policy()
    reports = lag.report_status(session, month, policy)
    owed: dict[tuple[str, str], list[str]] = {}
    for task, _plan in lag.tasks_in_force(session, month):
        if task.id not in reports and task.state in ("not_started", "in_progress", "returned") \
                and task.lead_code != COMMITTEE_UNIT:
            owed.setdefault((task.lead_kind, task.lead_code), []).append(task.code)
    due = policy.report_due_on(month)
    queued = 0
    for (kind, code), codes in sorted(owed.items()):
        unit = lag.unit_of(session, kind, code)
        queued += outbox.enqueue(
            session, event=EVENT_REMIND, hazard_id=None, cycle=0, step=f"plan-report:{month}:{kind}:{code}",
            recipients=unit_recipients(session, kind, code, unit.addressee),
            subject=f"请于{due.month}月{due.day}日前报送{month}月调度",
            body=f"{unit.name}：你单位牵头的 {len(codes)} 项治本攻坚三年行动任务（{'、'.join(codes[:10])}"
                 f"{'等' if len(codes) > 10 else ''}）尚未报送 {month} 月调度，请于 {due.isoformat()} 前在"
                 f"“计划任务 → 本单位月调度”中报送进度、完成情况、存在问题和下步打算；逾期未报视为工作滞后。")
    if owed:
        audit.append(session, actor="system", action="plan_reminded",
                     after={"month": month, "reminded_units": len(owed), "notifications": queued})
    return {"month": month, "units": len(owed), "notifications": queued}


def filing_reminder_day(due: date, policy: PlansPolicy) -> date | None:
    """The day the reminder for a sub-plan due on `due` goes out: `filing_remind` working days
    before it (None: the policy sends none)."""
    return calendar.add_workdays(due, -policy.filing_remind) if policy.filing_remind else None


def remind_filings(session: Session, day: date, *, policy: PlansPolicy | None = None) -> dict[str, Any]:
    """Remind every unit whose sub-plan is not filed (未报送 / 已退回修改) once, from its reminder
    day up to the due date; after the due date the month-end evaluation takes over (子方案未按期
    报送备案).  Once per sub-plan and due date: a day the flow missed is caught up by the next
    run, a second run (or a recipient registered later) sends nothing again."""
    policy = policy or lag.load_policy()
    if not policy.filing_remind:
        return {"as_of": day.isoformat(), "units": 0, "notifications": 0, "plans": []}
    rows = session.execute(select(Plan).where(Plan.parent_id.is_not(None), Plan.filing_due.is_not(None),
                                              Plan.filing_due >= day, Plan.state.in_(NOT_FILED))
                           .order_by(Plan.filing_due, Plan.code)).scalars().all()
    reminded, queued = [], 0
    for plan in rows:
        if plan.unit_code == COMMITTEE_UNIT or day < filing_reminder_day(plan.filing_due, policy):
            continue
        step = f"plan-filing:{plan.code}:{plan.filing_due.isoformat()}"
        if session.execute(select(exists().where(Notification.event == EVENT_FILING,
                                                 Notification.step == step))).scalar():
            continue  # reminded before: once per sub-plan and due date
        unit = lag.unit_of(session, plan.unit_kind, plan.unit_code)
        due = plan.filing_due
        returned = f"（已被退回修改：{plan.review_reason}）" if plan.state == "returned" and plan.review_reason else ""
        new = outbox.enqueue(
            session, event=EVENT_FILING, hazard_id=None, cycle=0, step=step,
            recipients=unit_recipients(session, plan.unit_kind, plan.unit_code, unit.addressee),
            subject=f"请于{due.month}月{due.day}日前报送{plan.year}年度子方案",
            body=f"{unit.name}：按照肥安发〔2024〕5号附件“各部门单位具体实施方案于{due.month}月{due.day}日前报市安委会"
                 f"办公室审核备案”的要求，你单位的{plan.year}年度治本攻坚行动子方案（{plan.code}）尚未报送{returned}，"
                 f"请于 {due.isoformat()} 前报送市安委办审核备案；逾期未报送视为工作滞后，按“三函一会”督办。")
        if new:  # another process may have queued it a moment ago: then it audits, not we
            queued += new
            reminded.append(plan.code)
    if reminded:
        audit.append(session, actor="system", action="plan_filing_reminded",
                     after={"as_of": day.isoformat(), "plans": reminded, "notifications": queued})
    return {"as_of": day.isoformat(), "units": len(reminded), "notifications": queued, "plans": reminded}


def month_section(session: Session, month: str, *, policy: PlansPolicy | None = None) -> dict[str, Any]:
    """The bulletin's plan-work section for `month`, as of its last day (no clock)."""
    policy = policy or lag.load_policy()
    first, last = calendar.month_bounds(month)
    names = lag.unit_names(session)
    rows = session.execute(select(PlanTask, Plan).join(Plan, Plan.id == PlanTask.plan_id)
                           .where(Plan.year <= first.year)).all()
    problems, duties = lag.unit_problems(session, month, policy)
    by_unit: dict[tuple[str, str], dict[str, Any]] = {}

    def unit_row(kind: str, code: str) -> dict[str, Any]:
        return by_unit.setdefault((kind, code), {"unit_name": names.get((kind, code), code), "due": 0, "done": 0,
                                                 "overdue": 0, "missing_reports": 0})

    due_tasks = []
    for task, plan in rows:
        done_day = clock.local_date(task.reported_at) if task.reported_at and task.state != "returned" else None
        if first <= task.deadline <= last:
            r = unit_row(task.lead_kind, task.lead_code)
            r["due"] += 1
            if done_day and done_day <= last:
                r["done"] += 1
            due_tasks.append(task_dict(task, plan, names, last + timedelta(days=1)))
        if lag.overdue_as_of(task, last):
            unit_row(task.lead_kind, task.lead_code)["overdue"] += 1
    for unit, found in problems.items():
        n = sum(1 for p in found if p["kind"] in ("missing_report", "late_report"))
        if n:
            unit_row(*unit)["missing_reports"] += n
    units = sorted(by_unit.values(), key=lambda r: (-r["overdue"], -r["missing_reports"], r["unit_name"]))
    unreported = sorted(names.get(u, u[1]) for u, found in problems.items()
                        if any(p["kind"] == "missing_report" for p in found))
    percents: dict[int, int] = {}
    for task_id, pct in session.execute(select(PlanTaskReport.task_id, PlanTaskReport.percent)
                                        .where(PlanTaskReport.month <= month).order_by(PlanTaskReport.month)).all():
        percents[task_id] = pct
    chart_tasks = []
    for task, plan in rows:
        if plan.year == first.year:
            state = state_as_of(task, last)
            chart_tasks.append({**task_dict(task, plan, names, last + timedelta(days=1)), "state": state,
                                "percent": 100 if state in ("reported", "verified") else percents.get(task.id, 0),
                                "overdue": lag.overdue_as_of(task, last)})
    return {"month": month, "units": units, "unreported": unreported,
            "due": sum(r["due"] for r in units), "done": sum(r["done"] for r in units),
            "overdue": sum(r["overdue"] for r in units), "due_tasks": due_tasks,
            "chart_svg": chart.svg(chart_tasks, last, f"{first.year}年度全市任务挂图作战（截至{month}）")
            if chart_tasks else ""}


def state_as_of(task: PlanTask, last: date) -> str:
    """The task's state at the end of `last`, from its timestamps (the bulletin is re-rendered
    later byte for byte; a return after `last` does not change it)."""
    def on(value) -> bool:  # noqa: ANN001
        return value is not None and clock.local_date(value) <= last
    if on(task.verified_at):
        return "verified"
    if on(task.reported_at) and task.state != "returned":
        return "reported"
    if task.state == "returned" and on(task.reported_at):
        return "returned"
    return "in_progress" if on(task.started_at) else "not_started"


def month_to_remind(day: date, policy: PlansPolicy) -> str | None:
    """The flow reminds three days before the report day."""
    return calendar.month_of(day) if day.day == max(1, policy.report_day - 3) else None
