"""Server-rendered pages (Simplified Chinese).  Every form carries the session's CSRF
token; every hazard and evidence look-up is filtered by what the user may see."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hazardloop.config.private import private_dir
from hazardloop.config.settings import get_settings
from hazardloop.models.db import session_scope
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.models.tables import AppUser
from hazardloop.states import guards
from hazardloop.states.errors import InvalidTransition
from hazardloop.states.machine import STATES
from hazardloop.states.roles import CHANNELS, LEVELS, STATE_NAMES
from hazardloop.web import auth, services
from hazardloop.web.errors import status_of

router = APIRouter(include_in_schema=False)

DONE = {
    "confirm": "已确认挂牌。", "dismiss": "已排除。", "plan": "整改方案已提交，整改时限开始计算。",
    "evidence": "整改证明材料已上传。", "submit": "整改完成已提交，等待审核。", "approve": "已审核销号。",
    "reject": "已驳回，企业需重新整改。", "request_extension": "延期申请已提交。", "decide_extension": "延期申请已处理。",
    "edit": "隐患信息已修改。",
}


def _db(request: Request, write: bool = False):  # noqa: ANN202
    return session_scope(request.app.state.db_url, write=write)


def _session_data(request: Request) -> auth.SessionData | None:
    return request.app.state.codec.loads(request.cookies.get(auth.SESSION_COOKIE))


def _current(request: Request, session: Any = None) -> tuple[AppUser | None, auth.SessionData | None]:
    """session: the page's own read session, if it has one (one connection and transaction per
    view instead of two: each costs round trips to PostgreSQL)."""
    data = _session_data(request)
    if data is None:
        return None, None
    if session is not None:
        user = auth.session_user(session, data)
    else:
        with _db(request, write=False) as s:  # a read: on SQLite it must not queue behind writers
            user = auth.session_user(s, data)
    return user, data if user else None


def _render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


CSRF_FAILED = "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"


def no_store(response: Response) -> Response:
    """Kept by no cache: for pages with a user's data on paths app.py's default does not cover."""
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, user: AppUser | None, csrf: str | None, message: str, status: int) -> Response:
    return no_store(_render(request, "error.html", {"user": user, "csrf": csrf, "message": message}, status))


async def posted_fields(request: Request, max_fields: int) -> dict[str, str]:
    """The text fields of a form post that carries no file."""
    form = await request.form(max_files=0, max_fields=max_fields)
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def with_upload(request: Request, max_fields: int, handler: Any, *args: Any, field: str = "file",
                      named_only: bool = False) -> Response:
    """A form post that may carry one file: handler(request, *args, fields, upload) runs in a worker
    thread with the text fields and the file (None when none was sent; with named_only also when
    the file input was left empty), and the form's spooled file is closed after."""
    form = await request.form(max_files=1, max_fields=max_fields)
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get(field)
        if not isinstance(upload, UploadFile) or (named_only and not (upload.filename or "").strip()):
            upload = None
        return await run_in_threadpool(handler, request, *args, fields, upload)
    finally:
        await form.close()


def form_poster(request: Request, fields: dict[str, str]) -> tuple[AppUser, auth.SessionData] | Response:
    """Who posted a form: the signed-in user and their session, or the response to send instead
    (the sign-in page; a 403 when the CSRF token is missing or wrong)."""
    user, data = _current(request)
    if user is None:
        return _to_login(request)
    if not auth.csrf_ok(data.csrf, fields.get("csrf_token")):
        return error_page(request, user, data.csrf, CSRF_FAILED, 403)
    return user, data


def _safe_next(value: str | None) -> str:
    # Only a local path: browsers drop tabs/newlines and read "\\" as "/", so "/\t/evil" would be "//evil".
    if (value and value.startswith("/") and not value.startswith("//") and "\\" not in value
            and value.isprintable() and not any(c.isspace() for c in value) and len(value) < 500):
        return value
    return "/queue"


# --- sign in / out ------------------------------------------------------------------


