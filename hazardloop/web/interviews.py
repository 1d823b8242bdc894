"""The 约谈会 record over HTTP (issue 14): list, read, record, check a commitment.

JSON API under /api/v1 with the console's bearer tokens (web.api.api_user), and console
pages: the hazard page lists the records with a 核验 form per open commitment and links
an issued 约谈会 step to its record form (/interviews/record/{step_id}).  The engine is
escalation.interviews, the same functions `hazardloop interview` calls.  Who may record is
the guard's (guards.record_interview): the committee office, or a supervisor of the
hazard's department; anyone who may see the hazard may read its records.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path as PathParam, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from hazardloop.config import clock
from hazardloop.config.labels import INTERVIEW_OUTCOMES
from hazardloop.errors import HazardLoopError, NotFound, ValidationError
from hazardloop.escalation import interviews
from hazardloop.models.db import session_scope
from hazardloop.models.escalation import EscalationStep
from hazardloop.models.tables import AppUser, Hazard
from hazardloop.states import guards
from hazardloop.states.errors import PermissionDenied
from hazardloop.web import pages, services
from hazardloop.web.api import ERRORS, api_user
from hazardloop.web.errors import status_of


class CommitmentIn(BaseModel):
    what: str = Field(min_length=1, max_length=500, description="承诺事项")
    due: date = Field(description="完成日期")


class InterviewIn(BaseModel):
    held_at: datetime = Field(description="约谈时间（无时区时按北京时间）")
    place: str = Field(min_length=1, max_length=200)
    outcome: str = Field(description="held 已召开 · not_held 未召开（企业未到会） · postponed 延期召开")
    enterprise_attendees: list[str] = Field(default_factory=list, max_length=50)
    regulator_attendees: list[str] = Field(default_factory=list, max_length=50)
    commitments: list[CommitmentIn] = Field(default_factory=list, max_length=50)
    summary: str = Field(default="", max_length=5000)
    minutes: str = Field(default="", max_length=200000, description="会议纪要全文")
    minutes_name: str | None = Field(default=None, max_length=200)


class CheckIn(BaseModel):
    met: bool
    note: str = Field(default="", max_length=2000)


def _refusal(exc: HazardLoopError) -> JSONResponse:
    status = status_of(exc)
    return JSONResponse({"detail": str(exc), "error": {404: "not_found", 403: "forbidden", 409: "conflict"}.get(
        status, "invalid")}, status_code=status)


def _db(request: Request, write: bool = False):  # noqa: ANN202
    return session_scope(request.app.state.db_url, write=write)


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["interviews"])

    @api.get("/hazards/{ref}/interviews", responses=ERRORS, summary="某隐患的约谈会记录")
    def api_list(request: Request, ref: str, user: AppUser = Depends(api_user)) -> Any:  # noqa: B008
        try:
            with _db(request) as s:
                hazard = services.visible_hazard(s, user, ref[:40])
                return [interviews.as_dict(r) for r in interviews.list_records(s, hazard.id)]
        except HazardLoopError as exc:
            return _refusal(exc)

    @api.post("/escalation/steps/{step_id}/interview", responses=ERRORS, status_code=201,
              summary="记录约谈会（市安委办或本部门监管人员）")
    def api_record(request: Request, step_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)], body: InterviewIn,
                   user: AppUser = Depends(api_user)) -> Any:  # noqa: B008
        held = body.held_at if body.held_at.tzinfo else body.held_at.replace(tzinfo=clock.SHANGHAI)
        try:
            with _db(request, write=True) as s:
                row = interviews.record(
                    s, s.get(AppUser, user.id), step_id, held_at=held, place=body.place, outcome=body.outcome,
                    enterprise_attendees=body.enterprise_attendees, regulator_attendees=body.regulator_attendees,
                    commitments=[{"what": c.what.strip(), "due": c.due.isoformat(), "status": "open",
                                  "checked_at": None} for c in body.commitments],
                    summary=body.summary, minutes=body.minutes, minutes_name=body.minutes_name)
                return JSONResponse(interviews.as_dict(row), status_code=201)
        except HazardLoopError as exc:
            return _refusal(exc)

    @api.post("/interviews/{interview_id}/commitments/{index}", responses=ERRORS, summary="核验一项约谈承诺")
    def api_check(request: Request, interview_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
                  index: Annotated[int, PathParam(ge=1, le=1000)], body: CheckIn,
                  user: AppUser = Depends(api_user)) -> Any:  # noqa: B008
        try:
            with _db(request, write=True) as s:
                row = interviews.mark_commitment(s, s.get(AppUser, user.id), interview_id, index - 1,
                                                 met=body.met, note=body.note)
                return interviews.as_dict(row)
        except HazardLoopError as exc:
            return _refusal(exc)

    return api


# --- console pages ---------------------------------------------------------------------------------

MAX_ID = 2**31 - 1
# The record form's fields and how long each may be (the API's limits; lines are counted below).
FIELDS = {"held_at": 40, "place": 200, "outcome": 20, "enterprise_attendees": 5000, "regulator_attendees": 5000,
          "commitments": 25000, "summary": 5000, "minutes": 200000}
FIELD_NAMES = {"held_at": "约谈时间", "place": "地点", "outcome": "结果", "enterprise_attendees": "企业参会人员",
               "regulator_attendees": "监管部门参会人员", "commitments": "承诺事项", "summary": "约谈情况摘要",
               "minutes": "会议纪要"}
MAX_LINES = 50
DONE = {"interview_recorded": "约谈会已记录。", "interview_checked": "承诺事项的核验结果已记录。"}


def may_record(user: AppUser, hazard: Hazard) -> bool:
    """Asks the guard only to decide what to show; the engine asks it again when writing."""
    try:
        return bool(guards.record_interview(user, hazard))
    except PermissionDenied:
        return False


def _pending_steps(session: Session, hazard: Hazard) -> list[EscalationStep]:
    """Issued 约谈会 steps of the hazard that have no record yet (what interviews.record accepts)."""
    recorded = {r.step_id for r in interviews.list_records(session, hazard.id)}
    steps = session.exec(select(EscalationStep).where(EscalationStep.hazard_id == hazard.id,
                                                      EscalationStep.kind == "interview",
                                                      EscalationStep.status.in_(("issued", "approved")))
                         .order_by(EscalationStep.cycle, EscalationStep.id)).all()
    return [s for s in steps if s.id not in recorded]


def interview_block(session: Session, user: AppUser, hazard: Hazard) -> list[dict[str, Any]]:
    """The hazard page's 约谈会 block: the records, their commitments, and the forms the guard allows."""
    records = [interviews.as_dict(r) for r in interviews.list_records(session, hazard.id)]
    can = may_record(user, hazard)
    pending = _pending_steps(session, hazard) if can else []
    if not records and not pending:
        return []
    people = {r["recorded_by"] for r in records} | {c["checked_by"] for r in records for c in r["commitments"]
                                                     if c.get("checked_by")}
    return [{"title": "约谈会记录", "rows": [], "include": "_interviews.html", "interviews": records,
             "names": services._names(session, people), "may_check": can,  # noqa: SLF001
             "to_record": [{"id": s.id, "cycle": s.cycle, "step": s.step, "due": s.due_date.isoformat()}
                           for s in pending]}]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_form(fields: dict[str, str]) -> dict[str, Any]:
    """The form's text -> interviews.record's keywords; a Chinese ValidationError for bad input.
    Only the shape is checked here (lengths, dates, the 内容@日期 lines); every rule is the engine's."""
    for name, limit in FIELDS.items():
        if len(fields.get(name, "")) > limit:
            raise ValidationError(f"“{FIELD_NAMES[name]}”过长（最多 {limit} 个字符）。")
        if "\x00" in fields.get(name, ""):
            raise ValidationError("输入不能包含 NUL 字符。")
    text = fields.get("held_at", "").strip()
    try:
        held = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"约谈时间应为 YYYY-MM-DDTHH:MM，收到 {text!r}。") from None
    if held.tzinfo is None:
        held = held.replace(tzinfo=clock.SHANGHAI)
    lists = {name: _lines(fields.get(name, "")) for name in ("enterprise_attendees", "regulator_attendees",
                                                             "commitments")}
    if any(len(v) > MAX_LINES for v in lists.values()):
        raise ValidationError(f"参会人员和承诺事项每项最多 {MAX_LINES} 行。")
    return {"held_at": held, "place": fields.get("place", ""), "outcome": fields.get("outcome", ""),
            "enterprise_attendees": lists["enterprise_attendees"],
            "regulator_attendees": lists["regulator_attendees"],
            "commitments": [interviews.parse_commitment(line) for line in lists["commitments"]],
            "summary": fields.get("summary", ""), "minutes": fields.get("minutes", "")}


