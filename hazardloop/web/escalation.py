"""The escalation ladder on the console: the committee office's 曝光 proposals in its
queue, each hazard's steps and documents (文号) on its page, and the decision on a
proposal (批准曝光 / 不予批准) on the page and in the API.

The decision calls the engine's approve_step / decline_step, the same functions as
`hazardloop escalation approve|decline`, so the guard they call
(guards.decide_escalation_step) decides who may; this module only asks that guard
whether to show the forms, and asks it first on a POST so that a refused user's
password is never checked (a wrong one would count toward their lock-out)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path as PathParam, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from hazardloop.config import clock
from hazardloop.models.db import session_scope
from hazardloop.errors import HazardLoopError, NotFound, ValidationError
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import AppUser, Enterprise, Hazard
from hazardloop.states import guards
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import Role
from hazardloop.escalation import hazards as esc
from hazardloop.web import auth, pages, services
from hazardloop.web.api import ERRORS, api_user
from hazardloop.web.errors import status_of

STEP_STATUS = {"issued": "已出具", "proposed": "待市安委办批准", "approved": "已批准", "declined": "未批准",
               "withdrawn": "已撤回（周期结束）"}
ACTIONS = {"approve": "批准曝光", "decline": "不予批准"}
# The guard's wording for each decision (as the engine passes it), so a refusal reads the same.
GUARD_ACTION = {"approve": "批准曝光等督办措施", "decline": "不予批准督办措施"}
DONE = {"exposure_approve": "已批准曝光，公文已出具（文号见“督办阶梯与公文”）。",
        "exposure_decline": "已不予批准曝光，理由已记入审计记录。"}
REASON_REQUIRED = "不予批准曝光须填写理由。"
MAX_ID = 2**31 - 1


# --- asking the guard (changes nothing) --------------------------------------------------------


def may_decide(user: AppUser) -> bool:
    try:
        return bool(guards.decide_escalation_step(user, GUARD_ACTION["approve"]))
    except PermissionDenied:
        return False


# --- queue section and page blocks --------------------------------------------------------------


def exposure_proposals(session: Session, user: AppUser) -> list[services.Section]:
    if user.role != Role.committee:
        return []
    stmt = (select(Hazard, Enterprise.name).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
            .join(EscalationStep, EscalationStep.hazard_id == Hazard.id)
            .where(guards.visible_clause(user), EscalationStep.status == "proposed"))
    return [services._section(session, "exposure", "待批准的曝光", "逾期未整改、按督办阶梯拟予曝光：打开隐患页面，"
                              "在“督办措施与通知”中批准曝光或不予批准", stmt, [EscalationStep.due_date, Hazard.id])]


def steps_and_documents(session: Session, user: AppUser, hazard: Hazard) -> list[dict[str, Any]]:
    steps = session.exec(select(EscalationStep).where(EscalationStep.hazard_id == hazard.id)
                         .order_by(EscalationStep.cycle, EscalationStep.due_date, EscalationStep.id)).all()
    if not steps:
        return []
    numbers = dict(session.exec(select(Document.step_id, Document.number)
                                .where(Document.hazard_id == hazard.id)).all())
    rows = [(f"第 {s.cycle} 周期 · {s.step}",
             "，".join(x for x in (STEP_STATUS.get(s.status, s.status), numbers.get(s.id, ""),
                                   f"应于 {s.due_date.isoformat()}",
                                   f"{clock.local_date(s.created_at).isoformat()} 记录",
                                   s.decision_reason and f"理由：{s.decision_reason}") if x))
            for s in steps]
    blocks: list[dict[str, Any]] = [{"title": "督办阶梯与公文（文号）", "rows": rows}]
    proposed = [s for s in steps if s.status == "proposed"]
    if proposed and may_decide(user):
        blocks.append({"title": "待批准的曝光", "rows": [], "include": "_exposure_forms.html",
                       "proposals": [{"id": s.id, "cycle": s.cycle, "step": s.step, "due": s.due_date.isoformat()}
                                     for s in proposed]})
    return blocks


# --- the decision (shared by pages and API) ------------------------------------------------------


def _visible_step(session: Session, user: AppUser, step_id: int) -> EscalationStep:
    """The step, if its hazard is one the user may see (else not found, as for hazards)."""
    step = session.get(EscalationStep, step_id)
    if step is None:
        raise NotFound(f"没有编号为 {step_id} 的督办事项。")
    try:
        services.visible_hazard(session, user, step.hazard_id)
    except NotFound:
        raise NotFound(f"没有编号为 {step_id} 的督办事项。") from None
    return step


def decide(session: Session, actor: AppUser, step_id: int, action: str, *, reason: str | None = None,
           reauthenticated: bool | None = None) -> tuple[EscalationStep, str | None]:
    """Approve or decline in the caller's transaction; returns the step and the 文号 (approve)."""
    _visible_step(session, actor, step_id)
    if action == "approve":
        row, document = esc.approve_step(session, actor, step_id, reauthenticated=reauthenticated)
        return row, document.number
    try:
        return esc.decline_step(session, actor, step_id, reason=reason), None
    except MissingData:
        raise MissingData(REASON_REQUIRED) from None  # the engine names the CLI flag; say it for the form


