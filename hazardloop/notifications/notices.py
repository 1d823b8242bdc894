"""Lifecycle notices: the ledger's domain events become outbox rows in the same transaction.

`hazardloop.bootstrap.bootstrap()` subscribes `on_event` to hazardloop.states.events;
every entry point (CLI, web app factory, flows, demo, bench scripts) calls it, so every
process writes its notices.  Which roles hear of which event is config (routes.yaml
`events:`); each event has its own Chinese template notice_<event>.j2.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.config.settings import get_settings
from hazardloop.models.tables import Department, Enterprise, Extension, RectificationPlan, Standard
from hazardloop.notifications.outbox import UNREGISTERED, enqueue
from hazardloop.notifications.recipients import RECIPIENT_ROLES, Recipient, resolve
from hazardloop.notifications.routes import load_routes
from hazardloop.states.events import DomainEvent
from hazardloop.states.roles import CHANNELS, LEVELS

TEMPLATES = Path(__file__).with_name("templates")
# The policy requires that both the principal and the actual controller hear of a listing,
# whatever the routing config says.
REQUIRED_ROLES = {"listed": ["principal", "controller"]}


def _cndate(value: datetime | date | None) -> str:
    if value is None:
        return ""
    d = clock.local_date(value) if isinstance(value, datetime) else value
    return f"{d.year}年{d.month}月{d.day}日"


def _cndatetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return clock.to_local(value).strftime("%Y年%m月%d日 %H:%M")


_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        _env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                           keep_trailing_newline=False, autoescape=False)
        _env.filters["cndate"] = _cndate
        _env.filters["cndatetime"] = _cndatetime
    return _env


def render(template: str, **context: Any) -> tuple[str, str]:
    """Render a notice: the first line is the subject, the rest is the body."""
    text = environment().get_template(template).render(settings=get_settings(), today=clock.today(), **context)
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def _step(ev: DomainEvent) -> str:
    # A hazard may see several extension decisions in one cycle: each is its own notice.
    ext = ev.info.get("extension_id")
    return f"ext{ext}" if ext else ""


def _context(session: Session, ev: DomainEvent) -> dict[str, Any]:
    h = ev.hazard
    dept = session.get(Department, h.supervising_department) if h.supervising_department else None
    std = session.get(Standard, h.basis_code) if h.basis_code else None
    ext = session.get(Extension, ev.info["extension_id"]) if ev.info.get("extension_id") else None
    plan = session.exec(select(RectificationPlan).where(RectificationPlan.hazard_id == h.id)
                        .order_by(RectificationPlan.id.desc())).first()  # type: ignore[union-attr]
    approved = ev.info.get("approved")
    if approved is None and ext is not None:
        approved = ext.status == "approved"
    return dict(
        hazard=h, enterprise=session.get(Enterprise, h.enterprise_id), event=ev.name,
        department_name=dept.name if dept else "监管部门",
        basis_title=(f"{std.title}（{std.number}）" if std else (h.basis_code or "")),
        level_name=LEVELS.get(h.level or "", ""), channel_name=CHANNELS.get(h.channel, h.channel),
        plan=plan, extension=ext, approved=bool(approved),
        reason=ev.info.get("reason") or (ext.decision_reason if ext else None) or "",
    )


def notify_event(session: Session, ev: DomainEvent) -> int:
    """Queue the notices one event owes; returns the number of new outbox rows."""
    if ev.name == "reported" and ev.hazard.channel == "self_inspection":
        return 0  # the enterprise reported it itself: nobody there needs telling
    required = REQUIRED_ROLES.get(ev.name, [])
    roles = required + [r for r in (load_routes().events.get(ev.name) or []) if r not in required]
    if not roles or not (TEMPLATES / f"notice_{ev.name}.j2").is_file():
        return 0
    recipients = resolve(session, ev.hazard, roles)
    # A required person missing from the enterprise record is a finding: kept as undeliverable.
    for role in required:
        if not any(r.role == role for r in recipients):
            recipients.append(Recipient(role, "（未登记）", enterprise_id=ev.hazard.enterprise_id,
                                        extra=(UNREGISTERED,)))
    if not recipients:
        return 0
    context = _context(session, ev)
    added = 0
    # The body names its recipient, so each person gets their own rendering (same key scheme).
    for r in recipients:
        subject, body = render(f"notice_{ev.name}.j2", recipient_name=r.name,
                               recipient_role_name=RECIPIENT_ROLES.get(r.role, r.role), **context)
        added += enqueue(session, event=ev.name, hazard_id=ev.hazard.id, cycle=ev.hazard.cycle, step=_step(ev),
                         recipients=[r], subject=subject, body=body)
    return added


def on_event(session: Session, ev: DomainEvent) -> None:
    notify_event(session, ev)


def recipients_for(session: Session, ev: DomainEvent) -> list[Recipient]:
    return resolve(session, ev.hazard, load_routes().events.get(ev.name) or [])
