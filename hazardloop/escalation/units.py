"""The lagging-unit ladder (落后单位督办): 函告 → 通报 → 约谈 → 曝光 for regions and departments.

reports.lagging evaluates each month and stores one row per (unit kind, unit, month);
a streak of `consecutive` missed months starts a cycle, and this module issues the
ladder's steps due by the streak, one per further missed month; a met month ends the
cycle.  Steps are unique per (unit, cycle, step): only the transaction that inserts the
row issues the document (文号 from the shared counter, rendered once, SHA-256 stored),
queues the outbox rows and writes the audit event.  曝光 is only proposed until the
committee office approves (then its document is issued) or declines it (reason required).
The vocabulary (step, cycle, document, approval) is escalation.ladder's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.lagging import STEP_KINDS, UNIT_KINDS, LaggingPolicy, LaggingPolicyError
from hazardloop.config.lagging import LagStep as StepRule
from hazardloop.config.lagging import load_policy as _load_policy
from hazardloop.config.settings import get_settings
from hazardloop.errors import NotFound, ValidationError
from hazardloop.escalation import addressees, documents, ladder
from hazardloop.models import audit
from hazardloop.models.db import insert_or_skip
from hazardloop.models.lagging import LagDocument, LagEvaluation, LagStep
from hazardloop.models.tables import AppUser, Department, Region
from hazardloop.notifications import outbox
from hazardloop.notifications.recipients import Recipient
from hazardloop.states import guards

SYSTEM_ACTOR = ladder.SYSTEM_ACTOR
EVENT = "lag_escalation"  # outbox event of a unit document; its document_id points at lag_document
EVENT_PROPOSED = "lag_proposed"  # the committee office is told a 曝光 awaits its decision
STATUS_NAMES = ladder.STATUS_NAMES
_ROLE = {"region": "township", "department": "department"}


def load_policy(path: Any = None) -> LaggingPolicy:
    """The policy in force; a bad file becomes a ValidationError (Chinese, with the line)."""
    try:
        return _load_policy(path)
    except LaggingPolicyError as exc:
        raise ValidationError(str(exc)) from None


# --- units ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    kind: str
    code: str
    name: str
    addressee: str  # how a document addresses it (镇人民政府, 街道办事处, 管委会, the department)


def _addressee(region: Region) -> str:
    return addressees.region_addressee(region)


def units(session: Session, policy: LaggingPolicy) -> list[Unit]:
    out: list[Unit] = []
    if "region" in policy.units:
        out += [Unit("region", r.code, r.name, _addressee(r))
                for r in session.execute(select(Region).order_by(Region.code)).scalars()]
    if "department" in policy.units:
        out += [Unit("department", d.code, d.name, d.name)
                for d in session.execute(select(Department).where(Department.committee == False)  # noqa: E712
                                         .order_by(Department.code)).scalars()]
    return out


# --- steps and documents --------------------------------------------------------------------


def unit_recipients(session: Session, unit_kind: str, unit_code: str, name: str) -> list[Recipient]:
    """The township officers of a region, or the supervisors of a department; when none is
    registered, one recipient by the unit's name (its outbox row then says it is unreachable)."""
    stmt = select(AppUser).where(AppUser.active == True)  # noqa: E712
    if unit_kind == "region":
        stmt = stmt.where(AppUser.role == "township", AppUser.region_code == unit_code)
    else:
        stmt = stmt.where(AppUser.role == "supervisor", AppUser.department_code == unit_code)
    people = [Recipient(_ROLE[unit_kind], u.name, u.phone, u.email, u.username)
              for u in session.execute(stmt.order_by(AppUser.id)).scalars()]
    return people or [Recipient(_ROLE[unit_kind], name)]


def committee_recipients(session: Session) -> list[Recipient]:
    stmt = select(AppUser).where(AppUser.active == True, AppUser.role == "committee").order_by(AppUser.id)  # noqa: E712
    return [Recipient("committee", u.name, u.phone, u.email, u.username) for u in session.execute(stmt).scalars()]


def _title(step: StepRule, unit: Unit) -> str:
    return {
        "letter": f"关于{unit.name}重大事故隐患整改工作滞后的函",
        "bulletin": f"关于{unit.name}重大事故隐患整改工作滞后情况的通报",
        "interview": f"关于约谈{unit.name}主要负责同志的通知",
        "exposure": f"关于对{unit.name}重大事故隐患整改工作滞后情况予以曝光的通告",
    }[step.kind]


