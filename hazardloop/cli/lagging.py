"""`hazardloop lagging`: regions and departments that lag, and their ladder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import (Json, code_option, console, document_number, print_json, show, unit_of_work,
                                   write_document)
from hazardloop.cli.output import OfficeActor as Actor
from hazardloop.states import ledger

lagging_app = typer.Typer(help="落后单位督办：镇街区、行业监管部门按月考核，函告 → 通报 → 约谈 → 曝光",
                          no_args_is_help=True)


def _month(value: str | None, option: str = "--month") -> str | None:
    if value is None:
        return None
    if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", value.strip()):
        raise typer.BadParameter(f"月份格式应为 YYYY-MM，收到 {value!r}", param_hint=option)
    return value.strip()


def _missed_text(missed: list[dict]) -> str:
    return "；".join(f"{m['name']} {m['value_text']}（要求{m['rule']}）" for m in missed)


@lagging_app.command("run")
def run_cmd(
    month: Annotated[str, typer.Option("--month", help="考核月份 YYYY-MM（须已结束）")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="完整演算后回滚：列出将出具的公文和文号，不写入数据")] = False,
    force: Annotated[bool, typer.Option("--force", help="月份尚未结束时仍真实执行（记入审计）；否则按试运行处理")] = False,
    json_out: Json = False,
) -> None:
    """按月考核各镇街区、行业监管部门；连续未达标的按阶梯出具函告、通报、约谈通知，曝光待审批。"""
    from hazardloop.config.lagging import UNIT_KINDS
    from hazardloop.config import clock
    from hazardloop.escalation import ladder, units
    from hazardloop.reports import lagging

    m = _month(month)
    with unit_of_work() as s:
        result = lagging.run(s, m, dry_run=dry_run, force=force, actor="cli")
    dry_run = result.dry_run
    if json_out:
        print_json(result.as_dict())
        return
    if result.future and not force:
        console.print(ladder.FUTURE_DRY_RUN.format(what=f"{result.month} 尚未结束", today=clock.today().isoformat()),
                      style="bold yellow", highlight=False)
    head = "【试运行，未写入】" if dry_run else ""
    table = Table(title=f"{head}落后单位考核 {result.month}：{result.units} 个单位，未达标 {result.lagging} 个")
    for col in ("类别", "单位", "未销号", "逾期", "销号率", "存量未销号", "未达标指标", "连续月数", "轮次"):
        table.add_column(col)
    for e in result.evaluations:
        if not e["missed"] and not e["figures"]["found"]:
            continue  # units without any hazard: nothing to read
        f = e["figures"]
        rate = lagging.metric_value("closure_rate", f)
        table.add_row(UNIT_KINDS[e["unit_kind"]], e["unit_name"], str(f["open"]), str(f["overdue"]),
                      "—" if rate is None else f"{rate:.1f}%", str(f["stock_open"]),
                      _missed_text(e["missed"]) or "达标", str(e["streak"]), str(e["cycle"]) if e["streak"] else "")
    show(table)
    if result.steps:
        steps = Table(title=f"{head}{'将' if dry_run else '已'}出具的督办措施（{len(result.steps)} 项）")
        for col in ("编号", "单位", "轮次", "措施", "状态", "文号"):
            steps.add_column(col)
        for it in result.steps:
            steps.add_row(str(it["step_id"]), it["unit_name"], str(it["cycle"]), it["name"],
                          units.STATUS_NAMES.get(it["status"], it["status"]), it["number"] or "")
        console.print(steps)
    console.print(f"{head}公文 {result.documents} 份，待审批 {result.proposed} 项，通知 {result.notifications} 条。",
                  highlight=False)


@lagging_app.command("list")
def list_cmd(
    month: Annotated[Optional[str], typer.Option("--month", help="考核月份 YYYY-MM")] = None,
    status: Annotated[Optional[str], code_option("step_status", "状态", "--status")] = None,
    json_out: Json = False,
) -> None:
    """落后单位督办事项（每个单位每轮每步一行）。"""
    from hazardloop.escalation import units

    m = _month(month)
    if status and status not in units.STATUS_NAMES:
        raise typer.BadParameter(f"可选：{'、'.join(units.STATUS_NAMES)}", param_hint="--status")
    with unit_of_work() as s:
        rows = units.list_steps(s, m, status)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"落后单位督办事项（{len(rows)} 条）")
    for col in ("编号", "类别", "单位", "月份", "轮次", "措施", "状态", "文号", "未达标指标", "审批人", "理由"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["step_id"]), r["unit_kind_name"], r["unit_name"], r["month"], str(r["cycle"]), r["name"],
                      r["status_name"], r["number"] or "", _missed_text(r["missed"]), r["decided_by"] or "",
                      r["decision_reason"] or "")
    show(table)


@lagging_app.command("approve")
def approve_cmd(step_id: int, actor: Actor,
                reason: Annotated[Optional[str], typer.Option(help="批准意见（可省略）")] = None,
                json_out: Json = False) -> None:
    """市安委办批准曝光落后单位：出具公文、编文号并通知。"""
    from hazardloop.escalation import units

    with unit_of_work() as s:
        row, doc = units.approve(s, ledger.get_user(s, actor), step_id, reason=reason)
        out = {"step_id": row.id, "status": row.status, "number": doc.number, "sha256": doc.sha256}
    if json_out:
        print_json(out)
    else:
        console.print(f"已批准落后单位督办事项 {out['step_id']}（曝光），公文 {out['number']} 已出具。", highlight=False)


@lagging_app.command("decline")
def decline_cmd(step_id: int, actor: Actor,
                reason: Annotated[Optional[str], typer.Option(help="不予批准的理由（必填）")] = None,
                json_out: Json = False) -> None:
    """不予批准曝光落后单位（须说明理由）。"""
    from hazardloop.escalation import units

    with unit_of_work() as s:
        row = units.decline(s, ledger.get_user(s, actor), step_id, reason=reason)
        out = {"step_id": row.id, "status": row.status, "reason": row.decision_reason}
    if json_out:
        print_json(out)
    else:
        console.print(f"落后单位督办事项 {out['step_id']} 不予批准：{out['reason']}", highlight=False)


@lagging_app.command("show")
def show_cmd(number: Annotated[str, typer.Argument(help="文号，如 肥安办函〔2026〕3号")],
             html: Annotated[bool, typer.Option("--html", help="输出 HTML 原文（默认纯文本）")] = False) -> None:
    """按文号输出落后单位督办公文的原文（存储的字节；哈希不符则报错）。"""
    from hazardloop.escalation import units

    with unit_of_work() as s:
        doc = units.get_document(s, document_number(number))  # 〔〕, [] or () as typed
    write_document(doc, html)


@lagging_app.command("policy")
def policy_cmd(file: Annotated[Optional[Path], typer.Option("--file", help="检查指定的规则文件")] = None,
               json_out: Json = False) -> None:
    """显示（或检查）落后单位督办规则；文件有误时指出行号和原因。"""
    from hazardloop.config.lagging import STEP_KINDS, UNIT_KINDS
    from hazardloop.reports import lagging

    policy = lagging.load_policy(file)
    if json_out:
        print_json(policy.to_dict() | {"version": policy.version, "source": policy.source})
        return
    console.print(f"落后单位督办规则（{policy.source}，版本 {policy.version[:12]}）：自 {policy.start} 起考核，"
                  f"连续 {policy.consecutive} 个月未达标开始督办；考核单位：{'、'.join(UNIT_KINDS[u] for u in policy.units)}。",
                  highlight=False)
    for t in policy.thresholds:
        console.print(f"  指标：{t.describe()}" + (f"（自 {t.from_month} 起）" if t.from_month else ""), highlight=False)
    ladder = " → ".join(f"{s.name}{'（须市安委办批准）' if s.approval else ''}" for s in policy.steps)
    console.print(f"  阶梯：{ladder}；类别：{'、'.join(STEP_KINDS[s.kind] for s in policy.steps)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(lagging_app, name="lagging")