def _login_page(request: Request, message: str | None = None, status: int = 200, username: str = "",
                next_: str = "/queue") -> HTMLResponse:
    token, cookie = request.app.state.codec.login_token()
    response = _render(request, "login.html", {"user": None, "csrf": token, "message": message,
                                               "username": username, "next": _safe_next(next_)}, status)
    response.set_cookie(auth.LOGIN_COOKIE, cookie, max_age=3600, httponly=True, samesite="strict",
                        secure=request.app.state.secure_cookies, path="/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/queue") -> Response:  # noqa: A002
    return _login_page(request, next_=next)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username") or "")[:64]
    password = str(form.get("password") or "")[:256]
    next_ = _safe_next(str(form.get("next") or ""))
    expected = request.app.state.codec.login_cookie_token(request.cookies.get(auth.LOGIN_COOKIE))
    if not auth.csrf_ok(expected, str(form.get("csrf_token") or "")):
        return _login_page(request, "登录表单已过期，请重新输入。", 403, username, next_)

    def check() -> auth.SessionData | str:
        result = auth.attempt(request.app.state.db_url, password, username=username)  # argon2 outside the write lock
        if result.user is None:
            return result.message or auth.FAILED
        with _db(request) as s:
            return auth.new_session(auth.credential(s, result.user))  # type: ignore[arg-type]

    outcome = await run_in_threadpool(check)
    if isinstance(outcome, str):
        return _login_page(request, outcome, 401, username, next_)
    response = RedirectResponse(next_, status_code=303)
    codec = request.app.state.codec
    response.set_cookie(auth.SESSION_COOKIE, codec.dumps(outcome), max_age=codec.max_age, httponly=True,
                        samesite="lax", secure=request.app.state.secure_cookies, path="/")
    response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    data = _session_data(request)
    if data is not None and not auth.csrf_ok(data.csrf, str(form.get("csrf_token") or "")):
        return _render(request, "error.html", {"user": None, "message": "表单已过期，请刷新页面后重试。"}, 403)
    if data is not None:  # void it server-side: a copy of the cookie opens nothing, on any worker
        def revoke() -> None:
            with _db(request, write=True) as s:
                auth.revoke_session(s, data, request.app.state.codec.max_age)

        await run_in_threadpool(revoke)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --- pages ------------------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/queue")
def my_queue(request: Request) -> Response:
    user, data = _current(request)
    if user is None:
        return _to_login(request)
    with _db(request) as s:
        sections = services.queue(s, user)
    return _render(request, "queue.html", {"user": user, "csrf": data.csrf, "sections": sections})


def _opt(value: str | None, allowed: Any) -> str | None:
    return value if value and value in allowed else None


@router.get("/hazards")
def hazard_list(request: Request, state: str | None = None, region: str | None = None, industry: str | None = None,
                channel: str | None = None, level: str | None = None, overdue: str | None = None,
                q: str | None = None, sort: str = "found", order: str = "desc", page: str = "1",
                department: str | None = None) -> Response:
    with _db(request, write=False) as s:
        user, data = _current(request, s)
        if user is None:
            return _to_login(request)
        return _hazard_list(request, s, user, data, state, region, industry, channel, level, overdue, q, sort, order,
                            page, department)


def _hazard_list(request: Request, s: Any, user: AppUser, data: auth.SessionData, state: str | None,
                 region: str | None, industry: str | None, channel: str | None, level: str | None,
                 overdue: str | None, q: str | None, sort: str, order: str, page: str,
                 department: str | None) -> Response:
    lq = services.ListQuery(
        state=_opt(state, STATES), region=(region or None) and region[:32], industry=(industry or None) and industry[:32],
        channel=_opt(channel, CHANNELS), level=_opt(level, LEVELS), overdue=overdue in ("1", "on", "true"),
        q=(q or "").replace("\x00", "")[:60] or None, sort=sort if sort in services.SORTS else "found",
        desc=order != "asc", page=services.small_int(page, 6) or 1,
        department=(department or None) and department[:32])
    result = services.list_hazards(s, user, lq)
    options = services.reference_options(s)
    params = {k: v for k, v in (("state", lq.state), ("region", lq.region), ("industry", lq.industry),
                                ("department", lq.department), ("channel", lq.channel), ("level", lq.level), ("q", lq.q),
                                ("overdue", "1" if lq.overdue else None), ("sort", lq.sort),
                                ("order", "desc" if lq.desc else "asc")) if v}
    return _render(request, "list.html", {"user": user, "csrf": data.csrf, "r": result, "lq": lq,
                                          "params": params, "opt": options})


def _hazard_page(request: Request, user: AppUser, csrf: str, ref: str, *, status: int = 200,
                 error: str | None = None, notice: str | None = None, form: dict[str, Any] | None = None,
                 form_action: str | None = None, session: Any = None) -> HTMLResponse:
    with contextlib.nullcontext(session) if session is not None else _db(request, write=False) as s:
        hazard = services.visible_hazard(s, user, ref)
        ctx = services.detail(s, user, hazard)
        options = services.reference_options(s)
    ctx.update({"user": user, "csrf": csrf, "error": error, "notice": notice, "form": form or {},
                "form_action": form_action, "opt": options})
    return _render(request, "hazard.html", ctx, status)


@router.get("/hazards/{ref}")
def hazard_page(request: Request, ref: str, done: str | None = None) -> Response:
    with _db(request, write=False) as s:
        user, data = _current(request, s)
        if user is None:
            return _to_login(request)
        return _hazard_page(request, user, data.csrf, ref[:40], notice=DONE.get(done or ""), session=s)


