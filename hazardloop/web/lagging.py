"""落后单位 on the console: a month's evaluation of every 镇街区 and department (as stored by
the monthly run: reports.lagging), each unit's ladder (escalation.units.list_steps), and the
committee office's decision on a proposed 曝光 -- escalation.units.approve / decline, the
same calls as `hazardloop lagging approve|decline`, whose guard (guards.decide_lag_exposure)
decides.  Approving asks for the password again (public exposure cannot be undone); the
guard is asked first so that a refused user's attempt never counts toward their lock-out.

Reading the page changes nothing: a month not yet evaluated says so (the evaluation runs
with the monthly schedule and when the month's bulletin is issued)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from hazardloop.config import calendar, clock
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.escalation import units
from hazardloop.models.lagging import LagEvaluation
from hazardloop.models.tables import AppUser
from hazardloop.states import guards
from hazardloop.web import auth, office, pages, services
from hazardloop.web.errors import kind_of, status_of

DONE = {"approve": "已批准曝光，公文已出具。", "decline": "已不予批准，理由已记入审计记录。"}


def month_of(value: str | None) -> str:
    if not value or not value.strip():
        today = clock.today()
        return calendar.month_of(today.replace(day=1) - timedelta(days=1))
    first, _ = calendar.month_bounds(value.strip()[:10])
    return calendar.month_of(first)


def evaluations(session: Session, month: str) -> list[dict[str, Any]]:
    names = {(u.kind, u.code): u.name for u in units.units(session, units.load_policy())}
    rows = session.exec(select(LagEvaluation).where(LagEvaluation.month == month)).all()
    out = [{"unit_kind": r.unit_kind, "unit_code": r.unit_code, "unit_kind_name": units.UNIT_KINDS.get(r.unit_kind, ""),
            "unit_name": names.get((r.unit_kind, r.unit_code), r.unit_code), "figures": dict(r.figures),
            "missed": list(r.missed), "streak": r.streak, "cycle": r.cycle} for r in rows]
    return sorted(out, key=lambda e: (not e["missed"], -e["streak"], e["unit_kind"], e["unit_code"]))


def decide(request: Request, user: AppUser, step_id: int, action: str, password: str | None,
           reason: str | None) -> Any:
    if action == "approve":
        guards.decide_lag_exposure(user, "批准曝光落后单位")
        with office.db(request, write=True) as s:
            result = auth.reauthenticate(s, s.get(AppUser, user.id), password or "")
        if result.user is None:
            raise office.ReauthFailed("批准曝光需要再次输入本人密码：" + (result.message or auth.FAILED))
        with office.db(request, write=True) as s:
            row, doc = units.approve(s, s.get(AppUser, user.id), step_id, reason=reason or None)
            return {"step_id": row.id, "status": row.status, "number": doc.number}
    with office.db(request, write=True) as s:
        row = units.decline(s, s.get(AppUser, user.id), step_id, reason=reason)
        return {"step_id": row.id, "status": row.status, "reason": row.decision_reason}


# --- pages -------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: AppUser, csrf: str, month: str, *, status: int = 200, error: str | None = None,
          notice: str | None = None, unit: tuple[str, str] | None = None) -> Response:
    with office.db(request) as s:
        if unit:
            steps = [x for x in units.list_steps(s, None, limit=5000)
                     if (x["unit_kind"], x["unit_code"]) == unit]
            evals = []
        else:
            steps = units.list_steps(s, month)
            evals = evaluations(s, month)
        proposed = [x for x in units.list_steps(s, None, "proposed")]
    return office.render(request, "office/lagging.html", {
        "user": user, "csrf": csrf, "month": month, "steps": steps, "evals": evals, "proposed": proposed,
        "error": error, "notice": notice, "unit": unit}, status)


@router.get("/lagging")
def lagging_page(request: Request, month: str | None = None, done: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    try:
        m = month_of(month)
    except ValidationError as exc:
        return pages.error_page(request, user, csrf, str(exc), 422)
    return _page(request, user, csrf, m, notice=DONE.get(done or ""))


@router.get("/lagging/{kind}/{code}")
def unit_page(request: Request, kind: str, code: str) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    if kind not in units.UNIT_KINDS:
        return pages.error_page(request, user, csrf, office.NOT_HERE, 404)
    return _page(request, user, csrf, month_of(None), unit=(kind, code[:32]))


@router.post("/lagging/steps/{ref}/{action}")
async def step_post(request: Request, ref: str, action: str) -> Response:
    fields = await pages.posted_fields(request, 6)
    return await run_in_threadpool(_step_post, request, ref[:12], action[:10], fields)


def _step_post(request: Request, ref: str, action: str, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    step_id = services.small_int(ref)
    if step_id is None or action not in DONE:
        return pages.error_page(request, user, csrf, "没有这个操作。", 404)
    month = month_of(None)
    try:
        decide(request, user, step_id, action, fields.get("password"), fields.get("reason"))
    except office.ReauthFailed as exc:
        return _page(request, user, csrf, month, status=403, error=str(exc))
    except HazardLoopError as exc:
        return _page(request, user, csrf, month, status=status_of(exc), error=str(exc))
    return RedirectResponse(f"/lagging?done={action}", status_code=303)


# --- API ---------------------------------------------------------------------------------------------

api = APIRouter(prefix="/api/v1", tags=["office"])


class DecideIn(BaseModel):
    password: str | None = Field(default=None, max_length=256, description="批准时再次输入本人密码")
    reason: str | None = Field(default=None, max_length=2000, description="不予批准的理由（必填）/ 批准意见")


@api.get("/lagging", summary="落后单位（市安委办）：某月的考核结果与督办事项")
def lagging_api(request: Request, month: str | None = None, user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    try:
        m = month_of(month)
    except ValidationError as exc:
        return JSONResponse({"detail": str(exc), "error": "invalid"}, status_code=422)
    with office.db(request) as s:
        return {"month": m, "evaluations": evaluations(s, m), "steps": units.list_steps(s, m)}


@api.post("/lagging/steps/{step_id}/{action}", summary="批准曝光 / 不予批准落后单位（市安委办）")
def lagging_decide_api(request: Request, step_id: int, action: str, body: DecideIn,
                       user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    if action not in DONE or not 0 < step_id < 2**31:
        return JSONResponse({"detail": "没有这个操作。", "error": "not_found"}, status_code=404)
    if action == "approve" and body.password is None:
        return JSONResponse({"detail": "批准曝光须再次输入本人密码（password）。", "error": "invalid"}, status_code=422)
    try:
        return decide(request, user, step_id, action, body.password, body.reason)
    except office.ReauthFailed as exc:
        return JSONResponse({"detail": str(exc), "error": "forbidden"}, status_code=403)
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)
