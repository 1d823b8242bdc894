"""`hazardloop plan`: annual action plans, tasks, 月调度, the plan-work ladder, 季度会商研判."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import Actor, Json, OfficeActor, console, parse_date, parse_month, print_json, \
    print_wide, read_only, unit_of_work, write_document
from hazardloop.config import clock, labels
from hazardloop.states import ledger

plan_app = typer.Typer(help="年度行动计划：任务清单、子方案备案、月调度、挂图作战、计划任务督办、季度会商研判",
                       no_args_is_help=True)
ladder_app = typer.Typer(help="计划任务“三函一会”：督促提醒 → 函告 → 通报 → 约谈 → 曝光 → 追责问责移交",
                         no_args_is_help=True)
review_app = typer.Typer(help="季度会商研判：签发编号报告、记录会商结论和措施", no_args_is_help=True)
plan_app.add_typer(ladder_app, name="ladder")
plan_app.add_typer(review_app, name="review")


def _say(text: str) -> None:
    console.print(text, highlight=False)


@plan_app.command("load")
def load_cmd(actor: OfficeActor,
             file: Annotated[Optional[Path], typer.Argument(help="计划文件（YAML）；省略时载入三年行动方案的全市任务")] = None,
             json_out: Json = False) -> None:
    """载入行动计划（逐条校验，全部合格才写入；重复载入只更新任务内容，不动进度）。"""
    from hazardloop.plans import plans

    with unit_of_work() as s:
        out = plans.load_plan(s, ledger.get_user(s, actor), file)
    if json_out:
        print_json(out)
        return
    for p in out["plans"]:
        _say(f"计划 {p['plan']}（{p['year']} 年）：{p['tasks']} 项任务")
    _say(f"新增 {out['added']} 项，更新 {out['updated']} 项。")


@plan_app.command("import")
def import_cmd(file: Annotated[Path, typer.Argument(help="任务分工表（.xlsx）")], actor: Actor,
               plan: Annotated[str, typer.Option("--plan", help="导入到的计划编号，如 yingji-2025")],
               json_out: Json = False) -> None:
    """从 Excel 任务分工表导入任务（逐行校验：任一行不合格则不写入，列出每行的问题）。"""
    from hazardloop.plans import excel

    with unit_of_work() as s:
        out = excel.import_tasks(s, ledger.get_user(s, actor), plan, file)
    if json_out:
        print_json(out)
    else:
        _say(f"计划 {plan}：导入 {out['rows']} 行，新增 {out['added']} 项，更新 {out['updated']} 项。")


@plan_app.command("template")
def template_cmd(out: Annotated[Path, typer.Argument(help="写出的空白任务分工表 .xlsx")]) -> None:
    """写出空白的任务分工表（导入格式）。"""
    from hazardloop.plans import excel

    excel.write_template(out)
    _say(f"已写出任务分工表模板：{out}")


@plan_app.command("list")
def list_cmd(year: Annotated[Optional[int], typer.Option(help="年度")] = None, json_out: Json = False) -> None:
    """各单位的年度计划（全市任务清单、各部门子方案）及备案状态。"""
    from hazardloop.plans import plans

    with read_only() as s:
        rows = plans.list_plans(s, year)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"年度行动计划（{len(rows)} 个）")
    for col in ("编号", "单位", "年度", "类别", "备案状态", "报送期限", "报送日期", "任务", "已办结", "逾期"):
        table.add_column(col)
    for r in rows:
        late = "（逾期报送）" if r["filed_late"] else ""
        table.add_row(r["code"], r["unit_name"], str(r["year"]), "子方案" if r["sub_plan"] else "计划",
                      r["state_name"], r["filing_due"] or "", (r["submitted_on"] or "") + late, str(r["tasks"]),
                      str(r["verified"]), str(r["overdue"]))
    print_wide(table)


@plan_app.command("tasks")
def tasks_cmd(plan: Annotated[Optional[str], typer.Option(help="计划编号")] = None,
              unit: Annotated[Optional[str], typer.Option(help="牵头单位代码")] = None,
              year: Annotated[Optional[int], typer.Option(help="年度")] = None,
              state: Annotated[Optional[str], typer.Option(help="状态：" + "、".join(labels.TASK_STATES))] = None,
              overdue: Annotated[bool, typer.Option("--overdue", help="只列逾期任务")] = False,
              json_out: Json = False) -> None:
    """任务清单（按完成时限排序）。"""
    from hazardloop.plans import tasks

    with read_only() as s:
        rows = tasks.list_tasks(s, plan=plan, unit=unit, year=year, state=state, overdue=overdue)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"计划任务（{len(rows)} 项）")
    for col in ("编号", "计划", "条目", "任务", "牵头单位", "完成时限", "状态", "进度"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["code"], r["plan"], r["paragraph"], r["content"][:40], r["lead_name"], r["deadline"],
                      r["state_name"] + ("（逾期）" if r["overdue"] else ""), f"{r['percent']}%")
    print_wide(table)


@plan_app.command("open-filings")
def open_filings_cmd(actor: OfficeActor, year: Annotated[int, typer.Option(help="年度")],
                     due: Annotated[Optional[str], typer.Option(help="报送期限 YYYY-MM-DD（默认按规则文件）")] = None,
                     unit: Annotated[Optional[list[str]], typer.Option(help="单位代码（可重复；默认全市任务涉及的各部门）")] = None,
                     json_out: Json = False) -> None:
    """部署本年度子方案报送：为各成员单位建立待报送的子方案，报送期限默认 3 月 15 日。"""
    from hazardloop.escalation import tasks as lag
    from hazardloop.plans import plans

    day = parse_date(due, "--due") or lag.load_policy().filing_due_on(year)
    with unit_of_work() as s:
        made = plans.open_filings(s, ledger.get_user(s, actor), year, day, unit or None)
        out = [{"plan": p.code, "unit": p.unit_code, "due": day.isoformat(), "state": p.state} for p in made]
    if json_out:
        print_json(out)
    else:
        _say(f"已部署 {len(out)} 个单位报送 {year} 年子方案，期限 {day.isoformat()}。")


def _filing(trigger: str, code: str, actor: str, **kw) -> None:  # noqa: ANN003
    from hazardloop.plans import plans

    with unit_of_work() as s:
        user = ledger.get_user(s, actor)
        p = {"submit": plans.submit_plan, "approve": plans.approve_plan, "return": plans.return_plan}[trigger](
            s, user, code, **kw)
        _say(f"子方案 {p.code}：{labels.FILING_STATES[p.state]}。")


@plan_app.command("submit")
def submit_cmd(code: str, actor: Actor,
               summary: Annotated[Optional[str], typer.Option(help="子方案内容或要点")] = None) -> None:
    """报送本单位子方案（报市安委办审核备案）。"""
    _filing("submit", code, actor, summary=summary)


@plan_app.command("approve")
def approve_cmd(code: str, actor: OfficeActor) -> None:
    """市安委办审核备案子方案。"""
    _filing("approve", code, actor)


@plan_app.command("return")
def return_cmd(code: str, actor: OfficeActor,
               reason: Annotated[Optional[str], typer.Option(help="退回理由（必填）")] = None) -> None:
    """市安委办退回子方案（须说明理由）。"""
    _filing("return", code, actor, reason=reason)


def _task(trigger: str, ref: str, actor: str, **kw) -> None:  # noqa: ANN003
    from hazardloop.plans import tasks

    with unit_of_work() as s:
        t = tasks.fire(s, ledger.get_user(s, actor), ref, trigger, **kw)
        _say(f"任务 {t.code}：{labels.TASK_STATES[t.state]}。")


@plan_app.command("start")
def start_cmd(ref: str, actor: Actor) -> None:
    """牵头单位开始推进任务。"""
    _task("start", ref, actor)


@plan_app.command("done")
def done_cmd(ref: str, actor: Actor, summary: Annotated[Optional[str], typer.Option(help="完成情况说明")] = None,
             evidence: Annotated[Optional[list[str]], typer.Option(help="佐证材料（文件、文号或链接，可重复）")] = None) -> None:
    """牵头单位报告任务完成（须附佐证材料），待市安委办核验。"""
    _task("report_done", ref, actor, summary=summary, evidence=evidence or [])


@plan_app.command("verify")
def verify_cmd(ref: str, actor: OfficeActor) -> None:
    """市安委办核验任务办结（报告人不能核验自己报告的任务）。"""
    _task("verify", ref, actor)


@plan_app.command("return-task")
def return_task_cmd(ref: str, actor: OfficeActor,
                    reason: Annotated[Optional[str], typer.Option(help="退回理由（必填）")] = None) -> None:
    """市安委办退回报告完成的任务（须说明理由）。"""
    _task("return_task", ref, actor, reason=reason)


@plan_app.command("evidence")
def evidence_cmd(ref: str, actor: Actor,
                 evidence: Annotated[list[str], typer.Option(help="佐证材料（文件、文号或链接，可重复）")]) -> None:
    """牵头单位为任务补充佐证材料。"""
    from hazardloop.plans import tasks

    with unit_of_work() as s:
        t = tasks.add_evidence(s, ledger.get_user(s, actor), ref, evidence)
        _say(f"任务 {t.code} 已有佐证材料 {len(t.evidence)} 份。")


@plan_app.command("report")
def report_cmd(ref: str, actor: Actor, percent: Annotated[int, typer.Option(help="完成进度 0–100")],
               done: Annotated[str, typer.Option(help="本月完成情况")],
               month: Annotated[Optional[str], typer.Option(help="月份 YYYY-MM（默认本月）")] = None,
               problems: Annotated[str, typer.Option(help="存在问题")] = "",
               next_steps: Annotated[str, typer.Option("--next", help="下步打算")] = "") -> None:
    """报送一项任务的月调度（进度、完成情况、存在问题、下步打算）。"""
    from hazardloop.plans import tasks

    m = parse_month(month)
    with unit_of_work() as s:
        r = tasks.monthly_report(s, ledger.get_user(s, actor), ref, m, percent=percent, done=done, problems=problems,
                                 next_steps=next_steps)
        _say(f"已报送 {r.month} 月调度：任务 {ref}，进度 {r.percent}%。")


@plan_app.command("evaluate")
def evaluate_cmd(month: Annotated[str, typer.Option(help="考核月份 YYYY-MM（须已结束）")], json_out: Json = False) -> None:
    """月末考核各单位计划任务（逾期任务、缺报迟报月调度、子方案未备案），按阶梯出具督办公文。"""
    from hazardloop.escalation import tasks as lag

    m = parse_month(month)
    with unit_of_work() as s:
        result = lag.evaluate(s, m)
    if json_out:
        print_json(result.to_dict())
        return
    _say(f"考核 {'、'.join(result.months)}：{result.evaluated} 个单位，滞后 {result.lagging} 个；"
         f"公文 {result.documents} 份，待审批 {result.proposed} 项，通知 {result.notifications} 条。")
    for st in result.steps:
        _say(f"  {st['unit_name']} 第 {st['cycle']} 轮 {st['name']} {st['number'] or '（待审批）'}")


@plan_app.command("remind")
def remind_cmd(month: Annotated[Optional[str], typer.Option(help="月份 YYYY-MM（默认本月）")] = None) -> None:
    """提醒尚未报送本月月调度的单位（每单位每月一次），以及临近报送期限仍未报送子方案的单位（每份子方案一次）。"""
    from hazardloop.plans import dispatch

    m = parse_month(month)
    with unit_of_work() as s:
        out = dispatch.remind_unreported(s, m)
        filings = dispatch.remind_filings(s, clock.today())
    _say(f"{m}：提醒 {out['units']} 个单位，通知 {out['notifications']} 条。")
    _say(f"子方案：提醒 {filings['units']} 个单位（{'、'.join(filings['plans']) or '无'}），通知 {filings['notifications']} 条。")


@plan_app.command("chart")
def chart_cmd(out: Annotated[Path, typer.Argument(help="写出的 SVG 文件；- 为标准输出")],
              plan: Annotated[Optional[str], typer.Option(help="计划编号（默认全市）")] = None,
              year: Annotated[Optional[int], typer.Option(help="年度（默认今年）")] = None) -> None:
    """挂图作战：把任务画成对照完成时限和节点的横道图（SVG，按状态着色）。"""
    from hazardloop.plans import chart, tasks

    y = year or clock.today().year
    with read_only() as s:
        rows = tasks.list_tasks(s, plan=plan, year=None if plan else y)
    title = f"{plan or f'{y}年度全市'}任务挂图作战"
    svg = chart.svg(rows, clock.today(), title)
    if str(out) == "-":
        sys.stdout.write(svg + "\n")
    else:
        out.write_text(svg, encoding="utf-8")
        _say(f"已写出 {out}（{len(rows)} 项任务）。")


# --- ladder ----------------------------------------------------------------------------------


@ladder_app.command("list")
def ladder_list_cmd(month: Annotated[Optional[str], typer.Option(help="月份 YYYY-MM")] = None,
                    unit: Annotated[Optional[str], typer.Option(help="单位代码")] = None, json_out: Json = False) -> None:
    """计划任务督办事项（每个单位每轮每步一行）。"""
    from hazardloop.escalation import tasks as lag

    with read_only() as s:
        rows = lag.list_steps(s, parse_month(month) if month else None, unit)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"计划任务督办事项（{len(rows)} 条）")
    for col in ("编号", "单位", "月份", "轮次", "措施", "状态", "文号", "滞后情况"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["step_id"]), r["unit_name"], r["month"], str(r["cycle"]), r["name"], r["status_name"],
                      r["number"] or "", "；".join(labels.PLAN_PROBLEMS.get(p["kind"], p["kind"]) + " " +
                                                  (p.get("task") or p.get("plan") or "") for p in r["problems"]))
    print_wide(table)


@ladder_app.command("approve")
def ladder_approve_cmd(step_id: int, actor: OfficeActor,
                       reason: Annotated[Optional[str], typer.Option(help="批准意见")] = None) -> None:
    """市安委办批准曝光或追责问责移交：出具公文并通知。"""
    from hazardloop.escalation import tasks as lag

    with unit_of_work() as s:
        row, doc = lag.approve(s, ledger.get_user(s, actor), step_id, reason=reason)
        _say(f"已批准督办事项 {row.id}（{row.name}），公文 {doc.number} 已出具。")


@ladder_app.command("decline")
def ladder_decline_cmd(step_id: int, actor: OfficeActor,
                       reason: Annotated[Optional[str], typer.Option(help="不予批准的理由（必填）")] = None) -> None:
    """不予批准（须说明理由）。"""
    from hazardloop.escalation import tasks as lag

    with unit_of_work() as s:
        row = lag.decline(s, ledger.get_user(s, actor), step_id, reason=reason)
        _say(f"督办事项 {row.id}（{row.name}）不予批准：{row.decision_reason}")


@ladder_app.command("show")
def ladder_show_cmd(number: str, html: Annotated[bool, typer.Option("--html", help="输出 HTML 原文")] = False) -> None:
    """按文号输出计划任务督办公文（存储的原文；哈希不符则报错）。"""
    from hazardloop.escalation import tasks as lag

    with read_only() as s:
        doc = lag.get_document(s, number)
    write_document(doc, html)


# --- quarterly review ------------------------------------------------------------------------


@review_app.command("issue")
def review_issue_cmd(quarter: Annotated[str, typer.Argument(help="季度，如 2025-Q3（须已结束）")], actor: OfficeActor,
                     json_out: Json = False) -> None:
    """签发季度会商研判报告（编文号，数字在签发时固定）。"""
    from hazardloop.reports import quarterly

    with unit_of_work() as s:
        row = quarterly.issue(s, ledger.get_user(s, actor), quarter)
        out = quarterly.summary(row)
    if json_out:
        print_json(out)
    else:
        h, t = out["figures"]["hazards"], out["figures"]["tasks"]["total"]
        _say(f"已签发 {out['number']}（{out['quarter']}）：隐患存量 {h['total']['stock']}、新增 {h['total']['increment']}、"
             f"逾期 {h['total']['overdue']}；本季度到期任务 {t['due']}、按期完成 {t['done_on_time']}、逾期完成 {t['done_late']}、"
             f"逾期未完成 {t['overdue_open']}。")


@review_app.command("show")
def review_show_cmd(quarter: str, html: Annotated[bool, typer.Option("--html", help="输出 HTML 原文")] = False,
                    json_out: Json = False) -> None:
    """输出已签发的季度会商研判报告。"""
    from hazardloop.reports import quarterly

    with read_only() as s:
        row = quarterly.get(s, quarter)
        if json_out:
            print_json(quarterly.summary(row))
            return
    write_document(row, html)


_MEASURE = re.compile(r"^([^|]+)\|(\d{4}-\d{2}-\d{2})\|(.+)$")


@review_app.command("conclude")
def review_conclude_cmd(quarter: str, actor: OfficeActor,
                        conclusions: Annotated[str, typer.Option(help="会商结论")],
                        measure: Annotated[Optional[list[str]], typer.Option(
                            help="会商确定的措施“牵头单位|完成时限|内容”，可重复；每项成为全市计划的一项任务")] = None) -> None:
    """记录会商结论和措施（措施作为新任务分配给牵头单位）。"""
    from hazardloop.reports import quarterly

    items = []
    for m in measure or []:
        hit = _MEASURE.match(m.strip())
        if not hit:
            raise typer.BadParameter(f"措施格式应为“牵头单位|YYYY-MM-DD|内容”，收到 {m!r}", param_hint="--measure")
        items.append({"lead": hit.group(1).strip(), "deadline": hit.group(2), "content": hit.group(3).strip()})
    with unit_of_work() as s:
        row, created = quarterly.conclude(s, ledger.get_user(s, actor), quarter, conclusions, items)
        _say(f"已记录 {row.quarter} 会商结论；新增任务 {'、'.join(t.code for t in created) or '无'}。")


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
