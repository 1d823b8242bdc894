"""Setting up: `init`, `ref` (reference data), `diagram`, `demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from sqlmodel import select

from hazardloop.cli.output import Json, Wide, console, engine, print_json, show, shown_value, unit_of_work


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


_REF_KINDS = {"regions": "镇街区", "departments": "部门", "industries": "行业", "standards": "判定标准"}
_REF_COLUMNS = {"code": "代码", "name": "名称", "kind": "类别", "committee": "市安委办", "department_code": "主管部门",
                "high_risk": "高危行业", "title": "标准名称", "number": "文号", "year": "年份",
                "sectors": "适用行业"}
_REGION_KINDS = {"town": "镇", "street": "街道", "zone": "功能区"}


def ref(kind: Annotated[str, typer.Argument(help="镇街区 | 部门 | 行业 | 判定标准（或 regions | departments | industries | standards）")],
        wide: Wide = False, json_out: Json = False) -> None:
    """查看基础数据。"""
    from hazardloop.models.lookup import name_map
    from hazardloop.models.reference import FILES

    models = {f.split(".")[0]: m for f, m, _ in FILES}
    by_name = {v: k for k, v in _REF_KINDS.items()} | {"部门": "departments", "行业监管部门": "departments"}
    kind = by_name.get(kind.strip(), kind.strip().lower())
    if kind not in models:
        raise typer.BadParameter(f"不认识的基础数据「{kind}」；可用：" + "、".join(f"{v}（{k}）" for k, v in _REF_KINDS.items()),
                                 param_hint="KIND")
    with unit_of_work() as s:
        rows = [r.model_dump() for r in s.exec(select(models[kind])).all()]
        departments = name_map(s, "department")
    if json_out:
        print_json(rows)
        return
    table = Table(title=_REF_KINDS.get(kind, kind))
    order = [c for c in _REF_COLUMNS if rows and c in rows[0]]  # 代码 and 名称 first, whatever the row's order
    for col in order:
        table.add_column(_REF_COLUMNS[col])
    for r in rows:
        cells = []
        for col in order:
            value = r[col]
            if col == "department_code":
                value = departments.get(value, value)
            elif col == "kind":
                value = _REGION_KINDS.get(value, value)
            elif col == "sectors":
                value = [departments.get(v, v) for v in value or []]
            cells.append(shown_value(value) or ("否" if value is False else ""))
        table.add_row(*cells)
    show(table, wide=wide, secondary=("年份", "适用行业", "类别", "市安委办"))


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
