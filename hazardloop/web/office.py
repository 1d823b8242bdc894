"""What the committee office's pages share: who may open them (the guard
states.guards.read_office, asked once here), the nav links, the JSON refusal.

An office page for anyone else answers 404, like a hazard out of scope: a township
or an enterprise learns nothing about which office pages exist."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from hazardloop.errors import HazardLoopError
from hazardloop.models.db import session_scope
from hazardloop.models.tables import AppUser
from hazardloop.config import labels
from hazardloop.notifications.recipients import RECIPIENT_ROLES
from hazardloop.states import guards, intake_guards
from hazardloop.states.errors import PermissionDenied
from hazardloop.web import pages
from hazardloop.web.api import api_user

NOT_HERE = "页面不存在。"


class ReauthFailed(HazardLoopError):
    """The password given again was wrong (403 on the page and in the API)."""
LINKS = (("/dashboard", "nav-dashboard", "态势"), ("/documents", "nav-documents", "公文"),
         ("/bulletins", "nav-bulletins", "月通报"), ("/sheets", "nav-sheets", "明细表"),
         ("/outbox", "nav-outbox", "通知"), ("/lagging", "nav-lagging", "落后单位"), ("/redblack", "nav-redblack", "红黑榜"),
         ("/inspections", "nav-inspections", "带队检查"), ("/admin", "nav-admin", "管理"))


def may_open(user: AppUser | None) -> bool:
    if user is None:
        return False
    try:
        return bool(guards.read_office(user, "查看市安委办页面"))
    except PermissionDenied:
        return False


def nav_links(user: AppUser | None) -> list[tuple[str, str, str]]:
    return list(LINKS) if may_open(user) else []


def db(request: Request, write: bool = False):  # noqa: ANN201
    return session_scope(request.app.state.db_url, write=write)


def page_user(request: Request) -> tuple[AppUser, str] | Response:
    """The signed-in office user and the CSRF token, or the response instead (sign-in; 404)."""
    user, data = pages._current(request)  # noqa: SLF001
    if user is None:
        return pages._to_login(request)  # noqa: SLF001
    if not may_open(user):
        return pages.error_page(request, user, data.csrf, NOT_HERE, 404)
    return user, data.csrf


def poster(request: Request, fields: dict[str, str]) -> tuple[AppUser, str] | Response:
    """Like page_user for a form post: also the CSRF check."""
    got = pages.form_poster(request, fields)
    if isinstance(got, Response):
        return got
    user, data = got
    if not may_open(user):
        return pages.error_page(request, user, data.csrf, NOT_HERE, 404)
    return user, data.csrf


def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def api_office(user: AppUser = Depends(api_user)) -> AppUser:  # noqa: B008
    """The API's door to office data: a token of anyone else gets 404, like the pages."""
    if not may_open(user):
        raise HTTPException(404, "Not Found")
    return user


def stored_document_response(html: str) -> Response:
    """A stored 公文 as issued (its own <style>): no script at all, nothing loaded from elsewhere."""
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                                   "img-src data:; frame-ancestors 'none'; sandbox")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def may_export(user: AppUser | None) -> bool:
    try:
        return user is not None and bool(intake_guards.export_ledger(user))
    except PermissionDenied:
        return False


def install(app: FastAPI) -> None:
    app.state.templates.env.globals.update(office_nav=nav_links, may_export=may_export, RECIPIENT_ROLES=RECIPIENT_ROLES,
                                           DELIVERY_CHANNELS=labels.DELIVERY_CHANNELS)
