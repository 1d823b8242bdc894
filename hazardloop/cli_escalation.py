"""Commands of the escalation feature: sweep, escalation approve|decline|list|policy, document show|list, serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from sqlmodel import select

from hazardloop.clihelp import console, db_url, engine, fail, parse_date, print_json, unit_of_work, write_document
from hazardloop.config.escalation import KINDS, PolicyError, load_policy
from hazardloop.models.errors import NotFound
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.notifications import documents
from hazardloop.notifications import escalation as esc
from hazardloop.states import ledger

escalation_app = typer.Typer(help="督查督办：待审批事项、审批曝光、督办规则", no_args_is_help=True)
document_app = typer.Typer(help="公文：按文号查看原文", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
Actor = Annotated[str, typer.Option("--actor", help="操作人用户名（市安委办）")]


def sweep(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="按哪一天扫描 YYYY-MM-DD（默认今天，北京时间）")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出将要出具的公文和提醒，不写入任何数据")] = False,
    region: Annotated[Optional[list[str]], typer.Option("--region", help="只扫描这些镇街区（可多次给出）")] = None,
    json_out: Json = False,
) -> None:
    """督办扫描：逾期隐患按督办阶梯出具公文、发出提醒（每个步骤每个周期只一次）。"""
    day = parse_date(as_of, "--as-of")
    try:
        policy = load_policy()
    except PolicyError as exc:
        fail(str(exc))
    result = esc.sweep(esc.factory_for(db_url()), day, dry_run=dry_run, regions=region or None, policy=policy,
                       keep_items=True)
    if json_out:
        print_json(result.as_dict())
        return
    head = "【试运行，未写入】" if dry_run else ""
    if result.items:
        total = sum(result.issued.values())
        table = Table(title=f"{head}督办扫描 {result.as_of}：{'将' if dry_run else '已'}出具 {total} 项"
                            + (f"（列出前 {len(result.items)} 项）" if total > len(result.items) else ""))
        for col in ("隐患", "周期", "督办措施", "应发日期", "文号", "状态"):
            table.add_column(col)
        for it in result.items:
            table.add_row(it["hazard"], str(it["cycle"]), it["name"], it["due"], it["number"] or "",
                          esc.STATUS_NAMES.get(it.get("status", ""), ""))
        console.print(table)
    else:
        console.print(f"{head}督办扫描 {result.as_of}：没有到期的督办措施。")
    console.print(f"{head}新建督办周期 {result.cycles_started}，公文 {sum(result.documents.values())} 份，"
                  f"待审批 {result.proposed} 项，通知 {result.notifications} 条，环节超时提醒 {result.timeouts} 条，"
                  f"用时 {result.seconds:.2f} 秒。", highlight=False)


@escalation_app.command("list")
def escalation_list(
    status: Annotated[Optional[str], typer.Option(help="状态：issued 已发出 · proposed 待审批 · approved · declined")] = None,
    hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
    limit: Annotated[int, typer.Option(help="最多条数")] = 200,
    json_out: Json = False,
) -> None:
    """督办事项列表（默认最新在前）。"""
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
        table.add_row(str(d["id"]), d["hazard"], str(d["cycle"]), d["step"], str(d["due_date"]),
                      esc.STATUS_NAMES.get(d["status"], d["status"]), d["number"] or "", d["decided_by"] or "",
                      d["decision_reason"] or "")
    console.print(table)


@escalation_app.command("approve")
def escalation_approve(step_id: int, actor: Actor, json_out: Json = False) -> None:
    """市安委办批准待审批的督办措施（曝光）：出具公文、编文号并通知。"""
    with unit_of_work() as s:
        row, doc = esc.approve_step(s, ledger.get_user(s, actor), step_id)
    if json_out:
        print_json({"step": row.model_dump(), "number": doc.number, "sha256": doc.sha256})
    else:
        console.print(f"已批准督办事项 {row.id}（{row.step}），公文 {doc.number} 已出具。", highlight=False)


@escalation_app.command("decline")
def escalation_decline(step_id: int, actor: Actor,
                       reason: Annotated[Optional[str], typer.Option(help="不予批准的理由")] = None,
                       json_out: Json = False) -> None:
    """不予批准待审批的督办措施（须说明理由）。"""
    with unit_of_work() as s:
        row = esc.decline_step(s, ledger.get_user(s, actor), step_id, reason=reason)
    if json_out:
        print_json(row.model_dump())
    else:
        console.print(f"督办事项 {row.id}（{row.step}）不予批准：{row.decision_reason}", highlight=False)


@escalation_app.command("policy")
def escalation_policy(file: Annotated[Optional[Path], typer.Option("--file", help="检查指定的规则文件")] = None,
                      json_out: Json = False) -> None:
    """显示（或检查）督办规则；文件有误时指出行号和原因。"""
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
    console.print(table)
    for t in policy.stage_timeouts:
        console.print(f"环节超时：{t.state} 超过 {t.workdays} 个工作日 → {t.name}（{'、'.join(t.recipients)}）",
                      highlight=False)


@document_app.command("show")
def document_show(number: Annotated[str, typer.Argument(help="文号，如 肥安办函〔2026〕12号")],
                  html: Annotated[bool, typer.Option("--html", help="输出 HTML 原文（默认纯文本）")] = False) -> None:
    """按文号输出公文原文（出具时存储的字节，逐字节一致；哈希不符则报错）。隐患督办公文、通报和
    落后单位督办公文共用文号序列，都可按文号查看。"""
    from hazardloop.reports import lagging

    with unit_of_work() as s:
        try:
            doc = documents.get_document(s, number)
        except NotFound:
            try:  # a lagging unit's 函告/通报/约谈/曝光 is stored in its own table
                doc = lagging.get_document(s, number)
            except NotFound:
                raise NotFound(f"没有文号为 {number} 的公文（见 hazardloop document list、hazardloop lagging list）。")
    write_document(doc, html)


@document_app.command("list")
def document_list(
    hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
    year: Annotated[Optional[int], typer.Option(help="年度")] = None,
    limit: Annotated[int, typer.Option(help="最多条数")] = 200,
    json_out: Json = False,
) -> None:
    """已出具的公文（文号、标题、隐患、日期、SHA-256）。"""
    with unit_of_work() as s:
        stmt = select(Document.id, Document.number, Document.title, Document.hazard_id, Document.step,
                      Document.issue_date, Document.sha256)
        if hazard:
            stmt = stmt.where(Document.hazard_id == ledger.get_hazard(s, hazard).id)
        if year:
            stmt = stmt.where(Document.year == year)
        rows = [dict(r._mapping) for r in s.execute(stmt.order_by(Document.id.desc()).limit(limit)).all()]
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"公文（{len(rows)} 份）")
    for col in ("文号", "标题", "隐患", "日期", "SHA-256"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["number"], r["title"], "—" if r["hazard_id"] is None else str(r["hazard_id"]), str(r["issue_date"]), r["sha256"][:16])
    console.print(table)


def serve(
    host: Annotated[str, typer.Option(help="Prefect 服务器监听地址（默认仅本机）")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Prefect 服务器端口（默认自动选择空闲端口）")] = None,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="是否启用 Prefect 网页界面")] = True,
    web: Annotated[bool, typer.Option("--web/--no-web", help="是否同时提供网页控制台")] = True,
    web_host: Annotated[str, typer.Option("--web-host", help="网页控制台监听地址")] = "127.0.0.1",
    web_port: Annotated[int, typer.Option("--web-port", help="网页控制台端口")] = 8000,
) -> None:
    """在本机运行引擎：网页控制台 + Prefect 服务器（数据在数据目录下），按计划运行督办扫描、通知投递等流程；Ctrl-C 停止。"""
    import os

    from hazardloop.flows.serve import serve as run_serve
    from hazardloop.models.migrate import init_database

    init_database(engine())
    if db_url():
        os.environ["HAZARDLOOP_DATABASE_URL"] = db_url()  # flow runs are subprocesses: give them the database
    console_server = _start_console(web_host, web_port) if web else None
    try:
        code = run_serve(host=host, port=port, ui=ui, echo=lambda m: console.print(m, highlight=False))
    finally:
        if console_server is not None:
            console_server.stop()
            console.print("网页控制台已停止。")
    raise typer.Exit(code)


def _start_console(host: str, port: int):  # noqa: ANN202
    """The web console in a thread beside the schedules, with a demo sign-in per role printed."""
    from hazardloop.models.db import session_scope
    from hazardloop.states.roles import ROLE_NAMES, Role
    from hazardloop.web.server import ensure_demo_accounts, start_background

    with session_scope(db_url()) as session:
        accounts = ensure_demo_accounts(session)
    background = start_background(host, port, db_url())
    console.print(f"网页控制台：{background.url}", highlight=False)
    for role, username, password in accounts:
        shown = password if password else "（已修改，不再显示）"
        console.print(f"  演示账号 {ROLE_NAMES.get(Role(role), role)}：{username} / {shown}", highlight=False)
    return background


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("serve")(serve)
    app.add_typer(escalation_app, name="escalation")
    app.add_typer(document_app, name="document")