def _earlier(session: Session, row: LagStep) -> str:
    prior = session.execute(
        select(LagStep.name, LagDocument.number).join(LagDocument, LagDocument.step_id == LagStep.id)
        .where(LagStep.unit_kind == row.unit_kind, LagStep.unit_code == row.unit_code, LagStep.cycle == row.cycle,
               LagStep.id != row.id).order_by(LagStep.id)).all()
    if not prior:
        return "经市安委办按月调度"
    return "此前已被" + "、".join(f"{name}（{number}）" for name, number in prior)


def document_context(session: Session, unit: Unit, step: StepRule, row: LagStep, ev: LagEvaluation,
                     issue_day: date, number: str, followed_by: StepRule | None = None) -> dict[str, Any]:
    first, last = calendar.month_bounds(ev.month)
    # A catch-up document whose next step goes out the same day says so (not "next month …").
    later = None
    if followed_by is not None:
        later = f"已同日提请{followed_by.name}" if followed_by.approval else f"已同日另行{followed_by.name}"
    respond_by = calendar.add_workdays(issue_day, 3 if step.kind == "interview" else 5)
    return {
        "issuing_body": get_settings().issuing_body, "number": number, "title": _title(step, unit),
        "addressee": unit.addressee, "copy_to": "市安委会各成员单位" if step.kind in ("bulletin", "exposure") else "",
        "unit_name": unit.name, "scope": "辖区" if unit.kind == "region" else "监管行业领域",
        "duty": "属地管理责任" if unit.kind == "region" else "行业监管责任",
        "figures": ev.figures, "missed": ev.missed, "streak": ev.streak, "month_end_cn": documents.cn_date(last),
        "issue_date_cn": documents.cn_date(issue_day), "respond_by_cn": documents.cn_date(respond_by),
        "earlier": _earlier(session, row),
        "followed_by": later, "month_cn": f"{first.year}年{first.month}月",
        **dict(zip(("contact_name", "contact_phone"), addressees.contact(session))),
    }


def _unit(session: Session, kind: str, code: str) -> Unit:
    if kind == "region":
        r = session.get(Region, code)
        return Unit("region", code, r.name if r else code, _addressee(r) if r else code)
    d = session.get(Department, code)
    return Unit("department", code, d.name if d else code, d.name if d else code)


def _issue_document(session: Session, row: LagStep, step: StepRule, ev: LagEvaluation, day: date,
                    actor: str, followed_by: StepRule | None = None) -> dict[str, Any]:
    """Number, render once, store with hashes, queue to the unit (and the committee office for
    a bulletin, interview or exposure), audit.  Returns the stored document's facts."""
    unit = _unit(session, row.unit_kind, row.unit_code)
    serial, number = ladder.number_one(session, step.doc_type, day)
    ctx = document_context(session, unit, step, row, ev, day, number, followed_by)
    html, body = documents.render(step.template, ctx)
    doc = LagDocument(number=number, doc_type=step.doc_type, year=day.year, serial=serial, title=ctx["title"],
                      step_id=row.id, unit_kind=row.unit_kind, unit_code=row.unit_code, issue_date=day, html=html,
                      text=body, sha256=documents.sha256(html), text_sha256=documents.sha256(body),
                      issued_at=clock.utcnow())
    session.add(doc)
    session.flush()
    people = unit_recipients(session, row.unit_kind, row.unit_code, unit.addressee)
    if step.kind != "letter":
        people += committee_recipients(session)
    if step.kind in addressees.TO_MEMBER_UNITS:  # 抄送：市安委会各成员单位 -- every one of them
        people += addressees.member_units(session)
    queued = outbox.enqueue(session, event=EVENT, hazard_id=None, cycle=row.cycle, step=f"lag:{row.id}",
                            recipients=people, subject=f"{step.name}：{number}", body=body, document_id=doc.id)
    audit.append(session, actor=actor, action="lag_step_approved" if row.status == "approved" else "lag_step_issued",
                 after={"unit_kind": row.unit_kind, "unit_code": row.unit_code, "cycle": row.cycle,
                        "step": row.step, "step_id": row.id, "month": row.month, "number": number,
                        "sha256": doc.sha256, "text_sha256": doc.text_sha256})
    return {"number": number, "sha256": doc.sha256, "notifications": queued, "document_id": doc.id}


