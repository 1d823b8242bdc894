"""红黑榜 and 主要负责人带队检查 on the console (committee office).

红黑榜: reports.redblack.compute, as `hazardloop redblack` (every entry with its reasons).
带队检查: the periods missed (reports.inspections.missing, as `hazardloop inspection missing`)
filtered by 镇街区, 行业 and period; the inspections recorded; and recording one
(reports.inspections.record, whose guard guards.record_inspection decides) with its record as a
file (PDF, image, document; stored privately by its SHA-256 like evidence, served at
/inspections/{id}/record to whoever guards.read_inspection allows)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from hazardloop.config import calendar, clock
from hazardloop.errors import HazardLoopError, NotFound, ValidationError
from hazardloop.models.tables import AppUser
from hazardloop.reports import inspections
from hazardloop.reports import redblack as rb
from hazardloop.web import office, pages, services
from hazardloop.web.errors import kind_of, status_of

MISSING_LIMIT = 300


def _month(value: str | None) -> str:
    if not value or not value.strip():
        return calendar.month_of(clock.today())
    first, _ = calendar.month_bounds(value.strip()[:10])
    return calendar.month_of(first)


def gaps(session: Any, region: str | None, industry: str | None, period: str | None) -> list[inspections.Gap]:
    out = inspections.missing(session, clock.today())
    return [g for g in out if (not region or g.region == region) and (not industry or g.industry == industry)
            and (not period or g.period == period)]


router = APIRouter(include_in_schema=False)


@router.get("/redblack")
def redblack_page(request: Request, month: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    try:
        m = _month(month)
    except ValidationError as exc:
        return pages.error_page(request, user, csrf, str(exc), 422)
    with office.db(request) as s:
        result = rb.compute(s, m)
    return office.render(request, "office/redblack.html", {"user": user, "csrf": csrf, "r": result, "month": m})


def _inspections_page(request: Request, user: AppUser, csrf: str, params: dict[str, str], *, status: int = 200,
                      error: str | None = None, notice: str | None = None, form: dict[str, str] | None = None
                      ) -> Response:
    region, industry, period = (params.get(k) or None for k in ("region", "industry", "period"))
    with office.db(request) as s:
        missing_all = inspections.missing(s, clock.today())
        shown = [g for g in missing_all if (not region or g.region == region)
                 and (not industry or g.industry == industry) and (not period or g.period == period)]
        recent = inspections.list_inspections(s)[-50:][::-1]
    return office.render(request, "office/inspections.html", {
        "user": user, "csrf": csrf, "gaps": shown[:MISSING_LIMIT], "total": len(shown), "limit": MISSING_LIMIT,
        "regions": sorted({g.region for g in missing_all}), "industries": sorted({g.industry for g in missing_all}),
        "periods": sorted({(g.period, g.period_name) for g in missing_all}, reverse=True),
        "f": {"region": region, "industry": industry, "period": period}, "recent": recent, "error": error,
        "notice": notice, "form": form or {}, "today": clock.today().isoformat()}, status)


@router.get("/inspections")
def inspections_page(request: Request, done: str | None = None) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    return _inspections_page(request, user, csrf, dict(request.query_params),
                             notice="带队检查已登记。" if done else None)


@router.post("/inspections")
async def inspection_post(request: Request) -> Response:
    return await pages.with_upload(request, 10, _record, field="record", named_only=True)


def _record(request: Request, fields: dict[str, str], upload: UploadFile | None = None) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    keep = {k: v[:2000] for k, v in fields.items() if k != "csrf_token"}
    tmp: Path | None = None
    try:
        try:
            day = date.fromisoformat((fields.get("inspected_on") or "").strip())
        except ValueError:
            raise ValidationError("检查日期应为 YYYY-MM-DD。") from None
        count = (fields.get("hazards_found") or "").strip()
        if count and not (count.isascii() and count.isdigit() and len(count) < 6):
            raise ValidationError("发现隐患数应为非负整数。")
        name = None
        if upload is not None:  # a private temp copy (capped), then stored by its hash
            tmp, name = pages._store_upload(upload)  # noqa: SLF001
        with office.db(request, write=True) as s:
            inspections.record(s, s.get(AppUser, user.id), enterprise=(fields.get("enterprise") or "").strip()[:64],
                               inspected_on=day, led_by=(fields.get("led_by") or "").strip()[:64] or None,
                               findings=(fields.get("findings") or "")[:2000],
                               hazards_found=int(count) if count else None, record_file=tmp, record_name=name)
    except HazardLoopError as exc:
        return _inspections_page(request, user, csrf, {}, status=status_of(exc), error=str(exc), form=keep)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return RedirectResponse("/inspections?done=1", status_code=303)


@router.get("/inspections/{inspection_id}/record")
def inspection_record_file(request: Request, inspection_id: str) -> Response:
    """The uploaded record, to whoever guards.read_inspection allows (the enterprise, its department,
    its township, the office); anyone else gets 404.  Served like evidence (attachment, sandboxed)."""
    user, data = pages._current(request)  # noqa: SLF001
    if user is None:
        return pages._to_login(request)  # noqa: SLF001
    number = services.small_int(inspection_id)
    try:
        if number is None:
            raise NotFound("没有这个检查记录文件。")
        with office.db(request) as s:
            row = inspections.record_of(s, s.get(AppUser, user.id), number)
        return pages.evidence_response(SimpleNamespace(stored_path=row.record_path, filename=row.record_name))
    except HazardLoopError as exc:
        return pages.error_page(request, user, data.csrf, str(exc), status_of(exc))


api = APIRouter(prefix="/api/v1", tags=["office"])


@api.get("/redblack", summary="红黑榜（市安委办）：每条都写明理由")
def redblack_api(request: Request, month: str | None = None, user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    try:
        m = _month(month)
        with office.db(request) as s:
            d = rb.compute(s, m).as_dict()
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))
    return {**d, "as_of": d["as_of"].isoformat()}


@api.get("/inspections/missing", summary="未按期开展主要负责人带队检查的企业（市安委办）")
def missing_api(request: Request, region: str | None = None, industry: str | None = None, period: str | None = None,
                user: AppUser = Depends(office.api_office)) -> list[dict[str, Any]]:  # noqa: B008
    with office.db(request) as s:
        return [{**g.as_dict(), "start": g.start.isoformat(), "end": g.end.isoformat()}
                for g in gaps(s, region, industry, period)]


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)
