"""`hazardloop audit`: the trail, queried and verified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from sqlmodel import select

from hazardloop.cli.output import Json, Wide, console, local_time, parse_date, print_json, show, unit_of_work
from hazardloop.config import clock
from hazardloop.models import anchor, audit
from hazardloop.models.tables import AuditEvent
from hazardloop.states import ledger

audit_app = typer.Typer(help="审计记录：查询与完整性校验", no_args_is_help=True)


def event_dict(e: AuditEvent) -> dict[str, Any]:
    return e.model_dump()


_CHANGE = {"state": "状态", "deadline": "时限", "cycle": "督办周期"}


def _shown_value(key: str, value: Any) -> str:
    from hazardloop.config.labels import label

    if value in (None, ""):
        return "—"
    if key == "state":
        return label("state", value)
    if key == "deadline":
        return str(value)[:10]  # the stored UTC end of the Shanghai day: the date is the deadline
    return str(value)


def change_text(e: AuditEvent) -> str:
    """"状态：已挂牌→整改中；时限：…" — what an event changed, in words."""
    return "；".join(f"{_CHANGE[k]}：{_shown_value(k, (e.before or {}).get(k))}→{_shown_value(k, v)}"
                    for k, v in (e.after or {}).items() if k in _CHANGE)


def print_events(events: list[AuditEvent], codes: dict[int, str] | None = None, wide: bool = False,
                 actor_of: Callable[[str], str] = str) -> None:
    from rich.table import Table  # `hazard show --json` imports this module and prints no table

    from hazardloop.config.labels import label

    table = Table(title="审计记录")
    for col in ("序号", "时间（北京）", "操作人", "动作", "隐患", "变更", "理由"):
        table.add_column(col)
    for e in events:
        hazard = (codes or {}).get(e.hazard_id, str(e.hazard_id)) if e.hazard_id else ""
        table.add_row(str(e.seq), local_time(e.ts), actor_of(e.actor), label("audit_action", e.action), hazard,
                      change_text(e), e.reason or "")
    show(table, wide=wide, secondary=("隐患", "序号"))


@audit_app.command("log")
def audit_log(
    hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
    actor: Annotated[Optional[str], typer.Option(help="操作人")] = None,
    since: Annotated[Optional[str], typer.Option(help="起始日期 YYYY-MM-DD（北京时间）")] = None,
    limit: Annotated[int, typer.Option(help="最多条数")] = 500,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """查询审计记录。"""
    start = parse_date(since, "--since")
    with unit_of_work() as s:
        stmt = select(AuditEvent)
        if hazard:
            stmt = stmt.where(AuditEvent.hazard_id == ledger.get_hazard(s, hazard).id)
        if actor:
            stmt = stmt.where(AuditEvent.actor == actor)
        if start:
            from datetime import datetime, time

            stmt = stmt.where(AuditEvent.ts >= datetime.combine(start, time(0), tzinfo=clock.SHANGHAI))
        events = s.exec(stmt.order_by(AuditEvent.seq).limit(limit)).all()
        codes = _codes(s, {e.hazard_id for e in events if e.hazard_id})
    if json_out:
        print_json([event_dict(e) for e in events])
    else:
        print_events(events, codes, wide)


def _codes(s, ids: set[int]) -> dict[int, str]:  # noqa: ANN001
    from hazardloop.models.tables import Hazard

    if not ids:
        return {}
    return dict(s.exec(select(Hazard.id, Hazard.code).where(Hazard.id.in_(ids))).all())


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[Optional[Path], typer.Option(
        "--checkpoints", help="检查点文件（默认 $HAZARDLOOP_AUDIT_ANCHOR_DIR/checkpoints.jsonl）")] = None,
    json_out: Json = False,
) -> None:
    """重新计算哈希链并校验逐条签名和库外的签名检查点，指出第一条不符的记录。"""
    with unit_of_work() as s:
        result = audit.verify(s, checkpoints=checkpoints)
    if json_out:
        print_json(result.__dict__ | {"message": result.message()})
    elif result.ok:
        console.print(f"[green]{result.message()}[/]", highlight=False)
    else:
        console.print(f"[bold red]{result.message()}[/]", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    checkpoints: Annotated[Optional[Path], typer.Option(
        "--checkpoints", help="检查点文件（默认 $HAZARDLOOP_AUDIT_ANCHOR_DIR/checkpoints.jsonl）")] = None,
    json_out: Json = False,
) -> None:
    """先校验审计链，再把链尾（序号与哈希）签名后追加到库外的检查点文件（只追加）。"""
    with unit_of_work() as s:
        cp = audit.checkpoint(s, checkpoints)
    path = checkpoints or anchor.checkpoint_path()
    if json_out:
        print_json({"seq": cp.seq, "hash": cp.hash, "ts": cp.ts, "file": str(path)})
    else:
        console.print(f"已写入签名检查点：第 {cp.seq} 条（{cp.hash[:12]}…）→ {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