def _cycle_ended(session: Session, kind: str, code: str, cycle: int, month: str) -> str | None:
    """The first later month in which the unit met every threshold or started another cycle."""
    return session.execute(
        select(LagEvaluation.month).where(LagEvaluation.unit_kind == kind, LagEvaluation.unit_code == code,
                                          LagEvaluation.month > month,
                                          (LagEvaluation.streak == 0) | (LagEvaluation.cycle != cycle))
        .order_by(LagEvaluation.month).limit(1)).scalar()


def issue_due(session: Session, evals: list[dict[str, Any]], month: str, policy: LaggingPolicy, day: date,
              result: Any) -> None:
    """Issue (or propose) every ladder step the evaluations make due, each once per unit, cycle
    and step; counts go into `result` (documents, proposed, notifications, steps)."""
    table = LagStep.__table__
    for e in evals:
        due = policy.steps_due(e["streak"])
        if not due or _cycle_ended(session, e["unit_kind"], e["unit_code"], e["cycle"], month):
            continue
        for step in due:
            new_id = session.execute(insert_or_skip(session, table, ["unit_kind", "unit_code", "cycle", "step"])
                                     .returning(table.c.id), {
                "unit_kind": e["unit_kind"], "unit_code": e["unit_code"], "cycle": e["cycle"], "step": step.code,
                "name": step.name, "kind": step.kind, "month": month, "evaluation_id": e["evaluation_id"],
                "status": "proposed" if step.approval else "issued", "policy_version": policy.version,
                "created_at": clock.utcnow()}).scalar()
            if new_id is None:
                continue  # issued before: once per unit, cycle and step
            row = session.get(LagStep, new_id)
            ev = session.get(LagEvaluation, e["evaluation_id"])
            item = {"step_id": new_id, "unit_kind": e["unit_kind"], "unit_code": e["unit_code"],
                    "unit_name": e["unit_name"], "cycle": e["cycle"], "step": step.code, "name": step.name,
                    "status": row.status, "number": None, "missed": e["missed"]}
            if step.approval:
                result.proposed += 1
                result.notifications += outbox.enqueue(
                    session, event=EVENT_PROPOSED, hazard_id=None, cycle=e["cycle"], step=f"lag:{new_id}",
                    recipients=committee_recipients(session), subject=f"待审批：{e['unit_name']}{step.name}",
                    body=f"{e['unit_name']}已连续 {e['streak']} 个月未达到重大事故隐患整改考核要求（"
                         + "；".join(f"{m['name']} {m['value_text']}，要求{m['rule']}" for m in e["missed"])
                         + f"），拟予{step.name}。请执行 hazardloop lagging approve {new_id} 或 decline。")
                audit.append(session, actor=SYSTEM_ACTOR, action="lag_step_proposed",
                             after={"unit_kind": e["unit_kind"], "unit_code": e["unit_code"], "cycle": e["cycle"],
                                    "step": step.code, "step_id": new_id, "month": month})
            else:
                doc = _issue_document(session, row, step, ev, day, SYSTEM_ACTOR,
                                      e.get("followed_by") if step is due[-1] else None)
                item["number"] = doc["number"]
                result.documents += 1
                result.notifications += doc["notifications"]
            result.steps.append(item)


def withdraw_ended(session: Session, kind: str, code: str, cycle: int, reason: str) -> int:
    """Withdraw the undecided proposals (曝光 待审批) of a unit's cycle that has ended, audited."""
    rows = session.execute(select(LagStep).where(
        LagStep.unit_kind == kind, LagStep.unit_code == code, LagStep.cycle <= cycle,
        LagStep.status == "proposed").with_for_update()).scalars().all()
    for row in rows:
        row.status, row.decided_by, row.decided_at = "withdrawn", SYSTEM_ACTOR, clock.utcnow()
        row.decision_reason = reason
        session.add(row)
        audit.append(session, actor=SYSTEM_ACTOR, action="lag_step_withdrawn",
                     after={"unit_kind": kind, "unit_code": code, "cycle": row.cycle, "step": row.step,
                            "step_id": row.id}, reason=reason)
    session.flush()
    return len(rows)


# --- approval of 曝光 -------------------------------------------------------------------------


