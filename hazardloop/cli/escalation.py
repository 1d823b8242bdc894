"""`hazardloop sweep` and `hazardloop escalation`: the hazard ladder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from sqlmodel import select

from hazardloop.cli.output import (Json, code_option, console, db_url, fail, org_option, parse_date, parse_month,
                                   print_json, show, unit_of_work)
from hazardloop.cli.output import OfficeActor as Actor
from hazardloop.config.labels import label
from hazardloop.states import ledger

escalation_app = typer.Typer(help="督查督办：待审批事项、审批曝光、督办规则", no_args_is_help=True)


def sweep(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="按哪一天扫描 YYYY-MM-DD（默认今天，北京时间）")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出将要出具的公文和提醒，不写入任何数据")] = False,
    region: Annotated[Optional[list[str]], org_option("region", "--region", multiple=True)] = None,
    force: Annotated[bool, typer.Option("--force", help="日期晚于今天时仍真实执行（记入审计）；否则按试运行处理")] = False,
    json_out: Json = False,
) -> None:
    """督办扫描：逾期隐患按督办阶梯出具公文、发出提醒（每个步骤每个周期只一次）。"""
    from hazardloop.config import calendar, clock
    from hazardloop.config.escalation import PolicyError, load_policy
    from hazardloop.escalation import hazards as esc
    from hazardloop.escalation import ladder

    day = parse_date(as_of, "--as-of")
    try:
        policy = load_policy()
    except PolicyError as exc:
        fail(str(exc))
    result = esc.sweep(esc.factory_for(db_url()), day, dry_run=dry_run, regions=region or None, policy=policy,
                       keep_items=True, force=force, actor="cli")
    dry_run = result.dry_run
    if json_out:
        print_json(result.as_dict())
        return
    missing = calendar.missing_next_year(clock.today())
    if missing:
        console.print(f"【警告】{calendar.missing_message(missing)}", style="bold red", highlight=False)
    if result.future and not force:
        console.print(ladder.FUTURE_DRY_RUN.format(what=f"扫描日期 {result.as_of} 晚于今天",
                                                  today=clock.today().isoformat()), style="bold yellow",
                      highlight=False)
    head = "【试运行，未写入】" if dry_run else ""
    if result.items:
        total = sum(result.issued.values())
        table = Table(title=f"{head}督办扫描 {result.as_of}：{'将' if dry_run else '已'}出具 {total} 项"
                            + (f"（列出前 {len(result.items)} 项）" if total > len(result.items) else ""))
        for col in ("隐患", "周期", "督办措施", "应发日期", "文号", "状态"):
            table.add_column(col)
        for it in (i for i in result.items if i.get("status") != "skipped"):
            table.add_row(it["hazard"], str(it["cycle"]), it["name"], it["due"], it["number"] or "",
                          esc.STATUS_NAMES.get(it.get("status", ""), ""))
        show(table)
    else:
        console.print(f"{head}督办扫描 {result.as_of}：没有到期的督办措施。")
    console.print(f"{head}新建督办周期 {result.cycles_started}，公文 {sum(result.documents.values())} 份，"
                  f"待审批 {result.proposed} 项，通知 {result.notifications} 条，环节超时提醒 {result.timeouts} 条，"
                  f"撤回已结束周期的待审批事项 {result.withdrawn} 项，用时 {result.seconds:.2f} 秒。", highlight=False)
    skipped = sum(1 for i in result.items if i.get("status") == "skipped")
    if skipped:
        console.print(f"{skipped} 份到期提醒补扫时整改时限已过，未发出（记为“过期未发”）。", highlight=False)


@escalation_app.command("list")
def escalation_list(
    status: Annotated[Optional[str], code_option("step_status", "状态", "--status")] = None,
    hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
    limit: Annotated[int, typer.Option(help="最多条数")] = 200,
    json_out: Json = False,
) -> None:
    """督办事项列表（默认最新在前）。"""
    from hazardloop.escalation import hazards as esc
    from hazardloop.models.escalation import Document, EscalationStep

    if status and status not in esc.STATUS_NAMES:
        raise typer.BadParameter(f"可选：{'、'.join(esc.STATUS_NAMES)}", param_hint="--status")
    with unit_of_work() as s:
        stmt = select(EscalationStep)
        if status:
            stmt = stmt.where(EscalationStep.status == status)
        if hazard:
            stmt = stmt.where(EscalationStep.hazard_id == ledger.get_hazard(s, hazard).id)
        rows = s.exec(stmt.order_by(EscalationStep.id.desc()).limit(limit)).all()
        docs = {d.step_id: d.number for d in s.exec(select(Document).where(
            Document.step_id.in_([r.id for r in rows]))).all()} if rows else {}
        codes = {r.hazard_id: ledger.get_hazard(s, r.hazard_id).code for r in rows}
    data = [r.model_dump() | {"hazard": codes[r.hazard_id], "number": docs.get(r.id)} for r in rows]
    if json_out:
        print_json(data)
        return
    table = Table(title=f"督办事项（{len(rows)} 条）")
    for col in ("编号", "隐患", "周期", "措施", "应发日期", "状态", "文号", "审批人", "理由"):
        table.add_column(col)
    for d in data:
        table.add_row(str(d["id"]), d["hazard"], str(d["cycle"]), label("escalation_step", d["step"]), str(d["due_date"]),
                      esc.STATUS_NAMES.get(d["status"], d["status"]), d["number"] or "", d["decided_by"] or "",
                      d["decision_reason"] or "")
    show(table)


@escalation_app.command("approve")
def escalation_approve(step_id: int, actor: Actor, json_out: Json = False) -> None:
    """市安委办批准待审批的督办措施（曝光）：出具公文、编文号并通知。"""
    from hazardloop.escalation import hazards as esc

    with unit_of_work() as s:
        row, doc = esc.approve_step(s, ledger.get_user(s, actor), step_id)
    if json_out:
        print_json({"step": row.model_dump(), "number": doc.number, "sha256": doc.sha256})
    else:
        console.print(f"已批准督办事项 {row.id}（{label('escalation_step', row.step)}），公文 {doc.number} 已出具。", highlight=False)


@escalation_app.command("decline")
def escalation_decline(step_id: int, actor: Actor,
                       reason: Annotated[Optional[str], typer.Option(help="不予批准的理由")] = None,
                       json_out: Json = False) -> None:
    """不予批准待审批的督办措施（须说明理由）。"""
    from hazardloop.escalation import hazards as esc

    with unit_of_work() as s:
        row = esc.decline_step(s, ledger.get_user(s, actor), step_id, reason=reason)
    if json_out:
        print_json(row.model_dump())
    else:
        console.print(f"督办事项 {row.id}（{label('escalation_step', row.step)}）不予批准：{row.decision_reason}", highlight=False)


@escalation_app.command("policy")
def escalation_policy(file: Annotated[Optional[Path], typer.Option("--file", help="检查指定的规则文件")] = None,
                      json_out: Json = False) -> None:
    """显示（或检查）督办规则；文件有误时指出行号和原因。"""
    from hazardloop.config.escalation import KINDS, PolicyError, load_policy

    try:
        policy = load_policy(file)
    except PolicyError as exc:
        fail(str(exc))
    if json_out:
        print_json(policy.to_dict() | {"version": policy.version, "source": policy.source})
        return
    table = Table(title=f"督办阶梯（{policy.source}，版本 {policy.version[:12]}）")
    for col in ("代码", "措施", "工作日", "类别", "发文字", "接收", "抄送", "须审批"):
        table.add_column(col)
    for st in policy.steps:
        table.add_row(st.code, st.name, f"{st.offset:+d}", KINDS[st.kind], st.doc_type or "",
                      "、".join(st.recipients), "、".join(st.copy), "是" if st.approval else "")
    show(table)
    for t in policy.stage_timeouts:
        console.print(f"环节超时：{label('state', t.state)} " + " → ".join(
            f"{r.workdays} 个工作日 {r.name}" + (f"（{r.doc_type}）" if r.doc_type else "") for r in t.ladder),
            highlight=False)


@escalation_app.command("notice")
def escalation_notice(
    month: Annotated[str, typer.Option("--month", help="月份 YYYY-MM（须已结束）")],
    kind: Annotated[str, typer.Option("--kind", help="exposure 集中曝光（当月批准曝光的隐患） · listing 集中挂牌督办（当月新挂牌的隐患）")],
    actor: Actor,
    force: Annotated[bool, typer.Option("--force", help="月份尚未结束时仍签发（记入审计）")] = False,
    json_out: Json = False,
) -> None:
    """签发集中曝光 / 集中挂牌督办通告：编文号、存储（SHA-256）、送各成员单位，并在公开页面发布（不含个人信息）。"""
    from hazardloop.escalation import notices

    if kind not in notices.KINDS:
        raise typer.BadParameter(f"可选：{'、'.join(notices.KINDS)}", param_hint="--kind")
    with unit_of_work() as s:
        doc, created = notices.issue(s, ledger.get_user(s, actor), parse_month(month), kind, force=force)
        data = {"number": doc.number, "title": doc.title, "issue_date": doc.issue_date.isoformat(),
                "sha256": doc.sha256, "created": created, "public_path": f"/notices/{doc.id}"}
    if json_out:
        print_json(data)
        return
    head = "已签发" if created else "此前已签发"
    console.print(f"{head} {data['number']}：{data['title']}；公开页面 {data['public_path']}。", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.add_typer(escalation_app, name="escalation")
