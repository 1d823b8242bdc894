"""What every ladder shares: the vocabulary and the pieces whose logic is the same.

A ladder (督办阶梯) is a list of steps; a *cycle* is one run up the ladder (for a hazard,
one deadline; for a lagging unit, one streak of missed months); a *step* fires at most
once per cycle (a row with a unique key: only the transaction that inserts it acts); a
step that issues a *document* takes a 文号 and stores the rendered 公文 once with its
SHA-256 (escalation.documents); a step that needs *approval* (曝光) is only proposed
until the committee office approves or declines it.

The hazard ladder (escalation.hazards) and the lagging-unit ladder (escalation.units)
both use this module; the action-plan tasks will be a third user.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from hazardloop.config import clock
from hazardloop.config.labels import STEP_STATUS
from hazardloop.config.settings import get_settings
from hazardloop.errors import ValidationError
from hazardloop.escalation import documents
from hazardloop.models import audit
from hazardloop.states.errors import MissingData

SYSTEM_ACTOR = "system"
# A step row's status: issued (no approval needed), proposed → approved (document issued) | declined.
STATUS_NAMES = STEP_STATUS


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status, status)


def need_proposed(row: Any, what: str) -> None:
    """Only a proposed step can be decided; `what` names it for the message (督办事项 12)."""
    if row.status != "proposed":
        raise ValidationError(f"{what} 当前为“{status_name(row.status)}”，不是待审批。")


def need_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise MissingData("不予批准须说明理由（--reason）。")
    return reason.strip()


def mark_decided(session: Session, row: Any, actor: Any, status: str, reason: str | None = None) -> None:
    """Record the committee office's decision on a proposed step (approved / declined)."""
    row.status, row.decided_by, row.decided_at = status, actor.username, clock.utcnow()
    row.decision_reason = reason.strip() if reason and reason.strip() else None
    session.add(row)
    session.flush()


def number_one(session: Session, doc_type: str, day: date) -> tuple[int, str]:
    """Take the next 文号 of a type for the year of `day` (locks the counter until commit)."""
    serial = documents.allocate(session, doc_type, day.year, 1)
    return serial, documents.format_number(get_settings().doc_prefix, doc_type, day.year, serial)


# A run dated after today (sweep, lagging run, bulletin) is a dry run unless forced: 文号 never
# repeat, so what it issued could not be taken back.
FUTURE_DRY_RUN = "{what}（今天是 {today}），按试运行处理：只演算、不编文号、不写入；确需执行请加 --force（将记入审计）。"


def audit_forced(session: Session, actor: str, command: str, when: str) -> None:
    """A run dated after today, forced: who, what, for when, and on which day it was done."""
    audit.append(session, actor=actor, action="future_run_forced",
                 after={"command": command, "as_of": when, "today": clock.today().isoformat()},
                 reason=f"以晚于今天的日期（{when}）强制执行 {command}")


def decline_unit_step(session: Session, row: Any, actor: Any, reason: str, *, what: str, action: str) -> Any:
    """The committee office refuses a proposed step of a unit's ladder (lagging units, plan work): the
    reason recorded on the row and in the audit event.  The caller has checked the guard and the reason."""
    need_proposed(row, what)
    mark_decided(session, row, actor, "declined", reason)
    audit.append(session, actor=actor.username, action=action,
                 after={"unit_kind": row.unit_kind, "unit_code": row.unit_code, "cycle": row.cycle,
                        "step": row.step, "step_id": row.id}, reason=reason)
    return row
