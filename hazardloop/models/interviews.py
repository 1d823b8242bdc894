"""The 约谈会 as a record (三函一会's 会): when, where, who came, what was decided, the
commitments and their dates, the minutes (migration 0011).

One row per meeting, tied to the ladder step that called it (the hazard ladder's 约谈会
step: escalation_step.id).  Commitments are a JSON list of {what, due, status, checked_at}
(status open / met / missed); the minutes are stored with their SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow
from hazardloop.models import escalation as _escalation  # noqa: F401  (escalation_step: the foreign key's table)


class InterviewRecord(SQLModel, table=True):
    __tablename__ = "interview_record"

    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="escalation_step.id", unique=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    cycle: int
    held_at: datetime  # UTC; the scheduled time when the meeting was not held
    place: str = Field(max_length=200)
    outcome: str = Field(max_length=16)  # held / not_held / postponed
    enterprise_attendees: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    regulator_attendees: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    commitments: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    minutes: str = ""
    minutes_name: str | None = Field(default=None, max_length=200)
    minutes_sha256: str | None = Field(default=None, max_length=64)
    summary: str = ""
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow)
    moved_on: bool = False  # the ladder was moved on because of this meeting (not held / commitment missed)
