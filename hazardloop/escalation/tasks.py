"""The plan-work ladder (计划任务“三函一会”): the third user of escalation.ladder.

Policy ¶三(四): units whose work lags are reminded, written to, named, interviewed,
exposed and referred for accountability (督促提醒、约谈曝光、追责问责).  Each month's
end every unit with plan duties is evaluated once (plan_lag_evaluation, UNIQUE per
unit and month): its overdue tasks, its missing or late monthly reports (月调度), its
sub-plan not filed by the due date.  A lagging month continues the unit's streak; a
clean month ends the cycle.  The steps due by the streak (config/plans.yaml:
督促提醒 → 函告 → 通报 → 约谈 → 曝光 → 追责问责移交) are issued once per unit, cycle
and step, each a numbered 公文 (shared 文号 counter, rendered once, SHA-256 stored),
queued in the outbox and audited in the same transaction; 曝光 and 追责问责移交 are
only proposed until the committee office approves or declines them.

The queries that decide "overdue" and "missing report" live here (the plans package
and the bulletin read them from here), so the ladder and the pages agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from hazardloop.config import calendar, clock, labels
from hazardloop.config.plans import PlansPolicy, PlansPolicyError, PlanStep
from hazardloop.config.plans import load_policy as _load_policy
from hazardloop.config.settings import get_settings
from hazardloop.errors import NotFound, ValidationError
from hazardloop.escalation import documents, ladder
from hazardloop.escalation.units import committee_recipients, unit_recipients
from hazardloop.models import audit
from hazardloop.models.db import insert_or_skip
from hazardloop.models.plans import Plan, PlanDocument, PlanLagEvaluation, PlanLagStep, PlanTask, PlanTaskReport
from hazardloop.models.tables import AppUser, Department, Region
from hazardloop.notifications import outbox
from hazardloop.states import plan_guards
from hazardloop.states.task_machine import OPEN_STATES

EVENT = "plan_escalation"
EVENT_PROPOSED = "plan_proposed"
COMMITTEE_UNIT = plan_guards.COMMITTEE_UNIT
TEMPLATE = "doc_plan_step"


def load_policy(path: Any = None) -> PlansPolicy:
    try:
        return _load_policy(path)
    except PlansPolicyError as exc:
        raise ValidationError(str(exc)) from None


# --- units -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanUnit:
    kind: str
    code: str
    name: str
    addressee: str


def unit_of(session: Session, kind: str, code: str) -> PlanUnit:
    if kind == "region":
        r = session.get(Region, code)
        if r is None:
            return PlanUnit(kind, code, code, code)
        addressee = {"street": f"{r.name}办事处", "town": f"{r.name}人民政府", "zone": f"{r.name}管委会"}
        return PlanUnit(kind, code, r.name, addressee.get(r.kind, r.name))
    d = session.get(Department, code)
    return PlanUnit(kind, code, d.name if d else code, d.name if d else code)


def unit_names(session: Session) -> dict[tuple[str, str], str]:
    out = {("department", d.code): d.name for d in session.execute(select(Department)).scalars()}
    out.update({("region", r.code): r.name for r in session.execute(select(Region)).scalars()})
    return out


# --- what lags -----------------------------------------------------------------------------------


def _local_day(value: datetime | None) -> date | None:
    return clock.local_date(value) if value is not None else None


def is_overdue(task: PlanTask, day: date) -> bool:
    """Overdue on `day`: the deadline has passed and the lead unit has not reported it done
    (a reported task waits on the committee office, like a hazard in review)."""
    return task.state in OPEN_STATES and task.deadline < day


def overdue_as_of(task: PlanTask, last: date) -> bool:
    """Overdue at the end of the day `last`, from the row's timestamps (a month evaluated late
    still sees the month as it was): reported done by `last` ⇒ not overdue."""
    if task.deadline >= last:
        return False
    if task.state == "returned":
        return True
    done = _local_day(task.reported_at)
    return done is None or done > last


def tasks_in_force(session: Session, month: str) -> list[tuple[PlanTask, Plan]]:
    """Tasks a lead unit owes a report on in `month`: its plan's year has begun, the task
    existed before the report day's end, and it was not reported done before the month."""
    first, last = calendar.month_bounds(month)
    rows = session.execute(select(PlanTask, Plan).join(Plan, Plan.id == PlanTask.plan_id)
                           .where(Plan.year <= first.year).order_by(PlanTask.id)).all()
    out = []
    for task, plan in rows:
        done = _local_day(task.reported_at)
        if task.state != "returned" and done is not None and done < first:
            continue
        out.append((task, plan))
    return out