def _visible_step(session: Session, user: AppUser, step_id: int) -> tuple[EscalationStep, Hazard]:
    """The 约谈会 step and its hazard if the user may see the hazard; else not found."""
    step = session.get(EscalationStep, step_id)
    missing = NotFound(f"没有编号为 {step_id} 的约谈会督办事项。")
    if step is None or step.kind != "interview":
        raise missing
    try:
        return step, services.visible_hazard(session, user, step.hazard_id)
    except NotFound:
        raise missing from None


def _form_page(request: Request, user: AppUser, csrf: str, step_id: int, *, form: dict[str, str] | None = None,
               error: str | None = None, status: int = 200) -> Response:
    try:
        with _db(request) as s:
            step, hazard = _visible_step(s, user, step_id)
            guards.record_interview(user, hazard)  # 403 for one who may see but not record
            ctx = {"user": user, "csrf": csrf, "hazard": hazard, "step": step, "outcomes": INTERVIEW_OUTCOMES,
                   "form": form or {}, "error": error,
                   "recorded": step.id not in {x.id for x in _pending_steps(s, hazard)}}
    except HazardLoopError as exc:
        return pages.error_page(request, user, csrf, str(exc), status_of(exc))
    return pages.no_store(pages._render(request, "interview_form.html", ctx, status))  # noqa: SLF001


