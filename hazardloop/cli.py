"""The `hazardloop` command line (typer).  Thin: parse, call a plain function, print.

Exit codes: 0 done; 1 refused (a guard, a conflict, bad data) with the reason in
Chinese; 2 bad usage.  No traceback is printed for a refused action.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from hazardloop.clihelp import STATE, console, engine, fail, parse_date, print_json, unit_of_work
from hazardloop.config import clock
from hazardloop.models import audit
from hazardloop.models.errors import HazardLoopError
from hazardloop.models.migrate import init_database
from hazardloop.models.orgs import load_orgs
from hazardloop.models.tables import AuditEvent, Enterprise, Evidence, Extension, Hazard, RectificationPlan
from hazardloop.states import ledger
from hazardloop.states.machine import mermaid
from hazardloop.states.roles import CHANNELS, LEVELS, STATE_NAMES

app = typer.Typer(help="HazardLoop 重大事故隐患闭环管理", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
hazard_app = typer.Typer(help="隐患：上报、确认、整改、审核销号、查询", no_args_is_help=True)
extension_app = typer.Typer(help="延期申请的审批", no_args_is_help=True)
audit_app = typer.Typer(help="审计记录：查询与完整性校验", no_args_is_help=True)
org_app = typer.Typer(help="企业与用户", no_args_is_help=True)
app.add_typer(hazard_app, name="hazard")
hazard_app.add_typer(extension_app, name="extension")
app.add_typer(audit_app, name="audit")
app.add_typer(org_app, name="org")

Actor = Annotated[str, typer.Option("--actor", help="操作人用户名")]
Json = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


@app.callback()
def _root(db: Annotated[Optional[str], typer.Option("--db", help="数据库 URL（默认 HAZARDLOOP_DATABASE_URL 或 $HAZARDLOOP_HOME/hazardloop.sqlite）")] = None) -> None:
    if db:
        STATE["db"] = db


# --- init / reference -------------------------------------------------------


@app.command()
def init(json_out: Json = False) -> None:
    """创建或升级数据库结构（Alembic）并载入基础数据；重复执行不做任何改变。"""
    changed = init_database(engine())
    if json_out:
        print_json({"database": str(engine().url.render_as_string(hide_password=True)), "changed": changed})
        return
    console.print(f"数据库已就绪：{engine().url.render_as_string(hide_password=True)}")
    console.print("基础数据新增或更新：" + "，".join(f"{k} {v}" for k, v in changed.items()))


@app.command()
def diagram(out: Annotated[Optional[Path], typer.Option("--out", help="写入文件（Markdown）")] = None) -> None:
    """输出隐患生命周期的 Mermaid 状态图。"""
    text = mermaid()
    if out:
        out.write_text("# 隐患生命周期\n\n由 `hazardloop diagram --out docs/lifecycle.md` 生成。\n\n```mermaid\n"
                       + text + "```\n", encoding="utf-8")
        console.print(f"已写入 {out}")
    else:
        sys.stdout.write(text)


@org_app.command("load")
def org_load(file: Path, json_out: Json = False) -> None:
    """从 YAML 文件导入企业和用户（格式见 README）。"""
    with unit_of_work() as session:
        added = load_orgs(session, file)
    if json_out:
        print_json(added)
    else:
        console.print(f"已导入：企业 {added['enterprises']} 家，用户 {added['users']} 人（新增或更新）。")


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
    from hazardloop.cli_intake import merging, print_duplicates  # the intake feature's duplicate candidates

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


def event_dict(e: AuditEvent) -> dict[str, Any]:
    return e.model_dump()


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
        events = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == h.id).order_by(AuditEvent.seq)).all()
    data = hazard_dict(h) | {
        "enterprise_name": enterprise.name if enterprise else None,
        "plans": [p.model_dump() for p in plans], "evidence": [f.model_dump() for f in files],
        "extensions": [x.model_dump() for x in exts], "audit": [event_dict(e) for e in events],
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
    _print_events(events)


def _print_events(events: list[AuditEvent]) -> None:
    table = Table(title="审计记录")
    for col in ("序号", "时间（北京）", "操作人", "动作", "隐患", "变更", "理由"):
        table.add_column(col)
    for e in events:
        change = ", ".join(f"{k}: {(e.before or {}).get(k, '')}→{v}" for k, v in (e.after or {}).items()
                           if k in ("state", "deadline", "cycle"))
        table.add_row(str(e.seq), clock.to_local(e.ts).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action,
                      str(e.hazard_id or ""), change, e.reason or "")
    console.print(table)


@audit_app.command("log")
def audit_log(
    hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
    actor: Annotated[Optional[str], typer.Option(help="操作人")] = None,
    since: Annotated[Optional[str], typer.Option(help="起始日期 YYYY-MM-DD（北京时间）")] = None,
    limit: Annotated[int, typer.Option(help="最多条数")] = 500,
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
    if json_out:
        print_json([event_dict(e) for e in events])
    else:
        _print_events(events)


@audit_app.command("verify")
def audit_verify(json_out: Json = False) -> None:
    """重新计算哈希链，指出第一条不符的记录。"""
    with unit_of_work() as s:
        result = audit.verify(s)
    if json_out:
        print_json(result.__dict__ | {"message": result.message()})
    elif result.ok:
        console.print(f"[green]{result.message()}[/]")
    else:
        console.print(f"[bold red]{result.message()}[/]")
    if not result.ok:
        raise typer.Exit(1)


@app.command("ref")
def ref(kind: Annotated[str, typer.Argument(help="regions | departments | industries | standards")],
        json_out: Json = False) -> None:
    """查看基础数据。"""
    from hazardloop.models.reference import FILES

    models = {f.split(".")[0]: m for f, m, _ in FILES}
    if kind not in models:
        raise typer.BadParameter(f"可选：{' | '.join(models)}", param_hint="KIND")
    with unit_of_work() as s:
        rows = [r.model_dump() for r in s.exec(select(models[kind])).all()]
    if json_out:
        print_json(rows)
        return
    table = Table(title=kind)
    for col in rows[0] if rows else []:
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(v) for v in r.values()])
    console.print(table)


@app.command()
def demo(reset: Annotated[bool, typer.Option("--reset", help="清空已有数据后重建")] = False,
         enterprises: Annotated[int, typer.Option(help="模拟企业数")] = 300,
         hazards: Annotated[int, typer.Option(help="模拟隐患数")] = 400,
         seed: Annotated[int, typer.Option(help="随机种子")] = 2026) -> None:
    """演示：载入肥城市基础数据，生成企业和 2023–2026 年的隐患，走完整个闭环并汇总。"""
    from hazardloop.demo import run_demo

    run_demo(engine(), reset=reset, n_enterprises=enterprises, n_hazards=hazards, seed=seed, console=console)


# --- feature commands: each feature module registers its own sub-commands here ---
# (one import + register line per feature; keep them in this block)
from hazardloop.cli_notify import register as _register_notify; _register_notify(app)  # noqa: E402,E702  outbox + lifecycle notices
from hazardloop import cli_web  # noqa: E402
cli_web.register(app)
from hazardloop import cli_intake  # noqa: E402
cli_intake.register(app)
from hazardloop import cli_stats  # noqa: E402
cli_stats.register(app)
from hazardloop.cli_escalation import register as _register_escalation; _register_escalation(app)  # noqa: E402,E702
from hazardloop.cli_lagging import register as _register_lagging; _register_lagging(app)  # noqa: E402,E702  regions/departments that lag
# --- end feature commands ---


def main() -> None:
    # `--db URL` may stand anywhere on the line (as the examples put it): hoist it to the root.
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            argv = ["--db", argv[i + 1], *argv[:i], *argv[i + 2:]]
            break
        if arg.startswith("--db="):
            argv = [arg, *argv[:i], *argv[i + 1:]]
            break
    try:
        app(args=argv, prog_name="hazardloop")
    except HazardLoopError as exc:
        fail(exc)
    except OperationalError as exc:
        fail(f"数据库操作失败：{exc.orig}")


if __name__ == "__main__":
    main()
