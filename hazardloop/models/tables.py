"""SQLModel tables: reference data, organisations, hazards and their records, audit, outbox.

Every datetime is aware UTC (SQLModel's UTCDateTime; SQLite keeps it as UTC text).  The hazard row carries a
version column: SQLAlchemy adds `AND version = :old` to each UPDATE, so two
writers on one hazard cannot both win (optimistic locking).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, UniqueConstraint, Index
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow

# --- reference data -------------------------------------------------------


class Region(SQLModel, table=True):
    """镇街区: a town, street or development zone (属地)."""

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    kind: str = Field(max_length=16)


class Department(SQLModel, table=True):
    """行业监管部门; committee=True is 市安委办."""

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    committee: bool = False


class Industry(SQLModel, table=True):
    """行业领域 with its supervising department and its high-risk flag."""

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    department_code: str = Field(foreign_key="department.code", max_length=32)
    high_risk: bool = False


class Standard(SQLModel, table=True):
    """A national major-hazard standard (判定依据)."""

    code: str = Field(primary_key=True, max_length=32)
    title: str = Field(max_length=200)
    number: str = Field(max_length=64)
    year: int
    sectors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


# --- organisations and people ---------------------------------------------


class Enterprise(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    credit_code: str = Field(max_length=18, unique=True)  # 统一社会信用代码
    region_code: str = Field(foreign_key="region.code", max_length=32, index=True)
    industry_code: str = Field(foreign_key="industry.code", max_length=32, index=True)
    address: str | None = Field(default=None, max_length=200)
    principal: str = Field(max_length=64)  # 主要负责人
    principal_phone: str | None = Field(default=None, max_length=32)
    controller: str = Field(max_length=64)  # 实际控制人
    controller_phone: str | None = Field(default=None, max_length=32)
    safety_manager: str | None = Field(default=None, max_length=64)
    safety_manager_phone: str | None = Field(default=None, max_length=32)
    contacts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AppUser(SQLModel, table=True):
    """A person who acts in the system.  role is one of states.roles.Role."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=64)
    role: str = Field(max_length=32)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id")
    department_code: str | None = Field(default=None, foreign_key="department.code", max_length=32)
    region_code: str | None = Field(default=None, foreign_key="region.code", max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=128)
    active: bool = True


# --- the hazard and its records -------------------------------------------

_hazard_version = Column("version", Integer, nullable=False, default=1)


class Hazard(SQLModel, table=True):
    """One major accident hazard at one enterprise (重大事故隐患)."""

    __table_args__ = (
        Index("ix_hazard_state_deadline", "state", "deadline"),
        Index("ix_hazard_region_state_deadline", "region_code", "state", "deadline"),  # 0017
    )
    __mapper_args__ = {"version_id_col": _hazard_version}

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=32, unique=True)  # YH-2026-000123, set from the id
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    region_code: str = Field(max_length=32)  # copied from the enterprise at report time; see ix_hazard_region_state_deadline
    industry_code: str = Field(max_length=32, index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="")
    location: str | None = Field(default=None, max_length=200)
    channel: str = Field(max_length=32, index=True)
    state: str = Field(default="found", max_length=16)  # indexed by ix_hazard_state_deadline
    found_at: datetime = Field(default_factory=utcnow, index=True)  # the 台账's default order (0017)
    reported_by: str = Field(max_length=64)
    basis_code: str | None = Field(default=None, foreign_key="standard.code", max_length=32)
    basis_clause: str | None = Field(default=None, max_length=200)
    level: str | None = Field(default=None, max_length=16)  # city / taian / province
    supervising_department: str | None = Field(default=None, max_length=32)
    confirmed_by: str | None = Field(default=None, max_length=64)
    confirmed_at: datetime | None = None
    dismissed_reason: str | None = None
    deadline: datetime | None = None  # UTC: end of the Shanghai deadline day
    cycle: int = 0  # deadline cycle: +1 with every new deadline
    submitted_by: str | None = Field(default=None, max_length=64)
    submitted_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = None
    rejections: int = 0
    version: int = Field(default=1, sa_column=_hazard_version)


class RectificationPlan(SQLModel, table=True):
    """整改方案 — the five parts (五落实)."""

    __tablename__ = "rectification_plan"

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    responsible_person: str = Field(max_length=64)  # 责任
    measures: str  # 措施
    funds: str = Field(max_length=64)  # 资金 (元), kept as text to round-trip exactly
    deadline: datetime  # 时限
    emergency_plan: str  # 预案
    submitted_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Evidence(SQLModel, table=True):
    """A completion evidence file, stored under the data directory with its SHA-256."""

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    cycle: int
    filename: str = Field(max_length=255)
    stored_path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    size: int
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = Field(default_factory=utcnow)


class Extension(SQLModel, table=True):
    """延期 request: the enterprise asks, the regulator decides."""

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(default_factory=utcnow)
    reason: str
    new_deadline: datetime
    status: str = Field(default="pending", max_length=16)  # pending / approved / denied
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    decision_reason: str | None = None


# --- audit trail ----------------------------------------------------------


class AuditEvent(SQLModel, table=True):
    """One append-only, hash-chained event.  No code path updates or deletes it."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: datetime
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=48, index=True)
    hazard_id: int | None = Field(default=None)  # indexed by ix_audit_event_hazard_action_ts
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reason: str | None = None
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    # HMAC-SHA256(key outside the database, "seq:hash"); None on events older than migration 0010.
    mac: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's head: one row, locked by every append, so appends serialise and
    a deleted tail event is still noticed."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


# --- outbox ----------------------------------------------------------------


class Notification(SQLModel, table=True):
    """Transactional outbox row: written with the change that causes it.

    The key (event, hazard, cycle, step, recipient, channel) is unique in the
    database, so the same notice can never be queued twice."""

    __table_args__ = (
        UniqueConstraint("key", name="uq_notification_key"),
        Index("ix_notification_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300)
    event: str = Field(max_length=48)
    hazard_id: int | None = Field(default=None, index=True)
    cycle: int = 0
    step: str = Field(default="", max_length=48)
    recipient_role: str = Field(max_length=32)
    recipient_name: str = Field(max_length=64)
    channel: str = Field(default="default", max_length=64)
    subject: str = Field(max_length=200)
    body: str
    document_id: int | None = Field(default=None, index=True)  # a 公文's page lists its notices (0017)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # Added by migration 0003 (notifications): who the row goes to, the claim, the digest.
    # recipient_key: username, or role:name@enterprise for people without an account;
    # address: the contact the channel needs (e-mail, phone) — never a secret.
    recipient_key: str = Field(default="", max_length=160)
    address: str | None = Field(default=None, max_length=200)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = None
    digest_key: str | None = Field(default=None, max_length=64)  # set when sent inside a digest