def status_for(exc: HazardLoopError) -> int:
    """The engine refuses a step that is no longer pending (or a hazard no longer in that cycle)
    with ValidationError: for the caller that is a conflict with the record as it is now (409)."""
    if type(exc) is ValidationError:
        return 409
    return status_of(exc)


def kind_for(exc: HazardLoopError) -> str:
    return {404: "not_found", 403: "forbidden", 409: "conflict"}.get(status_for(exc), "invalid")


def _db(request: Request, write: bool = False):  # noqa: ANN202
    return session_scope(request.app.state.db_url, write=write)


# --- pages -----------------------------------------------------------------------------------------


router = APIRouter(include_in_schema=False)


@router.post("/escalation/steps/{step_id}/{action}")
async def step_action(request: Request, step_id: str, action: str) -> Response:
    return await run_in_threadpool(_act, request, step_id[:12], action[:20], await pages.posted_fields(request, 10))


def _act(request: Request, step_ref: str, action: str, fields: dict[str, str]) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster

    def error(message: str, status: int) -> Response:
        return pages.error_page(request, user, data.csrf, message, status)

    step_id = services.small_int(step_ref)
    if action not in ACTIONS or step_id is None or step_id > MAX_ID:
        return error("没有这个操作。", 404)
    keep = {f"{action}-{step_id}-reason": fields.get("reason", "")} if action == "decline" else {}
    try:
        with _db(request) as s:
            hazard_id = _visible_step(s, user, step_id).hazard_id  # 404 before anything else
    except HazardLoopError as exc:
        return error(str(exc), status_for(exc))

    def page(status: int, message: str) -> Response:
        return pages.no_store(pages._hazard_page(request, user, data.csrf, str(hazard_id), status=status,  # noqa: SLF001
                                           error=message, form=keep))

    try:
        if action == "approve":
            # Public exposure cannot be undone: like close-out, the password again.  The guard is
            # asked first so a refused user's attempt never touches their lock-out counter.
            guards.decide_escalation_step(user, GUARD_ACTION[action])
            result = auth.attempt(request.app.state.db_url, fields.get("password") or "", user_id=user.id,
                                  sign_in=False)  # argon2 outside the write lock
            if result.user is None:
                return page(403, "批准曝光需要再次输入本人密码：" + (result.message or auth.FAILED))
        with _db(request, write=True) as s:
            decide(s, s.get(AppUser, user.id), step_id, action, reason=fields.get("reason"),
                   reauthenticated=True if action == "approve" else None)
    except HazardLoopError as exc:
        return page(status_for(exc), str(exc))
    return RedirectResponse(f"/hazards/{hazard_id}?done=exposure_{action}#escalation", status_code=303)


# --- the JSON API ------------------------------------------------------------------------------------


StepId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="督办事项编号（escalation list 中的 ID）")]


class StepApproveIn(BaseModel):
    password: str | None = Field(default=None, max_length=256, description="再次输入密码（给出且错误时拒绝）")


class StepDeclineIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000, description="不予批准的理由（必填）")


class StepOut(BaseModel):
    id: int
    hazard_id: int
    hazard: str | None
    cycle: int
    step: str
    status: str
    status_name: str
    number: str | None = Field(default=None, description="批准后出具的公文文号")
    decided_by: str | None
    decision_reason: str | None


def step_out(session: Session, row: EscalationStep, number: str | None) -> StepOut:
    hazard = session.get(Hazard, row.hazard_id)
    return StepOut(id=row.id, hazard_id=row.hazard_id, hazard=hazard.code if hazard else None, cycle=row.cycle,
                   step=row.step, status=row.status, status_name=STEP_STATUS.get(row.status, row.status),
                   number=number, decided_by=row.decided_by, decision_reason=row.decision_reason)


def _refusal(exc: HazardLoopError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "error": kind_for(exc)}, status_code=status_for(exc))


def _api_decide(request: Request, user: AppUser, step_id: int, action: str, reason: str | None = None,
                reauthenticated: bool | None = None) -> Any:
    if reason is not None and "\x00" in reason:
        return JSONResponse({"detail": "理由不能包含 NUL 字符。", "error": "invalid"}, status_code=422)
    try:
        with _db(request, write=True) as s:
            row, number = decide(s, s.get(AppUser, user.id), step_id, action, reason=reason,
                                 reauthenticated=reauthenticated)
            return step_out(s, row, number)
    except HazardLoopError as exc:
        return _refusal(exc)


def _api_router() -> APIRouter:
    # The dependency is spelled out (not api.User) because annotations are strings resolved in this module.
    api = APIRouter(prefix="/api/v1", tags=["escalation"])

    @api.post("/escalation/steps/{step_id}/approve", response_model=StepOut, responses=ERRORS,
              summary="批准曝光（市安委办）：出具公文、编文号、发出通知")
    def api_approve(request: Request, step_id: StepId, body: StepApproveIn | None = None,
                    user: AppUser = Depends(api_user)) -> Any:  # noqa: B008
        from hazardloop.web import auth

        if body is not None and body.password is not None:
            if "\x00" in body.password:
                return JSONResponse({"detail": "密码不能包含 NUL 字符。", "error": "invalid"}, status_code=422)
            try:
                with _db(request) as s:
                    _visible_step(s, user, step_id)
                guards.decide_escalation_step(user, GUARD_ACTION["approve"])  # before the password: no lock-out count
            except HazardLoopError as exc:
                return _refusal(exc)
            result = auth.attempt(request.app.state.db_url, body.password, user_id=user.id, sign_in=False)
            if result.user is None:
                return JSONResponse({"detail": "重新验证密码失败：" + (result.message or auth.FAILED),
                                     "error": "forbidden"}, status_code=403)
        return _api_decide(request, user, step_id, "approve",
                           reauthenticated=body is not None and body.password is not None)

    @api.post("/escalation/steps/{step_id}/decline", response_model=StepOut, responses=ERRORS,
              summary="不予批准曝光（市安委办，须说明理由）")
    def api_decline(request: Request, step_id: StepId, body: StepDeclineIn,
                    user: AppUser = Depends(api_user)) -> Any:  # noqa: B008
        return _api_decide(request, user, step_id, "decline", body.reason)

    return api


# --- installing ---------------------------------------------------------------------------------


def install(app: FastAPI | None = None) -> None:
    """Queue section and page blocks; with an app also the routes and the page texts (create_app
    calls it; a caller of web.services without an app calls it without one).  Idempotent."""
    if exposure_proposals not in services.QUEUE_PROVIDERS:
        services.QUEUE_PROVIDERS.append(exposure_proposals)
    if steps_and_documents not in services.DETAIL_PROVIDERS:
        services.DETAIL_PROVIDERS.append(steps_and_documents)
    if app is None:
        return
    for key, text in DONE.items():
        pages.DONE.setdefault(key, text)
    app.include_router(_api_router())
    app.include_router(router)
