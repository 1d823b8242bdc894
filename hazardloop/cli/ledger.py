"""`hazardloop ledger`: the monthly detail sheet (明细表) in and out of Excel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hazardloop.cli.output import Actor, Json, console, err_console, print_json, unit_of_work
from hazardloop.intake import excel
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
    try:
        with unit_of_work() as s:
            result = excel.import_sheet(s, ledger.get_user(s, actor), file, skip_invalid=skip_invalid, dry_run=dry_run)
    except excel.ImportRejected as exc:
        if json_out:
            print_json({"imported": False, "problems": [p.__dict__ for p in exc.problems]})
        err_console.print(str(exc), highlight=False)
        raise typer.Exit(1) from None
    if json_out:
        print_json({"imported": not dry_run, "batch": result.batch_id, "rows": result.rows, "created": result.created,
                    "existing": result.existing, "invalid": result.invalid,
                    "enterprises_created": result.enterprises_created, "codes": result.created_codes,
                    "problems": [p.__dict__ for p in result.problems], "notes": [p.__dict__ for p in result.notes]})
    else:
        console.print(("校验结果：" if dry_run else "导入完成：") + result.report(), highlight=False)


@ledger_app.command("export")
def ledger_export(
    actor: Actor,
    out: Annotated[Path, typer.Option("--out", help="输出文件 .xlsx")],
    state: Annotated[Optional[str], typer.Option(help="状态")] = None,
    region: Annotated[Optional[str], typer.Option(help="镇街区代码")] = None,
    industry: Annotated[Optional[str], typer.Option(help="行业代码")] = None,
    channel: Annotated[Optional[str], typer.Option(help="发现渠道")] = None,
    level: Annotated[Optional[str], typer.Option(help="督办级别")] = None,
    enterprise: Annotated[Optional[str], typer.Option(help="企业")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只导出逾期")] = False,
    json_out: Json = False,
) -> None:
    """导出隐患台账（明细表各列 + 状态、整改期限、逾期天数、督办级别、已采取督办措施）。"""
    with unit_of_work() as s:
        ent_id = ledger.get_enterprise(s, enterprise).id if enterprise else None
        flt = ledger.HazardFilter(state=state, region=region, industry=industry, channel=channel, level=level,
                                  enterprise_id=ent_id, overdue=overdue)
        result = excel.export_sheet(s, ledger.get_user(s, actor), out, flt)
    if json_out:
        print_json({"file": str(result.path), "rows": result.rows, "escalations_available": result.escalations_available})
    else:
        console.print(result.message(), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
