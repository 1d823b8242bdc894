"""The transactional outbox: notification rows written in the caller's transaction.

The unique key (event, hazard, cycle, step, recipient, channel) is enforced by
the database, so queuing the same notice twice is a no-op, even from two
processes at once.  Delivery (claim, send, retry, dead-letter) reads these rows
(notifications/dispatcher.py).

A recipient with no reachable channel still gets a row: channel "none", status
"undeliverable", with the reason — a missing contact is a finding, not a drop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import Session

from hazardloop.config.clock import utcnow
from hazardloop.models.db import insert_or_skip
from hazardloop.models.tables import Notification
from hazardloop.notifications.recipients import RECIPIENT_ROLES, Recipient
from hazardloop.notifications.routes import UNDELIVERABLE, load_routes, recipient_key

# Which channels a person is reached on: a channel tag, or (tag, address).
ChannelResolver = Callable[[Recipient], Sequence[str | tuple[str, str | None]]]


def routes_resolver(recipient: Recipient) -> list[tuple[str, str | None]]:
    """The default: the routing config (config/routes.yaml or $HAZARDLOOP_ROUTES)."""
    return load_routes().targets(recipient)


_channel_resolver: ChannelResolver = routes_resolver


def set_channel_resolver(resolver: ChannelResolver | None) -> None:
    """Replace how recipients map to channels (None restores the routing config)."""
    global _channel_resolver
    _channel_resolver = resolver or routes_resolver


def notification_key(event: str, hazard_id: int | None, cycle: int, step: str, recipient: Recipient,
                     channel: str) -> str:
    who = recipient.username or f"{recipient.role}:{recipient.name}"
    return f"{event}|{hazard_id or '-'}|{cycle}|{step or '-'}|{who}|{channel}"


UNREGISTERED = "unregistered"  # Recipient.extra marker: a required person missing from the records


def _targets(recipient: Recipient) -> list[tuple[str, str | None]]:
    if UNREGISTERED in recipient.extra:
        return []
    out = []
    for item in _channel_resolver(recipient):
        out.append((item, None) if isinstance(item, str) else (item[0], item[1]))
    return out


def base_row(*, event: str, hazard_id: int | None, cycle: int, step: str, role: str, name: str, key: str,
             subject: str, body: str, document_id: int | None, now: datetime) -> dict:
    """The columns every outbox row of a notice shares (each caller adds key, channel, address, status)."""
    return dict(event=event, hazard_id=hazard_id, cycle=cycle, step=step, recipient_role=role, recipient_name=name,
                recipient_key=key, subject=subject[:200], body=body, document_id=document_id, attempts=0,
                next_attempt_at=now, created_at=now)


def notice_rows(
    *, event: str, hazard_id: int | None, cycle: int = 0, step: str = "", recipients: list[Recipient],
    subject: str, body: str, document_id: int | None = None, now: datetime | None = None,
) -> list[dict]:
    """The outbox rows for one notice: one per recipient and channel, or one undeliverable row."""
    now = now or utcnow()
    rows = []
    for recipient in recipients:
        targets = _targets(recipient)
        base = base_row(event=event, hazard_id=hazard_id, cycle=cycle, step=step, role=recipient.role,
                        name=recipient.name, key=recipient_key(recipient), subject=subject, body=body,
                        document_id=document_id, now=now)
        if not targets:
            role = RECIPIENT_ROLES.get(recipient.role, recipient.role)
            why = (f"企业档案中没有登记{role}，请补充后执行 outbox retry。" if UNREGISTERED in recipient.extra else
                   f"无可达渠道：{recipient.name}（{role}）没有可用的联系方式或路由，请补充后执行 outbox retry。")
            rows.append(base | dict(
                key=notification_key(event, hazard_id, cycle, step, recipient, UNDELIVERABLE),
                channel=UNDELIVERABLE, address=None, status="undeliverable",
                last_error=why,
            ))
        for channel, address in targets:
            rows.append(base | dict(
                key=notification_key(event, hazard_id, cycle, step, recipient, channel),
                channel=channel, address=address, status="pending", last_error=None,
            ))
    return rows


def insert_rows(session: Session, rows: list[dict], chunk: int = 2000) -> int:
    """Insert outbox rows, skipping keys already queued; returns how many were new."""
    if not rows:
        return 0
    table = Notification.__table__
    stmt = insert_or_skip(session, table, ["key"])
    # Count what RETURNING gives back: rowcount is unreliable for executemany.
    stmt = stmt.returning(table.c.id)
    return sum(len(session.execute(stmt, rows[k:k + chunk]).all()) for k in range(0, len(rows), chunk))


def enqueue(
    session: Session, *, event: str, hazard_id: int | None, cycle: int = 0, step: str = "",
    recipients: list[Recipient], subject: str, body: str, document_id: int | None = None,
) -> int:
    """Queue one notice per recipient and channel; returns how many rows were new."""
    return insert_rows(session, notice_rows(event=event, hazard_id=hazard_id, cycle=cycle, step=step,
                                            recipients=recipients, subject=subject, body=body,
                                            document_id=document_id))
