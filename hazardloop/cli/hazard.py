"""`hazardloop hazard`: report, confirm, plan, submit, approve, reject, extend, edit, list, show, and merging duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from sqlmodel import select

from hazardloop.cli.output import (Actor, Channel, Department, Industry, Json, Level, Limit, Offset, Region, State, Wide,
                                   choice, choices_help, console, local_time, parse_date, print_json, read_only, show,
                                   shown, unit_of_work)
from hazardloop.config.labels import label
from hazardloop.config import clock
from hazardloop.models.tables import AuditEvent, Enterprise, Evidence, Extension, Hazard, RectificationPlan
from hazardloop.states import confidential, ledger
from hazardloop.states.roles import CHANNELS, STATE_NAMES

hazard_app = typer.Typer(help="隐患：上报、确认、整改、审核销号、查询", no_args_is_help=True)


extension_app = typer.Typer(help="延期申请的审批", no_args_is_help=True)


# --- hazard actions ---------------------------------------------------------------
def _done(hazard: Hazard, verb: str, json_out: bool = False) -> None:
    if json_out:
        print_json(hazard_dict(hazard))
    else:
        console.print(f"{verb}：{hazard.code}，当前状态：{STATE_NAMES[hazard.state]}", highlight=False)


@hazard_app.command("report")
def hazard_report(
    actor: Actor,
    enterprise: Annotated[str, typer.Option(help="企业（编号、统一社会信用代码或名称）")],
    title: Annotated[str, typer.Option(help="隐患名称")],
    channel: Annotated[str, typer.Option(help=choices_help("channel", "发现渠道"), callback=choice("channel", "发现渠道"))],
    description: Annotated[str, typer.Option(help="隐患描述")] = "",
    location: Annotated[Optional[str], typer.Option(help="部位")] = None,
    json_out: Json = False,
) -> None:
    """上报一条隐患（状态：已发现）；同一企业有相似隐患时列出，并给出合并命令。"""
    from hazardloop.intake import merge as merging

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
    level: Level = None,
    department: Department = None,
    override_reason: Annotated[Optional[str], typer.Option(
        "--override-reason", help="判定依据不适用于该行业时，市安委办确认的理由（记入审计）")] = None,
    json_out: Json = False,
) -> None:
    """确认为重大事故隐患并挂牌督办。"""
    with unit_of_work() as s:
        h = ledger.confirm(s, ledger.get_user(s, actor), hazard, basis_code=basis, basis_clause=clause,
                           level=level, supervising_department=department, basis_override=override_reason)
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


@extension_app.command("list")
def extension_list(
    status: Annotated[Optional[str], typer.Option("--status", help=choices_help("extension_status", "状态") + "；默认 待审批",
                                                  callback=choice("extension_status", "状态"))] = "pending",
    region: Region = None,
    industry: Industry = None,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """延期申请清单（默认待审批的，最早的在前）：隐患、企业、原时限、申请时限、理由。"""
    with read_only() as s:
        stmt = (select(Extension, Hazard.code, Hazard.deadline, Enterprise.name)
                .join(Hazard, Hazard.id == Extension.hazard_id).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
                .where(Extension.status == status))
        if region:
            stmt = stmt.where(Hazard.region_code == region)
        if industry:
            stmt = stmt.where(Hazard.industry_code == industry)
        rows = s.exec(stmt.order_by(Extension.requested_at, Extension.id)).all()
    data = [x.model_dump() | {"hazard": code, "current_deadline": clock.local_date(due).isoformat() if due else None,
                              "enterprise": name, "status_name": label("extension_status", x.status)}
            for x, code, due, name in rows]
    if json_out:
        print_json(data)
        return
    from rich.table import Table  # rich only where a table is printed: --json never loads it

    table = Table(title=f"延期申请（{label('extension_status', status)}）")
    for col in ("编号", "隐患", "企业", "原时限", "申请时限", "理由", "申请人", "申请时间"):
        table.add_column(col)
    for x, code, due, name in rows:
        table.add_row(str(x.id), code, name, clock.local_date(due).isoformat() if due else "",
                      clock.local_date(x.new_deadline).isoformat(), x.reason, x.requested_by, local_time(x.requested_at))
    show(table, wide=wide, secondary=("申请时间", "申请人", "原时限", "企业"),
         footer=f"共 {len(rows)} 件" + ("；审批：hazardloop hazard extension approve|deny 编号 --actor …" if rows and status == "pending" else ""))


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
    state: State = None,
    region: Region = None,
    industry: Industry = None,
    channel: Channel = None,
    level: Level = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看逾期")] = False,
    limit: Limit = 200,
    offset: Offset = 0,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """隐患台账（状态、镇街区、行业、渠道、级别均可用中文名，如 --state 整改中 --region 石横镇）。"""
    from sqlalchemy import func

    flt = ledger.HazardFilter(state=state, region=region, industry=industry, channel=channel, level=level,
                              overdue=overdue)
    with read_only() as s:
        query = ledger.hazard_query(flt)
        rows = s.exec(query.limit(limit).offset(offset)).all()
        total = s.exec(select(func.count()).select_from(query.order_by(None).subquery())).one() if (
            not json_out and (offset or len(rows) >= limit)) else offset + len(rows)  # --json prints no total
        names = dict(s.exec(select(Enterprise.id, Enterprise.name)
                            .where(Enterprise.id.in_({h.enterprise_id for h in rows}))).all())
    if json_out:
        print_json([hazard_dict(h) for h in rows])
        return
    from rich.table import Table

    table = Table(title="隐患台账")
    for col in ("编号", "企业", "隐患", "渠道", "状态", "时限", "逾期天数"):
        table.add_column(col)
    for h in rows:
        table.add_row(h.code, names.get(h.enterprise_id, str(h.enterprise_id)), h.title, label("channel", h.channel),
                      label("state", h.state), clock.local_date(h.deadline).isoformat() if h.deadline else "",
                      str(ledger.days_overdue(h) or ""))
    show(table, wide=wide, secondary=("渠道", "逾期天数", "时限"), footer=shown(len(rows), total, offset))


def _field_rows(h: Hazard, enterprise: Enterprise | None, names: dict[str, str]) -> list[tuple[str, str]]:
    def t(value: object) -> str:
        return "" if value is None else str(value)

    basis = " ".join(x for x in (h.basis_code and names.get("basis:" + h.basis_code, h.basis_code), h.basis_clause) if x)
    return [
        ("隐患名称", h.title), ("描述", h.description or ""), ("部位", t(h.location)),
        ("企业", enterprise.name if enterprise else t(h.enterprise_id)),
        ("镇街区", names.get("region:" + h.region_code, h.region_code)),
        ("行业", names.get("industry:" + h.industry_code, h.industry_code)),
        ("发现渠道", label("channel", h.channel)), ("状态", label("state", h.state)),
        ("判定依据", basis), ("督办级别", label("level", h.level)),
        ("督办部门", names.get("department:" + (h.supervising_department or ""), t(h.supervising_department))),
        ("发现时间", local_time(h.found_at)), ("整改时限", clock.local_date(h.deadline).isoformat() if h.deadline else ""),
        ("逾期天数", t(ledger.days_overdue(h) or "")), ("督办周期", t(h.cycle)), ("驳回次数", t(h.rejections)),
        ("上报人", confidential.reporter_of(None, h)), ("确认人", t(h.confirmed_by)), ("确认时间", local_time(h.confirmed_at)),
        ("提交人", t(h.submitted_by)), ("提交时间", local_time(h.submitted_at)),
        ("销号人", t(h.closed_by)), ("销号时间", local_time(h.closed_at)), ("排除理由", t(h.dismissed_reason)),
    ]


@hazard_app.command("show")
def hazard_show(hazard: str, wide: Wide = False, json_out: Json = False) -> None:
    """一条隐患的全部信息：整改方案、整改材料、延期申请和审计记录。"""
    from hazardloop.cli.audit import event_dict, print_events  # the audit group's module: only `show` needs it
    from hazardloop.models.lookup import name_map
    from hazardloop.models.tables import Standard

    with read_only() as s:
        h = ledger.get_hazard(s, hazard)
        enterprise = s.get(Enterprise, h.enterprise_id)
        plans = s.exec(select(RectificationPlan).where(RectificationPlan.hazard_id == h.id)
                       .order_by(RectificationPlan.id)).all()
        files = s.exec(select(Evidence).where(Evidence.hazard_id == h.id).order_by(Evidence.id)).all()
        exts = s.exec(select(Extension).where(Extension.hazard_id == h.id).order_by(Extension.id)).all()
        events = [e for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == h.id).order_by(AuditEvent.seq)).all()
                  if confidential.visible_event(None, h, e.action)]
        names = {f"{kind}:{code}": name for kind in ("region", "industry", "department")
                 for code, name in name_map(s, kind).items()}
        if h.basis_code:
            std = s.get(Standard, h.basis_code)
            if std is not None:
                names["basis:" + h.basis_code] = std.title
    data = hazard_dict(h) | {
        "enterprise_name": enterprise.name if enterprise else None,
        "plans": [p.model_dump() for p in plans], "evidence": [f.model_dump() for f in files],
        "extensions": [x.model_dump() for x in exts], "audit": [event_dict(e) | {"actor": confidential.actor_of(None, h, e.actor)} for e in events],
    }
    if json_out:
        print_json(data)
        return
    from rich.table import Table

    table = Table(title=f"隐患 {h.code}", show_header=False)
    table.add_column("项目")
    table.add_column("内容")
    for key, value in _field_rows(h, enterprise, names):
        if value:
            table.add_row(key, value)
    show(table, wide=wide)
    if plans:
        t = Table(title=f"整改方案（{len(plans)} 份，最后一份有效）")
        for col in ("提交时间", "责任人", "整改措施", "资金（元）", "时限", "应急预案", "提交人"):
            t.add_column(col)
        for p in plans:
            t.add_row(local_time(p.created_at), p.responsible_person, p.measures, p.funds,
                      clock.local_date(p.deadline).isoformat(), p.emergency_plan, p.submitted_by)
        show(t, wide=wide, secondary=("提交人", "应急预案", "提交时间"))
    else:
        console.print("整改方案：无", highlight=False)
    if files:
        t = Table(title=f"整改材料（{len(files)} 份）")
        for col in ("文件", "督办周期", "大小（字节）", "上传人", "上传时间", "SHA-256"):
            t.add_column(col)
        for f in files:
            t.add_row(f.filename, str(f.cycle), str(f.size), f.uploaded_by, local_time(f.uploaded_at), f.sha256[:16])
        show(t, wide=wide, secondary=("SHA-256", "督办周期", "大小（字节）"))
    else:
        console.print("整改材料：无", highlight=False)
    if exts:
        t = Table(title=f"延期申请（{len(exts)} 次）")
        for col in ("编号", "申请人", "申请时间", "申请时限", "理由", "审批", "审批人", "审批意见"):
            t.add_column(col)
        for x in exts:
            t.add_row(str(x.id), x.requested_by, local_time(x.requested_at), clock.local_date(x.new_deadline).isoformat(),
                      x.reason, label("extension_status", x.status), x.decided_by or "", x.decision_reason or "")
        show(t, wide=wide, secondary=("申请时间", "审批意见", "审批人"))
    else:
        console.print("延期申请：无", highlight=False)
    print_events(events, {h.id: h.code}, wide, actor_of=lambda a: confidential.actor_of(None, h, a))


def print_candidates(cands: list, code: str) -> None:
    if not cands:
        return
    from rich.table import Table

    table = Table(title=f"同一企业的相似隐患（可能重复；合并：hazardloop hazard merge 保留编号 {code} --actor ...）")
    for col in ("编号", "名称", "部位", "状态", "渠道", "相似度"):
        table.add_column(col)
    for c in cands:
        d = c.as_dict()
        table.add_row(d["code"], d["title"], d["location"] or "", label("state", d["state"]), label("channel", d["channel"]),
                      f"{d['score']:.2f}")
    show(table)


def print_duplicates(found: list[dict]) -> None:
    """After `hazard report`: the similar hazards at the same enterprise and how to merge (nothing if none)."""
    if not found:
        return
    console.print("同一企业有相似的隐患（可能重复）：", highlight=False)
    for d in found:
        console.print(f"  {d['code']}  {d['state_name']}  相似度 {d['score']:.2f}  {d['title']}",
                      highlight=False, markup=False, soft_wrap=True)
        console.print(f"    合并：{d['merge_command']}", highlight=False, markup=False, soft_wrap=True)


# --- hazard merge ---------------------------------------------------------------------------------
def hazard_merge(kept: str, duplicate: str, actor: Actor,
                 reason: Annotated[Optional[str], typer.Option(help="合并说明")] = None, json_out: Json = False) -> None:
    """把重复隐患 DUPLICATE（须为已发现状态）合并到 KEPT：保留全部来源，可撤销。"""
    from hazardloop.intake import merge as merging

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
    from hazardloop.intake import merge as merging

    with unit_of_work() as s:
        rec = merging.unmerge(s, ledger.get_user(s, actor), merge_id, reason=reason)
    if json_out:
        print_json(rec.model_dump())
    else:
        console.print(f"已撤销合并记录 {rec.id}。", highlight=False)


def hazard_similar(hazard: str, json_out: Json = False) -> None:
    """同一企业中描述和部位相似的隐患（可能重复）。"""
    from hazardloop.intake import merge as merging

    with unit_of_work() as s:
        cands = merging.candidates_for(s, hazard)
        code = ledger.get_hazard(s, hazard).code
    if json_out:
        print_json([c.as_dict() for c in cands])
    elif cands:
        print_candidates(cands, code)
    else:
        console.print("没有相似的隐患。")


_SOURCE_KINDS = {"primary": "原始记录", "report": "举报", "import": "台账导入", "merge": "合并", "inspection": "检查"}
_TOTALS = {"total": "合计", "hazards": "隐患总数"}


def hazard_sources(hazard: str, json_out: Json = False) -> None:
    """一条隐患的全部来源（渠道）。"""
    from hazardloop.intake import merge as merging

    with unit_of_work() as s:
        rows = merging.sources_of(s, ledger.get_hazard(s, hazard))
    if json_out:
        print_json(rows)
        return
    for r in rows:
        console.print(f"{label('channel', r['channel'])}\t{_SOURCE_KINDS.get(r['kind'], r['kind'])}\t{r['ref']}",
                      highlight=False)


def hazard_channels(include_dismissed: Annotated[bool, typer.Option("--include-dismissed")] = False,
                    json_out: Json = False) -> None:
    """按发现渠道统计隐患数（一条隐患经多个渠道发现的，每个渠道各计一次，总数只计一次）。"""
    from hazardloop.intake import merge as merging

    with unit_of_work() as s:
        counts = merging.channel_counts(s, include_dismissed=include_dismissed)
    if json_out:
        print_json(counts)
    else:
        console.print("，".join(f"{label('channel', k) if k in CHANNELS else _TOTALS.get(k, k)} {v}"
                               for k, v in counts.items()), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(hazard_app, name="hazard")
    hazard_app.add_typer(extension_app, name="extension")
    hazard_app.command("merge")(hazard_merge)
    hazard_app.command("unmerge")(hazard_unmerge)
    hazard_app.command("similar")(hazard_similar)
    hazard_app.command("sources")(hazard_sources)
    hazard_app.command("channels")(hazard_channels)