def _store_upload(upload: UploadFile) -> tuple[Path, str]:
    """Copy an upload to a private temporary file (the ledger then stores it by hash)."""
    name = Path((upload.filename or "").replace("\\", "/")).name.strip()[:200]
    if not name:
        raise ValidationError("请选择要上传的文件。")
    suffix = Path(name).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 10 else ""
    tmp_dir = get_settings().data_dir / "tmp"
    private_dir(tmp_dir)
    fd, path = tempfile.mkstemp(suffix=suffix, dir=tmp_dir)
    size = 0
    with os.fdopen(fd, "wb") as out:
        upload.file.seek(0)
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > services.MAX_UPLOAD:
                out.close()
                os.unlink(path)
                raise ValidationError(f"文件太大（最大 {services.MAX_UPLOAD // (1 << 20)} MB）。")
            out.write(chunk)
    if size == 0:
        os.unlink(path)
        raise ValidationError("上传的文件是空的。")
    return Path(path), name


@router.post("/hazards/{ref}/{action}")
async def hazard_action(request: Request, ref: str, action: str) -> Response:
    length = request.headers.get("content-length")
    if (services.small_int(length, 15) or 0) > services.MAX_UPLOAD + (1 << 20):
        return _render(request, "error.html", {"user": None, "message": "上传的内容太大（最大 20 MB）。"}, 413)
    return await with_upload(request, 50, _act, ref[:40], action[:40])


def _act(request: Request, ref: str, action: str, fields: dict[str, str], upload: UploadFile | None) -> Response:
    poster = form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    if action not in services.ACTION_NAMES:
        return _render(request, "error.html", {"user": user, "csrf": data.csrf, "message": "没有这个操作。"}, 404)
    keep = {k: v for k, v in fields.items() if k not in ("csrf_token", "password")}
    payload: dict[str, Any] = dict(keep)
    tmp: Path | None = None
    try:
        with _db(request) as s:
            services.visible_hazard(s, user, ref)  # 404 before anything else, for any action
        if action == "approve":
            # Close-out needs the password again; a wrong one counts toward lock-out and is committed,
            # but only once the guard would let this user approve (a refused user's attempt never counts).
            with _db(request) as s:
                hazard = services.visible_hazard(s, user, ref)
                services._check_version(hazard, services.parse_version(fields.get("expected_version")))  # noqa: SLF001
                if not services.may(s, user, hazard, "approve"):
                    guards.approve(hazard, user, {})  # the guard's own reason, if it is the guard
                    raise InvalidTransition(f"{hazard.code} 当前为{STATE_NAMES[hazard.state]}，不能审核销号。")
            result = auth.attempt(request.app.state.db_url, fields.get("password") or "", user_id=user.id,
                                  sign_in=False)
            if result.user is None:
                message = "销号需要再次输入本人密码：" + (result.message or auth.FAILED)
                return _hazard_page(request, user, data.csrf, ref, status=403, error=message, form=keep,
                                    form_action=action)
            payload["reauthenticated"] = True
        if action == "evidence":
            if upload is None:
                raise ValidationError("请选择要上传的文件。")
            tmp, name = _store_upload(upload)
            payload.update(path=tmp, filename=name)
        with _db(request, write=True) as s:
            actor = s.get(AppUser, user.id)
            result_obj = services.perform(s, actor, ref, action, payload)
            hazard_id = getattr(result_obj, "hazard_id", None) or result_obj.id
    except HazardLoopError as exc:
        status = status_of(exc)
        if status == 404:
            return _render(request, "error.html", {"user": user, "csrf": data.csrf, "message": str(exc)}, 404)
        # Re-render with the current record (a conflict shows the new state) and the input kept.
        return _hazard_page(request, user, data.csrf, ref, status=status, error=str(exc), form=keep,
                            form_action=action)
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    return RedirectResponse(f"/hazards/{hazard_id}?done={action}", status_code=303)


@router.get("/evidence/{evidence_id}")
def evidence_file(request: Request, evidence_id: str, inline: str | None = None) -> Response:
    user, _ = _current(request)
    if user is None:
        return _to_login(request)
    number = services.small_int(evidence_id)
    if number is None:
        return _render(request, "error.html", {"user": user, "message": "没有这个证明材料。"}, 404)
    with _db(request) as s:
        evidence, _hazard = services.visible_evidence(s, user, number)
    return evidence_response(evidence, inline=inline == "1")


def evidence_response(evidence: Any, inline: bool = False) -> Response:
    path = Path(evidence.stored_path)
    if not path.is_file():
        from hazardloop.errors import NotFound

        raise NotFound("证明材料文件已不在存储目录中，请联系管理员。")
    suffix = Path(evidence.filename).suffix.lower()
    image = suffix in services.IMAGE_TYPES
    response = FileResponse(path, media_type=services.IMAGE_TYPES.get(suffix, "application/octet-stream"),
                            filename=evidence.filename,
                            content_disposition_type="inline" if inline and image else "attachment")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
