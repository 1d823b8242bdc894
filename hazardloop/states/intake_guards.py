"""Who may merge hazards and import ledgers (the hazard's own rules stay in guards.py; undoing a merge
is the machine's reopen transition, so its rule is guards.reopen)."""

from __future__ import annotations

from hazardloop.models.tables import AppUser, Hazard
from hazardloop.states import guards
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import STATE_NAMES, Role


def merge(actor: AppUser, kept: Hazard, duplicate: Hazard) -> bool:
    """A regulator of both hazards; the duplicate must still be unjudged (found),
    since merging dismisses it and only a found hazard can be dismissed."""
    for h in (kept, duplicate):
        if not guards.is_regulator_of(actor, h):
            raise PermissionDenied(f"合并隐患需要 {h.code} 的监管部门（{h.supervising_department}）人员或市安委办；"
                                   f"{actor.name}（{actor.username}）无权办理。")
    if kept.id == duplicate.id:
        raise MissingData("不能把一条隐患合并到它自己。")
    if kept.enterprise_id != duplicate.enterprise_id:
        raise MissingData(f"{kept.code} 与 {duplicate.code} 不属于同一企业，不能合并。")
    if duplicate.state != "found":
        raise MissingData(f"只能合并尚未确认的隐患（已发现）；{duplicate.code} 当前为{STATE_NAMES[duplicate.state]}。")
    if kept.state == "dismissed":
        raise MissingData(f"保留的隐患 {kept.code} 已排除，不能作为合并目标。")
    return True


def import_ledger(actor: AppUser) -> bool:
    if not actor.active or actor.role not in (Role.committee, Role.system):
        raise PermissionDenied(f"导入台账需要市安委办角色；{actor.name}（{actor.username}）无权导入。")
    return True


def export_ledger(actor: AppUser) -> bool:
    if not actor.active or actor.role in (Role.public, Role.inspector):
        raise PermissionDenied(f"{actor.name}（{actor.username}）无权导出隐患台账。")
    return True


def resolve_holding(actor: AppUser) -> bool:
    """Only the committee office settles a holding value (待确认镇街区, 待细分 industry) an import left."""
    if not actor.active or actor.role not in (Role.committee, Role.system):
        raise PermissionDenied(f"确认待定的镇街区或行业需要市安委办角色；{actor.name}（{actor.username}）无权办理。")
    return True