def report_status(session: Session, month: str, policy: PlansPolicy) -> dict[int, str]:
    """task id -> on_time / late for the month's reports (absent: missing)."""
    due = clock.end_of_day_utc(policy.report_due_on(month))
    out = {}
    for task_id, at in session.execute(select(PlanTaskReport.task_id, PlanTaskReport.reported_at)
                                       .where(PlanTaskReport.month == month)).all():
        at = at if at.tzinfo else at.replace(tzinfo=due.tzinfo)
        out[task_id] = "on_time" if at <= due else "late"
    return out


def unit_problems(session: Session, month: str, policy: PlansPolicy) -> tuple[dict[tuple[str, str], list[dict]],
                                                                                set[tuple[str, str]]]:
    """(unit -> problems, units with duties) for the month: overdue tasks, missing / late
    monthly reports, a sub-plan not filed by its due date.  The committee itself is not a
    lagging unit (it runs the ladder)."""
    first, last = calendar.month_bounds(month)
    problems: dict[tuple[str, str], list[dict]] = {}
    duties: set[tuple[str, str]] = set()
    reports = report_status(session, month, policy)
    report_due = policy.report_due_on(month)
    for task, _plan in tasks_in_force(session, month):
        unit = (task.lead_kind, task.lead_code)
        if task.lead_code == COMMITTEE_UNIT:
            continue
        duties.add(unit)
        item = {"task": task.code, "task_id": task.id, "content": task.content[:60],
                "deadline": task.deadline.isoformat()}
        if overdue_as_of(task, last):
            problems.setdefault(unit, []).append(
                {"kind": "overdue_task", **item, "days": (last - task.deadline).days})
        if task.created_at is not None and _local_day(task.created_at) > report_due:
            continue  # added after this month's report day: owes from next month
        done = _local_day(task.reported_at)
        if task.state != "returned" and done is not None and done <= report_due:
            continue  # reported done by the report day: that report stands for the month's
        status = reports.get(task.id)
        if status != "on_time":
            problems.setdefault(unit, []).append({"kind": "late_report" if status == "late" else "missing_report",
                                                  **item, "due": report_due.isoformat()})
    subs = session.execute(select(Plan).where(Plan.parent_id.is_not(None), Plan.year == first.year)).scalars()
    for plan in subs:
        if plan.unit_code == COMMITTEE_UNIT or plan.filing_due is None or plan.filing_due > last:
            continue
        unit = (plan.unit_kind, plan.unit_code)
        duties.add(unit)
        filed = _local_day(plan.submitted_at)
        missing = plan.state not in ("submitted", "approved") or filed is None or filed > last
        late_this_month = filed is not None and filed > plan.filing_due and first <= filed <= last
        if missing or late_this_month:
            problems.setdefault(unit, []).append(
                {"kind": "filing_missing", "plan": plan.code, "due": plan.filing_due.isoformat(),
                 "filed": filed.isoformat() if filed and not missing else None})
    return problems, duties


# --- evaluation and steps --------------------------------------------------------------------------


@dataclass
class EvalResult:
    months: list[str] = field(default_factory=list)
    evaluated: int = 0
    lagging: int = 0
    documents: int = 0
    proposed: int = 0
    notifications: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"months": self.months, "evaluated": self.evaluated, "lagging": self.lagging,
                "documents": self.documents, "proposed": self.proposed, "notifications": self.notifications,
                "steps": self.steps}


def _previous(session: Session, kind: str, code: str, month: str) -> PlanLagEvaluation | None:
    return session.execute(select(PlanLagEvaluation).where(
        PlanLagEvaluation.unit_kind == kind, PlanLagEvaluation.unit_code == code, PlanLagEvaluation.month < month)
        .order_by(PlanLagEvaluation.month.desc()).limit(1)).scalars().first()


