"""Who a notice goes to: roles resolve to people (with their phone and e-mail).

Roles: principal 主要负责人, controller 实际控制人, safety_manager 安全管理人员
(from the enterprise record); township (the region's officers), department (the
supervising department's supervisors), committee (市安委办).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from hazardloop.models.tables import AppUser, Enterprise, Hazard

RECIPIENT_ROLES = {
    "principal": "主要负责人",
    "controller": "实际控制人",
    "safety_manager": "安全管理人员",
    "township": "属地镇街区",
    "department": "行业监管部门",
    "committee": "市安委办",
}


@dataclass(frozen=True)
class Recipient:
    role: str  # one of RECIPIENT_ROLES
    name: str
    phone: str | None = None
    email: str | None = None
    username: str | None = None
    extra: tuple = field(default=())


def resolve(session: Session, hazard: Hazard, roles: list[str]) -> list[Recipient]:
    """People for the given roles, in role order; unknown roles are an error."""
    unknown = [r for r in roles if r not in RECIPIENT_ROLES]
    if unknown:
        raise ValueError(f"未知的接收角色：{'、'.join(unknown)}")
    ent = session.get(Enterprise, hazard.enterprise_id)
    out: list[Recipient] = []
    for role in roles:
        if role == "principal" and ent and ent.principal:
            out.append(Recipient(role, ent.principal, ent.principal_phone, (ent.contacts or {}).get("principal_email")))
        elif role == "controller" and ent and ent.controller:
            out.append(Recipient(role, ent.controller, ent.controller_phone, (ent.contacts or {}).get("controller_email")))
        elif role == "safety_manager" and ent and ent.safety_manager:
            out.append(Recipient(role, ent.safety_manager, ent.safety_manager_phone,
                                 (ent.contacts or {}).get("email")))
        else:
            stmt = select(AppUser).where(AppUser.active == True)  # noqa: E712
            if role == "township":
                stmt = stmt.where(AppUser.role == "township", AppUser.region_code == hazard.region_code)
            elif role == "department":
                stmt = stmt.where(AppUser.role == "supervisor",
                                  AppUser.department_code == hazard.supervising_department)
            elif role == "committee":
                stmt = stmt.where(AppUser.role == "committee")
            else:
                continue
            for user in session.exec(stmt.order_by(AppUser.id)).all():
                out.append(Recipient(role, user.name, user.phone, user.email, user.username))
    return out
