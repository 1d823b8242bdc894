"""`hazardloop org`: enterprises and users from a YAML file."""

from __future__ import annotations

from pathlib import Path

import typer

from typing import Annotated, Optional

from rich.table import Table

from hazardloop.cli.output import (Industry, Json, Limit, Offset, Region, Wide, console, print_json, read_only, show,
                                   shown, unit_of_work)

org_app = typer.Typer(help="企业与用户", no_args_is_help=True)


@org_app.command("load")
def org_load(
    file: Path,
    privileged: Annotated[bool, typer.Option(
        "--privileged", help="确认文件中的市安委办/系统账户（可管理全部用户）：不给则整份文件拒绝导入")] = False,
    json_out: Json = False,
) -> None:
    """从 YAML 文件导入企业和用户（格式见 README）。"""
    from hazardloop.models.orgs import load_orgs

    with unit_of_work() as session:
        added = load_orgs(session, file, actor="cli", allow_privileged=privileged)
    if json_out:
        print_json(added)
    else:
        console.print(f"已导入：企业 {added['enterprises']} 家，用户 {added['users']} 人（新增或更新）。")


@org_app.command("enterprises")
def org_enterprises(
    region: Region = None,
    industry: Industry = None,
    name: Annotated[Optional[str], typer.Option("--name", help="名称包含（如 化工）")] = None,
    high_risk: Annotated[bool, typer.Option("--high-risk", help="只看高危行业（按月带队检查）")] = False,
    open_hazards: Annotated[bool, typer.Option("--open-hazards", help="只看有未销号重大隐患的")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """企业清单（可按镇街区、行业、名称筛选，如 --region 石横镇 --industry 危险化学品）：主要负责人、实际控制人、未销号隐患数。"""
    from sqlalchemy import func, select

    from hazardloop.models.lookup import name_map
    from hazardloop.models.tables import Enterprise, Hazard
    from hazardloop.models.tables import Industry as IndustryRow

    open_count = (select(Hazard.enterprise_id, func.count().label("n"))
                  .where(Hazard.state.in_(("found", "listed", "rectifying", "reviewed")))
                  .group_by(Hazard.enterprise_id).subquery())
    stmt = (select(Enterprise.id, Enterprise.name, Enterprise.credit_code, Enterprise.region_code,
                   Enterprise.industry_code, Enterprise.principal, Enterprise.controller, IndustryRow.high_risk,
                   func.coalesce(open_count.c.n, 0).label("open_hazards"))
            .join(IndustryRow, IndustryRow.code == Enterprise.industry_code)
            .outerjoin(open_count, open_count.c.enterprise_id == Enterprise.id))
    if region:
        stmt = stmt.where(Enterprise.region_code == region)
    if industry:
        stmt = stmt.where(Enterprise.industry_code == industry)
    if name:
        stmt = stmt.where(Enterprise.name.contains(name.strip()))
    if high_risk:
        stmt = stmt.where(IndustryRow.high_risk.is_(True))
    if open_hazards:
        stmt = stmt.where(open_count.c.n > 0)
    with read_only() as s:
        total = s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = [dict(r._mapping) for r in s.execute(stmt.order_by(Enterprise.id).limit(limit).offset(offset)).all()]
        regions, industries = name_map(s, "region"), name_map(s, "industry")
    if json_out:
        print_json({"total": total, "offset": offset, "enterprises": rows})
        return
    table = Table(title="企业")
    for col in ("统一社会信用代码", "名称", "镇街区", "行业", "主要负责人", "实际控制人", "未销号隐患"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["credit_code"], r["name"], regions.get(r["region_code"], r["region_code"]),
                      industries.get(r["industry_code"], r["industry_code"]), r["principal"], r["controller"],
                      str(r["open_hazards"]))
    show(table, wide=wide, secondary=("实际控制人", "行业", "主要负责人", "镇街区"),
         footer=shown(len(rows), total, offset))


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
