"""Tables of the action-plan loop (年度行动计划): plans and their filing, tasks, monthly
reports (月调度), the plan-work ladder of units (三函一会 for lagging plan work), its
documents, and the quarterly reviews (季度会商研判).

Exactly-once is the database's job, as on the other ladders:
- plan_task_report is UNIQUE(task_id, month): one progress report per task and month
  (a second report the same month replaces the first through the application, audited);
- plan_lag_evaluation is UNIQUE(unit_kind, unit_code, month): a month is evaluated once;
- plan_lag_step is UNIQUE(unit_kind, unit_code, cycle, step): a step is issued once per cycle;
- plan_document.step_id and quarterly_review.quarter are UNIQUE; 文号 come from the shared
  document_counter, so they never collide with the hazard and lagging-unit documents.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow

_plan_version = Column("version", Integer, nullable=False, default=1)
_task_version = Column("version", Integer, nullable=False, default=1)


class Plan(SQLModel, table=True):
    """One unit's annual action plan; a member unit's sub-plan (子方案) is filed with the
    committee office (state: draft → submitted → approved | returned)."""

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("unit_kind", "unit_code", "year", name="uq_plan_unit_year"),)
    __mapper_args__ = {"version_id_col": _plan_version}

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)  # city-2025, yingji-2025
    title: str = Field(max_length=200)
    year: int = Field(index=True)
    unit_kind: str = Field(max_length=16)  # department / region (the committee is the department anweiban)
    unit_code: str = Field(max_length=32)
    parent_id: int | None = Field(default=None, foreign_key="plan.id")  # a sub-plan's city plan
    summary: str = Field(default="")
    state: str = Field(default="draft", max_length=16)  # the filing: draft / submitted / approved / returned
    filing_due: date | None = None
    submitted_by: str | None = Field(default=None, max_length=64)
    submitted_at: datetime | None = None
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = None
    review_reason: str | None = None
    source: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    version: int = Field(default=1, sa_column=_plan_version)


class PlanTask(SQLModel, table=True):
    """One task of a plan: 清单化管理 with a deadline worked backwards (倒排工期)."""

    __tablename__ = "plan_task"
    __table_args__ = (UniqueConstraint("plan_id", "code", name="uq_plan_task_code"),)
    __mapper_args__ = {"version_id_col": _task_version}

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    code: str = Field(max_length=32)
    action_code: str = Field(default="", max_length=16)
    action_name: str = Field(default="", max_length=200)
    paragraph: str = Field(default="", max_length=32)  # the policy text's ¶
    content: str
    measure: str = Field(default="")
    target: str = Field(default="")
    start: date | None = None
    deadline: date = Field(index=True)
    milestones: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lead_kind: str = Field(max_length=16)
    lead_code: str = Field(max_length=32, index=True)
    co_units: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="")
    state: str = Field(default="not_started", max_length=16, index=True)
    percent: int = 0
    started_at: datetime | None = None
    reported_by: str | None = Field(default=None, max_length=64)
    reported_at: datetime | None = None
    verified_by: str | None = Field(default=None, max_length=64)
    verified_at: datetime | None = None
    return_reason: str | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(default="", max_length=32)  # reference / yaml / excel / review
    review_id: int | None = Field(default=None, foreign_key="quarterly_review.id")
    created_at: datetime = Field(default_factory=utcnow)
    version: int = Field(default=1, sa_column=_task_version)


class PlanTaskReport(SQLModel, table=True):
    """The lead unit's monthly progress report on one task (月调度)."""

    __tablename__ = "plan_task_report"
    __table_args__ = (UniqueConstraint("task_id", "month", name="uq_plan_task_report"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="plan_task.id", index=True)
    month: str = Field(max_length=7, index=True)
    unit_kind: str = Field(max_length=16)
    unit_code: str = Field(max_length=32)
    percent: int
    done: str
    problems: str = Field(default="")
    next_steps: str = Field(default="")
    reported_by: str = Field(max_length=64)
    reported_at: datetime = Field(default_factory=utcnow)


class PlanLagEvaluation(SQLModel, table=True):
    """One unit's plan work at one month's end: overdue tasks, missing reports, filing."""

    __tablename__ = "plan_lag_evaluation"
    __table_args__ = (UniqueConstraint("unit_kind", "unit_code", "month", name="uq_plan_lag_evaluation"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_kind: str = Field(max_length=16)
    unit_code: str = Field(max_length=32)
    month: str = Field(max_length=7, index=True)
    problems: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # [] when nothing lags
    streak: int = 0
    cycle: int = 0
    policy_version: str = Field(max_length=64)
    evaluated_at: datetime = Field(default_factory=utcnow)


class PlanLagStep(SQLModel, table=True):
    """A ladder step of a unit for its plan work: issued, or proposed / approved / declined."""

    __tablename__ = "plan_lag_step"
    __table_args__ = (UniqueConstraint("unit_kind", "unit_code", "cycle", "step", name="uq_plan_lag_step"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_kind: str = Field(max_length=16)
    unit_code: str = Field(max_length=32)
    cycle: int
    step: str = Field(max_length=16)
    name: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    month: str = Field(max_length=7, index=True)
    evaluation_id: int = Field(foreign_key="plan_lag_evaluation.id")
    status: str = Field(default="issued", max_length=16, index=True)
    policy_version: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    decision_reason: str | None = None


class PlanDocument(SQLModel, table=True):
    """A plan-work 公文 as issued: rendered once, stored with its SHA-256."""

    __tablename__ = "plan_document"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True)
    doc_type: str = Field(max_length=8)
    year: int
    serial: int
    title: str = Field(max_length=200)
    step_id: int = Field(foreign_key="plan_lag_step.id", unique=True)
    unit_kind: str = Field(max_length=16)
    unit_code: str = Field(max_length=32)
    issue_date: date
    html: str
    text: str
    sha256: str = Field(max_length=64)
    text_sha256: str = Field(max_length=64)
    issued_at: datetime = Field(default_factory=utcnow)


class QuarterlyReview(SQLModel, table=True):
    """季度会商研判: the numbered report (figures frozen at issue) and the meeting's record."""

    __tablename__ = "quarterly_review"

    id: int | None = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=7, unique=True)  # 2025-Q2
    number: str = Field(max_length=64, unique=True)
    figures: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    html: str
    text: str
    sha256: str = Field(max_length=64)
    text_sha256: str = Field(max_length=64)
    issue_date: date
    issued_by: str = Field(max_length=64)
    issued_at: datetime = Field(default_factory=utcnow)
    conclusions: str = Field(default="")
    measures: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    concluded_by: str | None = Field(default=None, max_length=64)
    concluded_at: datetime | None = None
