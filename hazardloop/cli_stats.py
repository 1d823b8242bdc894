"""Commands for statistics, principal-led inspections, the red/black list and the monthly bulletin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from hazardloop.clihelp import console, db_url, parse_date, print_json, unit_of_work
from hazardloop.config import clock
from hazardloop.reports import stats as stats_mod

Json = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
AsOf = Annotated[Optional[str], typer.Option("--as-of", help="统计截至日期 YYYY-MM-DD（上海时间当日结束；默认今天）")]

def read_only():  # noqa: ANN201
    """A unit of work that only reads (no write lock on SQLite)."""
    from hazardloop.models.db import session_scope

    return session_scope(db_url(), write=False)


def _print_wide(table: Table) -> None:
    # Rows of Chinese names do not fit 80 cells (the width rich assumes for a pipe): print wide.
    Console(width=max(console.width, 160), soft_wrap=False).print(table)


inspection_app = typer.Typer(help="主要负责人带队检查：登记、查询、缺失与提醒", no_args_is_help=True)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "—"


def stats(
    as_of: AsOf = None,
    by: Annotated[str, typer.Option("--by", help="分组：region 镇街区 · industry 行业 · channel 渠道 · level 督办级别 · state 状态")] = "region",
    json_out: Json = False,
) -> None:
    """隐患统计（按截至日期从审计记录复原，历史日期可复现）。"""
    if by not in stats_mod.DIMENSIONS:
        raise typer.BadParameter(f"分组方式必须是 {'、'.join(stats_mod.DIMENSIONS)} 之一", param_hint="--by")
    day = parse_date(as_of, "--as-of")
    with read_only() as s:
        result = stats_mod.compute(s, day, by)
        names = stats_mod.labels(s, by)
    if json_out:
        print_json(result.as_dict())
        return
    t = Table(title=f"重大事故隐患统计（截至 {result.as_of.isoformat()}，按{stats_mod.DIMENSION_NAMES[by]}）",
              box=box.SIMPLE_HEAD, caption="按期：按期销号；督办：督办措施；中位天数：销号用时中位数")
    cols = ("发现", "确认", "销号", "未销号", "逾期", "按期", "排除", "驳回", "督办", "中位天数")
    # min_width: rich would otherwise squeeze the two-cell-wide Chinese headers into "…".
    t.add_column(stats_mod.DIMENSION_NAMES[by], no_wrap=True, min_width=cell_len(max(names.values(), key=cell_len, default="合计")))
    for c in cols:
        t.add_column(c, justify="right", no_wrap=True, min_width=cell_len(c))

    def cells(r: stats_mod.Row) -> list[str]:
        return [str(v) for v in (r.found, r.confirmed, r.closed, r.open, r.overdue, r.closed_on_time, r.dismissed,
                                 r.rejections, r.escalations)] + [
            "—" if r.median_days_to_close is None else f"{r.median_days_to_close:.1f}"]

    for r in result.rows:
        t.add_row(names.get(r.key, r.key or "—"), *cells(r))
    t.add_row("[bold]合计[/]", *cells(result.total))
    _print_wide(t)
    y = Table(title="存量与增量")
    for c in ("类别", "发现", "销号", "仍未销号", "排除"):
        y.add_column(c, justify="left" if c == "类别" else "right")
    st = result.stock
    y.add_row(f"存量（{stats_mod.STOCK_LAST_YEAR} 年及以前）", str(st.found), str(st.closed), str(st.open), str(st.dismissed))
    for yr in result.by_year:
        y.add_row(f"{yr.year} 年新增", str(yr.found), str(yr.closed), str(yr.open), str(yr.dismissed))
    console.print(y)
    console.print(f"销号率 {_pct(result.total.closed, result.total.confirmed)}，"
                  f"按期销号率 {_pct(result.total.closed_on_time, result.total.closed)}")
    for note in result.notes:
        console.print(f"[yellow]注：{note}[/]")


# --- inspections ------------------------------------------------------------------


@inspection_app.command("record")
def inspection_record(
    actor: Annotated[str, typer.Option("--actor", help="登记人用户名")],
    enterprise: Annotated[str, typer.Option(help="企业（编号、统一社会信用代码或名称）")],
    date_: Annotated[str, typer.Option("--date", help="检查日期 YYYY-MM-DD")],
    led_by: Annotated[Optional[str], typer.Option("--led-by", help="带队人（默认主要负责人）")] = None,
    findings: Annotated[str, typer.Option(help="检查发现")] = "",
    hazards_found: Annotated[Optional[int], typer.Option("--hazards-found", help="发现隐患数（默认为关联隐患条数）")] = None,
    hazard: Annotated[Optional[list[int]], typer.Option("--hazard", help="关联的隐患编号（可多次给出）")] = None,
    json_out: Json = False,
) -> None:
    """登记一次主要负责人带队检查。"""
    from hazardloop.reports import inspections
    from hazardloop.states import ledger

    day = parse_date(date_, "--date")
    with unit_of_work() as s:
        row = inspections.record(s, ledger.get_user(s, actor), enterprise=enterprise, inspected_on=day,
                                 led_by=led_by, findings=findings, hazards_found=hazards_found, hazard_ids=hazard)
    if json_out:
        print_json(row.model_dump())
    else:
        console.print(f"已登记带队检查，编号 {row.id}（{row.inspected_on.isoformat()}，带队人 {row.led_by}）。")


@inspection_app.command("list")
def inspection_list(
    enterprise: Annotated[Optional[str], typer.Option(help="只看某企业")] = None,
    as_of: AsOf = None,
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
    _print_wide(t)


def _gaps_table(title: str, gaps, extra: bool = False) -> Table:  # noqa: ANN001
    t = Table(title=title)
    for c in ("企业", "镇街区", "行业", "主要负责人", "周期", "周期结束") + (("剩余天数",) if extra else ()):
        t.add_column(c)
    for g in gaps:
        t.add_row(g.enterprise, g.region, g.industry, g.principal, g.period_name, g.end.isoformat(),
                  *((str(g.days_left),) if extra else ()))
    return t


@inspection_app.command("missing")
def inspection_missing(as_of: AsOf = None, json_out: Json = False) -> None:
    """未按期开展带队检查的企业和周期（季度；高危行业按月），及即将到期的提醒。"""
    from hazardloop.reports import inspections

    day = parse_date(as_of, "--as-of")
    with read_only() as s:
        day = day or clock.today()
        result = inspections.CheckResult(day, inspections.reminders(s, day), inspections.missing(s, day), 0)
    if json_out:
        print_json(result.as_dict())
        return
    _print_wide(_gaps_table(f"未按期开展带队检查（截至 {result.as_of.isoformat()}）：{len(result.missed)} 个周期",
                            result.missed))
    _print_wide(_gaps_table(f"本周期即将结束仍未检查：{len(result.reminders)} 家", result.reminders, extra=True))


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


# --- red/black list and bulletin --------------------------------------------------------


def _month(value: Optional[str]) -> str:
    from hazardloop.config import clock

    if value is None:
        today = clock.today()
        return f"{today.year}-{today.month:02d}"
    from hazardloop.reports.redblack import month_bounds
    from hazardloop.models.errors import ValidationError

    try:
        first, _ = month_bounds(value.strip())
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None
    return f"{first.year}-{first.month:02d}"


def redblack(month: Annotated[Optional[str], typer.Option("--month", help="月份 YYYY-MM（默认本月）")] = None,
             json_out: Json = False) -> None:
    """红黑榜（规则见 config/redblack.yaml，每条都写明理由）。"""
    from hazardloop.reports import redblack as rb

    m = _month(month)
    with read_only() as s:
        result = rb.compute(s, m)
    if json_out:
        print_json(result.as_dict())
        return
    for title, entries in (("红榜", result.red), ("黑榜", result.black)):
        t = Table(title=f"{m} {title}（截至 {result.as_of.isoformat()}）：{len(entries)} 家")
        for c in ("企业", "镇街区", "理由"):
            t.add_column(c)
        for e in entries:
            t.add_row(e.enterprise, e.region, "；".join(e.reasons))
        _print_wide(t)
    for note in result.notes:
        console.print(f"[yellow]注：{note}[/]")


def bulletin(
    month: Annotated[str, typer.Option("--month", help="月份 YYYY-MM")],
    out: Annotated[Optional[Path], typer.Option("--out", help="写入 HTML 文件（签发后为存储的原文，逐字节一致）")] = None,
    pdf: Annotated[Optional[Path], typer.Option("--pdf", help="另存 PDF（需要 chromium 和 fonts-noto-cjk）")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="只生成预览，不编文号、不存储、不发送")] = False,
    actor: Annotated[Optional[str], typer.Option("--actor", help="签发人（须为市安委办用户；默认 system，与定时流程相同）")] = None,
    json_out: Json = False,
) -> None:
    """签发月通报：编文号、按月末数据生成、存储（SHA-256）并发送到各成员单位；同一月份再次执行返回已签发的那一份。"""
    from hazardloop.reports import bulletin as bl
    from hazardloop.reports import bulletin_issue as bi

    m = _month(month)
    if preview:
        with read_only() as s:
            html = bl.render(s, m)
        data, result = html.encode("utf-8"), None
    else:
        with unit_of_work() as s:
            who = bi.SYSTEM_ACTOR
            if actor:
                from hazardloop.states import guards, ledger

                user = ledger.get_user(s, actor)
                guards.decide_escalation_step(user, "签发月通报")
                who = user.username
            issued = bi.issue(s, m, actor=who)
            data, result = bi.verified_html(issued.document), issued.as_dict()
            bi.publish(issued.document)
    if out:
        out.write_bytes(data)
    if pdf:
        from hazardloop.reports import pdf as pdf_mod

        pdf_mod.html_to_pdf(data, pdf)
    if json_out:
        print_json({**(result or {"month": m, "preview": True}), "out": str(out) if out else None,
                    "pdf": str(pdf) if pdf else None})
        return
    if result is None:
        console.print(f"{m} 月通报预览（未编文号、未存储、未发送）。")
    elif result["created"]:
        console.print(f"已签发 {result['number']}：{result['title']}；SHA-256 {result['sha256'][:16]}…；"
                      f"通知 {result['units']} 个成员单位（发件箱新增 {result['queued']} 条）。")
    else:
        console.print(f"{m} 月通报已于 {result['issue_date']} 签发：{result['number']}（返回存储的原文，未重新编号）。")
    if out:
        console.print(f"已写入 {out}（{len(data)} 字节）")
    if pdf:
        console.print(f"已写入 {pdf}")


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.add_typer(inspection_app, name="inspection")
    app.command("redblack")(redblack)
    app.command("bulletin")(bulletin)
