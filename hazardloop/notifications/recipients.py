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
    enterprise_id: int | None = None  # for enterprise people without an account (keeps namesakes apart)


def _contact(contacts: dict, role: str, what: str) -> str | None:
    """Enterprise.contacts: {"principal_email": ..} or {"principal": {"email": ..}};
    the safety manager's e-mail may also be plain "email"."""
    nested = contacts.get(role)
    if isinstance(nested, dict) and nested.get(what):
        return str(nested[what])
    value = contacts.get(f"{role}_{what}")
    if value is None and role == "safety_manager" and what == "email":
        value = contacts.get("email")
    return str(value) if value else None


def resolve(session: Session, hazard: Hazard, roles: list[str]) -> list[Recipient]:
    """People for the given roles, in role order; unknown roles are an error.

    Enterprise people (principal, controller, safety manager) come from the
    enterprise record (name, phone; e-mail from its contacts), everyone else from
    the active users of the region, the supervising department or the office."""
    unknown = [r for r in roles if r not in RECIPIENT_ROLES]
    if unknown:
        raise ValueError(f"未知的接收角色：{'、'.join(unknown)}")
    ent = session.get(Enterprise, hazard.enterprise_id)
    contacts = (ent.contacts or {}) if ent else {}
    out: list[Recipient] = []
    for role in roles:
        if role in ("principal", "controller", "safety_manager"):
            name = getattr(ent, role, None) if ent else None
            if name:
                phone = getattr(ent, f"{role}_phone", None) or _contact(contacts, role, "phone")
                out.append(Recipient(role, name, phone, _contact(contacts, role, "email"),
                                     enterprise_id=ent.id))  # type: ignore[union-attr]
            continue
        stmt = select(AppUser).where(AppUser.active == True)  # noqa: E712
        if role == "township":
            stmt = stmt.where(AppUser.role == "township", AppUser.region_code == hazard.region_code)
        elif role == "department":
            stmt = stmt.where(AppUser.role == "supervisor",
                              AppUser.department_code == hazard.supervising_department)
        elif role == "committee":
            stmt = stmt.where(AppUser.role == "committee")
        for user in session.exec(stmt.order_by(AppUser.id)).all():
            out.append(Recipient(role, user.name, user.phone, user.email, user.username))
    return out
