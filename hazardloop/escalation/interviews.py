"""The 约谈会 as a record, and what it does to the ladder (三函一会's 会, policy 三（四）).

After the ladder's 约谈会 notice (kind interview) is issued, the regulator records the
meeting: time, place, who attended for the enterprise and for the regulators, the
outcome, the commitments with their dates, and the minutes (stored with their SHA-256).

- Not held (the enterprise did not come): the ladder moves on at once -- the cycle's next
  step (曝光 by default) comes due today, so the next sweep proposes it.
- A commitment whose date has passed without being marked met: the sweep marks it missed
  (audited) and moves the ladder on the same way, once per meeting.
- A hazard closed or given a new deadline ends its cycle as always; commitments of an
  ended cycle are not checked.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from hazardloop.config import clock
from hazardloop.config.labels import COMMITMENT_STATUS, INTERVIEW_OUTCOMES
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.escalation.ladder import SYSTEM_ACTOR
from hazardloop.models import audit
from hazardloop.models.escalation import EscalationCycle, EscalationStep
from hazardloop.models.interviews import InterviewRecord
from hazardloop.models.tables import AppUser, Hazard
from hazardloop.states import guards
from hazardloop.states.errors import MissingData

ACTIVE_STATE = "rectifying"


def _clean_list(values: list[str] | None, what: str, required: bool) -> list[str]:
    out = [v.strip() for v in (values or []) if v and v.strip()]
    if required and not out:
        raise MissingData(f"请填写{what}。")
    return out


def parse_commitment(text: str) -> dict[str, Any]:
    """"内容@YYYY-MM-DD" -> {what, due, status}; a Chinese error for anything else."""
    what, sep, due = text.rpartition("@")
    if not sep or not what.strip():
        raise ValidationError(f"承诺事项应写作“内容@YYYY-MM-DD”，收到 {text!r}。")
    try:
        day = date.fromisoformat(due.strip())
    except ValueError:
        raise ValidationError(f"承诺事项的完成日期应为 YYYY-MM-DD，收到 {due!r}。") from None
    return {"what": what.strip(), "due": day.isoformat(), "status": "open", "checked_at": None}


def record(session: Session, actor: AppUser, step_id: int, *, held_at: datetime, place: str, outcome: str,
           enterprise_attendees: list[str] | None = None, regulator_attendees: list[str] | None = None,
           commitments: list[dict[str, Any]] | None = None, summary: str = "", minutes: str = "",
           minutes_name: str | None = None) -> InterviewRecord:
    """Record the 约谈会 a ladder step called; once per step."""
    step = session.get(EscalationStep, step_id)
    if step is None or step.kind != "interview":
        raise NotFound(f"没有编号为 {step_id} 的约谈会督办事项（见 hazardloop escalation list）。")
    hazard = session.get(Hazard, step.hazard_id)
    guards.record_interview(actor, hazard)
    if step.status not in ("issued", "approved"):
        raise ValidationError(f"督办事项 {step_id} 尚未发出，不能记录约谈会。")
    if session.execute(select(InterviewRecord.id).where(InterviewRecord.step_id == step_id)).first():
        raise ConflictError(f"督办事项 {step_id} 的约谈会已记录，不能重复记录。")
    if outcome not in INTERVIEW_OUTCOMES:
        raise ValidationError(f"约谈结果应为：{'、'.join(f'{k} {v}' for k, v in INTERVIEW_OUTCOMES.items())}。")
    if not place or not place.strip():
        raise MissingData("请填写约谈地点。")
    held = outcome == "held"
    ent = _clean_list(enterprise_attendees, "企业参会人员（姓名、职务）", held)
    reg = _clean_list(regulator_attendees, "监管部门参会人员（姓名、单位、职务）", True)
    items = list(commitments or [])
    if held and not items:
        raise MissingData("约谈会已召开，请填写企业的承诺事项和完成日期（--commitment 内容@YYYY-MM-DD）。")
    if held and not minutes.strip():
        raise MissingData("约谈会已召开，请附会议纪要（--minutes 文件）。")
    row = InterviewRecord(step_id=step.id, hazard_id=step.hazard_id, cycle=step.cycle,
                          held_at=held_at, place=place.strip(), outcome=outcome, enterprise_attendees=ent,
                          regulator_attendees=reg, commitments=items, summary=summary.strip(), minutes=minutes,
                          minutes_name=minutes_name,
                          minutes_sha256=hashlib.sha256(minutes.encode("utf-8")).hexdigest() if minutes else None,
                          recorded_by=actor.username, recorded_at=clock.utcnow())
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="interview_recorded", hazard_id=step.hazard_id,
                 after={"interview_id": row.id, "step_id": step.id, "cycle": step.cycle, "outcome": outcome,
                        "place": row.place, "held_at": held_at, "commitments": items,
                        "minutes_sha256": row.minutes_sha256})
    if outcome == "not_held":
        _move_on(session, row, hazard, clock.today(), "约谈会未召开（企业未到会）")
    return row


def _move_on(session: Session, row: InterviewRecord, hazard: Hazard, day: date, why: str) -> bool:
    """Bring the cycle's next step forward to `day` (the next sweep issues it); once per meeting."""
    if row.moved_on or hazard.state != ACTIVE_STATE or hazard.cycle != row.cycle:
        return False
    cycle = session.execute(select(EscalationCycle).where(EscalationCycle.hazard_id == hazard.id,
                                                          EscalationCycle.cycle == row.cycle)).scalar_one_or_none()
    if cycle is None or cycle.next_due is None or cycle.status != "active":
        return False
    before = cycle.next_due
    cycle.next_due = min(cycle.next_due, day)
    row.moved_on = True
    session.add_all([cycle, row])
    session.flush()
    audit.append(session, actor=SYSTEM_ACTOR, action="interview_commitment_checked", hazard_id=hazard.id,
                 before={"next_due": before}, after={"interview_id": row.id, "next_due": cycle.next_due,
                                                     "next_index": cycle.next_index}, reason=why)
    return True


