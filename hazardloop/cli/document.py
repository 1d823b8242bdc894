"""`hazardloop document`: every issued 公文, by 文号."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from sqlmodel import select

from hazardloop.cli.output import Json, console, print_json, unit_of_work, write_document
from hazardloop.errors import NotFound
from hazardloop.escalation import documents
from hazardloop.models.escalation import Document
from hazardloop.states import ledger

document_app = typer.Typer(help="公文：按文号查看原文", no_args_is_help=True)


@document_app.command("show")
def document_show(number: Annotated[str, typer.Argument(help="文号，如 肥安办函〔2026〕12号")],
                  html: Annotated[bool, typer.Option("--html", help="输出 HTML 原文（默认纯文本）")] = False,
                  pdf: Annotated[Optional[Path], typer.Option(
                      "--pdf", help="另存为 A4 PDF（按 GB/T 9704 版式，需要 chromium 和 fonts-noto-cjk）")] = None) -> None:
    """按文号输出公文原文（出具时存储的字节，逐字节一致；哈希不符则报错）。隐患督办公文、通报和
    落后单位督办公文共用文号序列，都可按文号查看。"""
    from hazardloop.escalation import units

    with unit_of_work() as s:
        try:
            doc = documents.get_document(s, number)
        except NotFound:
            try:  # a lagging unit's 函告/通报/约谈/曝光 is stored in its own table
                doc = units.get_document(s, number)
            except NotFound:
                raise NotFound(f"没有文号为 {number} 的公文（见 hazardloop document list、hazardloop lagging list）。")
    if pdf is not None:
        from hazardloop.reports import pdf as pdf_mod

        pdf_mod.html_to_pdf(documents.stored_body(doc).encode("utf-8"), pdf, print_css=None)
        console.print(f"已写入 {pdf}（{doc.number}）", highlight=False)
        return
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


@document_app.command("undelivered")
def document_undelivered(
    limit: Annotated[int, typer.Option(help="最多条数")] = 500,
    json_out: Json = False,
) -> None:
    """未送达的公文：每份公文中没有可达渠道（无人登记、无联系方式）或投递失败的收件单位和人员。"""
    from hazardloop.escalation import units
    from hazardloop.models.lagging import LagDocument
    from hazardloop.models.tables import Notification

    with unit_of_work() as s:
        rows = s.execute(select(Notification).where(
            Notification.document_id.is_not(None), Notification.status.in_(("undeliverable", "dead")))
            .order_by(Notification.id).limit(limit)).scalars().all()
        lag_ids = {r.document_id for r in rows if r.event == units.EVENT}
        hz_ids = {r.document_id for r in rows if r.event != units.EVENT}
        docs = {("lag", d.id): d for d in s.exec(select(LagDocument).where(LagDocument.id.in_(lag_ids))).all()}
        docs |= {("doc", d.id): d for d in s.exec(select(Document).where(Document.id.in_(hz_ids))).all()}
        data = []
        for r in rows:
            doc = docs.get(("lag" if r.event == units.EVENT else "doc", r.document_id))
            data.append({"number": doc.number if doc else None, "title": doc.title if doc else r.subject,
                         "issue_date": doc.issue_date.isoformat() if doc else None, "recipient": r.recipient_name,
                         "role": r.recipient_role, "status": r.status, "reason": r.last_error,
                         "notification_id": r.id})
    if json_out:
        print_json(data)
        return
    if not data:
        console.print("所有公文均已有可达的送达渠道（没有未送达的收件人）。")
        return
    table = Table(title=f"未送达的公文收件人（{len(data)} 条）")
    for col in ("文号", "标题", "日期", "收件人", "状态", "原因"):
        table.add_column(col)
    for d in data:
        table.add_row(d["number"] or "", d["title"], d["issue_date"] or "", d["recipient"],
                      "无可达渠道" if d["status"] == "undeliverable" else "投递失败", d["reason"] or "")
    console.print(table)
    console.print("补充联系方式或登记用户后执行 hazardloop outbox retry。", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(document_app, name="document")
