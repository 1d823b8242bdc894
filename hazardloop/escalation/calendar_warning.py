"""Next year's holiday arrangement missing: tell the committee office, once a year, loudly.

From November on (config.calendar.missing_next_year), every sweep queues one notice per
committee-office user, keyed by the year, so it goes out once (the outbox's unique key),
and writes one audit event.  The CLI prints the same message; the web can show
`calendar.missing_next_year(today)` as a banner.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from hazardloop.config import calendar
from hazardloop.escalation.ladder import SYSTEM_ACTOR
from hazardloop.models import audit
from hazardloop.models.tables import AppUser
from hazardloop.notifications import outbox
from hazardloop.notifications.recipients import Recipient

EVENT = "calendar"


def warn_missing(session: Session, today: date) -> int:
    """Queue the reminder to fill next year's arrangement if it is missing; returns rows queued."""
    year = calendar.missing_next_year(today)
    if year is None:
        return 0
    people = [Recipient("committee", u.name, u.phone, u.email, u.username) for u in session.execute(
        select(AppUser).where(AppUser.active == True, AppUser.role == "committee")  # noqa: E712
        .order_by(AppUser.id)).scalars()] or [Recipient("committee", "市安委办")]
    queued = outbox.enqueue(session, event=EVENT, hazard_id=None, cycle=year, step=f"calendar:{year}",
                            recipients=people, subject=f"请录入 {year} 年节假日安排",
                            body=calendar.missing_message(year))
    if queued:
        audit.append(session, actor=SYSTEM_ACTOR, action="calendar_missing_warned",
                     after={"year": year, "today": today.isoformat(), "notices": queued})
    return queued