def mark_commitment(session: Session, actor: AppUser, interview_id: int, index: int, *, met: bool,
                    note: str = "") -> InterviewRecord:
    """A regulator marks one commitment met (or missed) after checking it."""
    row = get(session, interview_id)
    guards.record_interview(actor, session.get(Hazard, row.hazard_id))
    items = [dict(c) for c in row.commitments]
    if not 0 <= index < len(items):
        raise NotFound(f"约谈会 {interview_id} 没有第 {index + 1} 项承诺。")
    items[index] |= {"status": "met" if met else "missed", "checked_at": clock.utcnow().isoformat(),
                     "checked_by": actor.username, "note": note.strip()}
    row.commitments = items
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="interview_commitment_checked", hazard_id=row.hazard_id,
                 after={"interview_id": row.id, "index": index, "status": items[index]["status"]}, reason=note or None)
    if not met:
        _move_on(session, row, session.get(Hazard, row.hazard_id), clock.today(),
                 f"约谈承诺“{items[index]['what']}”未兑现")
    return row


def check_commitments(session: Session, day: date) -> int:
    """The sweep: commitments past their date and still open become missed, and move the ladder on."""
    rows = session.execute(select(InterviewRecord).where(InterviewRecord.outcome == "held",
                                                         InterviewRecord.moved_on == False)  # noqa: E712
                           ).scalars().all()
    moved = 0
    for row in rows:
        late = [i for i, c in enumerate(row.commitments)
                if c.get("status") == "open" and date.fromisoformat(c["due"]) < day]
        if not late:
            continue
        hazard = session.get(Hazard, row.hazard_id)
        if hazard.state != ACTIVE_STATE or hazard.cycle != row.cycle:
            continue  # closed or a new deadline: that cycle is over
        items = [dict(c) for c in row.commitments]
        for i in late:
            items[i] |= {"status": "missed", "checked_at": clock.utcnow().isoformat(), "checked_by": SYSTEM_ACTOR}
        row.commitments = items
        session.add(row)
        what = "、".join(items[i]["what"] for i in late)
        moved += _move_on(session, row, hazard, day, f"约谈承诺逾期未兑现：{what}")
    return moved


def get(session: Session, interview_id: int) -> InterviewRecord:
    row = session.get(InterviewRecord, interview_id)
    if row is None:
        raise NotFound(f"没有编号为 {interview_id} 的约谈会记录。")
    return row


def as_dict(row: InterviewRecord, *, minutes: bool = False) -> dict[str, Any]:
    out = {"id": row.id, "step_id": row.step_id, "hazard_id": row.hazard_id, "cycle": row.cycle,
           "held_at": clock.to_local(row.held_at).isoformat(timespec="minutes"), "place": row.place,
           "outcome": row.outcome, "outcome_name": INTERVIEW_OUTCOMES[row.outcome],
           "enterprise_attendees": row.enterprise_attendees, "regulator_attendees": row.regulator_attendees,
           "commitments": [c | {"status_name": COMMITMENT_STATUS.get(c.get("status"), c.get("status"))}
                           for c in row.commitments],
           "summary": row.summary, "minutes_name": row.minutes_name, "minutes_sha256": row.minutes_sha256,
           "recorded_by": row.recorded_by, "moved_on": row.moved_on}
    if minutes:
        out["minutes"] = row.minutes
    return out


def list_records(session: Session, hazard_id: int | None = None, limit: int = 200) -> list[InterviewRecord]:
    stmt = select(InterviewRecord)
    if hazard_id is not None:
        stmt = stmt.where(InterviewRecord.hazard_id == hazard_id)
    return list(session.execute(stmt.order_by(InterviewRecord.id.desc()).limit(limit)).scalars())
