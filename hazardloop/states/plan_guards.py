"""Who may do what in the action-plan loop (年度行动计划).  The task and filing machines
call the transition guards; the plans package calls the few checks that are not
transitions (monthly report, add tasks, load plans, decide a ladder step, view).

Every guard raises a HazardLoopError subclass with a Chinese message, or returns True.
A unit acts for itself: a department's supervisors for tasks it leads, a 镇街区's
officers for tasks their region leads; the committee office (市安委办) verifies,
reviews filings, and acts for the tasks the committee itself leads.
"""

from __future__ import annotations

from typing import Any

from hazardloop.models.tables import AppUser
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import ROLE_NAMES, Role

COMMITTEE_UNIT = "anweiban"  # the committee office's own department code (departments.yaml)


def _role_name(role: str) -> str:
    try:
        return ROLE_NAMES[Role(role)]
    except ValueError:
        return role


def _need_role(actor: AppUser, roles: set[Role], action: str) -> None:
    if not actor.active:
        raise PermissionDenied(f"用户 {actor.username} 已停用，不能{action}。")
    if actor.role not in roles:
        raise PermissionDenied(f"{action}需要{'或'.join(_role_name(r) for r in sorted(roles))}角色；"
                               f"{actor.name}（{actor.username}）的角色是{_role_name(actor.role)}。")


def is_unit_member(actor: AppUser, unit_kind: str, unit_code: str) -> bool:
    """Does the actor act for this unit?  The committee office acts for the committee's own unit."""
    if not actor.active:
        return False
    if unit_kind == "region":
        return actor.role == Role.township and actor.region_code == unit_code
    if unit_code == COMMITTEE_UNIT:
        return actor.role == Role.committee
    return actor.role == Role.supervisor and actor.department_code == unit_code


def _need_unit(actor: AppUser, unit_kind: str, unit_code: str, unit_name: str, action: str) -> None:
    _need_role(actor, {Role.supervisor, Role.township, Role.committee}, action)
    if not is_unit_member(actor, unit_kind, unit_code):
        raise PermissionDenied(f"{action}只能由牵头单位（{unit_name}）的工作人员办理；"
                               f"{actor.name}（{actor.username}）不属于该单位。")


def _need_text(data: dict[str, Any], field: str, label: str, action: str) -> str:
    value = data.get(field)
    if value is None or not str(value).strip():
        raise MissingData(f"{action}缺少{label}。")
    return str(value).strip()


def _lead_name(task: Any, data: dict[str, Any]) -> str:
    return data.get("lead_name") or task.lead_code


# --- task transitions -------------------------------------------------------------------


def start(task: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_unit(actor, task.lead_kind, task.lead_code, _lead_name(task, data), "开始推进任务")
    return True


def report_done(task: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_unit(actor, task.lead_kind, task.lead_code, _lead_name(task, data), "报告任务完成")
    _need_text(data, "summary", "完成情况说明", "报告任务完成")
    if not (task.evidence or data.get("evidence")):
        raise MissingData("报告任务完成至少需要一份佐证材料（--evidence：文件、文号或链接）。")
    return True


def verify(task: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_role(actor, {Role.committee}, "核验任务办结")
    if task.reported_by is not None and actor.username == task.reported_by:
        raise PermissionDenied("报告完成的人不能核验自己报告的任务。")
    return True


def return_task(task: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_role(actor, {Role.committee}, "退回任务")
    _need_text(data, "reason", "退回理由", "退回任务")
    return True


TASK_GUARDS = {"start": start, "report_done": report_done, "verify": verify, "return_task": return_task}


# --- filing transitions (子方案审核备案) -----------------------------------------------------


def submit_plan(plan: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_unit(actor, plan.unit_kind, plan.unit_code, data.get("unit_name") or plan.unit_code, "报送子方案")
    if not (plan.summary or "").strip() and not str(data.get("summary") or "").strip():
        raise MissingData("报送子方案须附方案内容或要点（--summary）。")
    return True


def approve_plan(plan: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_role(actor, {Role.committee}, "审核备案子方案")
    return True


def return_plan(plan: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_role(actor, {Role.committee}, "退回子方案")
    _need_text(data, "reason", "退回理由", "退回子方案")
    return True


FILING_GUARDS = {"submit_plan": submit_plan, "approve_plan": approve_plan, "return_plan": return_plan}


# --- checks that are not transitions -------------------------------------------------------


def monthly_report(actor: AppUser, task: Any, unit_name: str) -> bool:
    _need_unit(actor, task.lead_kind, task.lead_code, unit_name, "报送月调度")
    return True


def manage_plans(actor: AppUser, action: str) -> bool:
    """Loading the city plan, importing a task division, adding tasks, the quarterly review."""
    _need_role(actor, {Role.committee, Role.system}, action)
    return True


def add_unit_task(actor: AppUser, plan: Any, unit_name: str) -> bool:
    """A unit adds tasks to its own sub-plan; the committee office to any plan."""
    if actor.role in (Role.committee, Role.system) and actor.active:
        return True
    _need_unit(actor, plan.unit_kind, plan.unit_code, unit_name, "编制本单位计划任务")
    return True


def decide_plan_step(actor: AppUser, action: str) -> bool:
    """Only the committee office approves or declines exposing a unit or referring it for
    accountability (曝光、追责问责)."""
    _need_role(actor, {Role.committee}, action)
    return True


def upload_evidence(actor: AppUser, task: Any, unit_name: str) -> bool:
    _need_unit(actor, task.lead_kind, task.lead_code, unit_name, "上传任务佐证材料")
    return True
