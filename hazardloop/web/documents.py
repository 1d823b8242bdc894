"""公文 on the console: every document issued -- the hazard ladder's letters, notices and
exposures, the lagging units' letters, the monthly bulletins -- searchable by 文号, kind,
文种, unit and date; each with its stored text exactly as issued (escalation.documents.
stored_body: refused if it no longer matches its SHA-256), printable, and who it went to
with the delivery status of each notice (the outbox rows that carry its id).

Two tables hold them (documents for hazards and bulletins, lag_document for units), one
文号 sequence per 文种 and year; a page names one by kind and id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, select

from hazardloop.errors import HazardLoopError, NotFound
from hazardloop.escalation import documents, units
from hazardloop.models.escalation import Document
from hazardloop.models.lagging import LagDocument
from hazardloop.models.tables import AppUser, Enterprise, Hazard, Notification
from hazardloop.notifications.admin import STATUSES
from hazardloop.web import office, services

KINDS = {"hazard": "隐患督办公文", "lagging": "落后单位督办公文", "bulletin": "月通报"}
LIMIT = 200


@dataclass
class DocQuery:
    number: str | None = None
    kind: str | None = None
    doc_type: str | None = None
    unit: str | None = None
    since: date | None = None
    until: date | None = None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None


def query_of(number: str | None, kind: str | None, doc_type: str | None, unit: str | None, since: str | None,
             until: str | None) -> DocQuery:
    def clean(v: str | None, n: int) -> str | None:
        v = (v or "").replace("\x00", "").strip()[:n]
        return v or None

    return DocQuery(clean(number, 64), kind if kind in KINDS else None, clean(doc_type, 4), clean(unit, 40),
                    _date(since), _date(until))


def _kind_of(doc: Document) -> str:
    return "bulletin" if doc.period else "hazard"


def search(session: Session, q: DocQuery) -> list[dict[str, Any]]:
    """The documents matching every given filter, newest first (at most LIMIT)."""
    out: list[dict[str, Any]] = []
    if q.kind in (None, "hazard", "bulletin"):
        stmt = (select(Document.id, Document.number, Document.doc_type, Document.title, Document.issue_date,
                       Document.period, Document.step, Document.hazard_id, Hazard.code, Enterprise.name)
                .outerjoin(Hazard, Hazard.id == Document.hazard_id)
                .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id))
        if q.kind == "bulletin":
            stmt = stmt.where(Document.period.is_not(None))
        elif q.kind == "hazard":
            stmt = stmt.where(Document.period.is_(None))
        for col, val in ((Document.number, q.number),):
            if val:
                stmt = stmt.where(col.contains(val, autoescape=True))
        if q.doc_type:
            stmt = stmt.where(Document.doc_type == q.doc_type)
        if q.unit:
            stmt = stmt.where(Document.title.contains(q.unit, autoescape=True)
                              | Enterprise.name.contains(q.unit, autoescape=True))
        if q.since:
            stmt = stmt.where(Document.issue_date >= q.since)
        if q.until:
            stmt = stmt.where(Document.issue_date <= q.until)
        for r in session.exec(stmt.order_by(Document.issue_date.desc(), Document.id.desc()).limit(LIMIT)).all():
            kind = "bulletin" if r.period else "hazard"
            out.append({"kind": kind, "kind_name": KINDS[kind], "id": r.id, "number": r.number, "doc_type": r.doc_type,
                        "title": r.title, "issue_date": r.issue_date, "hazard_id": r.hazard_id,
                        "hazard_code": r.code, "unit": r.name or ""})
    if q.kind in (None, "lagging"):
        stmt = select(LagDocument.id, LagDocument.number, LagDocument.doc_type, LagDocument.title,
                      LagDocument.issue_date, LagDocument.unit_kind, LagDocument.unit_code)
        if q.number:
            stmt = stmt.where(LagDocument.number.contains(q.number, autoescape=True))
        if q.doc_type:
            stmt = stmt.where(LagDocument.doc_type == q.doc_type)
        if q.unit:
            stmt = stmt.where(LagDocument.title.contains(q.unit, autoescape=True)
                              | (LagDocument.unit_code == q.unit))
        if q.since:
            stmt = stmt.where(LagDocument.issue_date >= q.since)
        if q.until:
            stmt = stmt.where(LagDocument.issue_date <= q.until)
        for r in session.exec(stmt.order_by(LagDocument.issue_date.desc(), LagDocument.id.desc()).limit(LIMIT)).all():
            out.append({"kind": "lagging", "kind_name": KINDS["lagging"], "id": r.id, "number": r.number,
                        "doc_type": r.doc_type, "title": r.title, "issue_date": r.issue_date, "hazard_id": None,
                        "hazard_code": None, "unit": f"{r.unit_kind}:{r.unit_code}"})
    out.sort(key=lambda d: (d["issue_date"], d["id"]), reverse=True)
    return out[:LIMIT]


def get(session: Session, kind: str, doc_id: int) -> Document | LagDocument:
    row: Any = None
    if kind in ("hazard", "bulletin"):
        row = session.get(Document, doc_id)
        if row is not None and _kind_of(row) != kind:
            row = None
    elif kind == "lagging":
        row = session.get(LagDocument, doc_id)
    if row is None:
        raise NotFound("没有这份公文。")
    return row


def deliveries(session: Session, kind: str, doc: Any) -> list[Notification]:
    """The outbox rows that carried this document (document_id is the row id in its own table:
    lagging-unit notices are told apart by their event)."""
    stmt = select(Notification).where(Notification.document_id == doc.id)
    stmt = stmt.where(Notification.event == units.EVENT) if kind == "lagging" else stmt.where(
        Notification.event != units.EVENT)
    return list(session.exec(stmt.order_by(Notification.id)).all())


def summary(doc: Any, kind: str) -> dict[str, Any]:
    return {"kind": kind, "kind_name": KINDS[kind], "id": doc.id, "number": doc.number, "doc_type": doc.doc_type,
            "title": doc.title, "issue_date": doc.issue_date.isoformat(), "sha256": doc.sha256,
            "text_sha256": doc.text_sha256, "hazard_id": getattr(doc, "hazard_id", None),
            "period": getattr(doc, "period", None), "unit_kind": getattr(doc, "unit_kind", None),
            "unit_code": getattr(doc, "unit_code", None)}


def delivery_dict(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "recipient_name": n.recipient_name, "recipient_role": n.recipient_role, "channel": n.channel,
            "status": n.status, "status_name": STATUSES.get(n.status, n.status), "attempts": n.attempts,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None, "last_error": n.last_error}


def _doc_id(ref: str) -> int:
    number = services.small_int(ref)
    if number is None:
        raise NotFound("没有这份公文。")
    return number


# --- pages -----------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


@router.get("/documents")
def document_list(request: Request, number: str | None = None, kind: str | None = None, doc_type: str | None = None,
                  unit: str | None = None, since: str | None = None, until: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    q = query_of(number, kind, doc_type, unit, since, until)
    with office.db(request) as s:
        rows = search(s, q)
    return office.render(request, "office/documents.html", {"user": user, "csrf": csrf, "rows": rows, "q": q,
                                                             "KINDS": KINDS, "limit": LIMIT})


@router.get("/documents/{kind}/{ref}")
def document_page(request: Request, kind: str, ref: str) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    with office.db(request) as s:
        doc = get(s, kind[:10], _doc_id(ref))
        try:
            documents.stored_body(doc, html=True)
            intact = None
        except HazardLoopError as exc:
            intact = str(exc)
        sent = deliveries(s, kind, doc)
        hazard = s.get(Hazard, doc.hazard_id) if getattr(doc, "hazard_id", None) else None
    return office.render(request, "office/document.html", {
        "user": user, "csrf": csrf, "doc": doc, "kind": kind, "kind_name": KINDS[kind], "broken": intact,
        "sent": sent, "hazard": hazard, "STATUSES": STATUSES,
        "failed": sum(1 for n in sent if n.status in ("dead", "undeliverable", "retry"))})


@router.get("/documents/{kind}/{ref}/original")
def document_original(request: Request, kind: str, ref: str, text: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    with office.db(request) as s:
        doc = get(s, kind[:10], _doc_id(ref))
        body = documents.stored_body(doc, html=text != "1")  # a tampered one is refused (422), not shown
    if text == "1":
        return Response(body, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "private, no-store"})
    return office.stored_document_response(body)


# --- API ----------------------------------------------------------------------------------------

api = APIRouter(prefix="/api/v1", tags=["office"])


@api.get("/documents", summary="公文检索（市安委办）：按文号、类别、文种、单位、日期")
def documents_api(request: Request, number: str | None = Query(None, max_length=64),
                  kind: str | None = Query(None, description="hazard · lagging · bulletin"),
                  doc_type: str | None = Query(None, max_length=4, description="文种（发文字），如 函"),
                  unit: str | None = Query(None, max_length=40), since: date | None = None, until: date | None = None,
                  user: AppUser = Depends(office.api_office)) -> list[dict[str, Any]]:  # noqa: B008
    q = query_of(number, kind, doc_type, unit, since.isoformat() if since else None,
                 until.isoformat() if until else None)
    with office.db(request) as s:
        return [{**r, "issue_date": r["issue_date"].isoformat()} for r in search(s, q)]


@api.get("/documents/{kind}/{doc_id}", summary="一份公文（市安委办）：存储的原文、SHA-256、接收人与送达情况")
def document_api(request: Request, kind: str, doc_id: int, user: AppUser = Depends(office.api_office)  # noqa: B008
                 ) -> dict[str, Any]:
    if kind not in KINDS or not 0 < doc_id < 2**31:
        raise HTTPException(404, "没有这份公文。")
    with office.db(request) as s:
        doc = get(s, kind, doc_id)
        return {**summary(doc, kind), "html": documents.stored_body(doc, True),
                "text": documents.stored_body(doc, False),
                "deliveries": [delivery_dict(n) for n in deliveries(s, kind, doc)]}


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)
