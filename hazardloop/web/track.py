"""The reporter's own view of a public report (举报), by its number and 查询码.

Anyone — signed in or not — who holds a report's number and the 查询码 given once at submission
sees its status, the feedback and the reward decision; nothing of the enterprise's internal data.
The page posts the code (never in a URL: it would sit in logs and history); the API answers JSON.
Every answer is intake.reports.track, the same function the CLI's `report track` calls.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hazardloop.errors import HazardLoopError
from hazardloop.intake import reports
from hazardloop.web import pages
from hazardloop.web.errors import status_of

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["reports"])


def _lookup(request: Request, ref: str, code: str) -> dict[str, Any]:
    with pages._db(request, write=True) as s:  # noqa: SLF001 - the read is audited
        return reports.track(s, ref, code)


def _page(request: Request, ctx: dict[str, Any], status: int = 200) -> Response:
    user, data = pages._current(request)  # noqa: SLF001 - signed in or not, the page is the same
    ctx = {"user": user, "csrf": data.csrf if data else None, "result": None, "error": None, "ref": "", **ctx}
    return pages.no_store(pages._render(request, "track.html", ctx, status))  # noqa: SLF001


@router.get("/track")
def track_form(request: Request) -> Response:
    return _page(request, {})


@router.post("/track")
async def track_post(request: Request) -> Response:
    fields = await pages.posted_fields(request, 5)
    ref, code = (fields.get("report") or "").strip()[:32], (fields.get("query_code") or "")[:40]

    def run() -> Response:
        try:
            return _page(request, {"result": _lookup(request, ref, code), "ref": ref})
        except HazardLoopError as exc:
            return _page(request, {"error": str(exc), "ref": ref}, status_of(exc))

    return await run_in_threadpool(run)


class TrackIn(BaseModel):
    report: str = Field(max_length=32, description="举报编号 JB-…")
    query_code: str = Field(max_length=40, description="登记时给出的查询码")


class RewardOut(BaseModel):
    amount: int | None
    basis: str | None
    decided_on: Any
    paid: bool
    paid_on: Any


class TrackOut(BaseModel):
    """What the reporter sees: status, feedback, reward decision — no enterprise data."""

    report: str
    state: str
    state_name: str
    received_on: Any
    accepted_on: Any
    decline_reason: str | None
    verdict: str | None
    verdict_name: str | None
    verified_on: Any
    feedback: str | None
    feedback_on: Any
    reward: RewardOut | None
    next_deadline: dict[str, Any] | None


@api_router.post("/track", response_model=TrackOut, summary="举报人凭编号和查询码查询办理情况（无需登录）")
def api_track(request: Request, body: TrackIn) -> TrackOut:
    return TrackOut(**_lookup(request, body.report, body.query_code))


def install(app: FastAPI) -> None:
    app.include_router(api_router)
    app.include_router(router)
