"""What an operator does with the outbox: list, show, retry (plain functions; the CLI is thin)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.errors import NotFound, ValidationError
from hazardloop.models.notify import NotificationAttempt
from hazardloop.models.tables import Hazard, Notification
from hazardloop.notifications.outbox import _targets, enqueue
from hazardloop.notifications.recipients import resolve
from hazardloop.notifications.routes import UNDELIVERABLE

STATUSES = {
    "pending": "待发送",
    "sending": "发送中",
    "retry": "待重试",
    "sent": "已发送",
    "dead": "死信",
    "undeliverable": "无法送达",
    "rerouted": "已改投",
}
UNREGISTERED_NAME = "（未登记）"
RETRYABLE = {"retry", "dead", "undeliverable", "sending", "pending"}


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise ValidationError(f"状态应为 {'、'.join(f'{k}（{v}）' for k, v in STATUSES.items())} 之一。")


def list_notifications(session: Session, *, status: str | None = None, hazard_id: int | None = None,
                       event: str | None = None, limit: int = 200) -> list[Notification]:
    _check_status(status)
    stmt = select(Notification)
    if status:
        stmt = stmt.where(Notification.status == status)
    if hazard_id is not None:
        stmt = stmt.where(Notification.hazard_id == hazard_id)
    if event:
        stmt = stmt.where(Notification.event == event)
    return list(session.exec(stmt.order_by(Notification.id.desc()).limit(limit)).all())  # type: ignore[union-attr]


def counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(Notification.status, func.count()).group_by(Notification.status)).all()
    return {status: n for status, n in rows}


def get(session: Session, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"没有编号为 {notification_id} 的通知。")
    return row


def attempts(session: Session, notification_id: int) -> list[NotificationAttempt]:
    return list(session.exec(select(NotificationAttempt).where(NotificationAttempt.notification_id == notification_id)
                             .order_by(NotificationAttempt.id)).all())


def _reroute(session: Session, row: Notification) -> int:
    """An undeliverable row: look the person up again (contacts may have been added)."""
    hazard = session.get(Hazard, row.hazard_id) if row.hazard_id else None
    if hazard is None:
        return 0
    unregistered = row.recipient_name == UNREGISTERED_NAME  # nobody was on record: take whoever is now
    people = [r for r in resolve(session, hazard, [row.recipient_role]) if unregistered or r.name == row.recipient_name]
    if not people or not _targets(people[0]):
        return 0
    added = enqueue(session, event=row.event, hazard_id=row.hazard_id, cycle=row.cycle, step=row.step,
                    recipients=people[:1], subject=row.subject, body=row.body, document_id=row.document_id)
    row.status = "rerouted"
    row.last_error = f"已按现有联系方式重新入队 {added} 条。"
    session.add(row)
    return added


def retry(session: Session, *, ids: list[int] | None = None, status: str | None = None,
          force: bool = False) -> dict[str, Any]:
    """Queue rows for sending again now, with a fresh attempt budget (their history stays).

    A sent row is resent only with force (the copy carries the same idempotency
    key); an undeliverable row without a channel is looked up again."""
    _check_status(status)
    if not ids and not status:
        raise ValidationError("请给出通知编号，或用 --status 选择一类通知（如 dead）。")
    stmt = select(Notification)
    if ids:
        stmt = stmt.where(Notification.id.in_(ids))  # type: ignore[attr-defined]
        found = {r.id for r in session.exec(stmt).all()}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"没有编号为 {'、'.join(map(str, missing))} 的通知。")
    if status:
        stmt = stmt.where(Notification.status == status)
    rows = list(session.exec(stmt.order_by(Notification.id)).all())
    now = clock.utcnow()
    requeued, rerouted, refused = [], 0, []
    for row in rows:
        if row.status == "sent" and not force:
            refused.append(row.id)
            continue
        if row.status == "rerouted":
            refused.append(row.id)
            continue
        if row.channel == UNDELIVERABLE:
            added = _reroute(session, row)
            if added or row.status == "rerouted":
                rerouted += added
            else:
                refused.append(row.id)
            continue
        row.status, row.attempts, row.next_attempt_at = "pending", 0, now
        row.claimed_by = row.claimed_until = None
        session.add(row)
        requeued.append(row.id)
    if ids and refused and not requeued and not rerouted:
        raise ValidationError(
            f"通知 {'、'.join(map(str, refused))} 不能重发：已发送的需加 --force；无可达渠道的请先补充联系方式或路由。")
    session.flush()
    return {"requeued": requeued, "rerouted_rows": rerouted, "skipped": refused}
