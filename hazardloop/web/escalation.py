"""The escalation ladder on the console: the committee office's 曝光 proposals in its
queue, and each hazard's steps and documents (文号) on its page."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import AppUser, Enterprise, Hazard
from hazardloop.states import guards
from hazardloop.states.roles import Role
from hazardloop.web import services

STEP_STATUS = {"issued": "已出具", "proposed": "待市安委办批准", "approved": "已批准", "declined": "未批准"}


def exposure_proposals(session: Session, user: AppUser) -> list[services.Section]:
    if user.role != Role.committee:
        return []
    stmt = (select(Hazard, Enterprise.name).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
            .join(EscalationStep, EscalationStep.hazard_id == Hazard.id)
            .where(guards.visible_clause(user), EscalationStep.status == "proposed"))
    return [services._section(session, "exposure", "待批准的曝光", "逾期未整改、按督办阶梯拟予曝光，"
                              "批准：hazardloop escalation approve 编号", stmt, [EscalationStep.due_date, Hazard.id])]


def steps_and_documents(session: Session, user: AppUser, hazard: Hazard) -> list[dict[str, Any]]:
    steps = session.exec(select(EscalationStep).where(EscalationStep.hazard_id == hazard.id)
                         .order_by(EscalationStep.cycle, EscalationStep.due_date, EscalationStep.id)).all()
    if not steps:
        return []
    numbers = dict(session.exec(select(Document.step_id, Document.number)
                                .where(Document.hazard_id == hazard.id)).all())
    rows = [(f"第 {s.cycle} 周期 · {s.step}",
             "，".join(x for x in (STEP_STATUS.get(s.status, s.status), numbers.get(s.id, ""),
                                   f"应于 {s.due_date.isoformat()}",
                                   f"{clock.local_date(s.created_at).isoformat()} 记录") if x))
            for s in steps]
    return [{"title": "督办阶梯与公文（文号）", "rows": rows}]


def install() -> None:
    if exposure_proposals not in services.QUEUE_PROVIDERS:
        services.QUEUE_PROVIDERS.append(exposure_proposals)
    if steps_and_documents not in services.DETAIL_PROVIDERS:
        services.DETAIL_PROVIDERS.append(steps_and_documents)
