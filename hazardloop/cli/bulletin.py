"""`hazardloop bulletin`: the monthly bulletin (月通报)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hazardloop.cli.output import Json, console, parse_month, print_json, read_only, unit_of_work


def bulletin(
    month: Annotated[str, typer.Option("--month", help="月份 YYYY-MM")],
    out: Annotated[Optional[Path], typer.Option("--out", help="写入 HTML 文件（签发后为存储的原文，逐字节一致）")] = None,
    pdf: Annotated[Optional[Path], typer.Option("--pdf", help="另存 PDF（需要 chromium 和 fonts-noto-cjk）")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="只生成预览，不编文号、不存储、不发送")] = False,
    actor: Annotated[Optional[str], typer.Option("--actor", help="签发人（须为市安委办用户；默认 system，与定时流程相同）")] = None,
    force: Annotated[bool, typer.Option("--force", help="月份尚未结束时仍签发（记入审计）；否则只生成预览")] = False,
    json_out: Json = False,
) -> None:
    """签发月通报：编文号、按月末数据生成、存储（SHA-256）并发送到各成员单位；同一月份再次执行返回已签发的那一份。"""
    from hazardloop.reports import bulletin as bl
    from hazardloop.reports import bulletin_issue as bi

    m = parse_month(month)
    from hazardloop.config import calendar, clock
    from hazardloop.escalation import ladder

    if not preview and not force and calendar.month_bounds(m)[1] >= clock.today():
        # A month not yet over: a preview (no 文号, nothing stored or sent) unless forced.
        console.print(ladder.FUTURE_DRY_RUN.format(what=f"{m} 尚未结束", today=clock.today().isoformat()),
                      style="bold yellow", highlight=False)
        preview = True
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
            issued = bi.issue(s, m, actor=who, force=force)
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
    app.command("bulletin")(bulletin)
