"""`hazardloop hazard`: report, confirm, plan, submit, approve, reject, extend, edit, list, show, and merging duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from sqlmodel import select

from hazardloop.cli.audit import event_dict, print_events
from hazardloop.cli.output import Actor, Json, console, parse_date, print_json, unit_of_work
from hazardloop.config import clock
from hazardloop.intake import merge as merging
from hazardloop.models.tables import AuditEvent, Enterprise, Evidence, Extension, Hazard, RectificationPlan
from hazardloop.states import confidential, ledger
from hazardloop.states.roles import CHANNELS, LEVELS, STATE_NAMES

hazard_app = typer.Typer(help="隐患：上报、确认、整改、审核销号、查询", no_args_is_help=True)


extension_app = typer.Typer(help="延期申请的审批", no_args_is_help=True)


# --- hazard actions ---------------------------------------------------------------
def _done(hazard: Hazard, verb: str, json_out: bool = False) -> None:
    if json_out:
        print_json(hazard_dict(hazard))
    else:
        console.print(f"{verb}：{hazard.code}，当前状态：{STATE_NAMES[hazard.state]}（{hazard.state}）", highlight=False)


@hazard_app.command("report")
def hazard_report(
    actor: Actor,
    enterprise: Annotated[str, typer.Option(help="企业（编号、统一社会信用代码或名称）")],
    title: Annotated[str, typer.Option(help="隐患名称")],
    channel: Annotated[str, typer.Option(help="发现渠道：" + "、".join(f"{k} {v}" for k, v in CHANNELS.items()))],
    description: Annotated[str, typer.Option(help="隐患描述")] = "",
    location: Annotated[Optional[str], typer.Option(help="部位")] = None,
    json_out: Json = False,
) -> None:
    """上报一条隐患（状态：已发现）；同一企业有相似隐患时列出，并给出合并命令。"""
    with unit_of_work() as s:
        user = ledger.get_user(s, actor)
        h = ledger.report(s, user, enterprise=enterprise, title=title, channel=channel,
                          description=description, location=location)
        dups = merging.intake_candidates(s, h, user)
    if json_out:
        print_json(hazard_dict(h) | {"duplicate_candidates": dups})
        return
    _done(h, "已上报", json_out)
    print_duplicates(dups)


@hazard_app.command("confirm")
def hazard_confirm(
    hazard: str, actor: Actor,
    basis: Annotated[Optional[str], typer.Option(help="判定依据标准代码（hazardloop ref standards）")] = None,
    clause: Annotated[Optional[str], typer.Option(help="判定依据条款，如 第四条第（一）项")] = None,
    level: Annotated[Optional[str], typer.Option(help="督办级别：" + "、".join(f"{k} {v}" for k, v in LEVELS.items()))] = None,
    department: Annotated[Optional[str], typer.Option(help="督办部门（默认为行业主管部门）")] = None,
    json_out: Json = False,
) -> None:
    """确认为重大事故隐患并挂牌督办。"""
    with unit_of_work() as s:
        h = ledger.confirm(s, ledger.get_user(s, actor), hazard, basis_code=basis, basis_clause=clause,
                           level=level, supervising_department=department)
    _done(h, "已确认挂牌", json_out)


@hazard_app.command("dismiss")
def hazard_dismiss(hazard: str, actor: Actor,
                   reason: Annotated[Optional[str], typer.Option(help="排除理由")] = None, json_out: Json = False) -> None:
    """判定不属于重大事故隐患（须说明理由）。"""
    with unit_of_work() as s:
        h = ledger.dismiss(s, ledger.get_user(s, actor), hazard, reason=reason)
    _done(h, "已排除", json_out)


@hazard_app.command("plan")
def hazard_plan(
    hazard: str, actor: Actor,
    responsible: Annotated[Optional[str], typer.Option(help="责任人")] = None,
    measures: Annotated[Optional[str], typer.Option(help="整改措施")] = None,
    funds: Annotated[Optional[str], typer.Option(help="整改资金（元）")] = None,
    deadline: Annotated[Optional[str], typer.Option(help="整改时限 YYYY-MM-DD")] = None,
    emergency_plan: Annotated[Optional[str], typer.Option("--emergency-plan", help="应急预案")] = None,
    json_out: Json = False,
) -> None:
    """提交整改方案（五落实：责任、措施、资金、时限、预案），开始整改。"""
    due = parse_date(deadline, "--deadline")
    with unit_of_work() as s:
        h = ledger.plan(s, ledger.get_user(s, actor), hazard, responsible_person=responsible, measures=measures,
                        funds=funds, deadline=due, emergency_plan=emergency_plan)
    _done(h, "整改方案已提交", json_out)


@hazard_app.command("submit")
def hazard_submit(hazard: str, actor: Actor,
                  evidence: Annotated[Optional[list[Path]], typer.Option(help="整改证明材料文件（可多次给出）")] = None,
                  json_out: Json = False) -> None:
    """提交整改完成（至少一份证明材料），等待审核。"""
    with unit_of_work() as s:
        h = ledger.submit(s, ledger.get_user(s, actor), hazard, evidence=evidence or [])
    _done(h, "已提交整改完成", json_out)


@hazard_app.command("approve")
def hazard_approve(hazard: str, actor: Actor,
                   reason: Annotated[Optional[str], typer.Option(help="审核意见")] = None, json_out: Json = False) -> None:
    """审核通过，销号。"""
    with unit_of_work() as s:
        h = ledger.approve(s, ledger.get_user(s, actor), hazard, reason=reason)
    _done(h, "已销号", json_out)


@hazard_app.command("reject")
def hazard_reject(hazard: str, actor: Actor,
                  reason: Annotated[Optional[str], typer.Option(help="驳回理由")] = None,
                  deadline: Annotated[Optional[str], typer.Option(help="新的整改时限 YYYY-MM-DD")] = None,
                  json_out: Json = False) -> None:
    """驳回整改（须说明理由并给出新的时限）。"""
    due = parse_date(deadline, "--deadline")
    with unit_of_work() as s:
        h = ledger.reject(s, ledger.get_user(s, actor), hazard, reason=reason, deadline=due)
    _done(h, "已驳回", json_out)


@hazard_app.command("extend")
def hazard_extend(hazard: str, actor: Actor,
                  deadline: Annotated[Optional[str], typer.Option(help="申请的新时限 YYYY-MM-DD")] = None,
                  reason: Annotated[Optional[str], typer.Option(help="延期理由")] = None,
                  json_out: Json = False) -> None:
    """企业申请延期（由监管部门审批：hazard extension approve|deny）。"""
    due = parse_date(deadline, "--deadline")
    with unit_of_work() as s:
        ext = ledger.request_extension(s, ledger.get_user(s, actor), hazard, deadline=due, reason=reason)
    if json_out:
        print_json(ext.model_dump())
    else:
        console.print(f"延期申请已提交，编号 {ext.id}，等待审批。")


def _decide(extension_id: int, actor: str, approve: bool, reason: str | None, json_out: bool) -> None:
    with unit_of_work() as s:
        ext = ledger.decide_extension(s, ledger.get_user(s, actor), extension_id, approve=approve, reason=reason)
    if json_out:
        print_json(ext.model_dump())
    else:
        console.print(f"延期申请 {ext.id} 已{'批准' if approve else '不予批准'}。")


@extension_app.command("approve")
def extension_approve(extension_id: int, actor: Actor,
                      reason: Annotated[Optional[str], typer.Option(help="审批意见")] = None, json_out: Json = False) -> None:
    """批准延期：新的时限生效，开始新的督办周期。"""
    _decide(extension_id, actor, True, reason, json_out)


@extension_app.command("deny")
def extension_deny(extension_id: int, actor: Actor,
                   reason: Annotated[Optional[str], typer.Option(help="不予批准的理由")] = None, json_out: Json = False) -> None:
    """不批准延期（须说明理由）。"""
    _decide(extension_id, actor, False, reason, json_out)


@hazard_app.command("edit")
def hazard_edit(hazard: str, actor: Actor,
                title: Annotated[Optional[str], typer.Option()] = None,
                description: Annotated[Optional[str], typer.Option()] = None,
                location: Annotated[Optional[str], typer.Option()] = None, json_out: Json = False) -> None:
    """修改隐患名称、描述或部位（留痕）。"""
    with unit_of_work() as s:
        h = ledger.edit(s, ledger.get_user(s, actor), hazard, title=title, description=description, location=location)
    _done(h, "已修改", json_out)


# --- queries ----------------------------------------------------------------------
def hazard_dict(h: Hazard) -> dict[str, Any]:
    data = h.model_dump()
    # No --actor here: an operator's view, so the one rule treats it as "not the reporter".
    data["reported_by"] = confidential.reporter_of(None, h)
    data["state_name"] = STATE_NAMES[h.state]
    data["overdue"] = ledger.is_overdue(h)
    data["days_overdue"] = ledger.days_overdue(h)
    data["deadline_date"] = clock.local_date(h.deadline).isoformat() if h.deadline else None
    return data


@hazard_app.command("list")
def hazard_list(
    state: Annotated[Optional[str], typer.Option(help="状态")] = None,
    region: Annotated[Optional[str], typer.Option(help="镇街区代码")] = None,
    industry: Annotated[Optional[str], typer.Option(help="行业代码")] = None,
    channel: Annotated[Optional[str], typer.Option(help="发现渠道")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看逾期")] = False,
    limit: Annotated[int, typer.Option(help="最多显示条数")] = 200,
    json_out: Json = False,
) -> None:
    """隐患台账。"""
    flt = ledger.HazardFilter(state=state, region=region, industry=industry, channel=channel, overdue=overdue)
    with unit_of_work() as s:
        rows = s.exec(ledger.hazard_query(flt).limit(limit)).all()
        names = dict(s.exec(select(Enterprise.id, Enterprise.name)
                            .where(Enterprise.id.in_({h.enterprise_id for h in rows}))).all())
    if json_out:
        print_json([hazard_dict(h) for h in rows])
        return
    table = Table(title=f"隐患台账（{len(rows)} 条）")
    for col in ("编号", "企业", "隐患", "渠道", "状态", "时限", "逾期天数"):
        # codes and dates must stay whole; names wrap instead
        table.add_column(col, no_wrap=col in ("编号", "时限", "状态", "渠道"), overflow="fold")
    for h in rows:
        table.add_row(h.code, names.get(h.enterprise_id, str(h.enterprise_id)), h.title[:24], CHANNELS[h.channel], STATE_NAMES[h.state],
                      clock.local_date(h.deadline).isoformat() if h.deadline else "", str(ledger.days_overdue(h) or ""))
    console.print(table)


@hazard_app.command("show")
def hazard_show(hazard: str, json_out: Json = False) -> None:
    """一条隐患的全部信息和审计记录。"""
    with unit_of_work() as s:
        h = ledger.get_hazard(s, hazard)
        enterprise = s.get(Enterprise, h.enterprise_id)
        plans = s.exec(select(RectificationPlan).where(RectificationPlan.hazard_id == h.id)
                       .order_by(RectificationPlan.id)).all()
        files = s.exec(select(Evidence).where(Evidence.hazard_id == h.id).order_by(Evidence.id)).all()
        exts = s.exec(select(Extension).where(Extension.hazard_id == h.id).order_by(Extension.id)).all()
        events = [e for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == h.id).order_by(AuditEvent.seq)).all()
                  if confidential.visible_event(None, h, e.action)]
    data = hazard_dict(h) | {
        "enterprise_name": enterprise.name if enterprise else None,
        "plans": [p.model_dump() for p in plans], "evidence": [f.model_dump() for f in files],
        "extensions": [x.model_dump() for x in exts], "audit": [event_dict(e) | {"actor": confidential.actor_of(None, h, e.actor)} for e in events],
    }
    if json_out:
        print_json(data)
        return
    table = Table(title=f"隐患 {h.code}", show_header=False)
    for key in ("title", "description", "location", "channel", "state_name", "enterprise_name", "region_code",
                "industry_code", "basis_code", "basis_clause", "level", "supervising_department",
                "deadline_date", "days_overdue", "cycle", "reported_by", "confirmed_by", "submitted_by", "closed_by"):
        table.add_row(key, "" if data[key] is None else str(data[key]))
    console.print(table)
    print_events(events, actor_of=lambda a: confidential.actor_of(None, h, a))


def print_candidates(cands: list[merging.Candidate], code: str) -> None:
    if not cands:
        return
    table = Table(title=f"同一企业的相似隐患（可能重复；合并：hazardloop hazard merge 保留编号 {code} --actor ...）")
    for col in ("编号", "名称", "部位", "状态", "渠道", "相似度"):
        table.add_column(col)
    for c in cands:
        d = c.as_dict()
        table.add_row(d["code"], d["title"][:30], d["location"] or "", d["state"], d["channel"], f"{d['score']:.2f}")
    console.print(table)


def print_duplicates(found: list[dict]) -> None:
    """After `hazard report`: the similar hazards at the same enterprise and how to merge (nothing if none)."""
    if not found:
        return
    console.print("同一企业有相似的隐患（可能重复）：", highlight=False)
    for d in found:
        console.print(f"  {d['code']}  {d['state_name']}（{d['state']}）  相似度 {d['score']:.2f}  {d['title']}",
                      highlight=False, markup=False, soft_wrap=True)
        console.print(f"    合并：{d['merge_command']}", highlight=False, markup=False, soft_wrap=True)


# --- hazard merge ---------------------------------------------------------------------------------
def hazard_merge(kept: str, duplicate: str, actor: Actor,
                 reason: Annotated[Optional[str], typer.Option(help="合并说明")] = None, json_out: Json = False) -> None:
    """把重复隐患 DUPLICATE（须为已发现状态）合并到 KEPT：保留全部来源，可撤销。"""
    with unit_of_work() as s:
        rec = merging.merge(s, ledger.get_user(s, actor), kept, duplicate, reason=reason)
        kept_h = ledger.get_hazard(s, rec.kept_id)
        chans = merging.channels_of(s, kept_h)
    if json_out:
        print_json(rec.model_dump() | {"channels": chans})
    else:
        console.print(f"已合并（合并记录 {rec.id}）：{duplicate} → {kept_h.code}；来源渠道：{'、'.join(chans)}。"
                      f"撤销：hazardloop hazard unmerge {rec.id}", highlight=False)


def hazard_unmerge(merge_id: int, actor: Actor,
                   reason: Annotated[Optional[str], typer.Option(help="撤销理由")] = None, json_out: Json = False) -> None:
    """撤销一次合并：来源归还，重复隐患恢复为已发现。"""
    with unit_of_work() as s:
        rec = merging.unmerge(s, ledger.get_user(s, actor), merge_id, reason=reason)
    if json_out:
        print_json(rec.model_dump())
    else:
        console.print(f"已撤销合并记录 {rec.id}。", highlight=False)


def hazard_similar(hazard: str, json_out: Json = False) -> None:
    """同一企业中描述和部位相似的隐患（可能重复）。"""
    with unit_of_work() as s:
        cands = merging.candidates_for(s, hazard)
        code = ledger.get_hazard(s, hazard).code
    if json_out:
        print_json([c.as_dict() for c in cands])
    elif cands:
        print_candidates(cands, code)
    else:
        console.print("没有相似的隐患。")


def hazard_sources(hazard: str, json_out: Json = False) -> None:
    """一条隐患的全部来源（渠道）。"""
    with unit_of_work() as s:
        rows = merging.sources_of(s, ledger.get_hazard(s, hazard))
    if json_out:
        print_json(rows)
        return
    for r in rows:
        console.print(f"{r['channel']}\t{r['kind']}\t{r['ref']}", highlight=False)


def hazard_channels(include_dismissed: Annotated[bool, typer.Option("--include-dismissed")] = False,
                    json_out: Json = False) -> None:
    """按发现渠道统计隐患数（一条隐患经多个渠道发现的，每个渠道各计一次，总数只计一次）。"""
    with unit_of_work() as s:
        counts = merging.channel_counts(s, include_dismissed=include_dismissed)
    if json_out:
        print_json(counts)
    else:
        console.print("，".join(f"{k} {v}" for k, v in counts.items()), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(hazard_app, name="hazard")
    hazard_app.add_typer(extension_app, name="extension")
    hazard_app.command("merge")(hazard_merge)
    hazard_app.command("unmerge")(hazard_unmerge)
    hazard_app.command("similar")(hazard_similar)
    hazard_app.command("sources")(hazard_sources)
    hazard_app.command("channels")(hazard_channels)