def _evaluate_month(session: Session, month: str, policy: PlansPolicy, result: EvalResult) -> list[PlanLagEvaluation]:
    problems, duties = unit_problems(session, month, policy)
    table = PlanLagEvaluation.__table__
    rows = []
    for kind, code in sorted(duties | set(problems)):
        found = problems.get((kind, code), [])
        prev = _previous(session, kind, code, month)
        prev_month = calendar.previous_month(month)
        continuing = prev is not None and prev.month == prev_month and prev.streak > 0
        if found:
            streak = prev.streak + 1 if continuing else 1
            if continuing:
                cycle = prev.cycle
            else:
                cycle = (session.execute(select(func.max(PlanLagEvaluation.cycle)).where(
                    PlanLagEvaluation.unit_kind == kind, PlanLagEvaluation.unit_code == code)).scalar() or 0) + 1
        else:
            streak, cycle = 0, prev.cycle if prev else 0
        new_id = session.execute(insert_or_skip(session, table, ["unit_kind", "unit_code", "month"])
                                 .returning(table.c.id), {
            "unit_kind": kind, "unit_code": code, "month": month, "problems": found, "streak": streak,
            "cycle": cycle, "policy_version": policy.version, "evaluated_at": clock.utcnow()}).scalar()
        if new_id is None:
            continue  # evaluated before: the stored row stands
        rows.append(session.get(PlanLagEvaluation, new_id))
        result.evaluated += 1
        result.lagging += bool(found)
    if rows:
        audit.append(session, actor=ladder.SYSTEM_ACTOR, action="plan_lag_evaluated",
                     after={"month": month, "units": len(rows), "lagging": sum(1 for r in rows if r.streak),
                            "policy_version": policy.version})
    return rows


def evaluate(session: Session, month: str, *, policy: PlansPolicy | None = None,
             as_of: date | None = None) -> EvalResult:
    """Evaluate every month from the first not yet evaluated (at the earliest policy.start) up to
    `month`, in order, then issue the steps the last month's streaks make due.  Idempotent."""
    policy = policy or load_policy()
    today = as_of or clock.today()
    _, last = calendar.month_bounds(month)
    if last >= today:
        raise ValidationError(f"{month} 尚未结束（今天是 {today.isoformat()}），月末后才能考核。")
    if month < policy.start:
        raise ValidationError(f"{month} 早于考核起始月份 {policy.start}（config/plans.yaml 的 start）。")
    done = session.execute(select(func.max(PlanLagEvaluation.month))).scalar()
    result = EvalResult()
    if done is not None and month < done:
        return result  # evaluated long ago, and later months since: nothing to issue for an old month
    start = policy.start if done is None else max(policy.start, done)
    for m in calendar.months_between(start, month) if start <= month else [month]:
        _evaluate_month(session, m, policy, result)
        result.months.append(m)
    latest = session.execute(select(PlanLagEvaluation).where(PlanLagEvaluation.month == month,
                                                             PlanLagEvaluation.streak > 0)).scalars().all()
    for ev in latest:
        _issue_due(session, ev, policy, today, result)
    return result


def _issue_due(session: Session, ev: PlanLagEvaluation, policy: PlansPolicy, day: date, result: EvalResult) -> None:
    table = PlanLagStep.__table__
    unit = unit_of(session, ev.unit_kind, ev.unit_code)
    for step in policy.steps_due(ev.streak):
        new_id = session.execute(insert_or_skip(session, table, ["unit_kind", "unit_code", "cycle", "step"])
                                 .returning(table.c.id), {
            "unit_kind": ev.unit_kind, "unit_code": ev.unit_code, "cycle": ev.cycle, "step": step.code,
            "name": step.name, "kind": step.kind, "month": ev.month, "evaluation_id": ev.id,
            "status": "proposed" if step.approval else "issued", "policy_version": policy.version,
            "created_at": clock.utcnow()}).scalar()
        if new_id is None:
            continue  # once per unit, cycle and step
        row = session.get(PlanLagStep, new_id)
        item = {"step_id": new_id, "unit_kind": ev.unit_kind, "unit_code": ev.unit_code, "unit_name": unit.name,
                "cycle": ev.cycle, "step": step.code, "name": step.name, "status": row.status, "number": None}
        if step.approval:
            result.proposed += 1
            result.notifications += outbox.enqueue(
                session, event=EVENT_PROPOSED, hazard_id=None, cycle=ev.cycle, step=f"plan:{new_id}",
                recipients=committee_recipients(session), subject=f"待审批：{unit.name}{step.name}",
                body=f"{unit.name}计划任务已连续 {ev.streak} 个月滞后（{_problem_line(ev.problems)}），"
                     f"拟予{step.name}。请在控制台“挂图作战”页面批准或不予批准（/plans#ladder），"
                     f"或执行 hazardloop plan ladder approve {new_id} / decline {new_id} --reason。")
            audit.append(session, actor=ladder.SYSTEM_ACTOR, action="plan_step_proposed",
                         after={"unit_kind": ev.unit_kind, "unit_code": ev.unit_code, "cycle": ev.cycle,
                                "step": step.code, "step_id": new_id, "month": ev.month})
        else:
            doc, queued = _issue_document(session, row, step, ev, day, ladder.SYSTEM_ACTOR)
            item["number"] = doc.number
            result.documents += 1
            result.notifications += queued
        result.steps.append(item)