def get_step(session: Session, step_id: int, *, lock: bool = False) -> LagStep:
    stmt = select(LagStep).where(LagStep.id == step_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有编号为 {step_id} 的落后单位督办事项（见 hazardloop lagging list）。")
    return row


def approve(session: Session, actor: AppUser, step_id: int, *, reason: str | None = None,
            policy: LaggingPolicy | None = None, as_of: date | None = None) -> tuple[LagStep, LagDocument]:
    """The committee office approves a proposed 曝光: its document is issued now and sent."""
    guards.decide_lag_exposure(actor, "批准曝光落后单位")
    row = get_step(session, step_id, lock=True)
    ladder.need_proposed(row, f"落后单位督办事项 {row.id}")
    ended = _cycle_ended(session, row.unit_kind, row.unit_code, row.cycle, row.month)
    if ended:
        raise ValidationError(f"{_unit(session, row.unit_kind, row.unit_code).name}在 {ended} 已达到考核要求"
                              f"（本轮督办已结束），不能再批准此项；如不再需要，请以理由不予批准。")
    policy = policy or load_policy()
    try:
        step = policy.step(row.step)
    except KeyError:
        raise ValidationError(f"现行落后单位督办规则中没有步骤 {row.step}，不能出具公文。") from None
    ladder.mark_decided(session, row, actor, "approved", reason)
    ev = session.get(LagEvaluation, row.evaluation_id)
    doc = _issue_document(session, row, step, ev, as_of or clock.today(), actor.username)
    return row, session.get(LagDocument, doc["document_id"])


def decline(session: Session, actor: AppUser, step_id: int, *, reason: str | None) -> LagStep:
    guards.decide_lag_exposure(actor, "不予批准曝光落后单位")
    reason = ladder.need_reason(reason)
    row = get_step(session, step_id, lock=True)
    return ladder.decline_unit_step(session, row, actor, reason, what=f"落后单位督办事项 {row.id}", action="lag_step_declined")


# --- reading ------------------------------------------------------------------------------


def list_steps(session: Session, month: str | None = None, status: str | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
    stmt = (select(LagStep, LagDocument.number, LagEvaluation.missed, LagEvaluation.streak)
            .join(LagEvaluation, LagEvaluation.id == LagStep.evaluation_id)
            .outerjoin(LagDocument, LagDocument.step_id == LagStep.id))
    if month:
        first, _ = calendar.month_bounds(month)
        stmt = stmt.where(LagStep.month == calendar.month_of(first))
    if status:
        stmt = stmt.where(LagStep.status == status)
    out = []
    for row, number, missed, streak in session.execute(stmt.order_by(LagStep.id).limit(limit)).all():
        unit = _unit(session, row.unit_kind, row.unit_code)
        out.append({"step_id": row.id, "unit_kind": row.unit_kind, "unit_kind_name": UNIT_KINDS[row.unit_kind],
                    "unit_code": row.unit_code, "unit_name": unit.name, "cycle": row.cycle, "month": row.month,
                    "step": row.step, "name": row.name, "kind": row.kind, "kind_name": STEP_KINDS.get(row.kind, ""),
                    "status": row.status, "status_name": STATUS_NAMES.get(row.status, row.status),
                    "number": number, "streak": streak, "missed": missed, "decided_by": row.decided_by,
                    "decision_reason": row.decision_reason})
    return out


def steps_for_month(session: Session, month: str, status: str | None = None) -> list[dict[str, Any]]:
    """For the monthly bulletin: the unit steps of the month that are in effect or awaiting
    approval (or only those of `status`) -- unit name and kind, step, 文号 (None while proposed),
    missed thresholds."""
    return [{"unit_name": s["unit_name"], "unit_kind": s["unit_kind"], "unit_kind_name": s["unit_kind_name"],
             "step": s["name"], "status": s["status_name"], "number": s["number"],
             "missed": [{"name": m["name"], "value": m["value_text"], "rule": m["rule"]} for m in s["missed"]]}
            for s in list_steps(session, month, status) if s["status"] != "declined"]


def get_document(session: Session, number: str) -> LagDocument:
    doc = session.execute(select(LagDocument).where(LagDocument.number == number.strip())).scalars().first()
    if doc is None:
        raise NotFound(f"没有文号为 {number} 的落后单位督办公文。")
    return doc


__all__ = ["issue_due", "approve", "decline", "list_steps", "steps_for_month", "get_document", "load_policy",
           "units", "Unit", "STATUS_NAMES", "EVENT", "EVENT_PROPOSED"]
