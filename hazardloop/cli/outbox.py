"""`hazardloop outbox`: the notification outbox."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from hazardloop.cli.output import Json, Wide, code_option, console, db_url, print_json, record_table, show, unit_of_work
from hazardloop.config import clock

outbox_app = typer.Typer(help="通知发件箱：查看、重发、投递", no_args_is_help=True)


def _local(value) -> str:  # noqa: ANN001
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _row(n) -> dict:  # noqa: ANN001
    from hazardloop.notifications import admin

    data = n.model_dump()
    data["status_name"] = admin.STATUSES.get(n.status, n.status)
    return data


@outbox_app.command("list")
def outbox_list(
    status: Annotated[Optional[str], code_option("outbox_status", "状态", "--status")] = None,
    hazard: Annotated[Optional[str], typer.Option(help="隐患编号")] = None,
    event: Annotated[Optional[str], typer.Option(help="事件，如 listed、escalation")] = None,
    limit: Annotated[int, typer.Option(help="最多条数")] = 200,
    wide: Wide = False,
    json_out: Json = False,
) -> None:
    """列出通知（最新的在前）及各状态的数量。"""
    from hazardloop.notifications import admin

    from hazardloop.states import ledger

    with unit_of_work() as s:
        hid = ledger.get_hazard(s, hazard).id if hazard else None
        rows = admin.list_notifications(s, status=status, hazard_id=hid, event=event, limit=limit)
        totals = admin.counts(s)
    if json_out:
        print_json({"counts": totals, "notifications": [_row(n) for n in rows]})
        return
    from hazardloop.config.labels import TABLES

    with unit_of_work() as s:
        codes = {n.hazard_id: _hazard_code(s, n.hazard_id) for n in rows if n.hazard_id}
    table = Table(title="通知")
    for col in ("编号", "事件", "隐患", "接收人", "渠道", "状态", "次数", "下次尝试（北京）", "主题 / 错误"):
        table.add_column(col)
    for n in rows:
        step = TABLES["escalation_step"].get(n.step or "", "")
        table.add_row(str(n.id), _event_name(n.event) + (f"·{step}" if step else ""), codes.get(n.hazard_id) or "",
                      f"{n.recipient_name}（{_recipient_role(n.recipient_role)}）", _channel_name(n.channel),
                      admin.STATUSES.get(n.status, n.status), str(n.attempts),
                      _local(n.next_attempt_at) if n.status in ("pending", "retry") else "", n.last_error or n.subject)
    show(table, wide=wide, secondary=("次数", "下次尝试（北京）", "主题 / 错误", "渠道", "编号"),
         footer=f"显示 {len(rows)} 条（最新在前；--limit 调整）")
    console.print("合计：" + "，".join(f"{admin.STATUSES.get(k, k)} {v}" for k, v in sorted(totals.items())),
                  highlight=False)


@outbox_app.command("show")
def outbox_show(notification_id: int, wide: Wide = False, json_out: Json = False) -> None:
    """一条通知的全文和每次投递的结果（按 Apprise 服务逐条记录）。"""
    from hazardloop.notifications import admin

    with unit_of_work() as s:
        n = admin.get(s, notification_id)
        tries = admin.attempts(s, notification_id)
    data = _row(n) | {"attempt_log": [t.model_dump() for t in tries]}
    if json_out:
        print_json(data)
        return
    from hazardloop.config.labels import label

    with unit_of_work() as s:
        hazard_code = _hazard_code(s, n.hazard_id)
    step = label("escalation_step", n.step) if n.step else ""
    rows = [("事件", _event_name(n.event)), ("督办措施", step), ("隐患", hazard_code), ("督办周期", n.cycle or None),
            ("接收人", n.recipient_name), ("接收人身份", _recipient_role(n.recipient_role)),
            ("渠道", _channel_name(n.channel)), ("地址", _address(n)), ("状态", data["status_name"]),
            ("投递次数", n.attempts), ("最近错误", n.last_error), ("公文编号", n.document_id),
            ("创建时间", n.created_at), ("下次尝试", n.next_attempt_at if n.status in ("pending", "retry") else None),
            ("发送时间", n.sent_at), ("幂等键", n.key)]
    show(record_table(f"通知 {n.id}", rows), wide=wide)
    console.print(f"[bold]{n.subject}[/]\n{n.body}", highlight=False)
    log = Table(title="投递记录")
    for col in ("次", "时间（北京）", "调度进程", "服务", "标签", "结果", "耗时（毫秒）", "错误"):
        log.add_column(col)
    for t in tries:
        log.add_row(str(t.attempt), _local(t.at), t.dispatcher, t.service, t.tag,
                    label("delivery_result", t.status), str(t.elapsed_ms), t.error or "")
    show(log, wide=wide, secondary=("调度进程", "标签", "耗时（毫秒）"))


def _address(n) -> str | None:  # noqa: ANN001
    from hazardloop.notifications import sealed

    return sealed.SEALED_ADDRESS if sealed.is_sealed(n) else n.address


def _event_name(event: str) -> str:
    from hazardloop.config.labels import TABLES

    if event.startswith("report_"):  # the 举报 deadlines' reminders
        return "举报办理期限提醒"
    return TABLES["notice_event"].get(event) or TABLES["trigger"].get(event) or event


def _recipient_role(role: str | None) -> str:
    from hazardloop.config.labels import label

    return label("recipient_role", role)


def _channel_name(channel: str | None) -> str:
    from hazardloop.config.labels import label

    return label("delivery_channel", channel)


def _hazard_code(s, hazard_id: int | None) -> str | None:  # noqa: ANN001
    from hazardloop.models.tables import Hazard

    h = s.get(Hazard, hazard_id) if hazard_id else None
    return h.code if h else None


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[Optional[list[int]], typer.Argument(help="通知编号（可多个）")] = None,
    status: Annotated[Optional[str], code_option("outbox_status", "状态", "--status")] = None,
    force: Annotated[bool, typer.Option("--force", help="已发送的也重发（接收方可按幂等键去重）")] = False,
    json_out: Json = False,
) -> None:
    """重新排队发送（重置重试次数，历史记录保留）；无法送达的按现有联系方式重新查找渠道。"""
    from hazardloop.notifications import admin

    with unit_of_work() as s:
        result = admin.retry(s, ids=ids, status=status, force=force)
    if json_out:
        print_json(result)
    else:
        console.print(f"已重新排队 {len(result['requeued'])} 条，改投新增 {result['rerouted_rows']} 条，"
                      f"跳过 {len(result['skipped'])} 条。", highlight=False)


@outbox_app.command("dispatch")
def outbox_dispatch(
    limit: Annotated[Optional[int], typer.Option(help="本次最多处理条数")] = None,
    concurrency: Annotated[int, typer.Option(help="并发投递数")] = 8,
    json_out: Json = False,
) -> None:
    """立即投递所有到期的通知（与定时调度相同）。"""
    from hazardloop.notifications.dispatcher import dispatch

    if concurrency < 1:
        raise typer.BadParameter("并发数至少为 1", param_hint="--concurrency")
    report = dispatch(db_url(), limit=limit, concurrency=concurrency)
    if json_out:
        print_json(report.as_dict())
    else:
        console.print(report.summary(), highlight=False)
    if report.busy:
        raise typer.Exit(1)


@outbox_app.command("routes")
def outbox_routes(json_out: Json = False) -> None:
    """检查并显示通知路由配置（不显示环境变量的值）。"""
    from hazardloop.notifications.routes import load_routes

    routes = load_routes()
    data = {"path": str(routes.path), "policy": routes.policy,
            "channels": {t: {"url": c.url, "needs": c.needs, "requires_env": list(c.requires_env),
                             "enabled": c.enabled()} for t, c in routes.channels.items()},
            "roles": routes.roles, "people": routes.people, "events": routes.events}
    if json_out:
        print_json(data)
        return
    console.print(f"路由配置：{routes.path}", highlight=False)
    table = Table(title="渠道（Apprise tag）")
    for col in ("tag", "URL 模板", "需要", "启用"):
        table.add_column(col)
    for tag, c in data["channels"].items():
        table.add_row(tag, c["url"], c["needs"] or "", "是" if c["enabled"] else f"否（需 {'、'.join(c['requires_env'])}）")
    show(table)
    for event, roles in routes.events.items():
        console.print(f"{event}: {'、'.join(roles) or '（不通知）'}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
