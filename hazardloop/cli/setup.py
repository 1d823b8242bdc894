"""Setting up: `init`, `ref` (reference data), `diagram`, `demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from sqlmodel import select

from hazardloop.cli.output import Json, console, engine, print_json, unit_of_work


# --- init / reference -------------------------------------------------------
def init(json_out: Json = False) -> None:
    """创建或升级数据库结构（Alembic）并载入基础数据；重复执行不做任何改变。"""
    from hazardloop.models.migrate import init_database

    changed = init_database(engine())
    if json_out:
        print_json({"database": str(engine().url.render_as_string(hide_password=True)), "changed": changed})
        return
    console.print(f"数据库已就绪：{engine().url.render_as_string(hide_password=True)}")
    console.print("基础数据新增或更新：" + "，".join(f"{k} {v}" for k, v in changed.items()))


def diagram(out: Annotated[Optional[Path], typer.Option("--out", help="写入文件（Markdown）")] = None) -> None:
    """输出隐患生命周期的 Mermaid 状态图。"""
    from hazardloop.states.machine import mermaid

    text = mermaid()
    if out:
        out.write_text("# 隐患生命周期\n\n由 `hazardloop diagram --out docs/lifecycle.md` 生成。\n\n```mermaid\n"
                       + text + "```\n", encoding="utf-8")
        console.print(f"已写入 {out}")
    else:
        sys.stdout.write(text)


def ref(kind: Annotated[str, typer.Argument(help="regions | departments | industries | standards")],
        json_out: Json = False) -> None:
    """查看基础数据。"""
    from hazardloop.models.reference import FILES

    models = {f.split(".")[0]: m for f, m, _ in FILES}
    if kind not in models:
        raise typer.BadParameter(f"可选：{' | '.join(models)}", param_hint="KIND")
    with unit_of_work() as s:
        rows = [r.model_dump() for r in s.exec(select(models[kind])).all()]
    if json_out:
        print_json(rows)
        return
    table = Table(title=kind)
    for col in rows[0] if rows else []:
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(v) for v in r.values()])
    console.print(table)


def demo(reset: Annotated[bool, typer.Option("--reset", help="清空已有数据后重建")] = False,
         enterprises: Annotated[int, typer.Option(help="模拟企业数")] = 300,
         hazards: Annotated[int, typer.Option(help="模拟隐患数")] = 400,
         seed: Annotated[int, typer.Option(help="随机种子")] = 2026) -> None:
    """演示：载入肥城市基础数据，生成企业和 2023–2026 年的隐患，走完整个闭环并汇总。"""
    from hazardloop.demo import run_demo

    run_demo(engine(), reset=reset, n_enterprises=enterprises, n_hazards=hazards, seed=seed, console=console)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("ref")(ref)
    app.command("diagram")(diagram)
    app.command("demo")(demo)
