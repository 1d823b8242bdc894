"""`hazardloop interview`: the 约谈会 as a record (time, place, attendees, outcome, commitments, minutes)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import Actor, Json, code_option, console, print_json, unit_of_work
from hazardloop.config import clock
from hazardloop.config.labels import INTERVIEW_OUTCOMES
from hazardloop.states import ledger

interview_app = typer.Typer(help="约谈会：记录召开情况、参会人员、承诺事项和会议纪要", no_args_is_help=True)


def _when(value: str) -> datetime:
    try:
        local = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise typer.BadParameter(f"时间应写作 YYYY-MM-DD HH:MM（北京时间），收到 {value!r}", param_hint="--held-at") from None
    return local.replace(tzinfo=clock.SHANGHAI) if local.tzinfo is None else local


@interview_app.command("record")
def interview_record(
    step_id: Annotated[int, typer.Argument(help="约谈会督办事项编号（hazardloop escalation list）")],
    actor: Actor,
    held_at: Annotated[str, typer.Option("--held-at", help="约谈时间 YYYY-MM-DD HH:MM（北京时间）")],
    place: Annotated[str, typer.Option("--place", help="约谈地点")],
    outcome: Annotated[str, code_option("interview_outcome", "约谈结果", "--outcome")],
    enterprise: Annotated[Optional[list[str]], typer.Option("--enterprise-attendee", help="企业参会人员（姓名、职务），可多次给出")] = None,
    regulator: Annotated[Optional[list[str]], typer.Option("--regulator-attendee", help="监管部门参会人员（姓名、单位、职务），可多次给出")] = None,
    commitment: Annotated[Optional[list[str]], typer.Option("--commitment", help="企业承诺事项：内容@YYYY-MM-DD，可多次给出")] = None,
    summary: Annotated[str, typer.Option("--summary", help="约谈情况摘要")] = "",
    minutes: Annotated[Optional[Path], typer.Option("--minutes", help="会议纪要文件（UTF-8 文本）")] = None,
    json_out: Json = False,
) -> None:
    """记录约谈会；未召开（企业未到会）时督办阶梯立即进入下一步，承诺逾期未兑现时也是如此。"""
    from hazardloop.escalation import interviews

    if outcome not in INTERVIEW_OUTCOMES:
        raise typer.BadParameter(f"可选：{'、'.join(INTERVIEW_OUTCOMES)}", param_hint="--outcome")
    when = _when(held_at)
    text = ""
    if minutes is not None:
        try:
            text = minutes.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"无法读取会议纪要 {minutes}：{exc}", param_hint="--minutes") from None
    items = [interviews.parse_commitment(c) for c in commitment or []]
    with unit_of_work() as s:
        row = interviews.record(s, ledger.get_user(s, actor), step_id, held_at=when, place=place, outcome=outcome,
                                enterprise_attendees=enterprise, regulator_attendees=regulator, commitments=items,
                                summary=summary, minutes=text, minutes_name=minutes.name if minutes else None)
        data = interviews.as_dict(row)
    if json_out:
        print_json(data)
        return
    console.print(f"已记录约谈会 {data['id']}（{data['outcome_name']}，{data['held_at']}，{data['place']}）。"
                  + ("督办阶梯已进入下一步（下次督办扫描出具）。" if data["moved_on"] else ""), highlight=False)


@interview_app.command("check")
def interview_check(
    interview_id: int, index: Annotated[int, typer.Argument(help="承诺事项序号（从 1 起）")], actor: Actor,
    met: Annotated[bool, typer.Option("--met/--missed", help="已兑现 / 未兑现")] = True,
    note: Annotated[str, typer.Option("--note", help="核验说明")] = "",
    json_out: Json = False,
) -> None:
    """核验一项约谈承诺：已兑现，或未兑现（督办阶梯进入下一步）。"""
    from hazardloop.escalation import interviews

    with unit_of_work() as s:
        row = interviews.mark_commitment(s, ledger.get_user(s, actor), interview_id, index - 1, met=met, note=note)
        data = interviews.as_dict(row)
    if json_out:
        print_json(data)
    else:
        c = data["commitments"][index - 1]
        console.print(f"约谈会 {interview_id} 第 {index} 项承诺“{c['what']}”：{c['status_name']}。", highlight=False)


@interview_app.command("list")
def interview_list(hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
                   json_out: Json = False) -> None:
    """约谈会记录。"""
    from hazardloop.escalation import interviews

    with unit_of_work() as s:
        hid = ledger.get_hazard(s, hazard).id if hazard else None
        data = [interviews.as_dict(r) for r in interviews.list_records(s, hid)]
    if json_out:
        print_json(data)
        return
    table = Table(title=f"约谈会记录（{len(data)} 条）")
    for col in ("编号", "督办事项", "时间", "地点", "结果", "承诺事项", "阶梯已推进"):
        table.add_column(col)
    for d in data:
        table.add_row(str(d["id"]), str(d["step_id"]), d["held_at"], d["place"], d["outcome_name"],
                      "；".join(f"{c['what']}（{c['due']}，{c['status_name']}）" for c in d["commitments"]),
                      "是" if d["moved_on"] else "")
    console.print(table)


@interview_app.command("show")
def interview_show(interview_id: int, json_out: Json = False) -> None:
    """一次约谈会的完整记录（含会议纪要及其 SHA-256）。"""
    from hazardloop.escalation import interviews

    with unit_of_work() as s:
        data = interviews.as_dict(interviews.get(s, interview_id), minutes=True)
    if json_out:
        print_json(data)
        return
    for label, key in (("时间", "held_at"), ("地点", "place"), ("结果", "outcome_name"), ("摘要", "summary")):
        console.print(f"{label}：{data[key]}", highlight=False)
    console.print("企业参会：" + "、".join(data["enterprise_attendees"]), highlight=False)
    console.print("监管部门参会：" + "、".join(data["regulator_attendees"]), highlight=False)
    for i, c in enumerate(data["commitments"], 1):
        console.print(f"承诺 {i}：{c['what']}，{c['due']} 前，{c['status_name']}", highlight=False)
    if data["minutes_name"]:
        console.print(f"会议纪要：{data['minutes_name']}（SHA-256 {data['minutes_sha256']}）", highlight=False)
        console.print(data["minutes"], highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(interview_app, name="interview")
