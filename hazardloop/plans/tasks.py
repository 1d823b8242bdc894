"""A task's lifecycle and its monthly reports (月调度), as plain functions.

Every change goes through the task machine (states.task_machine, guards in
states.plan_guards) and is audited in the same transaction; the optimistic version
column turns two simultaneous reviews into one winner and a ConflictError.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from hazardloop.config import calendar, clock, labels
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.escalation import tasks as lag
from hazardloop.models import audit
from hazardloop.models.plans import Plan, PlanTask, PlanTaskReport
from hazardloop.models.tables import AppUser
from hazardloop.plans import plans as plans_mod
from hazardloop.states import plan_guards, task_machine
from hazardloop.states.errors import MissingData


def get_task(session: Session, ref: str | int) -> PlanTask:
    """A task by id, or by code (unique across plans in practice; the newest plan wins)."""
    text = str(ref).strip()
    task = session.get(PlanTask, int(text)) if text.isascii() and text.isdigit() and len(text) < 10 else None
    if task is None:
        task = session.execute(select(PlanTask).join(Plan, Plan.id == PlanTask.plan_id)
                               .where(PlanTask.code == text).order_by(Plan.year.desc())).scalars().first()
    if task is None:
        raise NotFound(f"没有编号为 {ref} 的计划任务（见 hazardloop plan tasks）。")
    return task


def _flush(session: Session, task: PlanTask) -> None:
    code = task.code  # read before the flush: a failed flush expires the row
    try:
        session.flush()
    except StaleDataError:
        raise ConflictError(f"任务 {code} 已被他人同时修改，请刷新后重试。") from None


def fire(session: Session, actor: AppUser, ref: str | int, trigger: str, *, summary: str | None = None,
         reason: str | None = None, evidence: list[str] | None = None) -> PlanTask:
    """start / report_done / verify / return_task, guarded and audited."""
    task = get_task(session, ref)
    unit = lag.unit_of(session, task.lead_kind, task.lead_code)
    new_evidence = [e.strip() for e in evidence or [] if e and e.strip()]
    before = {"state": task.state, "percent": task.percent, "version": task.version}
    task_machine.fire(task, trigger, actor, {"summary": summary, "reason": reason, "evidence": new_evidence,
                                             "lead_name": unit.name})
    now = clock.utcnow()
    if new_evidence:
        task.evidence = [*task.evidence, *({"ref": e, "by": actor.username, "at": now.isoformat()}
                                           for e in new_evidence)]
    if trigger == "start":
        task.started_at = now
    elif trigger == "report_done":
        task.reported_by, task.reported_at, task.percent = actor.username, now, 100
        task.return_reason = None
        task.started_at = task.started_at or now
    elif trigger == "verify":
        task.verified_by, task.verified_at = actor.username, now
    elif trigger == "return_task":
        task.return_reason = (reason or "").strip()
    session.add(task)
    _flush(session, task)
    audit.append(session, actor=actor.username, action=f"task_{trigger}", before=before,
                 after={"task": task.code, "task_id": task.id, "state": task.state, "summary": summary,
                        "evidence": new_evidence, "late": task.deadline < clock.today()},
                 reason=reason)
    return task


def add_evidence(session: Session, actor: AppUser, ref: str | int, evidence: list[str]) -> PlanTask:
    task = get_task(session, ref)
    plan_guards.upload_evidence(actor, task, lag.unit_of(session, task.lead_kind, task.lead_code).name)
    items = [e.strip() for e in evidence if e and e.strip()]
    if not items:
        raise MissingData("请给出佐证材料（文件名、文号或链接）。")
    now = clock.utcnow().isoformat()
    task.evidence = [*task.evidence, *({"ref": e, "by": actor.username, "at": now} for e in items)]
    session.add(task)
    _flush(session, task)
    audit.append(session, actor=actor.username, action="task_evidence", after={"task": task.code, "evidence": items})
    return task


def monthly_report(session: Session, actor: AppUser, ref: str | int, month: str, *, percent: int, done: str,
                   problems: str = "", next_steps: str = "") -> PlanTaskReport:
    """The lead unit's report for a month: percent, what was done, problems, next steps.  A second
    report the same month replaces the first (audited with what it replaced)."""
    task = get_task(session, ref)
    unit = lag.unit_of(session, task.lead_kind, task.lead_code)
    plan_guards.monthly_report(actor, task, unit.name)
    first, _ = calendar.month_bounds(month)
    if first > clock.today():
        raise ValidationError(f"{month} 尚未开始，不能报送该月月调度。")
    if task.state in ("reported", "verified"):
        raise ValidationError(f"任务 {task.code} 已{labels.TASK_STATES[task.state]}，无需再报月调度。")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise MissingData(f"完成进度应为 0–100 的整数，收到 {percent!r}。")
    if not (done or "").strip():
        raise MissingData("月调度须写明本月完成情况。")
    if percent < task.percent:
        raise ValidationError(f"完成进度 {percent}% 低于上次报送的 {task.percent}%（进度只能增加；如有反复请在问题中说明）。")
    row = session.execute(select(PlanTaskReport).where(PlanTaskReport.task_id == task.id,
                                                       PlanTaskReport.month == month)).scalars().first()
    before = None
    if row is None:
        row = PlanTaskReport(task_id=task.id, month=month, unit_kind=task.lead_kind, unit_code=task.lead_code,
                             percent=percent, done=done.strip(), problems=(problems or "").strip(),
                             next_steps=(next_steps or "").strip(), reported_by=actor.username)
    else:
        before = {"percent": row.percent, "done": row.done, "problems": row.problems, "next_steps": row.next_steps,
                  "reported_at": row.reported_at.isoformat()}
        row.percent, row.done, row.problems, row.next_steps = percent, done.strip(), (problems or "").strip(), \
            (next_steps or "").strip()
        row.reported_by, row.reported_at = actor.username, clock.utcnow()
    session.add(row)
    if task.state == "not_started" and percent > 0:
        fire(session, actor, task.id, "start")
    task.percent = percent
    session.add(task)
    _flush(session, task)
    audit.append(session, actor=actor.username, action="task_monthly_report", before=before,
                 after={"task": task.code, "task_id": task.id, "month": month, "percent": percent,
                        "problems": row.problems})
    return row


def add_task(session: Session, actor: AppUser, plan_code: str, raw: dict[str, Any], source: str = "yaml",
             review_id: int | None = None) -> PlanTask:
    plan = plans_mod.get_plan(session, plan_code)
    units = plans_mod.UnitIndex(session)
    plan_guards.add_unit_task(actor, plan, units.name(plan.unit_kind, plan.unit_code))
    row, problems = plans_mod.check_task(raw, units, {})
    if problems:
        raise ValidationError("任务不合格：" + "；".join(problems))
    if session.execute(select(PlanTask).where(PlanTask.plan_id == plan.id, PlanTask.code == row["code"])).first():
        raise ValidationError(f"计划 {plan.code} 已有编号为 {row['code']} 的任务。")
    plans_mod.upsert_tasks(session, actor.username, plan, [row], source, review_id=review_id)
    return get_task(session, row["code"])


# --- reading -------------------------------------------------------------------------------------


def task_dict(task: PlanTask, plan: Plan, names: dict[tuple[str, str], str], today: date,
              last_report: PlanTaskReport | None = None) -> dict[str, Any]:
    return {"id": task.id, "code": task.code, "plan": plan.code, "year": plan.year, "action": task.action_code,
            "action_name": task.action_name, "paragraph": task.paragraph, "content": task.content,
            "measure": task.measure, "target": task.target,
            "start": (task.start or date(plan.year, 1, 1)).isoformat(), "deadline": task.deadline.isoformat(),
            "milestones": task.milestones, "lead_kind": task.lead_kind, "lead_code": task.lead_code,
            "lead_name": names.get((task.lead_kind, task.lead_code), task.lead_code),
            "co_units": [names.get(("department", c), names.get(("region", c), c)) for c in task.co_units],
            "state": task.state, "state_name": labels.TASK_STATES[task.state], "percent": task.percent,
            "overdue": lag.is_overdue(task, today), "days_left": (task.deadline - today).days,
            "return_reason": task.return_reason, "evidence": task.evidence, "note": task.note,
            "source": task.source, "source_name": labels.TASK_SOURCES.get(task.source, task.source),
            "last_report": None if last_report is None else {
                "month": last_report.month, "percent": last_report.percent, "done": last_report.done,
                "problems": last_report.problems, "next_steps": last_report.next_steps}}


def list_tasks(session: Session, *, plan: str | None = None, unit: str | None = None, year: int | None = None,
               state: str | None = None, overdue: bool = False, actor: AppUser | None = None) -> list[dict[str, Any]]:
    stmt = select(PlanTask, Plan).join(Plan, Plan.id == PlanTask.plan_id)
    if plan:
        stmt = stmt.where(Plan.code == plan)
    if unit:
        stmt = stmt.where(PlanTask.lead_code == unit)
    if year:
        stmt = stmt.where(Plan.year == year)
    if state:
        if state not in labels.TASK_STATES:
            raise ValidationError(f"任务状态应为 {'、'.join(f'{k}（{v}）' for k, v in labels.TASK_STATES.items())} 之一。")
        stmt = stmt.where(PlanTask.state == state)
    names = lag.unit_names(session)
    today = clock.today()
    rows = session.execute(stmt.order_by(PlanTask.deadline, PlanTask.code)).all()
    latest: dict[int, PlanTaskReport] = {}
    for r in session.execute(select(PlanTaskReport).order_by(PlanTaskReport.month)).scalars():
        latest[r.task_id] = r
    out = [task_dict(t, p, names, today, latest.get(t.id)) for t, p in rows]
    if overdue:
        out = [t for t in out if t["overdue"]]
    return out


def unit_month(session: Session, actor: AppUser, month: str) -> dict[str, Any]:
    """The unit's monthly report page: the open tasks it leads, and what it reported this month."""
    unit_kind, unit_code = ("region", actor.region_code) if actor.role == "township" else \
        ("department", actor.department_code)
    if not unit_code:
        raise ValidationError(f"{actor.name}（{actor.username}）不属于任何部门或镇街区，没有需要报送的任务。")
    policy = lag.load_policy()
    reports = {r.task_id: r for r in session.execute(
        select(PlanTaskReport).where(PlanTaskReport.month == month)).scalars()}
    names = lag.unit_names(session)
    today = clock.today()
    items = []
    for task, plan in lag.tasks_in_force(session, month):
        if (task.lead_kind, task.lead_code) != (unit_kind, unit_code) or task.state in ("reported", "verified"):
            continue
        items.append({**task_dict(task, plan, names, today), "report": None if task.id not in reports else {
            "percent": reports[task.id].percent, "done": reports[task.id].done,
            "problems": reports[task.id].problems, "next_steps": reports[task.id].next_steps}})
    return {"unit_kind": unit_kind, "unit_code": unit_code, "unit_name": names.get((unit_kind, unit_code), unit_code),
            "month": month, "due": policy.report_due_on(month).isoformat(), "tasks": items,
            "missing": sum(1 for i in items if i["report"] is None)}
