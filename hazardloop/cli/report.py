"""`hazardloop report`: public reports (举报), from submission to reward payment."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from sqlmodel import select
from rich.table import Table

from hazardloop.cli.hazard import print_candidates
from hazardloop.cli.output import (Actor, Department, Json, Wide, code_option, console, print_json, record_table, show,
                                   unit_of_work)
from hazardloop.config import clock
from hazardloop.states import ledger

report_app = typer.Typer(help="群众举报：登记、受理、核查、反馈、奖励（举报人身份加密保密）", no_args_is_help=True)


def _done(r, verb: str, json_out: bool) -> None:  # noqa: ANN001
    from hazardloop.intake import reports
    from hazardloop.states import report_machine as rm

    if json_out:
        print_json(reports.report_dict(r))
    else:
        console.print(f"{verb}：举报 {r.code}，当前状态：{rm.STATE_NAMES[r.state]}", highlight=False)


@report_app.command("submit")
def report_submit(
    actor: Actor,
    content: Annotated[str, typer.Option(help="举报内容")],
    enterprise: Annotated[Optional[str], typer.Option(help="被举报企业（名称或统一社会信用代码）")] = None,
    location: Annotated[Optional[str], typer.Option(help="部位/地点")] = None,
    name: Annotated[Optional[str], typer.Option("--reporter-name", help="举报人姓名（不填即匿名；加密保存）")] = None,
    contact: Annotated[Optional[str], typer.Option("--reporter-contact", help="举报人联系方式（加密保存）")] = None,
    via: Annotated[str, code_option("report_via", "举报途径", "--via")] = "platform",
    # the feedback and the reward decision go to --reporter-contact by this channel; none: by 查询码 only
    feedback_via: Annotated[Optional[str], code_option("feedback_channel", "反馈方式", "--feedback-via")] = None,
    json_out: Json = False,
) -> None:
    """登记一件举报（匿名或实名）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.submit(s, ledger.get_user(s, actor), content=content, enterprise=enterprise, location=location,
                           reporter_name=name, reporter_contact=contact, via=via, feedback_channel=feedback_via)
        query_code = reports.query_code_of(r)  # shown this once; only its hash is kept
    if json_out:
        print_json(reports.report_dict(r) | {"query_code": query_code})
        return
    _done(r, "已登记", json_out)
    console.print(f"查询码：{query_code}（只显示这一次，请举报人妥善保存；凭举报编号和查询码查询办理情况："
                  f"hazardloop report track {r.code} --query-code 查询码，或网页 /track）", highlight=False)


@report_app.command("track")
def report_track(
    report: str,
    query_code: Annotated[str, typer.Option("--query-code", help="登记举报时给出的查询码")],
    json_out: Json = False,
) -> None:
    """举报人凭举报编号和查询码查询办理情况、反馈和奖励决定（不需要账号）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        out = reports.track(s, report, query_code)
    if json_out:
        print_json(out)
        return
    console.print(f"举报 {out['report']}：{out['state_name']}（登记于 {out['received_on']}）", highlight=False)
    if out["decline_reason"]:
        console.print(f"不予受理：{out['decline_reason']}", highlight=False)
    if out["verdict_name"]:
        console.print(f"核查结论：{out['verdict_name']}（{out['verified_on']}）", highlight=False)
    if out["feedback"]:
        console.print(f"反馈（{out['feedback_on']}）：{out['feedback']}", highlight=False)
    if out["reward"]:
        rw = out["reward"]
        console.print(f"奖励决定：{rw['amount']} 元（{rw['decided_on']}）；{rw['basis'] or ''}"
                      + ("；已兑付" if rw["paid"] else ""), highlight=False)
    if out["next_deadline"]:
        console.print(f"当前环节：{out['next_deadline']['phase']}，期限 {out['next_deadline']['date']}", highlight=False)


@report_app.command("accept")
def report_accept(report: str, actor: Actor,
                  enterprise: Annotated[Optional[str], typer.Option(help="被举报企业（未匹配时必填）")] = None,
                  department: Department = None,
                  json_out: Json = False) -> None:
    """受理举报；核查期限从受理之日起算。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.accept(s, ledger.get_user(s, actor), report, enterprise=enterprise, department=department)
    _done(r, "已受理", json_out)
    if not json_out and r.verify_deadline:
        console.print(f"核查期限：{clock.local_date(r.verify_deadline).isoformat()}；承办部门：{r.department_code}")


