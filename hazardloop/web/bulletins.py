"""月通报 on the console: preview a month's bulletin, issue it, list and read past ones.

The same calls as `hazardloop bulletin`: reports.bulletin.render for the preview (no 文号,
nothing stored or sent), and for issuing the guard the CLI asks with --actor
(guards.decide_escalation_step: the committee office) and then reports.bulletin_issue.issue
(文号, stored with its SHA-256, sent to every member unit; issuing a month twice returns the
stored one).  Issuing cannot be undone, so, like a close-out, it asks for the password again;
the guard is asked first so that a refused user's attempt never counts toward their lock-out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from hazardloop.config import calendar, clock
from hazardloop.errors import HazardLoopError
from hazardloop.models.escalation import Document
from hazardloop.models.tables import AppUser
from hazardloop.reports import bulletin, bulletin_issue
from hazardloop.states import guards
from hazardloop.web import auth, office, pages
from hazardloop.web.errors import kind_of, status_of

ACTION = "签发月通报"


def month_of(value: str | None) -> str:
    """A YYYY-MM month (the CLI's parse_month rule); the previous month when none is given."""
    if not value or not value.strip():
        today = clock.today()
        return calendar.month_of(today.replace(day=1) - timedelta(days=1))
    first, _ = calendar.month_bounds(value.strip()[:10])
    return calendar.month_of(first)


def issued(session: Any) -> list[Document]:
    return list(session.exec(select(Document).where(Document.period.is_not(None))
                             .order_by(Document.period.desc())).all())


def issue(request: Request, user: AppUser, month: str, password: str) -> bulletin_issue.Issued:
    """Guard, password, issue -- each in its own unit of work (a wrong password is committed)."""
    guards.decide_escalation_step(user, ACTION)
    with office.db(request, write=True) as s:
        result = auth.reauthenticate(s, s.get(AppUser, user.id), password)
    if result.user is None:
        raise office.ReauthFailed("签发月通报需要再次输入本人密码：" + (result.message or auth.FAILED))
    with office.db(request, write=True) as s:
        got = bulletin_issue.issue(s, month, actor=user.username)
        s.flush()
        return got


# --- pages ---------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: AppUser, csrf: str, *, status: int = 200, error: str | None = None,
          notice: str | None = None, month: str | None = None) -> Response:
    with office.db(request) as s:
        rows = issued(s)
    return office.render(request, "office/bulletins.html", {
        "user": user, "csrf": csrf, "rows": rows, "error": error, "notice": notice,
        "month": month or month_of(None)}, status)


@router.get("/bulletins")
def bulletins_page(request: Request, done: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    notice = f"已签发 {done[:64]}。" if done else None
    return _page(request, user, csrf, notice=notice)


@router.get("/bulletins/preview")
def bulletin_preview(request: Request, month: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    m = month_of(month)
    with office.db(request) as s:
        html = bulletin.render(s, m)
    return office.stored_document_response(html)


@router.post("/bulletins/issue")
async def bulletin_issue_post(request: Request) -> Response:
    fields = await pages.posted_fields(request, 5)
    return await run_in_threadpool(_issue_post, request, fields)


def _issue_post(request: Request, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    month = (fields.get("month") or "")[:10]
    try:
        m = month_of(month)
        result = issue(request, user, m, fields.get("password") or "")
    except office.ReauthFailed as exc:
        return _page(request, user, csrf, status=403, error=str(exc), month=month)
    except HazardLoopError as exc:
        return _page(request, user, csrf, status=status_of(exc), error=str(exc), month=month)
    return RedirectResponse(f"/documents/bulletin/{result.document.id}?issued={int(result.created)}",
                            status_code=303)


# --- API ---------------------------------------------------------------------------------------------

api = APIRouter(prefix="/api/v1", tags=["office"])


class IssueIn(BaseModel):
    month: str = Field(max_length=10, description="月份 YYYY-MM（须已结束）")
    password: str = Field(max_length=256, description="再次输入本人密码")


@api.get("/bulletins", summary="已签发的月通报（市安委办）")
def bulletins_api(request: Request, user: AppUser = Depends(office.api_office)) -> list[dict[str, Any]]:  # noqa: B008
    with office.db(request) as s:
        return [{"id": d.id, "number": d.number, "month": d.period, "title": d.title,
                 "issue_date": d.issue_date.isoformat(), "sha256": d.sha256} for d in issued(s)]


@api.post("/bulletins/issue", summary="签发月通报（市安委办，须再次输入密码）：编文号、存储、发送各成员单位")
def bulletin_issue_api(request: Request, body: IssueIn, user: AppUser = Depends(office.api_office)  # noqa: B008
                       ) -> Any:
    if "\x00" in body.password or "\x00" in body.month:
        return JSONResponse({"detail": "不能包含 NUL 字符。", "error": "invalid"}, status_code=422)
    try:
        result = issue(request, user, month_of(body.month), body.password)
    except office.ReauthFailed as exc:
        return JSONResponse({"detail": str(exc), "error": "forbidden"}, status_code=403)
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))
    return {**result.as_dict(), "id": result.document.id}


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)


