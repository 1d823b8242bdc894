"""明细表 on the console: upload a township's sheet, read the row-by-row validation report on
the page, then import all of it (only if every row passes) or only the valid rows; export
the 台账 with the list's current filters as .xlsx.

The same calls as `hazardloop ledger import|export`: intake.excel.import_sheet (dry run for
the report, then for real) and intake.excel.export_sheet; their guards (states.
intake_guards.import_ledger / export_ledger) decide who may.  Between the check and the
import the upload waits in the data directory's tmp/ under a random name bound to the user
who uploaded it; the import reads that same file (what was checked is what is imported)."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Request
from fastapi import UploadFile as ApiUpload
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hazardloop.config import clock
from hazardloop.config.settings import get_settings
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.intake import excel
from hazardloop.models.tables import AppUser
from hazardloop.states import intake_guards, ledger
from hazardloop.states.errors import PermissionDenied
from hazardloop.states.machine import STATES
from hazardloop.states.roles import CHANNELS, LEVELS
from hazardloop.web import office, pages
from hazardloop.web.errors import kind_of, status_of

MAX_SHEET = 10 << 20  # a township's month is a few hundred rows: 10 MB is generous
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")


def _dir() -> Path:
    d = get_settings().data_dir / "tmp" / "sheets"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _held(user: AppUser, token: str) -> Path:
    if not TOKEN.match(token or ""):
        raise ValidationError("上传的表格已失效，请重新上传。")
    path = _dir() / f"{user.id}-{token}.xlsx"
    if not path.is_file():
        raise ValidationError("上传的表格已失效（已导入或已过期），请重新上传。")
    return path


def hold(user: AppUser, upload: UploadFile) -> tuple[str, str]:
    """Keep an upload for the import that may follow: (token, the file's name as uploaded)."""
    name = Path((upload.filename or "").replace("\\", "/")).name.strip()[:200]
    if not name:
        raise ValidationError("请选择要上传的明细表（.xlsx）。")
    if not name.lower().endswith(".xlsx"):
        raise ValidationError("明细表须为 .xlsx 文件（Excel 2007 及以后的格式）。")
    token = secrets.token_urlsafe(18)
    path = _dir() / f"{user.id}-{token}.xlsx"
    size = 0
    upload.file.seek(0)
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > MAX_SHEET:
                out.close()
                path.unlink()
                raise ValidationError(f"文件太大（最大 {MAX_SHEET >> 20} MB）。")
            out.write(chunk)
    if size == 0:
        path.unlink()
        raise ValidationError("上传的文件是空的。")
    (path.with_suffix(".name")).write_text(name, encoding="utf-8")
    return token, name


def _name(path: Path) -> str:
    try:
        return path.with_suffix(".name").read_text(encoding="utf-8")
    except OSError:
        return path.name


def _drop(path: Path) -> None:
    for p in (path, path.with_suffix(".name")):
        p.unlink(missing_ok=True)


def check(request: Request, user: AppUser, path: Path) -> dict[str, Any]:
    """The validation report: every row with its problems, and the dry run's summary."""
    sheet = excel.read_sheet(path)
    with office.db(request) as s:
        try:
            result = excel.import_sheet(s, s.get(AppUser, user.id), path, skip_invalid=True, dry_run=True)
        finally:
            s.rollback()
    by_row: dict[int, list[excel.Problem]] = {}
    for p in result.problems:
        by_row.setdefault(p.row, []).append(p)
    keys = [k for k in ("enterprise_name", "description", "inspected_on", "method") if k in sheet.columns]
    rows = [{"row": r.row, "cells": [excel.text(r.values.get(k)) for k in keys], "problems": by_row.get(r.row, [])}
            for r in sheet.rows]
    general = [p for p in result.problems if p.row not in {r.row for r in sheet.rows}]
    return {"result": result, "rows": rows, "heads": [sheet.headers.get(k, excel.LABEL[k]) for k in keys],
            "general": general, "valid": result.rows - result.invalid}


def do_import(request: Request, user: AppUser, path: Path, skip_invalid: bool) -> excel.ImportResult:
    with office.db(request, write=True) as s:
        result = excel.import_sheet(s, s.get(AppUser, user.id), path, skip_invalid=skip_invalid)
    _drop(path)
    return result


def _filter(params: dict[str, str]) -> ledger.HazardFilter:
    def pick(key: str, allowed: Any = None, n: int = 32) -> str | None:
        v = (params.get(key) or "").strip()[:n] or None
        return v if v is None or allowed is None or v in allowed else None

    return ledger.HazardFilter(state=pick("state", STATES), region=pick("region"), industry=pick("industry"),
                               department=pick("department"), channel=pick("channel", CHANNELS), level=pick("level", LEVELS),
                               overdue=params.get("overdue") in ("1", "on", "true"))


# --- pages ----------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: AppUser, csrf: str, status: int = 200, **ctx: Any) -> Response:
    return office.render(request, "office/sheets.html", {"user": user, "csrf": csrf, **ctx}, status)


@router.get("/sheets")
def sheets_page(request: Request) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    return _page(request, user, csrf)


@router.post("/sheets/check")
async def sheets_check(request: Request) -> Response:
    length = request.headers.get("content-length") or ""
    if length.isdigit() and int(length) > MAX_SHEET + (1 << 20):
        return pages.error_page(request, None, None, f"上传的内容太大（最大 {MAX_SHEET >> 20} MB）。", 413)
    return await pages.with_upload(request, 5, _check)


def _check(request: Request, fields: dict[str, str], upload: UploadFile | None) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    try:
        intake_guards.import_ledger(user)
        if upload is None:
            raise ValidationError("请选择要上传的明细表（.xlsx）。")
        token, name = hold(user, upload)
        path = _held(user, token)
        try:
            report = check(request, user, path)
        except HazardLoopError:
            _drop(path)
            raise
    except HazardLoopError as exc:
        return _page(request, user, csrf, status_of(exc), error=str(exc))
    return _page(request, user, csrf, token=token, filename=name, **report)


@router.post("/sheets/import")
async def sheets_import(request: Request) -> Response:
    fields = await pages.posted_fields(request, 6)
    return await run_in_threadpool(_import, request, fields)


def _import(request: Request, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    try:
        path = _held(user, fields.get("token") or "")
        result = do_import(request, user, path, skip_invalid=fields.get("mode") == "valid")
    except excel.ImportRejected as exc:
        return _page(request, user, csrf, 422, error="有无效行，未导入任何数据：可修改表格后重新上传，或选择“只导入有效行”。",
                     token=fields.get("token"), problems=exc.problems)
    except HazardLoopError as exc:
        return _page(request, user, csrf, status_of(exc), error=str(exc))
    return _page(request, user, csrf, imported=result)


@router.get("/sheets/export")
def sheets_export(request: Request) -> Response:
    """The 台账 as .xlsx with the list's filters (state, region, industry, department, channel, level, overdue);
    whoever may export sees only what they may see (the list's own rule)."""
    user, data = pages._current(request)  # noqa: SLF001
    if user is None:
        return pages._to_login(request)  # noqa: SLF001
    try:
        intake_guards.export_ledger(user)
    except PermissionDenied:
        return pages.error_page(request, user, data.csrf, office.NOT_HERE, 404)
    flt = _filter(dict(request.query_params))
    fd, name = tempfile.mkstemp(suffix=".xlsx", dir=_dir())
    os.close(fd)
    out = Path(name)
    with office.db(request, write=True) as s:  # the export is audited (who took which rows)
        excel.export_sheet(s, s.get(AppUser, user.id), out, flt)
    filename = f"重大事故隐患明细表-{clock.today().isoformat()}.xlsx"
    response = FileResponse(out, filename=filename, background=BackgroundTask(out.unlink, missing_ok=True),
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Cache-Control"] = "private, no-store"
    return response


api = APIRouter(prefix="/api/v1", tags=["office"])


@api.post("/ledger/import", summary="导入明细表（市安委办）：逐行校验；dry_run 只校验，skip_invalid 只导入有效行")
def import_api(request: Request, file: ApiUpload = File(..., description="《重大事故隐患排查及整改情况明细表》.xlsx"),  # noqa: B008
               dry_run: bool = False, skip_invalid: bool = False,
               user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    path: Path | None = None
    try:
        token, _name = hold(user, file)
        path = _held(user, token)
        with office.db(request, write=True) as s:
            result = excel.import_sheet(s, s.get(AppUser, user.id), path, skip_invalid=skip_invalid, dry_run=dry_run)
            if dry_run:
                s.rollback()
    except excel.ImportRejected as exc:
        return JSONResponse({"detail": "有无效行，未导入任何数据。", "error": "invalid", "imported": False,
                             "problems": [p.__dict__ for p in exc.problems]}, status_code=422)
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))
    finally:
        if path is not None:
            _drop(path)
    return {"imported": not dry_run, "batch": result.batch_id, "rows": result.rows, "created": result.created,
            "existing": result.existing, "invalid": result.invalid, "enterprises_created": result.enterprises_created,
            "codes": result.created_codes, "problems": [p.__dict__ for p in result.problems]}


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)
