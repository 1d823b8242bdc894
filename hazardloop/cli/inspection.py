"""`hazardloop inspection`: principal-led inspections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import (Industry, Json, Limit, Offset, Region, Wide, console, hazard_ids, parse_date,
                                   parse_month, print_json, read_only, show, shown, unit_of_work)
from hazardloop.config import clock

AsOf = Annotated[Optional[str], typer.Option("--as-of", help="统计截至日期 YYYY-MM-DD（上海时间当日结束；默认今天）")]


inspection_app = typer.Typer(help="主要负责人带队检查：登记、查询、缺失与提醒", no_args_is_help=True)


# --- inspections ------------------------------------------------------------------
@inspection_app.command("record")
def inspection_record(
    actor: Annotated[str, typer.Option("--actor", help="登记人用户名")],
    enterprise: Annotated[str, typer.Option(help="企业（编号、统一社会信用代码或名称）")],
    date_: Annotated[str, typer.Option("--date", help="检查日期 YYYY-MM-DD")],
    led_by: Annotated[Optional[str], typer.Option("--led-by", help="带队人（默认主要负责人）")] = None,
    findings: Annotated[str, typer.Option(help="检查发现")] = "",
    hazards_found: Annotated[Optional[int], typer.Option("--hazards-found", help="发现隐患数（默认为关联隐患条数）")] = None,
    hazard: Annotated[Optional[list[str]], typer.Option("--hazard", help="关联的隐患：YH-… 编号或序号（可多次给出）")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="检查记录（PDF、图片、doc/docx/wps/ofd，≤ 20 MB）")] = None,
    json_out: Json = False,
) -> None:
    """登记一次主要负责人带队检查（可附检查记录文件，按 SHA-256 私密保存）。"""
    from hazardloop.reports import inspections
    from hazardloop.states import ledger

    day = parse_date(date_, "--date")
    with unit_of_work() as s:
        row = inspections.record(s, ledger.get_user(s, actor), enterprise=enterprise, inspected_on=day,
                                 led_by=led_by, findings=findings, hazards_found=hazards_found,
                                 hazard_ids=hazard_ids(s, hazard), record_file=file)
    if json_out:
        print_json(row.model_dump(exclude={"record_path"}))
    else:
        console.print(f"已登记带队检查，编号 {row.id}（{row.inspected_on.isoformat()}，带队人 {row.led_by}）。")


@inspection_app.command("list")
def inspection_list(
    enterprise: Annotated[Optional[str], typer.Option(help="只看某企业")] = None,
    as_of: AsOf = None,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """列出已登记的带队检查（--as-of：截至该日已登记的）。"""
    from hazardloop.reports import inspections

    day = parse_date(as_of, "--as-of")
    with read_only() as s:
        rows = inspections.list_inspections(s, enterprise=enterprise, as_of=day)
    if json_out:
        print_json(rows)
        return
    t = Table(title="主要负责人带队检查")
    for c in ("编号", "企业", "日期", "周期", "带队人", "发现隐患", "检查发现"):
        t.add_column(c)
    for r in rows:
        t.add_row(str(r["id"]), r["enterprise"], r["inspected_on"].isoformat(), r["period"], r["led_by"],
                  str(r["hazards_found"]), r["findings"])
    show(t, wide=wide, secondary=("编号", "检查发现", "发现隐患", "周期"), footer=f"共 {len(rows)} 次")


def _gaps_table(title: str, gaps, extra: bool = False) -> Table:  # noqa: ANN001
    t = Table(title=title)
    for c in ("企业", "周期", "周期结束", "镇街区", "行业", "主要负责人") + (("剩余天数",) if extra else ()):
        t.add_column(c)
    for g in gaps:
        t.add_row(g.enterprise, g.period_name, g.end.isoformat(), g.region, g.industry, g.principal,
                  *((str(g.days_left),) if extra else ()))
    return t


@inspection_app.command("missing")
def inspection_missing(as_of: AsOf = None,
                       region: Region = None,
                       industry: Industry = None,
                       month: Annotated[Optional[str], typer.Option("--month", help="只看包含该月的周期 YYYY-MM（月度周期和所在季度）")] = None,
                       limit: Limit = 50,
                       offset: Offset = 0,
                       wide: Wide = False,
                       json_out: Json = False) -> None:
    """未按期开展带队检查的企业和周期（季度；高危行业按月），及即将到期的提醒。可按镇街区、行业、月份筛选
    （如 --region 石横镇 --industry 危险化学品 --month 2026-03）；表格分页显示，--json 输出全部。"""
    from hazardloop.reports import inspections

    day = parse_date(as_of, "--as-of")
    scope = inspections.Scope(region=region, industry=industry, month=parse_month(month) if month else None)
    with read_only() as s:
        day = day or clock.today()
        result = inspections.CheckResult(day, inspections.reminders(s, day, scope=scope),
                                         inspections.missing(s, day, scope=scope), 0)
    if json_out:
        print_json(result.as_dict())
        return
    secondary = ("主要负责人", "行业", "镇街区", "周期结束")
    page = result.missed[offset:offset + limit]
    show(_gaps_table(f"未按期开展带队检查（截至 {result.as_of.isoformat()}）：{len(result.missed)} 个周期", page),
         wide=wide, secondary=secondary, footer=shown(len(page), len(result.missed), offset))
    due = result.reminders[:limit]
    show(_gaps_table(f"本周期即将结束仍未检查：{len(result.reminders)} 家", due, extra=True),
         wide=wide, secondary=secondary, footer=f"显示 {len(due)} / 共 {len(result.reminders)}")


@inspection_app.command("check")
def inspection_check(as_of: AsOf = None,
                     dry_run: Annotated[bool, typer.Option("--dry-run", help="只显示，不写提醒")] = False,
                     json_out: Json = False) -> None:
    """每日检查：向即将到期仍未检查的主要负责人发提醒（写入通知队列，每周期一次）。"""
    from hazardloop.reports import inspections

    day = parse_date(as_of, "--as-of")
    with unit_of_work() as s:
        result = inspections.daily_check(s, day, queue=not dry_run)
        if dry_run:
            s.rollback()
    if json_out:
        print_json(result.as_dict())
        return
    console.print(f"截至 {result.as_of.isoformat()}：需提醒 {len(result.reminders)} 家，新写入提醒 {result.queued} 条；"
                  f"未按期检查 {len(result.missed)} 个周期。")


def register(app: typer.Typer) -> None:
    app.add_typer(inspection_app, name="inspection")
