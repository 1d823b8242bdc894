"""`hazardloop web`: the console alone (no schedules)."""

from __future__ import annotations

from typing import Annotated

import typer

from hazardloop.cli.output import console, db_url, port_free, unit_of_work
from hazardloop.states.roles import ROLE_NAMES, Role


def web(host: Annotated[str, typer.Option("--host", help="监听地址")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="端口")] = 8000,
        demo_accounts: Annotated[bool, typer.Option("--demo-accounts/--no-demo-accounts",
                                                    help="为每个角色准备演示登录并打印")] = False) -> None:
    """只启动网页控制台（不运行定时任务）。"""
    from hazardloop.models.db import get_engine
    from hazardloop.models.migrate import init_database
    from hazardloop.web import server

    port_free(host, port, "--port")
    init_database(get_engine(db_url()))
    if demo_accounts:
        with unit_of_work() as s:
            accounts = server.ensure_demo_accounts(s)
        for role, username, password in accounts:
            console.print(f"  {ROLE_NAMES[Role(role)]}：{username} / {password or '（已修改，不显示）'}")
    console.print(f"网页控制台：{server.url_of(host, port)}   API 文档：{server.url_of(host, port)}api/v1/docs")
    server.run(host, port, db_url())


def register(app: typer.Typer) -> None:
    app.command("web")(web)
