"""`hazardloop deploy`: register the deployments on a Prefect server for workers (beyond one machine)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hazardloop.cli.output import console, fail


def deploy(
    pool: Annotated[str, typer.Option(help="工作池名称（process 类型，不存在时创建）")] = "hazardloop",
    shard_size: Annotated[Optional[int], typer.Option("--shard-size", help="督办扫描每个分片的到期隐患数（默认 50000；少于此数不拆分）")] = None,
    heartbeat: Annotated[int, typer.Option(help="流程运行心跳间隔（秒，至少 30）")] = 30,
    crash_after: Annotated[int, typer.Option("--crash-after", help="多少秒收不到心跳即标记为 Crashed")] = 90,
) -> None:
    """把计划流程登记到 Prefect 服务器（PREFECT_API_URL）的工作池：与 serve 相同的计划；督办扫描按规模拆成分片由 worker 执行。"""
    import os

    from hazardloop.flows import deploy as d

    if not os.environ.get("PREFECT_API_URL"):
        fail("请先设置 PREFECT_API_URL（Prefect 服务器地址，如 http://127.0.0.1:4200/api）。", code=2)
    if heartbeat < 30 or crash_after <= heartbeat:
        fail("心跳间隔至少 30 秒，且 --crash-after 须大于心跳间隔。", code=2)
    done = d.deploy(pool, shard_size=shard_size, heartbeat=heartbeat, crash_after=crash_after)
    console.print(f"已登记到 {os.environ['PREFECT_API_URL']} 的工作池 {pool}：", highlight=False, soft_wrap=True)
    for name, _id in done:
        console.print(f"  {name}", highlight=False, soft_wrap=True)
    console.print("启动 worker（每台机器，HAZARDLOOP_DATABASE_URL 指向同一个 PostgreSQL）：", highlight=False, soft_wrap=True)
    console.print("  " + " ".join(d.worker_command(pool, shards=False)) + "    # 计划流程", highlight=False, soft_wrap=True)
    console.print("  " + " ".join(d.worker_command(pool, shards=True)) + "      # 督办扫描分片（可多个）", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
