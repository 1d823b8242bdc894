"""`hazardloop serve`: the schedules and the web console on one machine."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hazardloop.cli.output import console, db_url, engine, port_free


def serve(
    host: Annotated[str, typer.Option(help="Prefect 服务器监听地址（默认仅本机）")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Prefect 服务器和界面的端口（默认 4200 或 HAZARDLOOP_PREFECT_PORT）")] = None,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="是否启用 Prefect 网页界面")] = True,
    web: Annotated[bool, typer.Option("--web/--no-web", help="是否同时提供网页控制台")] = True,
    web_host: Annotated[str, typer.Option("--web-host", help="网页控制台监听地址")] = "127.0.0.1",
    web_port: Annotated[int, typer.Option("--web-port", help="网页控制台端口")] = 8000,
    demo_accounts: Annotated[bool, typer.Option(
        "--demo-accounts/--no-demo-accounts",
        help="为每个角色准备演示登录并打印密码（仅用于演示；默认不创建）")] = False,
) -> None:
    """在本机运行引擎：网页控制台 + Prefect 服务器（数据在数据目录下），按计划运行督办扫描、通知投递等流程；Ctrl-C 停止。"""
    import os

    from hazardloop.flows.serve import serve as run_serve
    from hazardloop.models.migrate import init_database

    if web:
        port_free(web_host, web_port, "--web-port")
    if port is not None:
        port_free(host, port, "--port")
    init_database(engine())
    if db_url():
        os.environ["HAZARDLOOP_DATABASE_URL"] = db_url()  # flow runs are subprocesses: give them the database
    console_server = _start_console(web_host, web_port, demo_accounts) if web else None
    try:
        code = run_serve(host=host, port=port, ui=ui, echo=lambda m: console.print(m, highlight=False))
    finally:
        if console_server is not None:
            console_server.stop()
            console.print("网页控制台已停止。")
    raise typer.Exit(code)


def _start_console(host: str, port: int, demo_accounts: bool = False):  # noqa: ANN202
    """The web console in a thread beside the schedules; a demo sign-in per role (a 市安委办 one
    among them, passwords printed) only when asked: never on a real deployment by default."""
    from hazardloop.models.db import session_scope
    from hazardloop.states.roles import ROLE_NAMES, Role
    from hazardloop.web.server import ensure_demo_accounts, start_background

    accounts = []
    if demo_accounts:
        with session_scope(db_url()) as session:
            accounts = ensure_demo_accounts(session)
    background = start_background(host, port, db_url())
    console.print(f"网页控制台：{background.url}", highlight=False)
    for role, username, password in accounts:
        shown = password if password else "（已修改，不再显示）"
        console.print(f"  演示账号 {ROLE_NAMES.get(Role(role), role)}：{username} / {shown}", highlight=False)
    return background


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
