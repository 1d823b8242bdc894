"""Who may do what.  The lifecycle machine calls the transition guards; the
ledger calls the few checks that are not transitions (report, edit, request an
extension, view).  No other module decides permissions.

Every guard raises a HazardLoopError subclass with a Chinese message, or returns
True.  `data` holds what the action brings (plan parts, reason, deadline...).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import false, true
from sqlalchemy.sql.elements import ColumnElement

from hazardloop.config import bounds, clock
from hazardloop.models.tables import AppUser, Enterprise, Hazard
from hazardloop.models.lookup import department_name
from hazardloop.errors import ValidationError
from hazardloop.states import confidential
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import LEVELS, MERGED_PREFIX, PLAN_PARTS, REPORT_CHANNELS, ROLE_NAMES, Role


def _names(roles: set[Role] | list[Role]) -> str:
    return "或".join(ROLE_NAMES[r] for r in sorted(roles, key=list(Role).index))


def _need_role(actor: AppUser, roles: set[Role], action: str) -> None:
    if not actor.active:
        raise PermissionDenied(f"用户 {actor.username} 已停用，不能{action}。")
    if actor.role not in roles:
        raise PermissionDenied(
            f"{action}需要{_names(roles)}角色；{actor.name}（{actor.username}）的角色是"
            f"{ROLE_NAMES.get(Role(actor.role), actor.role)}。"
        )


def is_regulator_of(actor: AppUser, hazard: Hazard) -> bool:
    """The committee office anywhere; a supervisor for its own department's hazards."""
    if actor.role == Role.committee:
        return True
    return actor.role == Role.supervisor and actor.department_code == hazard.supervising_department


def _need_regulator(actor: AppUser, hazard: Hazard, action: str) -> None:
    _need_role(actor, {Role.supervisor, Role.committee}, action)
    if not is_regulator_of(actor, hazard):
        raise PermissionDenied(
            f"{action}需要该隐患监管部门（{department_name(hazard, hazard.supervising_department)}）的行业监管部门人员"
            f"或市安委办；{actor.name} 属于{department_name(actor, actor.department_code)}。"
        )


def _need_own_enterprise(actor: AppUser, enterprise_id: int, action: str) -> None:
    _need_role(actor, {Role.enterprise}, action)
    if actor.enterprise_id != enterprise_id:
        raise PermissionDenied(f"{action}只能由本企业的安全管理人员办理；{actor.name} 不属于该企业。")


def _need_text(data: dict[str, Any], field: str, label: str, action: str) -> str:
    value = data.get(field)
    if value is None or not str(value).strip():
        raise MissingData(f"{action}缺少{label}。")
    bounds.check_text(str(value), f"{action}的{label}")
    return str(value).strip()


def _need_future_date(data: dict[str, Any], field: str, label: str, action: str) -> date:
    value = data.get(field)
    if not isinstance(value, date):
        raise MissingData(f"{action}缺少{label}（日期，格式 YYYY-MM-DD）。")
    try:
        return bounds.check_deadline(value, f"{action}的{label}", clock.today())
    except ValidationError as exc:
        raise MissingData(str(exc)) from None


# --- transition guards (called by the machine) -----------------------------


def confirm(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, hazard, "确认重大事故隐患")
    missing = [label for field, label in (("basis_code", "判定依据（标准）"), ("basis_clause", "判定依据条款"),
                                          ("level", "督办级别")) if not data.get(field)]
    if missing:
        raise MissingData("确认重大事故隐患缺少：" + "、".join(missing) + "。")
    if data["level"] not in LEVELS:
        raise MissingData(f"督办级别必须是 {'、'.join(f'{k}（{v}）' for k, v in LEVELS.items())} 之一。")
    return True


def dismiss(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, hazard, "排除隐患")
    _need_text(data, "reason", "排除理由", "排除隐患")
    return True


