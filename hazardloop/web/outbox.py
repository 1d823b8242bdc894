"""通知 on the console: what was sent to whom, what failed or is dead-lettered, and retry --
the same calls as `hazardloop outbox list|show|retry` (notifications.admin).  Retrying puts
rows back in the queue; the dispatcher (scheduled, or `hazardloop outbox dispatch`) sends."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hazardloop.errors import HazardLoopError
from hazardloop.models.tables import AppUser
from hazardloop.notifications import admin
from hazardloop.web import office, pages, services
from hazardloop.web.errors import kind_of, status_of

LIMIT = 50  # a page a phone can scroll; the API takes ?limit= up to 1000
FAILED = ("dead", "undeliverable", "retry")


def row_dict(n: Any) -> dict[str, Any]:
    return {"id": n.id, "event": n.event, "step": n.step, "hazard_id": n.hazard_id, "recipient_name": n.recipient_name,
            "recipient_role": n.recipient_role, "channel": n.channel, "subject": n.subject, "status": n.status,
            "status_name": admin.STATUSES.get(n.status, n.status), "attempts": n.attempts,
            "last_error": n.last_error, "document_id": n.document_id,
            "created_at": n.created_at.isoformat() if n.created_at else None,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None}


# --- pages --------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: AppUser, csrf: str, status_filter: str | None, *, code: int = 200,
          error: str | None = None, notice: str | None = None) -> Response:
    with office.db(request) as s:
        rows = admin.list_notifications(s, status=status_filter, limit=LIMIT)
        totals = admin.counts(s)
    return office.render(request, "office/outbox.html", {
        "user": user, "csrf": csrf, "rows": rows, "totals": totals, "status": status_filter, "error": error,
        "notice": notice, "STATUSES": admin.STATUSES, "FAILED": FAILED, "limit": LIMIT}, code)


@router.get("/outbox")
def outbox_page(request: Request, status: str | None = None, done: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    chosen = status if status in admin.STATUSES else None
    notice = f"已重新排队 {services.small_int(done) or 0} 条，等待下一次投递。" if done is not None else None
    return _page(request, user, csrf, chosen, notice=notice)


@router.get("/outbox/{ref}")
def outbox_one(request: Request, ref: str) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    nid = services.small_int(ref)
    with office.db(request) as s:
        if nid is None:
            return pages.error_page(request, user, csrf, "没有这条通知。", 404)
        n = admin.get(s, nid)
        tries = admin.attempts(s, nid)
    return office.render(request, "office/notification.html", {"user": user, "csrf": csrf, "n": n, "tries": tries,
                                                                "STATUSES": admin.STATUSES, "FAILED": FAILED})


@router.post("/outbox/retry")
async def outbox_retry(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=LIMIT + 5)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    ids = [services.small_int(v) for v in form.getlist("id") if isinstance(v, str)]
    return await run_in_threadpool(_retry, request, fields, [i for i in ids if i is not None])


def _retry(request: Request, fields: dict[str, str], ids: list[int]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    status = fields.get("status") or None
    status = status if status in admin.STATUSES else None
    try:
        with office.db(request, write=True) as s:
            result = admin.retry(s, ids=ids or None, status=None if ids else status)
    except HazardLoopError as exc:
        return _page(request, user, csrf, status, code=status_of(exc), error=str(exc))
    back = f"&status={status}" if status else ""
    return RedirectResponse(f"/outbox?done={len(result['requeued'])}{back}", status_code=303)


# --- API ------------------------------------------------------------------------------------------

api = APIRouter(prefix="/api/v1", tags=["office"])


class RetryIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(default=None, max_length=1000,
                                                                       description="通知编号")
    status: str | None = Field(default=None, max_length=16, description="按状态选择，如 dead、undeliverable")


@api.get("/outbox", summary="通知发件箱（市安委办）：各状态数量与最新的通知")
def outbox_api(request: Request, status: str | None = Query(None, max_length=16), limit: int = Query(200, ge=1, le=1000),
               user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    try:
        with office.db(request) as s:
            return {"counts": admin.counts(s),
                    "notifications": [row_dict(n) for n in admin.list_notifications(s, status=status, limit=limit)]}
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))


@api.post("/outbox/retry", summary="重新排队发送（市安委办）：按编号或按状态")
def outbox_retry_api(request: Request, body: RetryIn, user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    try:
        with office.db(request, write=True) as s:
            return admin.retry(s, ids=body.ids, status=body.status)
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)
