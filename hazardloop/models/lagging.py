"""Tables of the lagging-unit ladder (落后单位督办): monthly evaluations of regions and
departments, the steps issued to a unit, and the unit's documents.

Exactly-once is the database's job:
- lag_evaluation is UNIQUE(unit_kind, unit_code, month): a month is evaluated once and
  the stored row is what later months count from (never recomputed);
- lag_step is UNIQUE(unit_kind, unit_code, cycle, step): a step is issued once per cycle;
- lag_document.step_id is UNIQUE; its 文号 comes from the shared document_counter (one
  series per 发文字 and year with the hazard documents), so numbers never collide.

The unit documents live here, not in `document`: that table's hazard_id and step_id are
NOT NULL and point at hazards; the hazard path stays unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow


class LagEvaluation(SQLModel, table=True):
    """One unit's figures at one month's end, the thresholds it missed and its streak."""

    __tablename__ = "lag_evaluation"
    __table_args__ = (UniqueConstraint("unit_kind", "unit_code", "month", name="uq_lag_evaluation"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_kind: str = Field(max_length=16)  # region / department
    unit_code: str = Field(max_length=32)
    month: str = Field(max_length=7, index=True)  # YYYY-MM
    figures: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    missed: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # [] when every threshold met
    streak: int = 0  # consecutive missed months ending with this one
    cycle: int = 0  # the unit's ladder cycle (a new one with each new streak)
    policy_version: str = Field(max_length=64)
    evaluated_at: datetime = Field(default_factory=utcnow)


class LagStep(SQLModel, table=True):
    """A ladder step of a unit in a cycle: issued, or (曝光) proposed / approved / declined."""

    __tablename__ = "lag_step"
    __table_args__ = (UniqueConstraint("unit_kind", "unit_code", "cycle", "step", name="uq_lag_step"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_kind: str = Field(max_length=16)
    unit_code: str = Field(max_length=32)
    cycle: int
    step: str = Field(max_length=16)
    name: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    month: str = Field(max_length=7, index=True)  # the evaluated month that made it due
    evaluation_id: int = Field(foreign_key="lag_evaluation.id")
    status: str = Field(default="issued", max_length=16, index=True)  # issued / proposed / approved / declined
    policy_version: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    decision_reason: str | None = None


class LagDocument(SQLModel, table=True):
    """A unit document as issued: rendered once, stored with its SHA-256, never re-rendered."""

    __tablename__ = "lag_document"
    __table_args__ = (UniqueConstraint("doc_type", "year", "serial", name="uq_lag_document_serial"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True)  # 文号
    doc_type: str = Field(max_length=8)
    year: int
    serial: int
    title: str = Field(max_length=200)
    step_id: int = Field(foreign_key="lag_step.id", unique=True)
    unit_kind: str = Field(max_length=16)
    unit_code: str = Field(max_length=32)
    issue_date: date
    html: str
    text: str
    sha256: str = Field(max_length=64)
    text_sha256: str = Field(max_length=64)
    issued_at: datetime = Field(default_factory=utcnow)
