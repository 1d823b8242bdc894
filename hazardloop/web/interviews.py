"""The 约谈会 record over HTTP (issue 14): list, read, record, check a commitment.

JSON API under /api/v1 with the console's bearer tokens (web.api.api_user); the engine is
escalation.interviews, the same functions `hazardloop interview` calls.  Who may record is
the guard's (guards.record_interview): the committee office, or a supervisor of the
hazard's department; anyone who may see the hazard may read its records.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path as PathParam, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hazardloop.config import clock
from hazardloop.errors import HazardLoopError
from hazardloop.escalation import interviews
from hazardloop.models.db import session_scope
from hazardloop.models.tables import AppUser
from hazardloop.web import services
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


def install(app: FastAPI) -> None:
    app.include_router(router())