page_router = APIRouter(include_in_schema=False)


@page_router.get("/interviews/record/{step_ref}")
def record_form(request: Request, step_ref: str) -> Response:
    user, data = pages._current(request)  # noqa: SLF001
    if user is None:
        return pages._to_login(request)  # noqa: SLF001
    step_id = services.small_int(step_ref[:12])
    if step_id is None or step_id > MAX_ID:
        return pages.error_page(request, user, data.csrf, "页面不存在。", 404)
    return _form_page(request, user, data.csrf, step_id)


@page_router.post("/interviews/record/{step_ref}")
async def record_post(request: Request, step_ref: str) -> Response:
    return await run_in_threadpool(_record, request, step_ref[:12], await pages.posted_fields(request, 12))


def _record(request: Request, step_ref: str, fields: dict[str, str]) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    step_id = services.small_int(step_ref)
    if step_id is None or step_id > MAX_ID:
        return pages.error_page(request, user, data.csrf, "页面不存在。", 404)
    keep = {k: fields.get(k, "")[:limit] for k, limit in FIELDS.items()}
    try:
        with _db(request) as s:  # scope and permission first: a refused user sees nothing of the hazard
            step, hazard = _visible_step(s, user, step_id)
            guards.record_interview(user, hazard)
            hazard_id = hazard.id
    except HazardLoopError as exc:
        return pages.error_page(request, user, data.csrf, str(exc), status_of(exc))
    try:
        values = parse_form(fields)  # before any write: a bad line writes nothing
        with _db(request, write=True) as s:
            interviews.record(s, s.get(AppUser, user.id), step_id, **values)
    except HazardLoopError as exc:
        return _form_page(request, user, data.csrf, step_id, form=keep, error=str(exc), status=status_of(exc))
    return RedirectResponse(f"/hazards/{hazard_id}?done=interview_recorded#interviews", status_code=303)


@page_router.post("/interviews/{interview_ref}/commitments/{index_ref}")
async def check_post(request: Request, interview_ref: str, index_ref: str) -> Response:
    return await run_in_threadpool(_check, request, interview_ref[:12], index_ref[:6],
                                   await pages.posted_fields(request, 6))


def _check(request: Request, interview_ref: str, index_ref: str, fields: dict[str, str]) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    interview_id, index = services.small_int(interview_ref), services.small_int(index_ref)
    if interview_id is None or interview_id > MAX_ID or not index:
        return pages.error_page(request, user, data.csrf, "页面不存在。", 404)
    try:
        with _db(request) as s:
            row = interviews.get(s, interview_id)
            try:
                hazard_id = services.visible_hazard(s, user, row.hazard_id).id
            except NotFound:
                raise NotFound(f"没有编号为 {interview_id} 的约谈会记录。") from None
    except HazardLoopError as exc:
        return pages.error_page(request, user, data.csrf, str(exc), status_of(exc))
    result = fields.get("result", "")
    note = fields.get("note", "")
    try:
        if result not in ("met", "missed"):
            raise ValidationError("请选择核验结果：已兑现或未兑现。")
        if len(note) > 2000 or "\x00" in note:
            raise ValidationError("核验说明最多 2000 个字符，且不能包含 NUL 字符。")
        with _db(request, write=True) as s:
            interviews.mark_commitment(s, s.get(AppUser, user.id), interview_id, index - 1, met=result == "met",
                                       note=note)
    except HazardLoopError as exc:
        return pages.no_store(pages._hazard_page(request, user, data.csrf, str(hazard_id),  # noqa: SLF001
                                                 status=status_of(exc), error=str(exc)))
    return RedirectResponse(f"/hazards/{hazard_id}?done=interview_checked#interviews", status_code=303)


def install(app: FastAPI | None = None) -> None:
    """The hazard page's block; with an app also the API, the pages and their texts.  Idempotent."""
    if interview_block not in services.DETAIL_PROVIDERS:
        services.DETAIL_PROVIDERS.append(interview_block)
    if app is None:
        return
    for key, text in DONE.items():
        pages.DONE.setdefault(key, text)
    app.include_router(router())
    app.include_router(page_router)
