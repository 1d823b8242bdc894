"""`hazardloop ledger`: the monthly detail sheet (明细表) in and out of Excel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hazardloop.cli.output import (Actor, Channel, Department, Industry, Json, Level, Region, State, console,
                                   err_console, print_json, read_only, unit_of_work)
from hazardloop.states import ledger

ledger_app = typer.Typer(help="隐患台账 Excel：导入明细表、导出", no_args_is_help=True)


# --- ledger import / export ----------------------------------------------------------------------
@ledger_app.command("import")
def ledger_import(
    file: Path, actor: Actor,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="只导入校验通过的行")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验，不导入")] = False,
    json_out: Json = False,
) -> None:
    """导入《重大事故隐患排查及整改情况明细表》（.xlsx）：先逐行校验，全部通过才导入。"""
    from hazardloop.intake import excel

    try:
        with unit_of_work() as s:
            result = excel.import_sheet(s, ledger.get_user(s, actor), file, skip_invalid=skip_invalid, dry_run=dry_run)
    except excel.ImportRejected as exc:
        if json_out:
            print_json({"imported": False, "problems": [p.__dict__ for p in exc.problems]})
        err_console.print(str(exc), highlight=False)
        raise typer.Exit(1) from None
    if json_out:
        print_json(result.as_dict())
    else:
        console.print(("校验结果：" if dry_run else "导入完成：") + result.report(), highlight=False)


@ledger_app.command("export")
def ledger_export(
    actor: Actor,
    out: Annotated[Path, typer.Option("--out", help="输出文件 .xlsx")],
    state: State = None,
    region: Region = None,
    industry: Industry = None,
    department: Department = None,
    channel: Channel = None,
    level: Level = None,
    enterprise: Annotated[Optional[str], typer.Option(help="企业")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只导出逾期")] = False,
    json_out: Json = False,
) -> None:
    """导出隐患台账（明细表各列 + 状态、整改期限、逾期天数、督办级别、已采取督办措施）。"""
    from hazardloop.intake import excel

    with unit_of_work() as s:
        ent_id = ledger.get_enterprise(s, enterprise).id if enterprise else None
        flt = ledger.HazardFilter(state=state, region=region, industry=industry, channel=channel, level=level,
                                  enterprise_id=ent_id, overdue=overdue, department=department)
        result = excel.export_sheet(s, ledger.get_user(s, actor), out, flt)
    if json_out:
        print_json({"file": str(result.path), "rows": result.rows, "escalations_available": result.escalations_available})
    else:
        console.print(result.message(), highlight=False)


# --- holding values and imported close-outs (issue 16) -----------------------------------------
@ledger_app.command("pending")
def ledger_pending(actor: Actor, json_out: Json = False) -> None:
    """导入留下的待办：待确认镇街区、待细分行业的企业，以及未经审核的导入销号隐患。"""
    from hazardloop.intake import holding

    with read_only() as s:
        user = ledger.get_user(s, actor)
        holding.intake_guards.resolve_holding(user)
        items = holding.pending(s)
        closes = holding.pending_imported_closes(s, user)
        closes_out = [{"code": h.code, "title": h.title, "closed_at": h.closed_at} for h in closes]
    if json_out:
        print_json({"enterprises": [p.as_dict() for p in items], "imported_closes": closes_out})
        return
    if not items:
        console.print("没有待确认镇街区或待细分行业的企业。", highlight=False)
    for p in items:
        what = []
        if p.region_pending:
            what.append("镇街区待确认" + (f"（地址：{p.address}）" if p.address else ""))
        if p.industry_pending:
            what.append(f"行业为统称“{p.industry_pending}”，待细分（可选：{'、'.join(p.choices)}）")
        console.print(f"{p.enterprise}（企业编号 {p.enterprise_id}）：{'；'.join(what)}；隐患 {'、'.join(p.hazards) or '无'}",
                      highlight=False)
    if items:
        console.print("确认：hazardloop ledger resolve 企业 --actor 用户 [--region 镇街区] [--industry 行业领域]",
                      highlight=False)
    console.print(f"未经审核的导入销号隐患 {len(closes_out)} 条" + (
        "：" + "、".join(c["code"] for c in closes_out[:50]) + ("等" if len(closes_out) > 50 else "") if closes_out else "")
        + ("（送审：hazardloop ledger review 隐患编号 --actor 用户）" if closes_out else ""), highlight=False)


@ledger_app.command("resolve")
def ledger_resolve(
    enterprise: str, actor: Actor,
    region: Annotated[Optional[str], typer.Option(help="镇街区（名称或代码）")] = None,
    industry: Annotated[Optional[str], typer.Option(help="行业领域（名称、常用名或代码）")] = None,
    json_out: Json = False,
) -> None:
    """确认导入时待定的镇街区或行业领域：企业及其隐患一并更新，逐条记入审计。"""
    from hazardloop.intake import holding

    with unit_of_work() as s:
        out = holding.resolve(s, ledger.get_user(s, actor), enterprise, region=region, industry=industry)
    if json_out:
        print_json(out)
    elif not out["changed"]:
        console.print(f"{out['enterprise']}：没有变化。", highlight=False)
    else:
        console.print(f"{out['enterprise']}：已确认 {out['changed']}；随之更新隐患 {len(out['hazards'])} 条"
                      + (f"（{'、'.join(out['hazards'])}）" if out["hazards"] else "") + "。", highlight=False)


@ledger_app.command("review")
def ledger_review(
    hazard: str, actor: Actor,
    reason: Annotated[Optional[str], typer.Option(help="送审理由")] = None,
    json_out: Json = False,
) -> None:
    """把导入销号（表格记载已整改、未经审核）的隐患送监管部门审核：已销号 → 待审核。"""
    from hazardloop.intake import holding

    with unit_of_work() as s:
        h = holding.send_to_review(s, ledger.get_user(s, actor), hazard, reason)
        out = {"code": h.code, "state": h.state}
    if json_out:
        print_json(out)
    else:
        console.print(f"{out['code']} 已送审（导入销号 → 待审核），由监管部门审核销号或驳回。", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
