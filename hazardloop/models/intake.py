"""Intake tables: public reports (举报), hazard sources, merges and Excel import batches.

The reporter's name and contact are stored only as Fernet tokens
(config.secrecy); no other column holds them.  A public report carries a version
column like the hazard, so two officers acting on one report cannot both win.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow

_report_version = Column("version", Integer, nullable=False, default=1)


class PublicReport(SQLModel, table=True):
    """群众举报: its own lifecycle (states.report_machine)."""

    __tablename__ = "public_report"
    __mapper_args__ = {"version_id_col": _report_version}

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=32, unique=True)  # JB-2026-000001
    state: str = Field(default="received", max_length=24, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    received_via: str = Field(default="platform", max_length=32)  # platform / phone / letter / visit
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    enterprise_name: str | None = Field(default=None, max_length=200)  # as the reporter named it
    content: str  # 举报内容
    location: str | None = Field(default=None, max_length=200)
    anonymous: bool = True
    reporter_name_enc: str | None = None  # Fernet token, never plain text
    reporter_contact_enc: str | None = None
    department_code: str | None = Field(default=None, max_length=32)  # who verifies
    accepted_by: str | None = Field(default=None, max_length=64)
    accepted_at: datetime | None = None
    decline_reason: str | None = None
    verify_deadline: datetime | None = None
    verify_extended: bool = False
    extension_reason: str | None = None
    verifier: str | None = Field(default=None, max_length=64)
    verdict: str | None = Field(default=None, max_length=16)  # true / partly / false
    verify_note: str | None = None
    verified_by: str | None = Field(default=None, max_length=64)
    verified_at: datetime | None = None
    hazard_id: int | None = Field(default=None, foreign_key="hazard.id", index=True)
    feedback_deadline: datetime | None = None
    feedback_text: str | None = None
    feedback_by: str | None = Field(default=None, max_length=64)
    feedback_at: datetime | None = None
    reward: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # rule, source, amount...
    reward_amount: int | None = None  # 元
    reward_decided_by: str | None = Field(default=None, max_length=64)
    reward_decided_at: datetime | None = None
    paid_by: str | None = Field(default=None, max_length=64)
    paid_at: datetime | None = None
    payment_ref: str | None = Field(default=None, max_length=100)
    cycle: int = 0  # deadline cycle (for reminders: each new deadline starts a new one)
    version: int = Field(default=1, sa_column=_report_version)
    # Added by migration 0012: the reporter's 查询码, shown once at submission, kept only as an argon2id hash.
    query_code_hash: str | None = Field(default=None, max_length=200)
    # Added by migration 0018: how the reporter asked to receive the feedback and the reward decision
    # (sms / email; None: not at all).  The address itself is only in reporter_contact_enc.
    feedback_channel: str | None = Field(default=None, max_length=16)


class HazardSource(SQLModel, table=True):
    """One more channel through which a hazard became known (besides hazard.channel).

    kind: report (a verified public report), merge (the primary source of a merged
    duplicate), import (a row of an imported sheet)."""

    __tablename__ = "hazard_source"

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    channel: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=16)
    ref: str = Field(max_length=64)  # JB-..., YH-..., sheet fingerprint
    merged_from: int | None = Field(default=None, index=True)  # hazard id the source came from
    merge_id: int | None = Field(default=None, index=True)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class HazardMerge(SQLModel, table=True):
    """A duplicate hazard folded into the kept one; undone_at set when undone."""

    __tablename__ = "hazard_merge"

    id: int | None = Field(default=None, primary_key=True)
    kept_id: int = Field(foreign_key="hazard.id", index=True)
    merged_id: int = Field(foreign_key="hazard.id", index=True)
    reason: str | None = None
    merged_by: str = Field(max_length=64)
    merged_at: datetime = Field(default_factory=utcnow)
    moved: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # source ids re-pointed
    undone_by: str | None = Field(default=None, max_length=64)
    undone_at: datetime | None = None


class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    imported_by: str = Field(max_length=64)
    imported_at: datetime = Field(default_factory=utcnow)
    rows_total: int = 0
    rows_created: int = 0
    rows_existing: int = 0
    rows_invalid: int = 0
    enterprises_created: int = 0


class ImportRow(SQLModel, table=True):
    """A sheet row that became (or matched) a hazard; the fingerprint makes re-import a no-op."""

    __tablename__ = "import_row"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_import_row_fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="import_batch.id", index=True)
    fingerprint: str = Field(max_length=64)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    sheet_row: int
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
