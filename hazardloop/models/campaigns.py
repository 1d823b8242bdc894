"""Tables of the special campaigns (五项整治): inventories, 底数, checks, photos, problems
(问题隐患) and the problems' ladder steps.

- campaign_object: one inventoried object (a confined space, a welding unit, a site …);
  its `code` (赋码, e.g. YXKJ-2026-000012) is set from the id once and never changes; the
  campaign's own fields are kept as JSON (the office edits the field list in config);
  UNIQUE(campaign, fingerprint) makes a re-imported row an update, never a second object.
- campaign_baseline: the expected count (底数) per campaign and 镇街区.
- campaign_check: one inspection of an object against the checklist; `results` maps the
  item number to met / not_met / na.
- campaign_photo: photos of a check (per item) and the evidence of a rectification, stored
  under the data directory by SHA-256 like hazard evidence.
- campaign_problem: each "not met" item of a check; its own machine (states.problem_machine);
  version column for optimistic locking; hazard_id links a problem raised to a major hazard
  (UNIQUE: one problem, one hazard).
- problem_step: a ladder step fired once per (problem, cycle, step); a letter step carries its
  公文 (文号, HTML and text with their SHA-256) in the same row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow

_object_version = Column("version", Integer, nullable=False, default=1)
_problem_version = Column("version", Integer, nullable=False, default=1)


class CampaignObject(SQLModel, table=True):
    __tablename__ = "campaign_object"
    __table_args__ = (UniqueConstraint("campaign", "fingerprint", name="uq_campaign_object_key"),
                      Index("ix_campaign_object_campaign_region", "campaign", "region_code"))
    __mapper_args__ = {"version_id_col": _object_version}

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=32, unique=True)  # 赋码
    campaign: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    title: str = Field(max_length=200)
    region_code: str = Field(max_length=32)
    industry_code: str | None = Field(default=None, max_length=32)
    department_code: str | None = Field(default=None, max_length=32)  # the industry's supervising department
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fingerprint: str = Field(max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = Field(default=1, sa_column=_object_version)


class CampaignBaseline(SQLModel, table=True):
    __tablename__ = "campaign_baseline"
    __table_args__ = (UniqueConstraint("campaign", "region_code", name="uq_campaign_baseline"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(max_length=32)
    region_code: str = Field(max_length=32)
    expected: int
    set_by: str = Field(max_length=64)
    set_at: datetime = Field(default_factory=utcnow)


class CampaignCheck(SQLModel, table=True):
    __tablename__ = "campaign_check"

    id: int | None = Field(default=None, primary_key=True)
    object_id: int = Field(foreign_key="campaign_object.id", index=True)
    campaign: str = Field(max_length=32, index=True)
    region_code: str = Field(max_length=32)
    checked_by: str = Field(max_length=64)
    checked_at: datetime = Field(default_factory=utcnow)
    results: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # "item no" -> met/not_met/na
    notes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    met: int = 0
    not_met: int = 0
    na: int = 0


class CampaignPhoto(SQLModel, table=True):
    __tablename__ = "campaign_photo"

    id: int | None = Field(default=None, primary_key=True)
    check_id: int | None = Field(default=None, foreign_key="campaign_check.id", index=True)
    problem_id: int | None = Field(default=None, foreign_key="campaign_problem.id", index=True)
    item_no: int | None = None
    cycle: int = 0  # the problem's cycle an evidence photo belongs to
    purpose: str = Field(max_length=16)  # check / evidence
    filename: str = Field(max_length=255)
    stored_path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    size: int
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = Field(default_factory=utcnow)


class CampaignProblem(SQLModel, table=True):
    __tablename__ = "campaign_problem"
    __table_args__ = (Index("ix_campaign_problem_state_deadline", "state", "deadline"),)
    __mapper_args__ = {"version_id_col": _problem_version}

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=32, unique=True)  # WT-2026-000001
    campaign: str = Field(max_length=32, index=True)
    object_id: int = Field(foreign_key="campaign_object.id", index=True)
    check_id: int = Field(foreign_key="campaign_check.id", index=True)
    item_no: int
    item_text: str
    description: str = Field(default="")
    region_code: str = Field(max_length=32, index=True)
    industry_code: str | None = Field(default=None, max_length=32)
    department_code: str | None = Field(default=None, max_length=32)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id")
    state: str = Field(default="found", max_length=16)
    found_by: str = Field(max_length=64)
    found_at: datetime = Field(default_factory=utcnow)
    responsible: str | None = Field(default=None, max_length=64)
    deadline: datetime | None = None  # UTC: end of the Shanghai deadline day
    cycle: int = 0
    assigned_by: str | None = Field(default=None, max_length=64)
    rectified_by: str | None = Field(default=None, max_length=64)
    rectified_at: datetime | None = None
    rectification: str | None = None
    closed_by: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = None
    rejections: int = 0
    hazard_id: int | None = Field(default=None, foreign_key="hazard.id", unique=True)
    raised_by: str | None = Field(default=None, max_length=64)
    raised_at: datetime | None = None
    version: int = Field(default=1, sa_column=_problem_version)


class ProblemStep(SQLModel, table=True):
    __tablename__ = "problem_step"
    __table_args__ = (UniqueConstraint("problem_id", "cycle", "step", name="uq_problem_step"),)

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="campaign_problem.id", index=True)
    cycle: int
    step: str = Field(max_length=32)
    name: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    due_date: date
    created_at: datetime = Field(default_factory=utcnow)
    number: str | None = Field(default=None, max_length=64, unique=True)  # 文号 of a letter step
    title: str | None = Field(default=None, max_length=200)
    html: str | None = None
    text: str | None = None
    sha256: str | None = Field(default=None, max_length=64)
    text_sha256: str | None = Field(default=None, max_length=64)
