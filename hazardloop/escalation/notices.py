"""集中曝光 / 集中挂牌 通告: one numbered, stored, delivered 公文 per month and kind (policy ¶17:
"集中挂牌、公布、曝光、处理一批重大事故隐患").

- exposure: the hazards whose 曝光 the committee office approved in the month;
- listing: the hazards confirmed and listed (挂牌督办) in the month.

The 通告 names enterprises, their addresses, the hazards, the basis and the deadline --
never a person (no principal, no reporter, no officer): it is meant for the public page.
Numbered in its own series (发文字 告), rendered once and stored with its SHA-256 in the
`document` table (period "exposure:YYYY-MM" / "listing:YYYY-MM", so once per month and
kind), sent to every member unit through the outbox, audited (notice_issued).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.settings import get_settings
from hazardloop.errors import NotFound, ValidationError
from hazardloop.escalation import addressees, documents, ladder
from hazardloop.models import audit
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import Enterprise, Hazard, Region, Standard
from hazardloop.notifications import outbox
from hazardloop.states import guards

DOC_TYPE = "告"
EVENT = "notice"
KINDS = {"exposure": "集中曝光", "listing": "集中挂牌督办"}


def period(kind: str, month: str) -> str:
    return f"{kind}:{month}"


def _items(session: Session, kind: str, month: str) -> list[dict[str, Any]]:
    first, last = calendar.month_bounds(month)
    lo, hi = clock.end_of_day_utc(first - timedelta(days=1)), clock.end_of_day_utc(last)
    if kind == "exposure":
        stmt = (select(Hazard).join(EscalationStep, EscalationStep.hazard_id == Hazard.id)
                .where(EscalationStep.kind == "exposure", EscalationStep.status == "approved",
                       EscalationStep.decided_at > lo, EscalationStep.decided_at <= hi))
    else:
        stmt = select(Hazard).where(Hazard.confirmed_at > lo, Hazard.confirmed_at <= hi,
                                    Hazard.state.not_in(("dismissed",)))
    hazards = session.execute(stmt.order_by(Hazard.id)).scalars().unique().all()
    regions = {r.code: r.name for r in session.execute(select(Region)).scalars()}
    stds = {s.code: s for s in session.execute(select(Standard)).scalars()}
    out = []
    for h in hazards:
        ent = session.get(Enterprise, h.enterprise_id)
        std = stds.get(h.basis_code or "")
        out.append({"code": h.code, "title": h.title, "enterprise": ent.name, "address": ent.address or "",
                    "region": regions.get(h.region_code, h.region_code),
                    "basis": f"《{std.title}》{h.basis_clause or ''}" if std else "",
                    "deadline": documents.cn_date(clock.local_date(h.deadline)) if h.deadline else "",
                    "state": h.state})
    return out


def title(kind: str, month: str) -> str:
    first, _ = calendar.month_bounds(month)
    what = "逾期未整改重大事故隐患予以集中曝光" if kind == "exposure" else "重大事故隐患实行集中挂牌督办"
    return f"关于对{first.year}年{first.month}月{what}的通告"


def issue(session: Session, actor: Any, month: str, kind: str, *, force: bool = False) -> tuple[Document, bool]:
    """Issue the month's 通告 of a kind (or return the stored one); (document, created)."""
    if kind not in KINDS:
        raise ValidationError(f"通告类别应为：{'、'.join(f'{k} {v}' for k, v in KINDS.items())}。")
    guards.decide_escalation_step(actor, f"签发{KINDS[kind]}通告")
    first, last = calendar.month_bounds(month)
    month = calendar.month_of(first)
    today = clock.today()
    if last >= today and not force:
        raise ValidationError(f"{month} 尚未结束（今天是 {today.isoformat()}），通告须在月份结束后签发；"
                              "确需提前签发请加 --force（将记入审计）。")
    existing = session.execute(select(Document).where(Document.period == period(kind, month))).scalars().first()
    if existing is not None:
        return existing, False
    if last >= today:
        ladder.audit_forced(session, actor.username, f"notice {kind}", month)
    items = _items(session, kind, month)
    if not items:
        raise ValidationError(f"{month} 没有{'经批准曝光' if kind == 'exposure' else '新挂牌督办'}的重大事故隐患，无需签发通告。")
    serial, number = ladder.number_one(session, DOC_TYPE, today)
    settings = get_settings()
    ctx = {"issuing_body": settings.issuing_body, "number": number, "title": title(kind, month), "kind": kind,
           "month_cn": f"{first.year}年{first.month}月", "items": items, "issue_date_cn": documents.cn_date(today),
           # no 联系人: the 通告 is published as it is, and names no person
           "addressee": "", "copy_to": addressees.MEMBER_UNITS, "contact_name": None, "contact_phone": None}
    html, text = documents.render("doc_notice", ctx)
    table = Document.__table__
    doc_id = session.execute(insert(table).returning(table.c.id), dict(
        number=number, doc_type=DOC_TYPE, year=today.year, serial=serial, title=ctx["title"], step_id=None,
        hazard_id=None, cycle=None, step=f"notice_{kind}", issue_date=today, html=html, text=text,
        sha256=documents.sha256(html), text_sha256=documents.sha256(text), issued_at=clock.utcnow(),
        period=period(kind, month))).scalar_one()
    queued = outbox.enqueue(session, event=EVENT, hazard_id=None, cycle=0, step=period(kind, month),
                            recipients=addressees.member_units(session), subject=f"【通告】{number} {ctx['title']}",
                            body=text, document_id=doc_id)
    audit.append(session, actor=actor.username, action="notice_issued",
                 after={"number": number, "kind": kind, "month": month, "hazards": [i["code"] for i in items],
                        "sha256": documents.sha256(html), "notices": queued})
    return session.get(Document, doc_id), True


def published(session: Session) -> list[Document]:
    """Every 通告 issued (the public page lists them, newest first)."""
    return list(session.execute(select(Document).where(Document.doc_type == DOC_TYPE,
                                                       Document.step.like("notice_%"))
                                .order_by(Document.id.desc())).scalars())


def get_published(session: Session, doc_id: int) -> Document:
    doc = session.get(Document, doc_id)
    if doc is None or doc.doc_type != DOC_TYPE or not doc.step.startswith("notice_"):
        raise NotFound("没有这份通告。")
    return doc


__all__ = ["issue", "published", "get_published", "KINDS", "title", "period"]