def start_rectification(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_own_enterprise(actor, hazard.enterprise_id, "提交整改方案")
    missing = [label for field, label in PLAN_PARTS.items()
               if data.get(field) is None or not bounds.has_visible(str(data.get(field)))]
    if missing:
        raise MissingData("整改方案“五落实”不全，缺少：" + "、".join(missing) + "。")
    for field, label in PLAN_PARTS.items():
        if field != "deadline":
            bounds.check_text(str(data[field]), f"整改方案的{label}")
    bounds.funds_amount(str(data["funds"]), "整改方案的资金")
    _need_future_date(data, "deadline", "整改时限", "整改方案")
    return True


def extend(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, hazard, "批准延期")
    new = _need_future_date(data, "deadline", "新的整改时限", "延期")
    if hazard.deadline is not None and new <= clock.local_date(hazard.deadline):
        raise MissingData(f"延期后的时限 {new.isoformat()} 必须晚于原时限 {clock.local_date(hazard.deadline).isoformat()}。")
    return True


def submit(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_own_enterprise(actor, hazard.enterprise_id, "提交整改完成")
    if int(data.get("evidence_count") or 0) < 1:
        raise MissingData("提交整改完成至少需要一份整改证明材料（evidence）。")
    return True


def approve(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, hazard, "审核销号")
    if hazard.submitted_by is not None and actor.username == hazard.submitted_by:
        raise PermissionDenied("提交整改的人不能审核自己的销号申请。")
    return True


def reject(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, hazard, "驳回整改")
    _need_text(data, "reason", "驳回理由", "驳回整改")
    _need_future_date(data, "deadline", "新的整改时限", "驳回整改")
    return True


def merge_dismissal(hazard: Hazard) -> bool:
    """Was this hazard dismissed by a merge (not by a regulator's judgement)?  The machine opens
    reopen only to such a hazard: a judgement's dismissal stays final."""
    return hazard.state == "dismissed" and (hazard.dismissed_reason or "").startswith(MERGED_PREFIX)


MERGE_DISMISSAL_ONLY = "只有因合并而排除的隐患可在撤销合并时恢复，经监管部门判定排除是最终结论"


def reopen(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    """Undo a merge (the one rule for unmerge): a regulator of both hazards, with the live merge
    record that dismissed this hazard (data: merge, kept)."""
    _need_role(actor, {Role.supervisor, Role.committee}, "撤销合并")
    rec, kept = data.get("merge"), data.get("kept")
    if rec is None or kept is None or rec.merged_id != hazard.id or rec.kept_id != kept.id \
            or rec.undone_at is not None:
        raise MissingData(f"恢复 {hazard.code} 须通过撤销合并（hazardloop hazard unmerge 合并记录号），"
                          f"且须是把它排除的、尚未撤销的那条合并记录。")
    for h in (kept, hazard):
        if not is_regulator_of(actor, h):
            raise PermissionDenied(f"撤销合并需要 {h.code} 的监管部门（{h.supervising_department}）人员或市安委办；"
                                   f"{actor.name}（{actor.username}）无权办理。")
    return True


def close_imported(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    """A ledger import records the close-out its sheet reports (是否整改=是 with 实际整改完成时间),
    only for a hazard that same import row has just created: a hazard already in the ledger is
    closed by review (approve), never by a spreadsheet."""
    _need_role(actor, {Role.committee, Role.system}, "导入历史销号")
    row = data.get("import_row")
    if row is None or row.hazard_id != hazard.id or hazard.reported_by != actor.username \
            or hazard.confirmed_at is not None:
        raise PermissionDenied(f"只有台账导入本行新建的隐患才能按表格记为已销号；{hazard.code} 须经审核销号（approve）。")
    done = data.get("completed_on")
    if not isinstance(done, date):
        raise MissingData("导入历史销号缺少实际整改完成时间。")
    if done > clock.today():
        raise MissingData(f"实际整改完成时间 {done.isoformat()} 晚于今天。")
    if done < clock.local_date(hazard.found_at):
        raise MissingData(f"实际整改完成时间 {done.isoformat()} 早于发现时间 {clock.local_date(hazard.found_at).isoformat()}。")
    return True


def imported_close(hazard: Hazard) -> bool:
    """Closed by a ledger import (close_imported) and never reviewed: no confirm, no submission."""
    return hazard.state == "closed" and hazard.confirmed_at is None and hazard.submitted_at is None


def review_imported(hazard: Hazard, actor: AppUser, data: dict[str, Any]) -> bool:
    """The committee office sends an imported close-out (导入销号) to review.  The sender counts as the
    submitter, so another regulator approves it (the approver is never the submitter)."""
    _need_role(actor, {Role.committee}, "导入销号送审")
    if not imported_close(hazard):
        raise MissingData(f"只有导入销号（未经审核）的隐患可以送审；{hazard.code} 已经审核销号。")
    return True


TRANSITION_GUARDS = {
    "confirm": confirm, "dismiss": dismiss, "start_rectification": start_rectification,
    "extend": extend, "submit": submit, "approve": approve, "reject": reject,
    "reopen": reopen, "close_imported": close_imported, "review_imported": review_imported,
}


# --- checks that are not transitions ---------------------------------------


def report(actor: AppUser, enterprise: Enterprise, channel: str, imported: bool = False) -> bool:
    if imported:
        # A ledger import records what others found through every channel (the sheet's 检查方式):
        # the importer's role decides, not the channel.
        _need_role(actor, {Role.committee, Role.system}, "导入台账")
        return True
    _need_role(actor, set(REPORT_CHANNELS), "上报隐患")
    allowed = REPORT_CHANNELS[Role(actor.role)]
    if actor.role == Role.enterprise and actor.enterprise_id != enterprise.id:
        raise PermissionDenied("企业只能上报本企业的隐患。")
    if channel not in allowed:
        raise PermissionDenied(
            f"{ROLE_NAMES[Role(actor.role)]}只能通过 {'、'.join(sorted(allowed))} 渠道上报，不能用 {channel}。"
        )
    return True


def request_extension(actor: AppUser, hazard: Hazard) -> bool:
    _need_own_enterprise(actor, hazard.enterprise_id, "申请延期")
    return True


def decide_escalation_step(actor: AppUser, action: str) -> bool:
    """Only the committee office approves or declines a step that needs approval (曝光)."""
    _need_role(actor, {Role.committee}, action)
    return True


def override_basis(actor: AppUser) -> bool:
    """A basis standard written for another industry: only the committee office may confirm on
    it, and only with a recorded reason (issue 14)."""
    _need_role(actor, {Role.committee}, "采用不适用于该行业的判定依据")
    return True


def record_interview(actor: AppUser, hazard: Hazard) -> bool:
    """The 约谈会 is recorded by the committee office, or by a supervisor of the hazard's own
    department (the regulators who hold it)."""
    _need_role(actor, {Role.committee, Role.supervisor}, "记录约谈会")
    if actor.role == Role.supervisor and actor.department_code != hazard.supervising_department:
        raise PermissionDenied("只能记录本部门监管隐患的约谈会。")
    return True


def decide_lag_exposure(actor: AppUser, action: str) -> bool:
    """Only the committee office approves or declines exposing a lagging region or department
    (落后单位曝光): the unit itself, its peers and the supervisors may not."""
    _need_role(actor, {Role.committee}, action)
    return True


def upload_evidence(actor: AppUser, hazard: Hazard) -> bool:
    _need_own_enterprise(actor, hazard.enterprise_id, "上传整改证明材料")
    return True


def decide_extension(actor: AppUser, hazard: Hazard) -> bool:
    _need_regulator(actor, hazard, "审批延期")
    return True


def edit(actor: AppUser, hazard: Hazard) -> bool:
    """Regulators edit a hazard's description; its reporter may while it is unjudged."""
    if hazard.state == "found" and actor.username == hazard.reported_by:
        return True
    _need_regulator(actor, hazard, "修改隐患信息")
    return True


def can_view(actor: AppUser, hazard: Hazard) -> bool:
    if actor.role in (Role.committee, Role.system):
        return True
    if actor.role == Role.enterprise:
        return actor.enterprise_id == hazard.enterprise_id
    if actor.role == Role.township:
        return actor.region_code == hazard.region_code
    if actor.role == Role.supervisor:
        return actor.department_code == hazard.supervising_department
    return actor.username == hazard.reported_by  # inspectors and the public see what they reported


def visible_clause(actor: AppUser) -> ColumnElement[bool]:
    """can_view as a WHERE clause, so lists are filtered in the query."""
    if actor.role in (Role.committee, Role.system):
        return true()
    if actor.role == Role.enterprise:
        return Hazard.enterprise_id == actor.enterprise_id if actor.enterprise_id else false()
    if actor.role == Role.township:
        return Hazard.region_code == actor.region_code
    if actor.role == Role.supervisor:
        return Hazard.supervising_department == actor.department_code
    return Hazard.reported_by == actor.username


def can_see_reporter(actor: AppUser, hazard: Hazard) -> bool:
    """A public reporter's identity (举报人) is confidential: the one rule is states/confidential.py."""
    return confidential.can_see_reporter(actor, hazard)


def record_inspection(actor: AppUser, enterprise: Enterprise, department_code: str | None) -> bool:
    """A principal-led inspection is recorded by the enterprise itself, or by its
    regulator (the industry's department, the township, the committee office)."""
    _need_role(actor, {Role.enterprise, Role.supervisor, Role.township, Role.committee}, "登记主要负责人带队检查")
    if actor.role == Role.enterprise and actor.enterprise_id != enterprise.id:
        raise PermissionDenied(f"企业只能登记本企业的带队检查；{actor.name} 不属于{enterprise.name}。")
    if actor.role == Role.supervisor and actor.department_code != department_code:
        raise PermissionDenied(f"{actor.name} 不是{enterprise.name}所属行业的监管部门人员。")
    if actor.role == Role.township and actor.region_code != enterprise.region_code:
        raise PermissionDenied(f"{actor.name} 不是{enterprise.name}所在镇街区的工作人员。")
    return True


def read_inspection(actor: AppUser, enterprise: Enterprise, department_code: str | None) -> bool:
    """A principal-led inspection's record (the uploaded file) is read by whoever may record one
    for that enterprise: the enterprise itself, its department, its township, the office."""
    return record_inspection(actor, enterprise, department_code)


def read_office(actor: AppUser, action: str) -> bool:
    """The committee office's own pages (city-wide statistics, every 公文, the outbox, the
    Excel 明细表 in and out on the console): the office alone, as the CLI's office commands."""
    _need_role(actor, {Role.committee}, action)
    return True


def manage_accounts(actor: AppUser, action: str) -> bool:
    """Sign-ins of other users (disable, new password, API tokens) on the console: the
    committee office, which runs the console; the CLI's `hazardloop user` is the operator's."""
    _need_role(actor, {Role.committee}, action)
    return True
