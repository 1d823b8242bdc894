"""The transactional outbox: notification rows written in the caller's transaction.

The unique key (event, hazard, cycle, step, recipient, channel) is enforced by
the database, so queuing the same notice twice is a no-op, even from two
processes at once.  Delivery (claim, send, retry, dead-letter) reads these rows.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from hazardloop.config.clock import utcnow
from hazardloop.models.tables import Notification
from hazardloop.notifications.recipients import Recipient

# Which channels a person is reached on; the routing config replaces this.
ChannelResolver = Callable[[Recipient], list[str]]
_channel_resolver: ChannelResolver = lambda recipient: ["default"]  # noqa: E731


def set_channel_resolver(resolver: ChannelResolver) -> None:
    global _channel_resolver
    _channel_resolver = resolver


def notification_key(event: str, hazard_id: int | None, cycle: int, step: str, recipient: Recipient,
                     channel: str) -> str:
    who = recipient.username or f"{recipient.role}:{recipient.name}"
    return f"{event}|{hazard_id or '-'}|{cycle}|{step or '-'}|{who}|{channel}"


def enqueue(
    session: Session, *, event: str, hazard_id: int | None, cycle: int = 0, step: str = "",
    recipients: list[Recipient], subject: str, body: str, document_id: int | None = None,
) -> int:
    """Queue one notice per recipient and channel; returns how many rows were new."""
    now = utcnow()
    rows = []
    for recipient in recipients:
        for channel in _channel_resolver(recipient):
            rows.append(dict(
                key=notification_key(event, hazard_id, cycle, step, recipient, channel), event=event,
                hazard_id=hazard_id, cycle=cycle, step=step, recipient_role=recipient.role,
                recipient_name=recipient.name, channel=channel, subject=subject, body=body,
                document_id=document_id, status="pending", attempts=0, next_attempt_at=now, created_at=now,
            ))
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    table = Notification.__table__
    if dialect == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - only the two databases are supported
        stmt = insert(table)
    # Count what RETURNING gives back: rowcount is unreliable for executemany.
    return len(session.execute(stmt.returning(table.c.id), rows).all())