def _problem_line(problems: list[dict]) -> str:
    counts: dict[str, int] = {}
    for p in problems:
        counts[p["kind"]] = counts.get(p["kind"], 0) + 1
    return "；".join(f"{labels.PLAN_PROBLEMS.get(k, k)} {n} 项" for k, n in counts.items())


_TITLES = {
    "reminder": "关于督促{u}加快推进治本攻坚三年行动任务的提醒函",
    "letter": "关于{u}治本攻坚三年行动任务推进滞后的函",
    "bulletin": "关于{u}治本攻坚三年行动任务推进滞后情况的通报",
    "interview": "关于约谈{u}主要负责同志的通知",
    "exposure": "关于对{u}治本攻坚三年行动任务推进滞后情况予以曝光的通告",
    "referral": "关于{u}治本攻坚三年行动任务推进严重滞后问题线索的移交函",
}


def _earlier(session: Session, row: PlanLagStep) -> str:
    prior = session.execute(
        select(PlanLagStep.name, PlanDocument.number).join(PlanDocument, PlanDocument.step_id == PlanLagStep.id)
        .where(PlanLagStep.unit_kind == row.unit_kind, PlanLagStep.unit_code == row.unit_code,
               PlanLagStep.cycle == row.cycle, PlanLagStep.id != row.id).order_by(PlanLagStep.id)).all()
    if not prior:
        return ""
    return "此前已被" + "、".join(f"{name}（{number}）" for name, number in prior)


def _issue_document(session: Session, row: PlanLagStep, step: PlanStep, ev: PlanLagEvaluation, day: date,
                    actor: str) -> tuple[PlanDocument, int]:
    """Number, render once, store with hashes, queue to the unit (and the committee office from
    通报 on), audit.  Returns the document and how many notices were queued."""
    unit = unit_of(session, row.unit_kind, row.unit_code)
    serial, number = ladder.number_one(session, step.doc_type, day)
    _, last = calendar.month_bounds(ev.month)
    ctx = {
        "issuing_body": get_settings().issuing_body, "number": number, "title": _TITLES[step.kind].format(u=unit.name),
        "addressee": unit.addressee, "unit_name": unit.name, "kind": step.kind, "step_name": step.name,
        "copy_to": "市安委会各成员单位" if step.kind in ("bulletin", "exposure") else
        ("市纪委监委" if step.kind == "referral" else ""),
        "month_end_cn": documents.cn_date(last), "streak": ev.streak, "earlier": _earlier(session, row),
        "problems": [{**p, "kind_name": labels.PLAN_PROBLEMS.get(p["kind"], p["kind"])} for p in ev.problems],
        "issue_date_cn": documents.cn_date(day),
        "respond_by_cn": documents.cn_date(calendar.add_workdays(day, 3 if step.kind == "interview" else 5)),
    }
    html, body = documents.render(TEMPLATE, ctx)
    doc = PlanDocument(number=number, doc_type=step.doc_type, year=day.year, serial=serial, title=ctx["title"],
                       step_id=row.id, unit_kind=row.unit_kind, unit_code=row.unit_code, issue_date=day, html=html,
                       text=body, sha256=documents.sha256(html), text_sha256=documents.sha256(body),
                       issued_at=clock.utcnow())
    session.add(doc)
    session.flush()
    people = unit_recipients(session, row.unit_kind, row.unit_code, unit.addressee)
    if step.kind not in ("reminder", "letter"):
        people += committee_recipients(session)
    queued = outbox.enqueue(session, event=EVENT, hazard_id=None, cycle=row.cycle, step=f"plan:{row.id}",
                            recipients=people, subject=f"{step.name}：{number}", body=body, document_id=None)
    audit.append(session, actor=actor, action="plan_step_approved" if row.status == "approved" else "plan_step_issued",
                 after={"unit_kind": row.unit_kind, "unit_code": row.unit_code, "cycle": row.cycle,
                        "step": row.step, "step_id": row.id, "month": row.month, "number": number,
                        "sha256": doc.sha256, "text_sha256": doc.text_sha256})
    return doc, queued


