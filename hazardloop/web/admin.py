"""管理 on the console (committee office): the users and their sign-ins -- a new user (or a
sign-in for a person `org load` registered), disable, a new password, an API token (shown once)
and revoking one -- through the functions `hazardloop user add|disable|passwd|token|revoke` call
(web.auth.add_user / disable / set_password / create_token / revoke_token), and the escalation
policies in force, read-only (config.escalation.load_policy, escalation.units.load_policy).
Enterprises and their people: web/orgs.py.

guards.manage_accounts decides who may (the committee office); each change asks for the
acting user's own password again (a wrong one counts toward their lock-out, as at close-out).
A 市安委办 sign-in is opened only when the form's confirmation box is ticked (auth.add_user's
`privileged`), as the CLI's `--privileged`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from hazardloop.config.escalation import load_policy
from hazardloop.errors import HazardLoopError, NotFound
from hazardloop.escalation import units
from hazardloop.models import lookup
from hazardloop.models.tables import AppUser
from hazardloop.models.web import ApiToken, WebCredential
from hazardloop.states import guards
from hazardloop.states.errors import PermissionDenied
from hazardloop.web import auth, office, pages, services
from hazardloop.web.errors import status_of

ACTIONS = {"disable": "停用登录", "passwd": "设置新密码", "token": "签发 API 令牌", "revoke": "作废 API 令牌",
           "add": "新建用户"}


def _may(user: AppUser) -> bool:
    try:
        return bool(guards.manage_accounts(user, "管理用户"))
    except PermissionDenied:
        return False


def accounts(session: Any) -> list[dict[str, Any]]:
    creds = {c.user_id: c for c in session.exec(select(WebCredential)).all()}
    tokens: dict[int, list[ApiToken]] = {}
    for t in session.exec(select(ApiToken).where(ApiToken.revoked == False).order_by(ApiToken.id)).all():  # noqa: E712
        tokens.setdefault(t.user_id, []).append(t)
    out = []
    for u in session.exec(select(AppUser).order_by(AppUser.role, AppUser.username)).all():
        c = creds.get(u.id)
        status = "未开通" if c is None else "已停用" if c.disabled else "已锁定" if c.locked_until else "正常"
        out.append({"u": u, "status": status, "last_login": c.last_login_at if c else None,
                    "tokens": tokens.get(u.id, []),
                    "unit": u.department_code or u.region_code or (f"企业 {u.enterprise_id}" if u.enterprise_id else "")})
    return out


router = APIRouter(include_in_schema=False)


def _page(request: Request, user: AppUser, csrf: str, *, status: int = 200, error: str | None = None,
          notice: str | None = None, token: str | None = None, form: dict[str, str] | None = None) -> Response:
    with office.db(request) as s:
        rows = accounts(s)
        choices = {kind: lookup.choices(s, kind) for kind in ("department", "region")}
    return office.render(request, "office/admin.html", {
        "user": user, "csrf": csrf, "rows": rows, "error": error, "notice": notice, "token": token,
        "ACTIONS": ACTIONS, "choices": choices, "form": form or {},
        "PRIVILEGED": auth.PRIVILEGED_ROLES}, status)


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


@router.post("/admin/users")
async def add_account(request: Request) -> Response:
    fields = await pages.posted_fields(request, 12)
    return await run_in_threadpool(_add, request, fields)


def _reauthenticated(request: Request, user: AppUser, action: str, fields: dict[str, str]) -> None:
    """The guard first, then the acting user's own password again (a refused user's never counts)."""
    guards.manage_accounts(user, ACTIONS[action])
    with office.db(request, write=True) as s:
        result = auth.reauthenticate(s, s.get(AppUser, user.id), fields.get("password") or "")
    if result.user is None:
        raise office.ReauthFailed(f"{ACTIONS[action]}需要再次输入本人密码：" + (result.message or auth.FAILED))


def _add(request: Request, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    if not _may(user):
        return pages.error_page(request, user, csrf, office.NOT_HERE, 404)
    keep = {k: v[:200] for k, v in fields.items() if k not in ("csrf_token", "password", "new_password")}
    username = (fields.get("username") or "").strip()
    try:
        _reauthenticated(request, user, "add", fields)
        with office.db(request, write=True) as s:
            target, created = auth.add_user(
                s, username, fields.get("new_password") or "", name=fields.get("name") or None,
                role=fields.get("role") or None, enterprise=(fields.get("enterprise") or "").strip() or None,
                department=fields.get("department") or None, region=fields.get("region") or None,
                privileged=fields.get("privileged") == "1", actor=user.username)
            name = target.name
    except office.ReauthFailed as exc:
        return _page(request, user, csrf, status=403, error=str(exc), form=keep)
    except HazardLoopError as exc:
        return _page(request, user, csrf, status=status_of(exc), error=str(exc), form=keep)
    done = "已新建用户并开通登录" if created else "已为已登记的用户开通登录"
    return _page(request, user, csrf, notice=f"{done}：{username}（{name}）。")


@router.post("/admin/users/{username}/{action}")
async def account_action(request: Request, username: str, action: str) -> Response:
    fields = await pages.posted_fields(request, 6)
    return await run_in_threadpool(_act, request, username[:64], action[:10], fields)


def _act(request: Request, username: str, action: str, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    if not _may(user) or action not in ACTIONS or action == "add":
        return pages.error_page(request, user, csrf, office.NOT_HERE, 404)
    try:
        with office.db(request) as s:
            if s.exec(select(AppUser).where(AppUser.username == username)).first() is None:
                raise NotFound(f"没有用户 {username}。")
        _reauthenticated(request, user, action, fields)
        token = revoked = None
        with office.db(request, write=True) as s:
            target = s.exec(select(AppUser).where(AppUser.username == username)).one()
            if action == "disable":
                auth.disable(s, target)
            elif action == "passwd":
                auth.set_password(s, target, fields.get("new_password") or "")
            elif action == "revoke":
                number = services.small_int(fields.get("token_id"))
                if number is None:
                    raise NotFound("没有这个 API 令牌。")
                revoked = f"{number}（{auth.revoke_token(s, target, number).name}）"
            else:
                token = auth.create_token(s, target, (fields.get("name") or "console")[:64])
    except office.ReauthFailed as exc:
        return _page(request, user, csrf, status=403, error=str(exc))
    except HazardLoopError as exc:
        return _page(request, user, csrf, status=status_of(exc), error=str(exc))
    notice = {"disable": f"已停用 {username} 的登录和 API 令牌。",
              "passwd": f"已为 {username} 设置新密码；原有登录会话已失效。",
              "revoke": f"已作废 {username} 的 API 令牌 {revoked}。",
              "token": f"已为 {username} 签发 API 令牌（只显示这一次，请立即保存）："}[action]
    response = _page(request, user, csrf, notice=notice, token=token)
    return response


def install(app: FastAPI) -> None:
    app.include_router(router)
