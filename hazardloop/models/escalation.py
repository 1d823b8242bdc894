"""Tables of the escalation ladder: policies, deadline cycles, issued steps, documents.

Exactly-once is the database's job, not Python's:
- escalation_step is UNIQUE(hazard_id, cycle, step): two sweeps cannot both issue a step;
- document numbers (文号) come from document_counter, one row per (doc_type, year),
  row-locked and incremented in the same transaction as the step and the document,
  so they are gapless and never reused, even with concurrent sweeps;
- document.number is UNIQUE as a last line of defence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow


class EscalationPolicy(SQLModel, table=True):
    """A policy body as it was in force, kept by version (SHA-256) so cycles can point at it."""

    __tablename__ = "escalation_policy"

    version: str = Field(primary_key=True, max_length=64)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(default="", max_length=500)
    first_used_at: datetime = Field(default_factory=utcnow)


class EscalationCycle(SQLModel, table=True):
    """One deadline cycle of one hazard, with the policy it runs under and where it stands."""

    __tablename__ = "escalation_cycle"
    __table_args__ = (
        UniqueConstraint("hazard_id", "cycle", name="uq_escalation_cycle"),
        Index("ix_escalation_cycle_due", "status", "next_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id")
    cycle: int
    deadline: datetime  # UTC, copied from the hazard when the cycle started
    policy_version: str = Field(foreign_key="escalation_policy.version", max_length=64)
    next_index: int = 0  # the first ladder step not yet handled
    next_due: date | None = None  # Shanghai date that step comes due; None once the ladder is done
    status: str = Field(default="active", max_length=16)  # active / done
    started_at: datetime = Field(default_factory=utcnow)


class EscalationStep(SQLModel, table=True):
    """A ladder step (or a stage timeout, step 'timeout_<state>') issued for a hazard in a cycle."""

    __tablename__ = "escalation_step"
    __table_args__ = (UniqueConstraint("hazard_id", "cycle", "step", name="uq_escalation_step"),)

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    cycle: int
    step: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    due_date: date
    status: str = Field(default="issued", max_length=16, index=True)  # issued / proposed / approved / declined
    policy_version: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    decision_reason: str | None = None


class Document(SQLModel, table=True):
    """An official document (公文) as issued: rendered once, stored, hashed; never re-rendered.

    Escalation documents belong to one hazard's step (step_id, hazard_id, cycle set).
    The monthly bulletin (月通报) belongs to no hazard: those columns are NULL and
    `period` ("2026-10", unique) says which month it reports (migration 0007)."""

    __table_args__ = (UniqueConstraint("doc_type", "year", "serial", name="uq_document_serial"),
                      Index("ix_document_issue_date_id_number", "issue_date", "id", "number"))  # 0017: newest first

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True)  # 文号, e.g. 肥安办函〔2026〕12号
    doc_type: str = Field(max_length=8)
    year: int
    serial: int
    title: str = Field(max_length=200)
    step_id: int | None = Field(default=None, foreign_key="escalation_step.id", unique=True)
    hazard_id: int | None = Field(default=None, foreign_key="hazard.id", index=True)
    cycle: int | None = None
    step: str = Field(max_length=32)
    issue_date: date
    html: str
    text: str
    sha256: str = Field(max_length=64)  # of the UTF-8 HTML (the document of record)
    text_sha256: str = Field(max_length=64)  # of the UTF-8 plain text (what messages carry)
    issued_at: datetime = Field(default_factory=utcnow)
    period: str | None = Field(default=None, max_length=16, unique=True)  # the bulletin's month (0007)


class DocumentCounter(SQLModel, table=True):
    """The last serial used per document type and year (row-locked while numbering)."""

    __tablename__ = "document_counter"

    doc_type: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0
