"""Principal-led inspections (主要负责人带队检查): one row per inspection an enterprise records."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow
from hazardloop.models.tables import AuditEvent


class PrincipalInspection(SQLModel, table=True):
    """An inspection led by the enterprise's principal (quarterly; monthly in high-risk industries).

    recorded_at is when it entered the ledger: figures "as of" a past date count
    only what had been recorded by then, so they can be reproduced later."""

    __tablename__ = "principal_inspection"
    __table_args__ = (Index("ix_principal_inspection_ent_date", "enterprise_id", "inspected_on"),)

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id")
    inspected_on: date
    led_by: str = Field(max_length=64)
    findings: str = Field(default="")
    hazards_found: int = 0
    hazard_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow)
    # The record as uploaded (migration 0016): stored privately by its SHA-256, like hazard evidence.
    record_name: str | None = Field(default=None, max_length=200)
    record_path: str | None = Field(default=None, max_length=500)
    record_sha256: str | None = Field(default=None, max_length=64)
    record_size: int | None = None


# The statistics read the audit trail hazard by hazard as of a date: this index
# covers (hazard_id, action, ts), so SQLite aggregates per hazard from the index
# alone, in order, without reading the JSON before/after of each event.
Index("ix_audit_event_hazard_action_ts", AuditEvent.__table__.c.hazard_id, AuditEvent.__table__.c.action,
      AuditEvent.__table__.c.ts)