@report_app.command("reject")
def report_reject(report: str, actor: Actor,
                  reason: Annotated[Optional[str], typer.Option(help="不予受理的理由")] = None,
                  json_out: Json = False) -> None:
    """不予受理（须说明理由）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.decline(s, ledger.get_user(s, actor), report, reason=reason)
    _done(r, "不予受理", json_out)


@report_app.command("start")
def report_start(report: str, actor: Actor, json_out: Json = False) -> None:
    """开始核查。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.start_verification(s, ledger.get_user(s, actor), report)
    _done(r, "开始核查", json_out)


@report_app.command("extend")
def report_extend(report: str, actor: Actor,
                  days: Annotated[Optional[int], typer.Option(help="延长天数（不超过配置上限）")] = None,
                  reason: Annotated[Optional[str], typer.Option(help="延长理由")] = None,
                  json_out: Json = False) -> None:
    """批准延长核查期限（一次）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.extend_verification(s, ledger.get_user(s, actor), report, days=days, reason=reason)
    _done(r, "已延长核查期限", json_out)


@report_app.command("verify")
def report_verify(
    report: str, actor: Actor,
    verdict: Annotated[Optional[str], code_option("verdict", "核查结论", "--verdict")] = None,
    note: Annotated[Optional[str], typer.Option(help="核查情况说明")] = None,
    hazard: Annotated[Optional[str], typer.Option(help="关联到已有隐患（编号）；不填则新建隐患")] = None,
    title: Annotated[Optional[str], typer.Option(help="新建隐患的名称（默认取举报内容首行）")] = None,
    json_out: Json = False,
) -> None:
    """作出核查结论；属实（含部分属实）的新建或关联隐患（渠道：群众举报查实）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        if reports.get_report(s, report).state == "accepted":  # verify from accepted: start implied
            reports.start_verification(s, ledger.get_user(s, actor), report)
        out = reports.verify(s, ledger.get_user(s, actor), report, verdict=verdict, note=note, hazard=hazard,
                             title=title)
    if json_out:
        print_json(reports.report_dict(out.report) | {
            "hazard": out.hazard.code if out.hazard else None, "hazard_created": out.created,
            "candidates": [c.as_dict() for c in out.candidates]})
        return
    _done(out.report, "已作出核查结论", False)
    if out.hazard:
        console.print(f"{'已新建' if out.created else '已关联'}隐患 {out.hazard.code}（渠道：群众举报查实）", highlight=False)
    print_candidates(out.candidates, out.hazard.code if out.hazard else "")


@report_app.command("feedback")
def report_feedback(report: str, actor: Actor,
                    text: Annotated[Optional[str], typer.Option("--text", help="反馈内容")] = None,
                    json_out: Json = False) -> None:
    """向举报人反馈核查处理情况。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.give_feedback(s, ledger.get_user(s, actor), report, text=text)
    _done(r, "已反馈", json_out)


@report_app.command("reward")
def report_reward(
    report: str, actor: Actor,
    rule: Annotated[Optional[str], code_option("reward_rule", "奖励规则", "--rule")] = None,
    kind: Annotated[str, code_option("reward_kind", "奖励类别", "--kind")] = "major",
    fine: Annotated[Optional[str], typer.Option(help="行政处罚金额（元），major 时按比例计奖")] = None,
    amount: Annotated[Optional[str], typer.Option(help="一般隐患的奖励金额（元）")] = None,
    reason: Annotated[Optional[str], typer.Option(help="备注")] = None,
    json_out: Json = False,
) -> None:
    """按配置规则核定奖励（结果注明所依据的规则文号）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.decide_reward(s, ledger.get_user(s, actor), report, rule=rule, kind=kind, fine=fine,
                                  amount=amount, reason=reason)
    _done(r, "已核定奖励", json_out)
    if not json_out:
        console.print(f"奖励金额：{r.reward_amount} 元。{r.reward.get('basis', '')}", highlight=False)


