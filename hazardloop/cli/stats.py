"""`hazardloop stats` and `hazardloop redblack`: statistics as of any date, the red and black list."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from rich.cells import cell_len
from rich.table import Table

from hazardloop.cli.output import (Json, Wide, code_option, console, parse_date, parse_month, print_json, print_wide,
                                   read_only, show)

AsOf = Annotated[Optional[str], typer.Option("--as-of", help="统计截至日期 YYYY-MM-DD（上海时间当日结束；默认今天）")]


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "—"


def stats(
    as_of: AsOf = None,
    by: Annotated[str, code_option("stats_by", "分组", "--by")] = "region",
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """隐患统计（按截至日期从审计记录复原，历史日期可复现）。"""
    from hazardloop.reports import stats as stats_mod

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
    print_wide(t, wide=wide, secondary=("中位天数", "驳回", "排除", "按期", "确认", "督办"))
    y = Table(title="存量与增量")
    for c in ("类别", "发现", "销号", "仍未销号", "排除"):
        y.add_column(c, justify="left" if c == "类别" else "right")
    st = result.stock
    y.add_row(f"存量（{stats_mod.STOCK_LAST_YEAR} 年及以前）", str(st.found), str(st.closed), str(st.open), str(st.dismissed))
    for yr in result.by_year:
        y.add_row(f"{yr.year} 年新增", str(yr.found), str(yr.closed), str(yr.open), str(yr.dismissed))
    show(y)
    console.print(f"销号率 {_pct(result.total.closed, result.total.confirmed)}，"
                  f"按期销号率 {_pct(result.total.closed_on_time, result.total.closed)}")
    if result.total.closed_imported:  # sheets' close-outs nobody reviewed are not 审核销号
        console.print(f"已销号中导入销号（台账导入、未经审核）{result.total.closed_imported} 条", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]注：{note}[/]")


# --- red/black list and bulletin --------------------------------------------------------
def redblack(month: Annotated[Optional[str], typer.Option("--month", help="月份 YYYY-MM（默认本月）")] = None,
             wide: Wide = False, json_out: Json = False) -> None:
    """红黑榜（规则见 config/redblack.yaml，每条都写明理由）。"""
    from hazardloop.reports import redblack as rb

    m = parse_month(month)
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
        print_wide(t, wide=wide, secondary=("镇街区",))
    for note in result.notes:
        console.print(f"[yellow]注：{note}[/]")


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("redblack")(redblack)
