"""Issuing the monthly bulletin (月通报) as a 公文: numbered, stored once, delivered to every member unit.

`issue(session, month)` in one transaction (the caller's):
- locks the 文号 counter row of (通报, year), then looks for the month's stored
  bulletin: issuing a month again returns the stored document, never a second
  number (`document.period` is also UNIQUE, the database's last word);
- allocates the 文号 (肥安办通报〔2026〕N号: settings doc_prefix + BULLETIN_DOC_TYPE),
  renders HTML and text once from the figures as of the month's end, stores both
  with their SHA-256 in `document` (period = the month, no hazard);
- writes the HTML under $HAZARDLOOP_HOME/documents/<sha256>.html (content-addressed,
  so a link names exactly the stored bytes; the database stays the record);
- queues one notice per member unit (every township/street/zone and every industry
  department of the 安委会) in the outbox, carrying the 文号, the text and the link;
- appends the audit event `bulletin_issued` (number, hashes, units).
If anything fails, all of it rolls back, the number included (the counter is gapless).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.settings import get_settings
from hazardloop.models import audit
from hazardloop.errors import NotFound, ValidationError
from hazardloop.models.escalation import Document
from hazardloop.escalation import documents, ladder
from hazardloop.escalation.addressees import member_units
from hazardloop.notifications.outbox import insert_rows, notice_rows
from hazardloop.reports import bulletin, lagging

BULLETIN_DOC_TYPE = "通报"  # 肥安办通报〔2026〕3号; the per-hazard 通报 step numbers as 通 (its own counter)
STEP = "monthly_bulletin"
EVENT = "bulletin"
SYSTEM_ACTOR = "system"


def _month(month: str) -> tuple[str, date, date]:
    first, last = calendar.month_bounds(month.strip())
    return f"{first.year}-{first.month:02d}", first, last


def title(month: str) -> str:
    first, _ = calendar.month_bounds(month)
    return f"关于{first.year}年{first.month}月全市重大事故隐患排查整治情况的通报"


def stored(session: Session, month: str) -> Document | None:
    key, _, _ = _month(month)
    return session.execute(select(Document).where(Document.period == key)).scalars().first()


def get_stored(session: Session, month: str) -> Document:
    doc = stored(session, month)
    if doc is None:
        raise NotFound(f"{month} 的月通报尚未签发（hazardloop bulletin --month {month} 签发）。")
    return doc


def verified_html(doc: Document) -> bytes:
    """The stored HTML bytes, refused if they no longer match the hash recorded at issue."""
    return documents.stored_body(doc).encode("utf-8")


def documents_dir() -> Path:
    return get_settings().data_dir / "documents"


def publish(doc: Document) -> Path:
    """The stored HTML as $HAZARDLOOP_HOME/documents/<sha256>.html (idempotent)."""
    path = documents_dir() / f"{doc.sha256}.html"
    if not path.is_file() or documents.sha256(path.read_text(encoding="utf-8")) != doc.sha256:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(verified_html(doc))
        tmp.replace(path)
    return path


def link(sha256: str) -> str:
    """Where member units read the stored HTML: HAZARDLOOP_DOCUMENT_BASE_URL/<sha256>.html when the
    documents directory is served somewhere, else the file's URI on this machine."""
    base = os.environ.get("HAZARDLOOP_DOCUMENT_BASE_URL", "").strip()
    if base:
        return f"{base.rstrip('/')}/{sha256}.html"
    return (documents_dir() / f"{sha256}.html").as_uri()


@dataclass
class Issued:
    document: Document
    created: bool  # False: the month was already issued, this is the stored one
    queued: int = 0
    units: int = 0
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        d = self.document
        return {"number": d.number, "month": d.period, "title": d.title, "issue_date": d.issue_date.isoformat(),
                "sha256": d.sha256, "text_sha256": d.text_sha256, "created": self.created, "units": self.units,
                "queued": self.queued, "link": link(d.sha256)}


def issue(session: Session, month: str, *, actor: str = SYSTEM_ACTOR, issue_date: date | None = None,
          force: bool = False) -> Issued:
    """Issue the month's bulletin, or return the one already stored (see the module doc).
    A month not over is refused unless `force` (issue 14: then audited)."""
    key, _, last = _month(month)
    day = issue_date or clock.today()
    if force and day <= last and stored(session, key) is None:
        ladder.audit_forced(session, actor, "bulletin", key)
    elif day <= last:
        raise ValidationError(f"{key} 尚未结束（截至 {last.isoformat()}），月通报须在次月签发；"
                              "只看内容请用 --preview。")
    # Serialise issuers of the same year on the counter row before looking: the second of two
    # concurrent issues then sees the first's row instead of taking a number and failing.
    documents.allocate(session, BULLETIN_DOC_TYPE, day.year, 0)
    existing = stored(session, key)
    if existing is not None:
        return Issued(existing, created=False)
    # The month's unit ladder first (idempotent), so the bulletin names its letters, bulletins
    # and interviews, and a later re-rendering finds the same ones.
    if key >= lagging.load_policy().start:
        lagging.run(session, key, as_of=day, force=force)
    serial = documents.allocate(session, BULLETIN_DOC_TYPE, day.year, 1)
    number = documents.format_number(get_settings().doc_prefix, BULLETIN_DOC_TYPE, day.year, serial)
    html, text = bulletin.render_both(session, key, number)
    row = dict(number=number, doc_type=BULLETIN_DOC_TYPE, year=day.year, serial=serial, title=title(key),
               step_id=None, hazard_id=None, cycle=None, step=STEP, issue_date=day, html=html, text=text,
               sha256=documents.sha256(html), text_sha256=documents.sha256(text), issued_at=clock.utcnow(),
               period=key)
    table = Document.__table__
    doc_id = session.execute(insert(table).returning(table.c.id), row).scalar_one()
    doc = session.get(Document, doc_id)
    assert doc is not None
    path = publish(doc)
    units = member_units(session)
    body = f"{text}\n通报全文（HTML，SHA-256 {doc.sha256}）：{link(doc.sha256)}\n"
    queued = insert_rows(session, notice_rows(
        event=EVENT, hazard_id=None, cycle=0, step=key, recipients=units,
        subject=f"【月通报】{number} {doc.title}", body=body, document_id=doc_id))
    audit.append(session, actor=actor, action="bulletin_issued", after={
        "number": number, "period": key, "document_id": doc_id, "sha256": doc.sha256,
        "text_sha256": doc.text_sha256, "units": len(units), "notices": queued})
    return Issued(doc, created=True, queued=queued, units=len(units), path=path)


# --- the schedule: the first working day of each month ------------------------------------


def due_month(today: date) -> str | None:
    """The month whose bulletin is due today: the previous one on the month's first working day, else None.

    Cron fires daily; only this decides (it knows 调休: 2026-10-01..07 are National Day, 10-09 is worked)."""
    return calendar.previous_month(calendar.month_of(today)) if calendar.is_first_workday_of_month(today) else None


def scheduled(session: Session, today: date | None = None) -> Issued | None:
    """What the monthly flow does: on the first working day, issue the previous month (idempotent)."""
    day = today or clock.today()
    month = due_month(day)
    if month is None:
        return None
    return issue(session, month, issue_date=day)