@report_app.command("pay")
def report_pay(report: str, actor: Actor,
               payment_ref: Annotated[Optional[str], typer.Option("--payment-ref", help="兑付凭证号")] = None,
               json_out: Json = False) -> None:
    """兑付奖励（不能由核定人本人办理）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        r = reports.pay(s, ledger.get_user(s, actor), report, payment_ref=payment_ref)
    _done(r, "已兑付", json_out)


@report_app.command("list")
def report_list(actor: Actor,
                state: Annotated[Optional[str], code_option("report_state", "状态", "--state")] = None,
                limit: Annotated[int, typer.Option(help="最多条数")] = 200, wide: Wide = False,
                json_out: Json = False) -> None:
    """举报清单（不显示举报人信息；--state 可用中文，如 核查中）。"""
    from hazardloop.intake import reports
    from hazardloop.models.tables import Enterprise, Hazard
    from hazardloop.states import report_machine as rm

    with unit_of_work() as s:
        rows = reports.list_reports(s, ledger.get_user(s, actor), state=state, limit=limit)
        ents = dict(s.exec(select(Enterprise.id, Enterprise.name)
                           .where(Enterprise.id.in_({r.enterprise_id for r in rows if r.enterprise_id}))).all())
        codes = dict(s.exec(select(Hazard.id, Hazard.code)
                            .where(Hazard.id.in_({r.hazard_id for r in rows if r.hazard_id}))).all())
    if json_out:
        print_json([reports.report_dict(r) for r in rows])
        return
    table = Table(title="举报清单")
    for col in ("编号", "收到（北京）", "企业", "内容", "举报人", "状态", "期限", "关联隐患"):
        table.add_column(col)
    for r in rows:
        running = reports.current_deadline(r)
        table.add_row(r.code, clock.to_local(r.received_at).strftime("%Y-%m-%d"),
                      ents.get(r.enterprise_id) or r.enterprise_name or "", r.content,
                      "匿名" if r.anonymous else "实名", rm.STATE_NAMES[r.state],
                      f"{reports.PHASE_NAMES[running[0]]} {running[1]}" if running else "", codes.get(r.hazard_id, ""))
    show(table, wide=wide, secondary=("内容", "期限", "举报人", "收到（北京）", "关联隐患"),
         footer=f"显示 {len(rows)} 件（--limit 调整）")


@report_app.command("show")
def report_show(report: str, actor: Actor,
                reveal: Annotated[bool, typer.Option("--reveal", help="显示举报人姓名和联系方式（仅受理岗位；留痕）")] = False,
                wide: Wide = False, json_out: Json = False) -> None:
    """一件举报的办理情况；--reveal 显示举报人身份（仅受理岗位，查看行为记入审计）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        user = ledger.get_user(s, actor)
        r = reports.view(s, user, report)
        data = reports.report_dict(r)
        if reveal:
            data["reporter_identity"] = reports.reveal_identity(s, user, report)
    if json_out:
        print_json(data)
        return
    from hazardloop.config.labels import label
    from hazardloop.models.lookup import name_map
    from hazardloop.models.tables import Enterprise, Hazard

    with unit_of_work() as s:
        ent = s.get(Enterprise, r.enterprise_id) if r.enterprise_id else None
        hazard_code = s.get(Hazard, r.hazard_id).code if r.hazard_id else None
        departments = name_map(s, "department")
    rows = [("状态", data.get("state_name")), ("收到时间", data.get("received_at")),
            ("举报途径", label("report_via", data.get("received_via"))),
            ("被举报企业", ent.name if ent else data.get("enterprise_name")), ("举报内容", data.get("content")),
            ("部位/地点", data.get("location")), ("举报人", data.get("reporter")),
            ("反馈方式", data.get("feedback_channel_name")),
            ("承办部门", departments.get(data.get("department_code") or "", data.get("department_code"))),
            ("受理人", data.get("accepted_by")), ("不予受理理由", data.get("decline_reason")),
            ("核查期限", data.get("verify_deadline")), ("核查期限已延长", data.get("verify_extended") or None),
            ("核查结论", data.get("verdict_name")), ("核查情况", data.get("verify_note")), ("关联隐患", hazard_code),
            ("反馈期限", data.get("feedback_deadline")), ("反馈内容", data.get("feedback_text")),
            ("奖励金额（元）", data.get("reward_amount")), ("奖励依据", (r.reward or {}).get("basis")),
            ("兑付凭证号", data.get("payment_ref"))]
    if reveal:
        ident = data["reporter_identity"]
        rows.append(("举报人（保密）", f"{ident['name'] or '匿名'} {ident['contact'] or ''}"))
    show(record_table(f"举报 {r.code}", rows), wide=wide)


@report_app.command("sweep")
def report_sweep(actor: Annotated[str, typer.Option("--actor", help="操作人用户名（系统或市安委办）")],
                 json_out: Json = False) -> None:
    """检查举报办理期限：到期提醒、逾期提示、逾期督办（重复执行不重复发送）。"""
    from hazardloop.intake import reports

    with unit_of_work() as s:
        out = reports.sweep(s, ledger.get_user(s, actor))
    if json_out:
        print_json(out)
    else:
        console.print(f"检查在办举报 {out['checked']} 件，新排队通知 {out['queued']} 条。")


@report_app.command("diagram")
def report_diagram() -> None:
    """输出举报办理流程的 Mermaid 状态图。"""
    from hazardloop.states import report_machine as rm

    typer.echo(rm.mermaid(), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
