"""`hazardloop user`: sign-ins for the console and the API."""

from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer
from sqlmodel import select

from rich.table import Table

from hazardloop.cli.output import (Department, Json, Region, RoleOpt, Wide, console, fail, print_json, read_only, show,
                                   shown_value, unit_of_work)
from hazardloop.models.tables import AppUser
from hazardloop.states import ledger
from hazardloop.states.roles import ROLE_NAMES, Role

user_app = typer.Typer(help="网页/接口登录账户：创建、改密码、停用、签发 API 令牌", no_args_is_help=True)


Password = Annotated[Optional[str], typer.Option("--password", help="新密码（不给则交互输入；也可用 --password-stdin）")]


PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="从标准输入读一行作为密码")]


def _read_password(password: str | None, stdin: bool) -> str:
    if password:
        return password
    if stdin:
        import sys

        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("新密码：")
    if getpass.getpass("再输入一次：") != first:
        fail("两次输入的密码不一致。", 2)
    return first


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="用户名")],
    name: Annotated[Optional[str], typer.Option("--name", help="姓名（新建用户时必填）")] = None,
    role: RoleOpt = None,
    enterprise: Annotated[Optional[str], typer.Option("--enterprise", help="企业（编号、信用代码或名称），角色 enterprise 必填")] = None,
    department: Department = None,
    region: Region = None,
    password: Password = None, password_stdin: PasswordStdin = False,
    privileged: Annotated[bool, typer.Option(
        "--privileged", help="确认开通市安委办（可管理全部用户）账户：不给则拒绝开通此类账户")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """给用户开通登录（已有用户，如 org load 载入的，只设密码；否则新建用户）。"""
    from hazardloop.web import auth

    with unit_of_work() as s:
        known = s.exec(select(AppUser).where(AppUser.username == username)).first() is not None
        if not known and (not name or not role):
            fail("新建用户需要 --name 和 --role。", 2)
        if role == Role.system:
            fail(f"角色 {role} 无效。", 2)
        if not known:  # which options the role needs, named as the options (usage: exit 2)
            for needed, given, option in ((Role.enterprise, enterprise, "--enterprise"),
                                          (Role.supervisor, department, "--department"),
                                          (Role.township, region, "--region")):
                if role == needed and not given:
                    fail(f"{ROLE_NAMES[needed]}用户需要 {option}。", 2)
        user, created = auth.add_user(s, username, _read_password(password, password_stdin), name=name, role=role,
                                      enterprise=enterprise, department=department, region=region,
                                      privileged=privileged, actor="cli")
        out = {"username": user.username, "name": user.name, "role": user.role, "created": created}
    if json_out:
        print_json(out)
    else:
        console.print(f"已开通登录：{out['username']}（{out['name']}，{ROLE_NAMES[Role(out['role'])]}）")


@user_app.command("passwd")
def user_passwd(username: Annotated[str, typer.Argument(help="用户名")], password: Password = None,
                password_stdin: PasswordStdin = False,
                keep_tokens: Annotated[bool, typer.Option(
                    "--keep-tokens", help="保留该用户的 API 令牌（默认：改密码同时作废全部令牌）")] = False) -> None:
    """设置新密码（同时解除锁定、重新启用，使已登录的会话失效；默认作废该用户的全部 API 令牌）。"""
    from hazardloop.web import auth

    with unit_of_work() as s:
        user = ledger.get_user(s, username)
        revoked = 0 if keep_tokens else auth.revoke_tokens(s, user)
        auth.set_password(s, user, _read_password(password, password_stdin), keep_tokens=True)
    tokens = "API 令牌保留。" if keep_tokens else f"已作废 {revoked} 个 API 令牌。"
    console.print(f"已为 {username} 设置新密码；原有登录会话已失效，{tokens}", highlight=False)


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用登录：会话立即失效，API 令牌作废。"""
    from hazardloop.web import auth

    with unit_of_work() as s:
        auth.disable(s, ledger.get_user(s, username))
    console.print(f"已停用 {username} 的登录和 API 令牌。")


@user_app.command("token")
def user_token(username: Annotated[str, typer.Argument(help="用户名（系统对接可用 system 等专用账户）")],
               name: Annotated[str, typer.Option("--name", help="令牌用途")] = "api") -> None:
    """签发 API 令牌（只显示这一次；数据库只保存其 SHA-256）。"""
    from hazardloop.web import auth

    with unit_of_work() as s:
        token = auth.create_token(s, ledger.get_user(s, username), name)
    typer.echo(token)


@user_app.command("tokens")
def user_tokens(username: Annotated[str, typer.Argument(help="用户名")], json_out: Json = False) -> None:
    """该用户仍有效的 API 令牌（编号、用途、签发和最近使用时间；令牌本身不可再查看）。"""
    from hazardloop.web import auth

    with read_only() as s:
        rows = [{"id": t.id, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at}
                for t in auth.live_tokens(s, ledger.get_user(s, username))]
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"{username} 的 API 令牌")
    for col in ("编号", "用途", "签发时间", "最近使用"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["name"], shown_value(r["created_at"]), shown_value(r["last_used_at"]))
    show(table, footer=f"共 {len(rows)} 个")


@user_app.command("revoke")
def user_revoke(username: Annotated[str, typer.Argument(help="用户名")],
                token_id: Annotated[int, typer.Argument(help="令牌编号（见 hazardloop user tokens）")]) -> None:
    """作废该用户的一个 API 令牌。"""
    from hazardloop.web import auth

    with unit_of_work() as s:
        token = auth.revoke_token(s, ledger.get_user(s, username), token_id)
        name = token.name
    console.print(f"已作废 {username} 的 API 令牌 {token_id}（{name}）。", highlight=False)


@user_app.command("list")
def user_list(role: RoleOpt = None, department: Department = None, region: Region = None,
              inactive: Annotated[bool, typer.Option("--inactive", help="也列出已停用的账户")] = False,
              wide: Wide = False, json_out: Json = False) -> None:
    """用户清单（可按角色、部门、镇街区筛选，如 --role 行业监管部门 --department 应急管理局）；不显示密码和令牌。"""
    from hazardloop.models.lookup import name_map
    from hazardloop.models.tables import Enterprise

    stmt = select(AppUser)
    if role:
        stmt = stmt.where(AppUser.role == role)
    if department:
        stmt = stmt.where(AppUser.department_code == department)
    if region:
        stmt = stmt.where(AppUser.region_code == region)
    if not inactive:
        stmt = stmt.where(AppUser.active.is_(True))
    with unit_of_work() as s:
        users = s.exec(stmt.order_by(AppUser.id)).all()
        units = name_map(s, "department") | name_map(s, "region")
        ents = dict(s.exec(select(Enterprise.id, Enterprise.name)).all())
    rows = [{"username": u.username, "name": u.name, "role": u.role, "role_name": ROLE_NAMES.get(Role(u.role), u.role),
             "enterprise_id": u.enterprise_id, "department_code": u.department_code, "region_code": u.region_code,
             "phone": u.phone, "email": u.email, "active": u.active} for u in users]
    if json_out:
        print_json(rows)
        return
    table = Table(title="用户")
    for col in ("用户名", "姓名", "角色", "单位", "电话", "状态"):
        table.add_column(col)
    for r in rows:
        unit = (ents.get(r["enterprise_id"]) if r["enterprise_id"] else None) or units.get(
            r["department_code"] or r["region_code"] or "", "")
        table.add_row(r["username"], r["name"], r["role_name"], unit, r["phone"] or "", "正常" if r["active"] else "已停用")
    show(table, wide=wide, secondary=("状态", "电话"), footer=f"共 {len(rows)} 人")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
