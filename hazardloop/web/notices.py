"""The public page of the 集中曝光 / 集中挂牌督办 通告 (issue 14): no sign-in, no personal data.

/notices lists every 通告 issued; /notices/{id} serves the stored HTML as issued (its
SHA-256 checked; a document altered behind the application's back is refused).  A 通告
names enterprises, addresses and hazards only (escalation.notices builds it so); nothing
else from the ledger is read here.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from hazardloop.errors import HazardLoopError
from hazardloop.escalation import documents, notices
from hazardloop.models.db import session_scope

router = APIRouter(include_in_schema=False)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/notices", response_class=HTMLResponse)
def notice_list(request: Request) -> HTMLResponse:
    with session_scope(request.app.state.db_url, write=False) as s:
        rows = [(d.id, d.number, d.title, d.issue_date.isoformat()) for d in notices.published(s)]
    items = "".join(f'<li><a href="/notices/{i}">{escape(n)} {escape(t)}</a>（{escape(d)}）</li>' for i, n, t, d in rows)
    body = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>重大事故隐患集中曝光、挂牌督办通告</title>'
            f'</head><body><h1>重大事故隐患集中曝光、挂牌督办通告</h1>'
            f'{"<ul>" + items + "</ul>" if items else "<p>暂无通告。</p>"}</body></html>')
    return HTMLResponse(body, headers=HEADERS)


@router.get("/notices/{doc_id}", response_class=HTMLResponse)
def notice_page(request: Request, doc_id: int) -> HTMLResponse:
    try:
        with session_scope(request.app.state.db_url, write=False) as s:
            html = documents.stored_body(notices.get_published(s, doc_id))
    except HazardLoopError as exc:
        return HTMLResponse(f'<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><p>{escape(str(exc))}</p></html>',
                            status_code=404, headers=HEADERS)
    return HTMLResponse(html, headers=HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
