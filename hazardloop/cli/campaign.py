"""`hazardloop campaign`: the five special campaigns (五项整治) — checklists, inventories and
赋码, checks, the problems' loop, the short ladder and the numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import (Actor, Json, console, err_console, parse_date, print_json, print_wide, read_only,
                                   unit_of_work)
from hazardloop.config import clock, labels
from hazardloop.states import ledger

campaign_app = typer.Typer(help="五项整治：整治重点清单、台账与赋码、检查、问题隐患闭环、统计", no_args_is_help=True)
problem_app = typer.Typer(help="问题隐患：交办整改 → 报告整改完成 → 验收销号（或不通过），或升级为重大事故隐患",
                          no_args_is_help=True)
campaign_app.add_typer(problem_app, name="problem")

Campaign = Annotated[str, typer.Argument(help="专项整治代码：welding · confined_space · work_at_height · outsourcing · idle_sites")]


def _state(code: str) -> str:
    return labels.label("problem_state", code)


@campaign_app.command("list")
def list_cmd(json_out: Json = False) -> None:
    """五项整治及其整治重点数、台账对象类别。"""
    from hazardloop.campaigns import inventory
    from hazardloop.config import campaigns as config  # its file loader: not on `--help`'s path

    cfg = inventory.load()
    if json_out:
        print_json(config.describe(cfg))
        return
    table = Table(title=f"五项整治（{cfg.source}）")
    for col in ("代码", "名称", "段落", "台账对象", "赋码前缀", "整治重点", "其中待核"):
        table.add_column(col)
    for c in cfg.campaigns:
        table.add_row(c.code, c.name, f"¶{c.paragraph}", c.object_name, c.code_prefix, str(len(c.items)),
                      str(sum(i.to_check for i in c.items)))
    print_wide(table)


@campaign_app.command("show")
def show_cmd(campaign: Campaign, json_out: Json = False) -> None:
    """一项专项整治的整治重点清单（带出处标记：原文 / 公开文本 / 重构）和台账字段。"""
    from hazardloop.campaigns import inventory
    from hazardloop.config import campaigns as config

    c = inventory.campaign(campaign)
    if json_out:
        print_json(next(x for x in config.describe(inventory.load())["campaigns"] if x["code"] == c.code))
        return
    console.print(f"{c.name}（实施方案第 {c.paragraph} 项）\n{c.document}", highlight=False)
    table = Table(title="整治重点")
    for col in ("序号", "方面", "内容", "出处", "待核"):
        table.add_column(col)
    for i in c.items:
        table.add_row(str(i.no), i.aspect or "", i.text, i.source, "待核" if i.to_check else "")
    print_wide(table)
    console.print("台账字段：" + "、".join(f"{f.label}（{f.code}{'，必填' if f.required else ''}）" for f in c.fields),
                  highlight=False)


@campaign_app.command("template")
def template_cmd(campaign: Campaign, out: Annotated[Path, typer.Option("--out", help="输出 .xlsx")]) -> None:
    """生成一项专项整治的空白台账（表头为字段名称，必填项带 *）。"""
    from hazardloop.campaigns import inventory

    path = inventory.write_template(campaign, out)
    console.print(f"已生成 {path}", highlight=False)


@campaign_app.command("import")
def import_cmd(
    campaign: Campaign, file: Path, actor: Actor,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="只导入校验通过的行")] = False,
    json_out: Json = False,
) -> None:
    """导入台账（.xlsx）：先逐行校验，全部通过才导入；已有对象（识别字段相同）就地更新，赋码不变。"""
    from hazardloop.campaigns import inventory
    from hazardloop.intake.excel import ImportRejected

    try:
        with unit_of_work() as s:
            result = inventory.import_sheet(s, ledger.get_user(s, actor), campaign, file, skip_invalid=skip_invalid)
    except ImportRejected as exc:
        if json_out:
            print_json({"imported": False, "problems": [p.__dict__ for p in exc.problems]})
        err_console.print(str(exc), highlight=False)
        for p in exc.problems:
            err_console.print(p.line(), highlight=False)
        raise typer.Exit(1) from None
    if json_out:
        print_json({"imported": True, **result.as_dict()})
        return
    console.print(f"导入完成（工作表“{result.sheet}”，{result.rows} 行）：新登记 {len(result.created)}，更新 "
                  f"{len(result.updated)}，未变 {len(result.unchanged)}，跳过 {len(result.skipped)}。", highlight=False)
    for p in result.skipped:
        console.print("跳过：" + p.line(), highlight=False)


@campaign_app.command("add")
def add_cmd(
    campaign: Campaign, actor: Actor,
    field: Annotated[list[str], typer.Option("--field", help="字段=值（字段代码见 campaign show），可重复")],
    json_out: Json = False,
) -> None:
    """登记（或按识别字段更新）一个台账对象，返回其赋码。"""
    from hazardloop.campaigns import coding, inventory

    raw = {}
    for item in field:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"应为 字段=值，收到 {item!r}", param_hint="--field")
        raw[key.strip()] = value
    with unit_of_work() as s:
        obj, outcome = inventory.register(s, ledger.get_user(s, actor), campaign, raw)
        out = {"code": obj.code, "outcome": outcome, "url": coding.object_url(obj.code)}
    if json_out:
        print_json(out)
    else:
        console.print({"created": "已登记", "updated": "已更新", "unchanged": "无变化"}[outcome] +
                      f"：{out['code']}（{out['url']}）", highlight=False)


@campaign_app.command("objects")
def objects_cmd(
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="专项整治代码")] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="镇街区代码")] = None,
    json_out: Json = False,
) -> None:
    """台账对象（按专项整治、镇街区）。"""
    from hazardloop.campaigns import inventory

    with read_only() as s:
        objs = inventory.list_objects(s, campaign_code=campaign, region=region)
        names = inventory.Lookups.of(s).region_names
    if json_out:
        print_json([{"code": o.code, "campaign": o.campaign, "title": o.title, "region_code": o.region_code,
                     "industry_code": o.industry_code, "enterprise_id": o.enterprise_id, "fields": o.fields}
                    for o in objs])
        return
    table = Table(title=f"专项整治台账对象（{len(objs)} 个）")
    for col in ("赋码", "专项整治", "名称", "镇街区"):
        table.add_column(col)
    cfg = inventory.load()
    for o in objs:
        table.add_row(o.code, cfg.by_code[o.campaign].name if o.campaign in cfg.by_code else o.campaign, o.title,
                      names.get(o.region_code, o.region_code))
    print_wide(table)


@campaign_app.command("object")
def object_cmd(ref: str, json_out: Json = False) -> None:
    """一个台账对象：字段、检查记录、问题隐患。"""
    from hazardloop.campaigns import coding, inventory, problems

    with read_only() as s:
        obj = inventory.get_object(s, ref)
        c = inventory.campaign(obj.campaign)
        fields = inventory.display_fields(c, obj, inventory.Lookups.of(s))
        checks = problems.checks_of(s, obj.id)
        found = problems.list_problems(s, object_id=obj.id)
    if json_out:
        print_json({"code": obj.code, "campaign": obj.campaign, "title": obj.title, "fields": obj.fields,
                    "url": coding.object_url(obj.code),
                    "checks": [{"id": k.id, "checked_by": k.checked_by, "checked_at": k.checked_at,
                                "results": k.results} for k in checks],
                    "problems": [{"code": p.code, "state": p.state, "item_no": p.item_no} for p in found]})
        return
    console.print(f"{obj.code} {obj.title}（{c.name}）\n二维码地址：{coding.object_url(obj.code)}", highlight=False)
    for label, value in fields:
        console.print(f"  {label}：{value or '—'}", highlight=False)
    for k in checks:
        console.print(f"检查 {clock.to_local(k.checked_at):%Y-%m-%d %H:%M} {k.checked_by}：符合 {k.met}，不符合 "
                      f"{k.not_met}，不适用 {k.na}", highlight=False)
    for p in found:
        console.print(f"问题隐患 {p.code} 第 {p.item_no} 项 {_state(p.state)}", highlight=False)


@campaign_app.command("label")
def label_cmd(
    ref: str, out: Annotated[Path, typer.Option("--out", help="输出文件：.png 或 .svg")],
    base: Annotated[Optional[str], typer.Option("--base", help="控制台地址（默认 HAZARDLOOP_PUBLIC_URL）")] = None,
) -> None:
    """赋码标签的二维码（扫码打开该对象在控制台中的记录）。"""
    from hazardloop.campaigns import coding, inventory

    with read_only() as s:
        obj = inventory.get_object(s, ref)
    if out.suffix.lower() == ".svg":
        out.write_text(coding.qr_svg(obj.code, base), encoding="utf-8")
    elif out.suffix.lower() == ".png":
        out.write_bytes(coding.qr_png(obj.code, base))
    else:
        raise typer.BadParameter("输出文件应以 .png 或 .svg 结尾", param_hint="--out")
    console.print(f"{obj.code}：{coding.object_url(obj.code, base)} → {out}", highlight=False)


@campaign_app.command("baseline")
def baseline_cmd(campaign: Campaign, region: str, expected: int, actor: Actor) -> None:
    """设定底数（应排查对象数），按专项整治和镇街区。"""
    from hazardloop.campaigns import inventory

    with unit_of_work() as s:
        row = inventory.set_baseline(s, ledger.get_user(s, actor), campaign, region, expected)
    console.print(f"已设定底数：{row.campaign} {row.region_code} {row.expected}", highlight=False)


@campaign_app.command("check")
def check_cmd(
    ref: str, actor: Actor,
    item: Annotated[list[str], typer.Option("--item", help="序号=met|not_met|na，可重复")] = [],  # noqa: B006
    rest: Annotated[Optional[str], typer.Option("--rest", help="其余各项统一记为 met 或 na")] = None,
    note: Annotated[list[str], typer.Option("--note", help="序号=说明，可重复")] = [],  # noqa: B006
    photo: Annotated[list[str], typer.Option("--photo", help="序号=照片文件，可重复")] = [],  # noqa: B006
    deadline: Annotated[Optional[str], typer.Option("--deadline", help="不符合项即交办整改的期限 YYYY-MM-DD")] = None,
    responsible: Annotated[Optional[str], typer.Option("--responsible", help="整改责任人（默认取台账中的责任人）")] = None,
    json_out: Json = False,
) -> None:
    """按整治重点清单检查一个对象：每项符合 / 不符合 / 不适用；每个不符合项成为一项问题隐患。"""
    from hazardloop.campaigns import inventory, problems

    def pairs(values: list[str], option: str) -> dict[str, str]:
        out = {}
        for v in values:
            k, sep, val = v.partition("=")
            if not sep or not k.strip().isdigit():
                raise typer.BadParameter(f"应为 序号=值，收到 {v!r}", param_hint=option)
            out[k.strip()] = val.strip()
        return out

    results = pairs(item, "--item")
    if rest is not None and rest not in ("met", "na"):
        raise typer.BadParameter("只能是 met 或 na", param_hint="--rest")
    due = parse_date(deadline, "--deadline")
    with unit_of_work() as s:
        obj = inventory.get_object(s, ref)
        if rest:
            for it in inventory.campaign(obj.campaign).items:
                results.setdefault(str(it.no), rest)
        photos = [(int(k), Path(v), None) for k, v in pairs(photo, "--photo").items()]
        check, found = problems.record_check(s, ledger.get_user(s, actor), obj.id, results,
                                             notes=pairs(note, "--note"), photos=photos, deadline=due,
                                             responsible=responsible)
        out = {"check_id": check.id, "met": check.met, "not_met": check.not_met, "na": check.na,
               "problems": [{"code": p.code, "item_no": p.item_no, "state": p.state} for p in found]}
    if json_out:
        print_json(out)
        return
    console.print(f"检查已记录：符合 {out['met']}，不符合 {out['not_met']}，不适用 {out['na']}。", highlight=False)
    for p in out["problems"]:
        console.print(f"问题隐患 {p['code']}（第 {p['item_no']} 项）{_state(p['state'])}", highlight=False)


@campaign_app.command("sweep")
def sweep_cmd(as_of: Annotated[Optional[str], typer.Option("--as-of", help="YYYY-MM-DD（默认今天）")] = None,
              json_out: Json = False) -> None:
    """问题隐患督办：到期提醒、逾期催办、督办通知（每个期限周期每步一次）。"""
    from hazardloop.escalation import problems as problem_ladder

    with unit_of_work() as s:
        result = problem_ladder.sweep(s, parse_date(as_of, "--as-of"))
    if json_out:
        print_json(result.as_dict())
        return
    console.print(f"截至 {result.as_of}：检查整改中问题隐患 {result.problems} 项，出具督办 {len(result.steps)} 项"
                  f"（公文 {result.documents} 份），通知 {result.notifications} 条。", highlight=False)
    for st in result.steps:
        console.print(f"  {st['problem']} {st['name']} {st['number'] or ''}", highlight=False)


@campaign_app.command("stats")
def stats_cmd(
    by: Annotated[str, typer.Option("--by", help="campaign 专项整治 · region 镇街区 · industry 行业")] = "campaign",
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="YYYY-MM-DD（默认今天）")] = None,
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="只统计一项专项整治")] = None,
    json_out: Json = False,
) -> None:
    """五项整治统计：已登记对象 / 底数、检查次数、发现问题隐患、已销号、逾期、升级为重大事故隐患。"""
    from hazardloop.campaigns import inventory
    from hazardloop.reports import campaigns as numbers

    if by not in numbers.GROUPS:
        raise typer.BadParameter(f"可选：{'、'.join(numbers.GROUPS)}", param_hint="--by")
    if campaign:
        inventory.campaign(campaign)
    day = parse_date(as_of, "--as-of") or clock.today()
    with read_only() as s:
        table = numbers.compute(s, day, by, campaign)
    if json_out:
        print_json(table.as_dict())
        return
    t = Table(title=f"五项整治统计（按{numbers.GROUP_NAMES[by]}，截至 {day}）")
    for col in (numbers.GROUP_NAMES[by], "已登记", "底数", "覆盖率", "检查", "发现问题隐患", "已销号", "逾期",
                "升级为重大隐患"):
        t.add_column(col)
    for r in [*table.rows, table.total]:
        t.add_row(r.name, str(r.surveyed), "—" if r.baseline is None else str(r.baseline), r.coverage, str(r.checks),
                  str(r.found), str(r.closed), str(r.overdue), str(r.raised))
    print_wide(t)
    console.print("说明：底数为当前设定值；逾期按问题隐患当前的整改期限计算。", highlight=False)


# --- problems --------------------------------------------------------------------------------------


def _deadline(value: Optional[str], option: str = "--deadline") -> Optional[date]:
    return parse_date(value, option)


@problem_app.command("list")
def problem_list(
    campaign: Annotated[Optional[str], typer.Option("--campaign")] = None,
    state: Annotated[Optional[str], typer.Option("--state", help="found · rectifying · rectified · closed · raised")] = None,
    region: Annotated[Optional[str], typer.Option("--region")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只列逾期")] = False,
    json_out: Json = False,
) -> None:
    """问题隐患台账。"""
    from hazardloop.campaigns import inventory, problems

    if state and state not in labels.PROBLEM_STATES:
        raise typer.BadParameter(f"可选：{'、'.join(labels.PROBLEM_STATES)}", param_hint="--state")
    with read_only() as s:
        rows = problems.list_problems(s, campaign_code=campaign, state=state, region=region, overdue=overdue)
    if json_out:
        print_json([{"code": p.code, "campaign": p.campaign, "state": p.state, "item_no": p.item_no,
                     "item_text": p.item_text, "region_code": p.region_code, "deadline": p.deadline,
                     "overdue": problems.is_overdue(p), "hazard_id": p.hazard_id} for p in rows])
        return
    table = Table(title=f"问题隐患（{len(rows)} 项）")
    for col in ("编号", "专项整治", "项", "状态", "期限", "逾期", "内容"):
        table.add_column(col)
    names = {c.code: c.name for c in inventory.load().campaigns}
    for p in rows:
        table.add_row(p.code, names.get(p.campaign, p.campaign), str(p.item_no), _state(p.state),
                      clock.local_date(p.deadline).isoformat() if p.deadline else "",
                      "逾期" if problems.is_overdue(p) else "", p.item_text[:40])
    print_wide(table)


@problem_app.command("show")
def problem_show(ref: str, json_out: Json = False) -> None:
    """一项问题隐患：对象、状态、整改、照片、督办、升级后的重大事故隐患。"""
    from hazardloop.campaigns import inventory, problems
    from hazardloop.escalation import problems as problem_ladder

    with read_only() as s:
        p = problems.get_problem(s, ref)
        obj = inventory.get_object(s, p.object_id)
        hazard = problems.hazard_code(s, p)
        steps = problem_ladder.steps_of(s, p.id)
        photos = problems.photos_of(s, p.id)
    out = {"code": p.code, "campaign": p.campaign, "object": obj.code, "state": p.state, "item_no": p.item_no,
           "item_text": p.item_text, "responsible": p.responsible, "deadline": p.deadline, "hazard": hazard,
           "steps": [{"step": st.step, "name": st.name, "cycle": st.cycle, "number": st.number} for st in steps],
           "photos": [{"filename": ph.filename, "sha256": ph.sha256, "purpose": ph.purpose} for ph in photos]}
    if json_out:
        print_json(out)
        return
    console.print(f"{p.code}（{_state(p.state)}）{obj.code} {obj.title}\n第 {p.item_no} 项：{p.item_text}", highlight=False)
    if p.responsible:
        console.print(f"整改责任人：{p.responsible}；期限：{clock.local_date(p.deadline) if p.deadline else '—'}",
                      highlight=False)
    if hazard:
        console.print(f"已升级为重大事故隐患 {hazard}", highlight=False)
    for st in out["steps"]:
        console.print(f"督办：第 {st['cycle']} 周期 {st['name']} {st['number'] or ''}", highlight=False)
    console.print(f"照片 {len(photos)} 张", highlight=False)


@problem_app.command("assign")
def problem_assign(ref: str, actor: Actor, responsible: Annotated[str, typer.Option("--responsible")],
                   deadline: Annotated[str, typer.Option("--deadline", help="YYYY-MM-DD")]) -> None:
    """交办整改：责任人和期限。"""
    from hazardloop.campaigns import problems

    with unit_of_work() as s:
        p = problems.assign(s, ledger.get_user(s, actor), ref, responsible=responsible, deadline=_deadline(deadline))
        console.print(f"{p.code}：{_state(p.state)}", highlight=False)


@problem_app.command("rectify")
def problem_rectify(ref: str, actor: Actor, note: Annotated[str, typer.Option("--note", help="整改情况")],
                    photo: Annotated[list[Path], typer.Option("--photo", help="整改后照片，可重复")] = []) -> None:  # noqa: B006
    """报告整改完成（至少一张整改后照片）。"""
    from hazardloop.campaigns import problems

    with unit_of_work() as s:
        p = problems.rectify(s, ledger.get_user(s, actor), ref, note=note, evidence=[(x, None) for x in photo])
        console.print(f"{p.code}：{_state(p.state)}", highlight=False)


@problem_app.command("verify")
def problem_verify(ref: str, actor: Actor, reason: Annotated[Optional[str], typer.Option("--reason")] = None) -> None:
    """验收销号（镇街区或行业监管部门；报告整改的人不能验收）。"""
    from hazardloop.campaigns import problems

    with unit_of_work() as s:
        p = problems.verify(s, ledger.get_user(s, actor), ref, reason=reason)
        console.print(f"{p.code}：{_state(p.state)}", highlight=False)


@problem_app.command("reject")
def problem_reject(ref: str, actor: Actor, reason: Annotated[str, typer.Option("--reason")],
                   deadline: Annotated[str, typer.Option("--deadline", help="新的整改期限 YYYY-MM-DD")]) -> None:
    """验收不通过：理由和新的期限。"""
    from hazardloop.campaigns import problems

    with unit_of_work() as s:
        p = problems.reject(s, ledger.get_user(s, actor), ref, reason=reason, deadline=_deadline(deadline))
        console.print(f"{p.code}：{_state(p.state)}", highlight=False)


@problem_app.command("raise")
def problem_raise(
    ref: str, actor: Actor, basis: Annotated[str, typer.Option("--basis", help="判定依据（标准代码）")],
    clause: Annotated[str, typer.Option("--clause", help="条款")], reason: Annotated[str, typer.Option("--reason")],
    level: Annotated[Optional[str], typer.Option("--level", help="city · taian · province：有权确认时即确认挂牌")] = None,
) -> None:
    """升级为重大事故隐患：经隐患台账上报（带判定依据），与问题隐患双向关联。"""
    from hazardloop.campaigns import problems

    if level and level not in labels.LEVELS:
        raise typer.BadParameter(f"可选：{'、'.join(labels.LEVELS)}", param_hint="--level")
    with unit_of_work() as s:
        p, h = problems.raise_major(s, ledger.get_user(s, actor), ref, basis_code=basis, basis_clause=clause,
                                    reason=reason, level=level)
        console.print(f"{p.code}：{_state(p.state)} → 重大事故隐患 {h.code}（{labels.label('state', h.state)}）",
                      highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(campaign_app, name="campaign")

