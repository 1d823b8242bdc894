"""The application factory: pages, the /api/v1 JSON API, security headers, error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hazardloop.bootstrap import bootstrap
from hazardloop.config import calendar, clock
from hazardloop.errors import HazardLoopError
from hazardloop.states.roles import CHANNELS, LEVELS, ROLE_NAMES, STATE_NAMES, TRIGGER_NAMES, Role
from hazardloop.web.auth import SessionCodec, load_secret_key
from hazardloop.web.errors import kind_of, status_of
from hazardloop.web.services import ACTION_NAMES

HERE = Path(__file__).parent

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def _fmt_dt(value: Any) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _fmt_date(value: Any) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d") if value else ""


def _calendar_banner(user: Any) -> str:
    """From November on, the office and the supervisors are told on every page that next year's
    调休 arrangement is missing (their deadlines and 公文 dates would be wrong); others are not."""
    if user is None or getattr(user, "role", None) not in (Role.committee, Role.supervisor):
        return ""
    year = calendar.missing_next_year(clock.today())
    return calendar.missing_message(year) if year else ""


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.globals.update(STATE_NAMES=STATE_NAMES, ACTION_NAMES=ACTION_NAMES, CHANNELS=CHANNELS, LEVELS=LEVELS,
                       ROLE_NAMES=ROLE_NAMES, TRIGGER_NAMES=TRIGGER_NAMES)
    env.filters.update(dt=_fmt_dt, d=_fmt_date)
    from hazardloop.states.ledger import is_overdue
    from hazardloop.web.services import is_image

    env.globals.update(is_overdue=is_overdue, is_image=is_image)
    env.globals.update(calendar_banner=_calendar_banner)  # issue 14: next year's 调休 missing
    return templates


def create_app(db_url: str | None = None, secret_key: str | None = None, *, session_max_age: int | None = None,
               secure_cookies: bool | None = None) -> FastAPI:
    """db_url: None means the configured database (HAZARDLOOP_DATABASE_URL / data dir).
    secure_cookies: None reads HAZARDLOOP_SECURE_COOKIES=1 (set it when served over HTTPS)."""
    import os

    if secure_cookies is None:
        secure_cookies = os.environ.get("HAZARDLOOP_SECURE_COOKIES", "").lower() in ("1", "true", "yes")
    # The routers, imported here so that importing web.app stays cheap for the CLI's `web` command.
    from hazardloop.web import (admin, api, bulletins, dashboard, documents, lagging, limits, office, orgs, outbox,
                                pages, redblack, sheets)
    from hazardloop.web import campaigns as campaigns_web
    from hazardloop.web import escalation as escalation_web
    from hazardloop.web import interviews as interviews_web
    from hazardloop.web import notices as notices_web
    from hazardloop.web import plans as plans_web
    from hazardloop.web import reports as reports_web
    from hazardloop.web import track as track_web

    bootstrap()  # web actions write their notices and escalation cycles like every entry point

    app = FastAPI(title="HazardLoop 重大事故隐患闭环管理 API", version="1",
                  description="与网页、命令行相同的操作和权限规则（同一状态机与 guards）。系统对接使用令牌："
                              "`Authorization: Bearer <token>`（令牌由 `hazardloop user token` 签发）。",
                  openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None)
    app.state.db_url = db_url
    codec = SessionCodec(secret_key or load_secret_key())
    if session_max_age:
        codec.max_age = session_max_age
    app.state.codec = codec
    app.state.secure_cookies = secure_cookies
    app.state.templates = make_templates()

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        if request.url.path == "/api/v1/docs":
            # Swagger UI comes from FastAPI's CDN with an inline bootstrap script.
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
                "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
                "frame-ancestors 'none'")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.url.path.startswith(("/api/", "/hazards", "/queue", "/evidence")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
        return app.state.templates.TemplateResponse(request, "error.html", {"message": message, "user": None},
                                                    status_code=status)

    @app.exception_handler(HazardLoopError)
    async def _refused(request: Request, exc: HazardLoopError):  # noqa: ANN202
        status = status_of(exc)
        if _is_api(request):
            return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status)
        return _error_page(request, status, str(exc))

    @app.exception_handler(DataError)
    async def _bad_data(request: Request, exc: DataError):  # noqa: ANN202
        # e.g. a NUL character or an out-of-range number PostgreSQL refuses: bad input, not a crash.
        message = "输入包含数据库不能保存的字符或数值。"
        if _is_api(request):
            return JSONResponse({"detail": message, "error": "invalid"}, status_code=422)
        return _error_page(request, 422, message)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError):  # noqa: ANN202
        message = "数据库暂时繁忙或不可用，请稍后重试。"
        if _is_api(request):
            return JSONResponse({"detail": message, "error": "unavailable"}, status_code=503)
        return _error_page(request, 503, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if _is_api(request) or exc.status_code in (401,) and request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"detail": exc.detail, "error": "http"}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        message = {404: "页面不存在。", 405: "不支持该请求方式。"}.get(exc.status_code, str(exc.detail))
        return _error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):  # noqa: ANN202
        if _is_api(request):
            errors = [{"loc": list(e.get("loc", [])), "msg": str(e.get("msg"))} for e in exc.errors()]
            return JSONResponse({"detail": "请求参数不正确。", "error": "invalid", "errors": errors}, status_code=422)
        return _error_page(request, 422, "请求参数不正确。")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):  # noqa: ANN202
        # Whatever slipped through: a Chinese error (JSON or page), never a bare "Internal Server Error".
        import logging

        logging.getLogger("hazardloop.web").exception("unhandled error on %s %s", request.method, request.url.path)
        message = "服务器内部错误，操作未完成，已记录。请稍后重试或联系管理员。"
        if _is_api(request):
            return JSONResponse({"detail": message, "error": "internal"}, status_code=500)
        return _error_page(request, 500, message)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    reports_web.install(app)  # public reports (举报): pages, /api/v1/reports, queue sections, nav links
    escalation_web.install(app)  # 批准曝光 / 不予批准: page forms and /api/v1/escalation/steps/...
    track_web.install(app)  # 举报人凭查询码查询: /track, /api/v1/track
    interviews_web.install(app)  # 约谈会 records: /api/v1/escalation/steps/{id}/interview ...
    notices_web.install(app)  # the public page of the 集中曝光/挂牌 通告: /notices
    campaigns_web.install(app)  # 五项整治: inventories, QR 赋码 pages, phone checklist, problems, /api/v1/campaigns
    plans_web.install(app)  # 挂图作战, the unit's 月调度 page, /api/v1/plans/tasks
    # The committee office's month (市安委办 only)
    office.install(app)  # nav links of the committee office's pages
    dashboard.install(app)  # 首页/态势
    documents.install(app)  # 公文
    bulletins.install(app)  # 月通报
    sheets.install(app)  # 明细表 in and out
    outbox.install(app)  # 通知
    lagging.install(app)  # 落后单位
    redblack.install(app)  # 红黑榜, 主要负责人带队检查
    admin.install(app)  # 管理
    orgs.install(app)  # 管理 → 企业及其人员 (edit, load a file)
    limits.install(app)  # bodies: anonymous ones refused unread, every one capped while it streams
    return app
