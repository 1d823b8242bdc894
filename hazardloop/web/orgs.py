"""管理 → 企业及其人员 on the console (committee office): the enterprises with their principal
(主要负责人), actual controller (实际控制人), safety manager and contacts -- edit one on its page,
or load a file in the `hazardloop org load` format (check first: the report lists every problem
and what each record would add or change; loading writes all of it or nothing).

The same functions as the CLI: models.orgs.plan_orgs / apply_orgs (what `org load` runs) and
models.orgs.update_enterprise (the same per-record check as a file's entry).  guards.
manage_accounts decides who may (the committee office); a change asks for the acting user's own
password again, as 管理's account actions do.  A file that would make someone a 市安委办 or system
account is refused unless the confirmation box is ticked."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, FastAPI, File, Request
from fastapi import UploadFile as ApiUpload
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.models import lookup, orgs
from hazardloop.models.tables import AppUser, Enterprise
from hazardloop.states import guards
from hazardloop.states.errors import PermissionDenied
from hazardloop.web import office, pages, services
from hazardloop.web.errors import kind_of, status_of

MAX_ORG_FILE = 5 << 20  # a county's enterprises and users in YAML: a few hundred KB
PER_PAGE = 50
PEOPLE = orgs.PEOPLE

router = APIRouter(include_in_schema=False)


def _door(request: Request) -> tuple[AppUser, str] | Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    try:
        guards.manage_accounts(got[0], "维护企业信息")
    except PermissionDenied:
        return pages.error_page(request, got[0], got[1], office.NOT_HERE, 404)
    return got


def _poster(request: Request, fields: dict[str, str], action: str) -> tuple[AppUser, str] | Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    try:
        guards.manage_accounts(got[0], action)
    except PermissionDenied:
        return pages.error_page(request, got[0], got[1], office.NOT_HERE, 404)
    return got


def _choices(session: Any) -> dict[str, list[tuple[str, str]]]:
    return {kind: lookup.choices(session, kind) for kind in ("region", "industry")}


def _list_page(request: Request, user: AppUser, csrf: str, params: dict[str, str], *, status: int = 200,
               **ctx: Any) -> Response:
    q = (params.get("q") or "").replace("\x00", "").strip()[:60]
    region = (params.get("region") or "").strip()[:32]
    page = services.small_int(params.get("page"), 6) or 1
    stmt = select(Enterprise)
    if q:
        stmt = stmt.where(Enterprise.name.contains(q) | Enterprise.credit_code.contains(q.upper())
                          | Enterprise.principal.contains(q) | Enterprise.controller.contains(q))
    if region:
        stmt = stmt.where(Enterprise.region_code == region)
    with office.db(request) as s:
        total = s.exec(select(func.count()).select_from(stmt.subquery())).one()
        rows = s.exec(stmt.order_by(Enterprise.id).offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
        choices = _choices(s)
    names = {kind: dict(pairs) for kind, pairs in choices.items()}
    from hazardloop.config.labels import label

    return office.render(request, "office/enterprises.html", {
        "label": label,
        "user": user, "csrf": csrf, "rows": rows, "total": total, "page": page, "per": PER_PAGE,
        "f": {"q": q, "region": region}, "choices": choices, "names": names, **ctx}, status)


@router.get("/admin/enterprises")
def enterprises_page(request: Request, saved: str | None = None) -> Response:
    got = _door(request)
    if isinstance(got, Response):
        return got
    return _list_page(request, *got, dict(request.query_params))


def _edit_page(request: Request, user: AppUser, csrf: str, ent_id: int, *, status: int = 200,
               error: str | None = None, notice: str | None = None, form: dict[str, Any] | None = None) -> Response:
    with office.db(request) as s:
        ent = s.get(Enterprise, ent_id)
        if ent is None:
            return pages.error_page(request, user, csrf, "没有这家企业。", 404)
        record = form or orgs.enterprise_form(ent)
        # a refused save keeps what the clerk typed and the version it started from
        seen = (form or {}).get("seen") or orgs.enterprise_fingerprint(ent)
        users = s.exec(select(AppUser).where(AppUser.enterprise_id == ent.id).order_by(AppUser.username)).all()
        choices = _choices(s)
    if form is None:
        record["contacts"] = _contacts_text(record["contacts"])
    return office.render(request, "office/enterprise.html", {
        "user": user, "csrf": csrf, "ent_id": ent_id, "r": record, "users": users, "choices": choices,
        "people": PEOPLE, "error": error, "notice": notice, "seen": seen}, status)


def _contacts_text(contacts: dict[str, Any]) -> str:
    return yaml.safe_dump(contacts, allow_unicode=True, default_flow_style=False, sort_keys=True) if contacts else ""


@router.get("/admin/enterprises/{ent_id}")
def enterprise_page(request: Request, ent_id: str, saved: str | None = None) -> Response:
    got = _door(request)
    if isinstance(got, Response):
        return got
    number = services.small_int(ent_id)
    if number is None:
        return pages.error_page(request, got[0], got[1], "没有这家企业。", 404)
    return _edit_page(request, *got, number, notice="企业信息已保存。" if saved else None)


def record_of(fields: dict[str, str]) -> dict[str, Any]:
    """The edit form as the record orgs.check_enterprise reads (contacts: YAML, one 键: 值 a line)."""
    text = (fields.get("contacts") or "").strip()
    try:
        contacts = yaml.safe_load(text.replace("：", ": ")) if text else {}
    except yaml.YAMLError:
        raise ValidationError("联系方式应为“键: 值”，每行一项（如 email: safety@example.com）。") from None
    return {"name": fields.get("name") or "", "credit_code": fields.get("credit_code") or "",
            "region": fields.get("region") or "", "industry": fields.get("industry") or "",
            "address": (fields.get("address") or "").strip() or None, "contacts": contacts,
            **{key: {"name": (fields.get(key) or "").strip() or None, "phone": (fields.get(f"{key}_phone") or "").strip()}
               for key, _ in PEOPLE}}


@router.post("/admin/enterprises/{ent_id}")
async def enterprise_save(request: Request, ent_id: str) -> Response:
    fields = await pages.posted_fields(request, 20)
    return await run_in_threadpool(_save, request, ent_id, fields)


def _save(request: Request, ent_id: str, fields: dict[str, str]) -> Response:
    got = _poster(request, fields, "修改企业信息")
    if isinstance(got, Response):
        return got
    user, csrf = got
    number = services.small_int(ent_id)
    if number is None:
        return pages.error_page(request, user, csrf, "没有这家企业。", 404)
    keep = {k: v[:2000] for k, v in fields.items() if k not in ("csrf_token", "password")}
    form = {**keep, **{k: {"name": keep.get(k, ""), "phone": keep.get(f"{k}_phone", "")} for k, _ in PEOPLE}}
    try:
        with office.db(request) as s:
            if s.get(Enterprise, number) is None:
                return pages.error_page(request, user, csrf, "没有这家企业。", 404)
        record = record_of(fields)
        _reauthenticated(request, user, "修改企业信息", fields)
        with office.db(request, write=True) as s:
            orgs.update_enterprise(s, number, record, actor=user.username, seen=(fields.get("seen") or None))
    except HazardLoopError as exc:
        status = 403 if isinstance(exc, office.ReauthFailed) else status_of(exc)
        return _edit_page(request, user, csrf, number, status=status, error=str(exc), form=form)
    return RedirectResponse(f"/admin/enterprises/{number}?saved=1", status_code=303)


def _reauthenticated(request: Request, user: AppUser, action: str, fields: dict[str, str]) -> None:
    from hazardloop.web import auth

    with office.db(request, write=True) as s:
        result = auth.reauthenticate(s, s.get(AppUser, user.id), fields.get("password") or "")
    if result.user is None:
        raise office.ReauthFailed(f"{action}需要再次输入本人密码：" + (result.message or auth.FAILED))


@router.post("/admin/orgs/load")
async def orgs_load(request: Request) -> Response:
    return await pages.with_upload(request, 6, _load)


def _read_upload(upload: UploadFile | None) -> tuple[str, str]:
    if upload is None or not (upload.filename or "").strip():
        raise ValidationError("请选择要载入的企业和人员文件（.yaml，格式同 hazardloop org load）。")
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]
    if not name.lower().endswith((".yaml", ".yml")):
        raise ValidationError("企业和人员文件须为 .yaml 或 .yml（格式同 hazardloop org load）。")
    upload.file.seek(0)
    data = upload.file.read(MAX_ORG_FILE + 1)
    if len(data) > MAX_ORG_FILE:
        raise ValidationError(f"文件太大（最大 {MAX_ORG_FILE >> 20} MB）。")
    if not data.strip():
        raise ValidationError("上传的文件是空的。")
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{name} 不是 UTF-8 编码的文本。") from None


def _load(request: Request, fields: dict[str, str], upload: UploadFile | None) -> Response:
    got = _poster(request, fields, "载入企业和人员文件")
    if isinstance(got, Response):
        return got
    user, csrf = got
    load = fields.get("mode") == "load"
    privileged = fields.get("privileged") == "1"
    params: dict[str, str] = {}
    try:
        name, text = _read_upload(upload)
        doc = orgs.read_orgs(text, name)
        if load:
            _reauthenticated(request, user, "载入企业和人员文件", fields)
        with office.db(request, write=load) as s:
            plan = orgs.plan_orgs(s, doc, name, allow_privileged=privileged)
            if load and plan.ok:
                added = orgs.apply_orgs(s, plan, actor=user.username)
            else:
                added = None
                s.rollback()
    except HazardLoopError as exc:
        status = 403 if isinstance(exc, office.ReauthFailed) else status_of(exc)
        return _list_page(request, user, csrf, params, status=status, error=str(exc))
    status = 422 if not plan.ok else 200
    return _list_page(request, user, csrf, params, status=status, plan=plan, filename=name, added=added,
                      loaded=load and plan.ok, privileged=privileged)


api = APIRouter(prefix="/api/v1", tags=["office"])


@api.post("/orgs/load", summary="载入企业和人员文件（市安委办；格式同 hazardloop org load）：dry_run 只校验")
def load_api(request: Request, file: ApiUpload = File(..., description="企业和人员 .yaml"),  # noqa: B008
             dry_run: bool = False, privileged: bool = False,
             user: AppUser = Depends(office.api_office)) -> Any:  # noqa: B008
    """Every problem and every record's change; all written or none (422 with the problems)."""
    try:
        guards.manage_accounts(user, "载入企业和人员文件")
        name, text = _read_upload(file)
        doc = orgs.read_orgs(text, name)
        with office.db(request, write=not dry_run) as s:
            plan = orgs.plan_orgs(s, doc, name, allow_privileged=privileged)
            added = orgs.apply_orgs(s, plan, actor=user.username) if plan.ok and not dry_run else None
            if added is None:
                s.rollback()
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))
    body = {"loaded": added is not None, "added": added, "problems": plan.problems,
            "changes": [c.__dict__ for c in plan.changes]}
    if not plan.ok:
        return JSONResponse({"detail": "文件有误，未载入任何记录。", "error": "invalid", **body}, status_code=422)
    return body


def install(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(router)