# --- decisions on proposed steps ------------------------------------------------------------------


def get_step(session: Session, step_id: int, *, lock: bool = False) -> PlanLagStep:
    stmt = select(PlanLagStep).where(PlanLagStep.id == step_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有编号为 {step_id} 的计划任务督办事项（见 hazardloop plan ladder list）。")
    return row


def approve(session: Session, actor: AppUser, step_id: int, *, reason: str | None = None,
            policy: PlansPolicy | None = None, as_of: date | None = None) -> tuple[PlanLagStep, PlanDocument]:
    row = get_step(session, step_id, lock=True)
    plan_guards.decide_plan_step(actor, f"批准{row.name}")
    ladder.need_proposed(row, f"计划任务督办事项 {row.id}")
    policy = policy or load_policy()
    try:
        step = policy.step(row.step)
    except KeyError:
        raise ValidationError(f"现行计划调度规则中没有步骤 {row.step}，不能出具公文。") from None
    ladder.mark_decided(session, row, actor, "approved", reason)
    ev = session.get(PlanLagEvaluation, row.evaluation_id)
    doc, _ = _issue_document(session, row, step, ev, as_of or clock.today(), actor.username)
    return row, doc


def decline(session: Session, actor: AppUser, step_id: int, *, reason: str | None) -> PlanLagStep:
    row = get_step(session, step_id, lock=True)
    plan_guards.decide_plan_step(actor, f"不予批准{row.name}")
    reason = ladder.need_reason(reason)
    return ladder.decline_unit_step(session, row, actor, reason, what=f"计划任务督办事项 {row.id}", action="plan_step_declined")


# --- reading --------------------------------------------------------------------------------------


def list_steps(session: Session, month: str | None = None, unit: str | None = None,
               limit: int = 500, *, status: str | None = None, year: int | None = None) -> list[dict[str, Any]]:
    stmt = (select(PlanLagStep, PlanDocument.number, PlanLagEvaluation.problems, PlanLagEvaluation.streak)
            .join(PlanLagEvaluation, PlanLagEvaluation.id == PlanLagStep.evaluation_id)
            .outerjoin(PlanDocument, PlanDocument.step_id == PlanLagStep.id))
    if month:
        stmt = stmt.where(PlanLagStep.month == month)
    if unit:
        stmt = stmt.where(PlanLagStep.unit_code == unit)
    if status:
        stmt = stmt.where(PlanLagStep.status == status)
    if year:  # in the query, so the limit counts only that year's steps
        stmt = stmt.where(PlanLagStep.month.startswith(f"{year}-"))
    names = unit_names(session)
    out = []
    for row, number, problems, streak in session.execute(stmt.order_by(PlanLagStep.id).limit(limit)).all():
        out.append({"step_id": row.id, "unit_kind": row.unit_kind,
                    "unit_kind_name": labels.PLAN_UNIT_KINDS.get(row.unit_kind, row.unit_kind),
                    "unit_code": row.unit_code,
                    "unit_name": names.get((row.unit_kind, row.unit_code), row.unit_code), "cycle": row.cycle,
                    "month": row.month, "step": row.step, "name": row.name, "kind": row.kind,
                    "kind_name": labels.PLAN_STEP_KINDS.get(row.kind, row.kind), "status": row.status,
                    "status_name": ladder.status_name(row.status), "number": number, "streak": streak,
                    "problems": problems, "decided_by": row.decided_by, "decision_reason": row.decision_reason})
    return out


def get_document(session: Session, number: str) -> PlanDocument:
    doc = session.execute(select(PlanDocument).where(PlanDocument.number == number.strip())).scalars().first()
    if doc is None:
        raise NotFound(f"没有文号为 {number} 的计划任务督办公文。")
    return doc


__all__ = ["evaluate", "approve", "decline", "list_steps", "get_document", "load_policy", "unit_problems",
           "is_overdue", "overdue_as_of", "tasks_in_force", "report_status", "unit_of", "unit_names",
           "EVENT", "EVENT_PROPOSED"]
