"""Delivery attempts of outbox notifications: one row per try and per Apprise service.

The notification row keeps the current status; these rows are the history that
`hazardloop outbox show` prints and that proves what was sent when.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow


class NotificationAttempt(SQLModel, table=True):
    __tablename__ = "notification_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    attempt: int  # the notification's attempt number (1-based)
    dispatcher: str = Field(max_length=64)
    # The Apprise service that was tried (NotifyResult.name) and its tag; "-" when nothing was tried.
    service: str = Field(default="-", max_length=64)
    tag: str = Field(default="", max_length=64)
    status: str = Field(max_length=16)  # SUCCESS / FAILURE / TIMEOUT / NOMATCH / ERROR / CRASHED
    error: str | None = None
    elapsed_ms: int = 0
    digest_key: str | None = Field(default=None, max_length=64)
    at: datetime = Field(default_factory=utcnow)
