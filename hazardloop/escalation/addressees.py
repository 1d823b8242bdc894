"""Who a 公文 is addressed to, by full name, and who receives it: every addressee gets an
outbox row (sent, or undeliverable when nobody is registered for it).

- A region is addressed by its government's full name: 石横镇人民政府, 新城街道办事处,
  高新区管委会; a department by its name.
- A 通报 or 曝光 to "市安委会各成员单位" goes to every member unit (each township and
  each industry department, one row each; the committee office itself issues it).
- The enterprise's people, the region's officers, the department's supervisors: when
  none is registered, one recipient by the unit's full name stands in, so the outbox
  holds an "undeliverable" row naming it (outbox.notice_rows) and `document undelivered`
  lists it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from hazardloop.models.tables import AppUser, Department, Region
from hazardloop.notifications.recipients import Recipient

MEMBER_UNITS = "市安委会各成员单位"
OFFICE = "市安委办"
# Kinds of 公文 whose "committee" addressee is every member unit (else: the committee office).
TO_MEMBER_UNITS = ("bulletin", "exposure")


def region_addressee(region: Region | None, code: str = "") -> str:
    """How a 公文 addresses a region: its government's full name."""
    if region is None:
        return code
    if region.kind == "street":
        return f"{region.name}办事处"
    if region.kind == "town":
        return f"{region.name}人民政府"
    return f"{region.name}管委会" if region.kind == "zone" else region.name


def member_units(session: Session) -> list[Recipient]:
    """Every member unit as one recipient: each township/street/zone (role township) and each
    industry department (role department; the committee office itself, which issues, is not one).
    A unit is reached through the contact details of its first active officer (township officers for a
    region, supervisors then inspectors for a department), preferring one with an e-mail; a unit
    without any still gets its notice (the file channel, or an undeliverable row naming it)."""
    users = session.execute(select(AppUser).where(AppUser.active == True).order_by(AppUser.id)).scalars().all()  # noqa: E712
    order = {"township": 0, "supervisor": 1, "inspector": 2}

    def contact(candidates: list[AppUser]) -> tuple[str | None, str | None]:
        candidates = sorted(candidates, key=lambda u: (order.get(u.role, 9), not u.email, u.id))
        email = next((u.email for u in candidates if u.email), None)
        phone = next((u.phone for u in candidates if u.phone), None)
        return phone, email

    out = []
    for region in session.execute(select(Region).order_by(Region.code)).scalars():
        phone, email = contact([u for u in users if u.role == "township" and u.region_code == region.code])
        out.append(Recipient("township", region.name, phone, email))
    for dept in session.execute(select(Department).where(Department.committee == False)  # noqa: E712
                                .order_by(Department.code)).scalars():
        phone, email = contact([u for u in users if u.role in ("supervisor", "inspector")
                                and u.department_code == dept.code])
        out.append(Recipient("department", dept.name, phone, email))
    return out


def contact(session: Session) -> tuple[str | None, str | None]:
    """The 公文's 联系人 and 联系电话 (GB/T 9704 附注): the committee office's first active officer
    with a phone (by account order; else the first, name only); (None, None) when none is registered."""
    users = session.execute(select(AppUser).where(AppUser.active == True, AppUser.role == "committee")  # noqa: E712
                            .order_by(AppUser.id)).scalars().all()
    user = next((u for u in users if u.phone), users[0] if users else None)
    return (user.name, user.phone) if user else (None, None)
