"""Who may do what in the special campaigns (五项整治): the inventories, the checks and the
problems' (问题隐患) machine.  The only place deciding it; the campaign functions, the CLI and
the web call these and nothing else.

Territorial and industry responsibility as for hazards: a township officer (镇街区) for the
objects and problems of its region, a supervisor (行业监管部门) for those of its industry's
department, the committee office (市安委办) anywhere, an enterprise for its own objects.
Every guard raises a Chinese refusal or returns True.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hazardloop.config import clock
from hazardloop.models.tables import AppUser
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import ROLE_NAMES, Role

REGULATORS = {Role.township, Role.supervisor, Role.committee}


def _names(roles: set[Role]) -> str:
    return "或".join(ROLE_NAMES[r] for r in sorted(roles, key=list(Role).index))


def _need_role(actor: AppUser, roles: set[Role], action: str) -> None:
    if not actor.active:
        raise PermissionDenied(f"用户 {actor.username} 已停用，不能{action}。")
    if actor.role not in roles:
        raise PermissionDenied(f"{action}需要{_names(roles)}角色；{actor.name}（{actor.username}）的角色是"
                               f"{ROLE_NAMES.get(Role(actor.role), actor.role)}。")


def responsible_for(actor: AppUser, record: Any) -> bool:
    """The regulator of an object or problem: its region's township officer, its industry's
    supervisor, or the committee office."""
    if actor.role in (Role.committee, Role.system):
        return True
    if actor.role == Role.township:
        return actor.region_code == record.region_code
    if actor.role == Role.supervisor:
        return record.department_code is not None and actor.department_code == record.department_code
    return False


def _need_regulator(actor: AppUser, record: Any, action: str) -> None:
    _need_role(actor, REGULATORS | {Role.system}, action)
    if not responsible_for(actor, record):
        raise PermissionDenied(f"{action}需要属地镇街区（{record.region_code}）工作人员、行业监管部门"
                               f"（{record.department_code or '—'}）人员或市安委办；{actor.name}（{actor.username}）无权办理。")


def can_view(actor: AppUser, record: Any) -> bool:
    if responsible_for(actor, record) or actor.role == Role.inspector:
        return True
    return actor.role == Role.enterprise and record.enterprise_id is not None \
        and actor.enterprise_id == record.enterprise_id


def add_object(actor: AppUser, record: Any) -> bool:
    """Register or edit an inventoried object: its regulators, or the enterprise for its own."""
    if actor.role == Role.enterprise:
        _need_role(actor, {Role.enterprise}, "登记台账对象")
        if record.enterprise_id is None or actor.enterprise_id != record.enterprise_id:
            raise PermissionDenied("企业只能登记、修改本企业的台账对象（须填写本企业的统一社会信用代码）。")
        return True
    _need_regulator(actor, record, "登记台账对象")
    return True


def import_inventory(actor: AppUser) -> bool:
    """Sheets come from townships, departments and the office; each row is then checked with add_object."""
    _need_role(actor, REGULATORS | {Role.system}, "导入专项整治台账")
    return True


def set_baseline(actor: AppUser, region_code: str) -> bool:
    _need_role(actor, {Role.township, Role.committee, Role.system}, "设定底数")
    if actor.role == Role.township and actor.region_code != region_code:
        raise PermissionDenied(f"镇街区工作人员只能设定本辖区的底数；{actor.name} 属于 {actor.region_code}。")
    return True


def check(actor: AppUser, obj: Any) -> bool:
    """A campaign check: the object's regulators and the inspectors (督导检查)."""
    if actor.role == Role.inspector and actor.active:
        return True
    _need_regulator(actor, obj, "开展专项整治检查")
    return True


# --- the problems' machine --------------------------------------------------------------------


def _need_text(data: dict[str, Any], key: str, label: str, action: str) -> str:
    value = data.get(key)
    if value is None or not str(value).strip():
        raise MissingData(f"{action}缺少{label}。")
    return str(value).strip()


def _need_future(data: dict[str, Any], key: str, label: str, action: str) -> date:
    value = data.get(key)
    if not isinstance(value, date):
        raise MissingData(f"{action}缺少{label}（日期，格式 YYYY-MM-DD）。")
    if value < clock.today():
        raise MissingData(f"{action}的{label} {value.isoformat()} 已经过去（今天是 {clock.today().isoformat()}）。")
    return value


def assign(problem: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    if not (actor.role == Role.inspector and actor.username == problem.found_by):
        _need_regulator(actor, problem, "交办问题隐患整改")
    _need_text(data, "responsible", "整改责任人", "交办整改")
    _need_future(data, "deadline", "整改期限", "交办整改")
    return True


def rectify(problem: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    """The enterprise reports its own rectification; the township or department may record it
    for a unit without an account."""
    if actor.role == Role.enterprise:
        _need_role(actor, {Role.enterprise}, "报告整改完成")
        if problem.enterprise_id is None or actor.enterprise_id != problem.enterprise_id:
            raise PermissionDenied("企业只能报告本企业问题隐患的整改。")
    else:
        _need_regulator(actor, problem, "报告整改完成")
    _need_text(data, "note", "整改情况说明", "报告整改完成")
    if int(data.get("evidence_count") or 0) < 1:
        raise MissingData("报告整改完成至少需要一张整改后照片或一份证明材料。")
    return True


def verify(problem: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, problem, "验收销号")
    if actor.role == Role.system:
        raise PermissionDenied("验收销号须由镇街区、行业监管部门或市安委办的工作人员本人办理。")
    if problem.rectified_by is not None and actor.username == problem.rectified_by:
        raise PermissionDenied("报告整改完成的人不能验收自己报告的整改。")
    return True


def reject(problem: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need_regulator(actor, problem, "验收不通过")
    _need_text(data, "reason", "不通过的理由", "验收不通过")
    _need_future(data, "deadline", "新的整改期限", "验收不通过")
    return True


def raise_major(problem: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    """Judged to be a major accident hazard: raised into the ledger with its basis (the ledger's own
    guards then decide the report and the confirmation)."""
    _need_regulator(actor, problem, "升级为重大事故隐患")
    if problem.enterprise_id is None:
        raise MissingData(f"问题隐患 {problem.code} 的台账对象没有关联到已登记的企业（统一社会信用代码），"
                          f"不能升级为重大事故隐患；请先补充企业信息。")
    _need_text(data, "basis_code", "判定依据（标准）", "升级为重大事故隐患")
    _need_text(data, "basis_clause", "判定依据条款", "升级为重大事故隐患")
    _need_text(data, "reason", "升级理由", "升级为重大事故隐患")
    return True


PROBLEM_GUARDS = {"assign": assign, "rectify": rectify, "verify": verify, "reject": reject,
                  "raise_major": raise_major}


def upload_photo(actor: AppUser, problem: Any) -> bool:
    if actor.role == Role.enterprise:
        if problem.enterprise_id is None or actor.enterprise_id != problem.enterprise_id:
            raise PermissionDenied("企业只能为本企业的问题隐患上传照片。")
        return True
    _need_regulator(actor, problem, "上传问题隐患照片")
    return True


def run_ladder(actor: AppUser) -> bool:
    _need_role(actor, {Role.system, Role.committee}, "运行问题隐患督办")
    return True
