"""`hazardloop document`: every issued 公文, by 文号 (hazard escalations, bulletins and lagging units)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import (Json, Limit, Offset, Wide, console, document_number, print_json, show, shown,
                                   unit_of_work, write_document)

document_app = typer.Typer(help="公文：按文号查看原文", no_args_is_help=True)


@document_app.command("show")
def document_show(number: Annotated[str, typer.Argument(help="文号，如 肥安办函〔2026〕12号（〔〕、[]、() 均可）")],
                  html: Annotated[bool, typer.Option("--html", help="输出 HTML 原文（默认纯文本）")] = False,
                  pdf: Annotated[Optional[Path], typer.Option(
                      "--pdf", help="另存为 A4 PDF（按 GB/T 9704 版式，需要 chromium 和 fonts-noto-cjk）")] = None) -> None:
    """按文号输出公文原文（出具时存储的字节，逐字节一致；哈希不符则报错）。隐患督办公文、通报和
    落后单位督办公文共用文号序列，都可按文号查看。"""
    from hazardloop.errors import NotFound
    from hazardloop.escalation import documents, units

    wanted = document_number(number)
    with unit_of_work() as s:
        try:
            doc = documents.get_document(s, wanted)
        except NotFound:
            try:  # a lagging unit's 函告/通报/约谈/曝光 is stored in its own table
                doc = units.get_document(s, wanted)
            except NotFound:
                raise NotFound(f"没有文号为 {number} 的公文（见 hazardloop document list、hazardloop lagging list）。") from None
    if pdf is not None:
        from hazardloop.reports import pdf as pdf_mod

        pdf_mod.html_to_pdf(documents.stored_body(doc).encode("utf-8"), pdf, print_css=None)
        console.print(f"已写入 {pdf}（{doc.number}）", highlight=False)
        return
    write_document(doc, html)


def documents_of(s, hazard: str | None, year: int | None, limit: int, offset: int) -> tuple[list[dict], int]:  # noqa: ANN001
    """Both kinds of 公文, newest first: (one page of rows, the total)."""
    from sqlalchemy import func, literal, null, select, union_all

    from hazardloop.models.escalation import Document
    from hazardloop.models.lagging import LagDocument
    from hazardloop.models.tables import Hazard
    from hazardloop.states import ledger

    hazard_doc = (select(Document.number, Document.title, Hazard.code.label("hazard"), literal("").label("unit"),
                         Document.issue_date, Document.sha256, Document.issued_at)
                  .select_from(Document).outerjoin(Hazard, Hazard.id == Document.hazard_id))
    lag_doc = select(LagDocument.number, LagDocument.title, null().label("hazard"), LagDocument.unit_code.label("unit"),
                     LagDocument.issue_date, LagDocument.sha256, LagDocument.issued_at)
    if hazard:
        hazard_doc = hazard_doc.where(Document.hazard_id == ledger.get_hazard(s, hazard).id)
        lag_doc = lag_doc.where(literal(False))
    if year:
        hazard_doc = hazard_doc.where(Document.year == year)
        lag_doc = lag_doc.where(LagDocument.year == year)
    both = union_all(hazard_doc, lag_doc).subquery()
    total = s.execute(select(func.count()).select_from(both)).scalar_one()
    rows = s.execute(select(both).order_by(both.c.issue_date.desc(), both.c.number.desc())
                     .limit(limit).offset(offset)).all()
    return [dict(r._mapping) for r in rows], total


@document_app.command("list")
def document_list(
    hazard: Annotated[Optional[str], typer.Option(help="隐患（YH-… 编号或序号）")] = None,
    year: Annotated[Optional[int], typer.Option(help="年度")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """已出具的公文：隐患督办公文、月通报和落后单位督办公文（文号、标题、隐患或单位、日期、SHA-256）。"""
    from hazardloop.models.lookup import name_map

    with unit_of_work() as s:
        rows, total = documents_of(s, hazard, year, limit, offset)
        units = name_map(s, "region") | name_map(s, "department")
    for r in rows:
        r["unit_name"] = units.get(r["unit"], r["unit"]) if r["unit"] else ""
    if json_out:
        print_json({"total": total, "offset": offset, "documents": rows})
        return
    table = Table(title="公文")
    for col in ("文号", "标题", "隐患 / 单位", "日期", "SHA-256"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["number"], r["title"], r["hazard"] or r["unit_name"] or "—", str(r["issue_date"]),
                      r["sha256"][:16])
    show(table, wide=wide, secondary=("SHA-256", "标题"), footer=shown(len(rows), total, offset))


@document_app.command("undelivered")
def document_undelivered(
    limit: Annotated[int, typer.Option(help="最多条数")] = 500,
    json_out: Json = False,
) -> None:
    """未送达的公文：每份公文中没有可达渠道（无人登记、无联系方式）或投递失败的收件单位和人员。"""
    from sqlmodel import select

    from hazardloop.escalation import units
    from hazardloop.models.escalation import Document
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
