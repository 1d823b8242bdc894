"""管理 on the console (committee office): the users and their sign-ins -- disable, a new
password, an API token (shown once) -- through the functions `hazardloop user disable|passwd|
token` call (web.auth.disable / set_password / create_token), and the escalation policies in
force, read-only (config.escalation.load_policy, escalation.units.load_policy).

guards.manage_accounts decides who may (the committee office); each change asks for the
acting user's own password again (a wrong one counts toward their lock-out, as at close-out).
Not here: creating users (the CLI's `hazardloop user add` and `org load` do), enterprises
and their people."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from hazardloop.config.escalation import load_policy
from hazardloop.errors import HazardLoopError, NotFound
from hazardloop.escalation import units
from hazardloop.models.tables import AppUser
from hazardloop.models.web import ApiToken, WebCredential
from hazardloop.states import guards
from hazardloop.states.errors import PermissionDenied
from hazardloop.web import auth, office, pages
from hazardloop.web.errors import status_of

ACTIONS = {"disable": "停用登录", "passwd": "设置新密码", "token": "签发 API 令牌"}


def _may(user: AppUser) -> bool:
    try:
        return bool(guards.manage_accounts(user, "管理用户"))
    except PermissionDenied:
        return False


def accounts(session: Any) -> list[dict[str, Any]]:
    creds = {c.user_id: c for c in session.exec(select(WebCredential)).all()}
    tokens: dict[int, int] = {}
    for t in session.exec(select(ApiToken).where(ApiToken.revoked == False)).all():  # noqa: E712
        tokens[t.user_id] = tokens.get(t.user_id, 0) + 1
    out = []
    for u in session.exec(select(AppUser).order_by(AppUser.role, AppUser.username)).all():
        c = creds.get(u.id)
        status = "未开通" if c is None else "已停用" if c.disabled else "已锁定" if c.locked_until else "正常"
        out.append({"u": u, "status": status, "last_login": c.last_login_at if c else None,
                    "tokens": tokens.get(u.id, 0),
                    "unit": u.department_code or u.region_code or (f"企业 {u.enterprise_id}" if u.enterprise_id else "")})
    return out


router = APIRouter(include_in_schema=False)


def _page(request: Request, user: AppUser, csrf: str, *, status: int = 200, error: str | None = None,
          notice: str | None = None, token: str | None = None) -> Response:
    with office.db(request) as s:
        rows = accounts(s)
    return office.render(request, "office/admin.html", {
        "user": user, "csrf": csrf, "rows": rows, "error": error, "notice": notice, "token": token,
        "ACTIONS": ACTIONS}, status)


def _door(request: Request) -> tuple[AppUser, str] | Response:
    got = office.page_user(request)
    if isinstance(got, Response) or _may(got[0]):
        return got
    return pages.error_page(request, got[0], got[1], office.NOT_HERE, 404)


@router.get("/admin")
def admin_page(request: Request) -> Response:
    got = _door(request)
    if isinstance(got, Response):
        return got
    return _page(request, *got)


@router.get("/admin/policy")
def policy_page(request: Request) -> Response:
    got = _door(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    return office.render(request, "office/policy.html", {"user": user, "csrf": csrf, "hazard": load_policy(),
                                                          "lag": units.load_policy()})


@router.post("/admin/users/{username}/{action}")
async def account_action(request: Request, username: str, action: str) -> Response:
    fields = await pages.posted_fields(request, 6)
    return await run_in_threadpool(_act, request, username[:64], action[:10], fields)


def _act(request: Request, username: str, action: str, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    if not _may(user) or action not in ACTIONS:
        return pages.error_page(request, user, csrf, office.NOT_HERE, 404)
    try:
        guards.manage_accounts(user, ACTIONS[action])
        with office.db(request) as s:
            if s.exec(select(AppUser).where(AppUser.username == username)).first() is None:
                raise NotFound(f"没有用户 {username}。")
        with office.db(request, write=True) as s:
            result = auth.reauthenticate(s, s.get(AppUser, user.id), fields.get("password") or "")
        if result.user is None:
            raise office.ReauthFailed(f"{ACTIONS[action]}需要再次输入本人密码：" + (result.message or auth.FAILED))
        token = None
        with office.db(request, write=True) as s:
            target = s.exec(select(AppUser).where(AppUser.username == username)).one()
            if action == "disable":
                auth.disable(s, target)
            elif action == "passwd":
                auth.set_password(s, target, fields.get("new_password") or "")
            else:
                token = auth.create_token(s, target, (fields.get("name") or "console")[:64])
    except office.ReauthFailed as exc:
        return _page(request, user, csrf, status=403, error=str(exc))
    except HazardLoopError as exc:
        return _page(request, user, csrf, status=status_of(exc), error=str(exc))
    notice = {"disable": f"已停用 {username} 的登录和 API 令牌。",
              "passwd": f"已为 {username} 设置新密码；原有登录会话已失效。",
              "token": f"已为 {username} 签发 API 令牌（只显示这一次，请立即保存）："}[action]
    response = _page(request, user, csrf, notice=notice, token=token)
    return response


def install(app: FastAPI) -> None:
    app.include_router(router)
