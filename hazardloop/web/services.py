"""What the pages and the API share: visible look-ups, the action dispatcher, the
queue, the list (台账) and the hazard's full record.

Visibility is a WHERE clause (guards.visible_clause) in every query: a hazard or
an evidence file the user may not see is simply not found (404), whatever the URL.
Every action goes through the ledger, whose machine guards decide.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import Session, select

from hazardloop.config import clock, labels
from hazardloop.errors import HazardLoopError, NotFound, ValidationError
from hazardloop.models.tables import (
    AppUser,
    AuditEvent,
    Department,
    Enterprise,
    Evidence,
    Extension,
    Hazard,
    Industry,
    Notification,
    RectificationPlan,
    Region,
    Standard,
)
from hazardloop.states import confidential, guards, ledger, machine
from hazardloop.states.roles import CHANNELS, LEVELS, ROLE_NAMES, STATE_NAMES, Role

ACTION_NAMES = {
    "confirm": "确认挂牌",
    "dismiss": "排除",
    "plan": "提交整改方案",
    "evidence": "上传整改材料",
    "submit": "提交整改完成",
    "request_extension": "申请延期",
    "decide_extension": "审批延期",
    "approve": "审核销号",
    "reject": "驳回整改",
    "edit": "修改隐患信息",
}
# The machine trigger behind each page/API action (None: not a transition).
TRIGGER_OF = {"confirm": "confirm", "dismiss": "dismiss", "plan": "start_rectification", "submit": "submit",
              "approve": "approve", "reject": "reject", "decide_extension": "extend"}
# A hazard's trail names every action from the one table; a linked report's steps say 举报.
AUDIT_NAMES = {code: f"举报：{name}" if code.startswith("report_") else name
               for code, name in labels.AUDIT_ACTIONS.items()}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
               ".webp": "image/webp"}
MAX_UPLOAD = 20 * 1024 * 1024
SORTS = {"code": Hazard.id, "found": Hazard.found_at, "deadline": Hazard.deadline, "state": Hazard.state,
         "level": Hazard.level}
# NULLS LAST only where there can be NULLs: on a NOT NULL column it stops PostgreSQL from reading
# the index backwards (ix_hazard_found_at for the default newest-first order).
NULLABLE_SORTS = ("deadline", "level")
MASKED_REPORTER = confidential.MASKED_REPORTER

# Hooks for other features (e.g. escalation): extra queue sections and extra blocks
# on the hazard page.  Each provider gets (session, user[, hazard]) and returns a list
# of Section / dict(title=..., rows=[(label, value), ...]).
QueueProvider = Callable[[Session, AppUser], list["Section"]]
DetailProvider = Callable[[Session, AppUser, Hazard], list[dict[str, Any]]]
QUEUE_PROVIDERS: list[QueueProvider] = []
DETAIL_PROVIDERS: list[DetailProvider] = []


# --- look-ups within what the user may see ---------------------------------------


def small_int(text: object, digits: int = 9) -> int | None:
    """An id from a URL or form: ASCII digits only (str.isdigit accepts '²'), and small
    enough for a 32-bit column (PostgreSQL refuses larger ones)."""
    value = str(text or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= digits:
        return int(value)
    return None


def visible_hazard(session: Session, user: AppUser, ref: int | str) -> Hazard:
    stmt = select(Hazard).where(guards.visible_clause(user))
    text = str(ref).strip()
    number = small_int(text)
    stmt = stmt.where(Hazard.id == number) if number is not None else stmt.where(Hazard.code == text)
    hazard = session.exec(stmt).first()
    if hazard is None:
        raise NotFound(f"没有编号为 {text[:40]} 的隐患。")
    return hazard


def visible_evidence(session: Session, user: AppUser, evidence_id: int) -> tuple[Evidence, Hazard]:
    row = session.exec(select(Evidence, Hazard).join(Hazard, Hazard.id == Evidence.hazard_id)
                       .where(Evidence.id == evidence_id, guards.visible_clause(user))).first()
    if row is None:
        raise NotFound(f"没有编号为 {evidence_id} 的证明材料。")
    return row[0], row[1]


def pending_extension(session: Session, hazard: Hazard) -> Extension | None:
    return session.exec(select(Extension).where(Extension.hazard_id == hazard.id, Extension.status == "pending")
                        .order_by(Extension.id)).first()


def is_image(filename: str) -> bool:
    return Path(filename).suffix.lower() in IMAGE_TYPES


# --- who may do what (asks the guards, changes nothing) ------------------------------


def _passes(check: Callable[[], Any]) -> bool:
    try:
        check()
        return True
    except HazardLoopError:
        return False


_LOOK = object()  # may(): look the pending extension up


def may(session: Session, user: AppUser, hazard: Hazard, action: str, pending: Any = _LOOK) -> bool:
    """pending: the hazard's pending extension (or None) when the caller has it already."""
    if not guards.can_view(user, hazard):
        return False
    trigger = TRIGGER_OF.get(action)
    if pending is _LOOK and action in ("decide_extension", "request_extension"):
        pending = pending_extension(session, hazard)
    if action == "decide_extension":
        return pending is not None and _passes(
            lambda: guards.decide_extension(user, hazard)) and machine.check(hazard, "extend", user)
    if trigger is not None:
        return machine.check(hazard, trigger, user)
    if action == "evidence":
        return hazard.state == "rectifying" and _passes(lambda: guards.upload_evidence(user, hazard))
    if action == "request_extension":
        return (hazard.state == "rectifying" and pending is None
                and _passes(lambda: guards.request_extension(user, hazard)))
    if action == "edit":
        return _passes(lambda: guards.edit(user, hazard))
    return False


def allowed_actions(session: Session, user: AppUser, hazard: Hazard, pending: Any = _LOOK) -> list[str]:
    if pending is _LOOK:
        pending = pending_extension(session, hazard)  # once for every action that asks
    return [a for a in ACTION_NAMES if may(session, user, hazard, a, pending)]


# --- the dispatcher ----------------------------------------------------------------------


def parse_date(value: Any, label: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{label}的日期格式应为 YYYY-MM-DD，收到 {str(value)[:20]!r}。") from None


def parse_version(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ValidationError("版本号（expected_version）必须是整数。") from None


def _text(data: dict[str, Any], key: str, limit: int = 2000) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    value = str(value)
    if "\x00" in value:  # a page form posts it as-is (the API's schemas refuse it already)
        raise ValidationError(f"{key} 不能包含 NUL 字符。")
    if len(value) > limit:
        raise ValidationError(f"{key} 太长（最多 {limit} 个字符）。")
    return value


def perform(session: Session, user: AppUser, ref: int | str, action: str, data: dict[str, Any]) -> Any:
    """Run one action on a hazard the user can see; the ledger's guards decide the rest.

    data: the form/JSON fields; for "evidence" also `path` and `filename` of the stored upload;
    for "approve" `reauthenticated` (bool, set by the caller after checking the password)."""
    hazard = visible_hazard(session, user, ref)
    version = parse_version(data.get("expected_version"))
    if action == "confirm":
        return ledger.confirm(session, user, hazard.id, basis_code=_text(data, "basis_code", 32) or None,
                              basis_clause=_text(data, "basis_clause", 200), level=_text(data, "level", 16) or None,
                              expected_version=version)
    if action == "dismiss":
        return ledger.dismiss(session, user, hazard.id, reason=_text(data, "reason"), expected_version=version)
    if action == "plan":
        return ledger.plan(session, user, hazard.id, responsible_person=_text(data, "responsible_person", 64),
                           measures=_text(data, "measures"), funds=_text(data, "funds", 64),
                           deadline=parse_date(data.get("deadline"), "整改时限"),
                           emergency_plan=_text(data, "emergency_plan"), expected_version=version)
    if action == "evidence":
        return ledger.add_evidence(session, user, hazard.id, data["path"], filename=data.get("filename"))
    if action == "submit":
        return ledger.submit(session, user, hazard.id, expected_version=version)
    if action == "approve":
        return ledger.approve(session, user, hazard.id, reason=_text(data, "reason") or None,
                              expected_version=version, reauthenticated=bool(data.get("reauthenticated")))
    if action == "reject":
        return ledger.reject(session, user, hazard.id, reason=_text(data, "reason"),
                             deadline=parse_date(data.get("deadline"), "新的整改时限"), expected_version=version)
    if action == "request_extension":
        return ledger.request_extension(session, user, hazard.id, reason=_text(data, "reason"),
                                        deadline=parse_date(data.get("deadline"), "新的整改时限"))
    if action == "decide_extension":
        ext_id = data.get("extension_id")
        ext = session.get(Extension, small_int(ext_id)) if small_int(ext_id) else pending_extension(session, hazard)
        if ext is None or ext.hazard_id != hazard.id:
            raise NotFound("该隐患没有这个延期申请。")
        approve = data.get("approve")
        approve = approve if isinstance(approve, bool) else str(approve).lower() in ("1", "true", "yes", "approve")
        _check_version(hazard, version)
        return ledger.decide_extension(session, user, ext.id, approve=approve, reason=_text(data, "reason") or None)
    if action == "edit":
        fields = {k: _text(data, k, 2000 if k == "description" else 200) for k in ledger.EDITABLE if data.get(k)}
        return ledger.edit(session, user, hazard.id, expected_version=version, **fields)
    raise NotFound(f"没有操作 {action[:40]}。")


def _check_version(hazard: Hazard, version: int | None) -> None:
    ledger._check_version(hazard, version)  # noqa: SLF001  (same conflict message as the other actions)


# --- the list (台账) ----------------------------------------------------------------------


@dataclass
class ListQuery:
    state: str | None = None
    region: str | None = None
    industry: str | None = None
    channel: str | None = None
    level: str | None = None
    overdue: bool = False
    q: str | None = None
    department: str | None = None  # 监管部门: the hazard's supervising department
    sort: str = "found"
    desc: bool = True
    page: int = 1
    per: int = 20


@dataclass
class ListResult:
    items: list[tuple[Hazard, str]]
    total: int
    counts: dict[str, int]
    overdue: int
    page: int
    pages: int
    per: int


def _filtered(stmt, user: AppUser, lq: ListQuery, with_state: bool = True, now: Any = None):  # noqa: ANN001, ANN202
    stmt = stmt.where(guards.visible_clause(user))
    for column, value in ((Hazard.region_code, lq.region), (Hazard.industry_code, lq.industry),
                          (Hazard.channel, lq.channel), (Hazard.level, lq.level),
                          (Hazard.supervising_department, lq.department)):
        if value:
            stmt = stmt.where(column == value)
    if with_state and lq.state:
        stmt = stmt.where(Hazard.state == lq.state)
    if lq.overdue:
        stmt = stmt.where(Hazard.state == "rectifying", Hazard.deadline < (now or clock.utcnow()))
    if lq.q:
        like = f"%{lq.q.strip()[:60]}%"
        stmt = stmt.where(Hazard.title.like(like) | Hazard.code.like(like) | Enterprise.name.like(like))
    return stmt


def list_hazards(session: Session, user: AppUser, lq: ListQuery) -> ListResult:
    # One pass for every count on the page: per state under every filter but the state (the
    # count boxes), and how many of them are overdue.  The total is the chosen state's count (or
    # the sum), so it is not counted again: at 100,000 hazards each count is a scan of the scope.
    now = clock.utcnow()
    overdue_case = func.sum(case((and_(Hazard.state == "rectifying", Hazard.deadline < now), 1), else_=0))
    count_stmt = select(Hazard.state, func.count(), overdue_case).select_from(Hazard)
    if lq.q:  # the enterprise join is needed only to search its name
        count_stmt = count_stmt.join(Enterprise, Enterprise.id == Hazard.enterprise_id)
    counts = {state: 0 for state in machine.STATES}
    overdue = 0
    for state, n, late in session.exec(_filtered(count_stmt, user, lq, with_state=False, now=now)
                                       .group_by(Hazard.state)).all():
        counts[state] = n
        overdue += int(late or 0)
    total = counts.get(lq.state, 0) if lq.state else sum(counts.values())
    column = SORTS.get(lq.sort, Hazard.found_at)
    order = column.desc() if lq.desc else column.asc()
    per = max(1, min(lq.per, 200))
    pages = max(1, math.ceil(total / per))
    page = max(1, min(lq.page, pages))
    rows = session.exec(_filtered(select(Hazard, Enterprise.name).join(Enterprise, Enterprise.id == Hazard.enterprise_id),
                                  user, lq, now=now)
                        .order_by(order.nulls_last() if lq.sort in NULLABLE_SORTS else order,
                                  Hazard.id.desc() if lq.desc else Hazard.id)
                        .offset((page - 1) * per).limit(per)).all()
    return ListResult([(h, name) for h, name in rows], total, counts, overdue, page, pages, per)


# --- my queue ----------------------------------------------------------------------------------


@dataclass
class Section:
    key: str
    title: str
    hint: str
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


QUEUE_LIMIT = 50


def _section(session: Session, key: str, title: str, hint: str, stmt, order) -> Section:  # noqa: ANN001
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(*order).limit(QUEUE_LIMIT)).all()
    items = []
    for row in rows:
        hazard, ent_name, *rest = row
        items.append({"hazard": hazard, "enterprise": ent_name, "extension": rest[0] if rest else None,
                      "overdue": ledger.days_overdue(hazard)})
    return Section(key, title, hint, items, total)


def queue(session: Session, user: AppUser) -> list[Section]:
    vis = guards.visible_clause(user)
    base = select(Hazard, Enterprise.name).join(Enterprise, Enterprise.id == Hazard.enterprise_id).where(vis)
    sections: list[Section] = []
    if user.role in (Role.supervisor, Role.committee):
        sections.append(_section(session, "review", "待审核销号", "整改已提交，等待审核（最早提交的在前）",
                                 base.where(Hazard.state == "reviewed"), [Hazard.submitted_at, Hazard.id]))
        ext = (select(Hazard, Enterprise.name, Extension).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
               .join(Extension, Extension.hazard_id == Hazard.id).where(vis, Extension.status == "pending"))
        sections.append(_section(session, "extension", "待审批延期", "企业申请延期，等待审批",
                                 ext, [Extension.requested_at, Extension.id]))
        sections.append(_section(session, "confirm", "待确认隐患", "新发现的隐患，等待确认挂牌或排除",
                                 base.where(Hazard.state == "found"), [Hazard.found_at, Hazard.id]))
    elif user.role == Role.enterprise:
        sections.append(_section(session, "plan", "待提交整改方案", "已挂牌督办，请提交“五落实”整改方案",
                                 base.where(Hazard.state == "listed"), [Hazard.confirmed_at, Hazard.id]))
        sections.append(_section(session, "rectify", "整改中：上传材料并提交", "按时限整改，上传整改证明材料后提交（含被驳回的）",
                                 base.where(Hazard.state == "rectifying"), [Hazard.deadline, Hazard.id]))
    elif user.role == Role.township:
        sections.append(_section(session, "overdue", "本辖区逾期隐患", "整改已超过时限",
                                 base.where(Hazard.state == "rectifying", Hazard.deadline < clock.utcnow()),
                                 [Hazard.deadline, Hazard.id]))
        sections.append(_section(session, "open", "本辖区未销号隐患", "尚未销号的隐患",
                                 base.where(Hazard.state.in_(["found", "listed", "rectifying", "reviewed"])),
                                 [Hazard.found_at, Hazard.id]))
    else:
        sections.append(_section(session, "mine", "我上报的隐患", "尚未办结的隐患",
                                 base.where(Hazard.state.in_(["found", "listed", "rectifying", "reviewed"])),
                                 [Hazard.found_at, Hazard.id]))
    for provider in QUEUE_PROVIDERS:
        sections.extend(provider(session, user))
    return sections


# --- one hazard's full record ----------------------------------------------------------------


def _names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = session.exec(select(AppUser.username, AppUser.name).where(AppUser.username.in_(usernames))).all()
    return {u: n for u, n in rows}


def reporter(user: AppUser, hazard: Hazard, names: dict[str, str]) -> str:
    if not confidential.can_see_reporter(user, hazard):
        return MASKED_REPORTER
    return f"{names.get(hazard.reported_by, hazard.reported_by)}（{hazard.reported_by}）"


def _summary(after: dict[str, Any] | None) -> str:
    if not after:
        return ""
    parts = []
    labels = {"state": "状态", "deadline": "时限", "level": "级别", "basis_code": "依据", "basis_clause": "条款",
              "filename": "文件", "evidence_count": "材料数", "new_deadline": "新时限", "title": "名称"}
    for key, label in labels.items():
        if after.get(key) not in (None, ""):
            value = after[key]
            if key == "state":
                value = STATE_NAMES.get(value, value)
            elif key == "level":
                value = LEVELS.get(value, value)
            elif key in ("deadline", "new_deadline") and isinstance(value, str):
                value = value[:10]
            parts.append(f"{label}：{value}")
    if "reauthenticated" in after:
        parts.append("已重新验证密码" if after["reauthenticated"] else "未重新验证密码")
    return "；".join(parts)


def audit_trail(session: Session, user: AppUser, hazard: Hazard) -> list[dict[str, Any]]:
    events = session.exec(select(AuditEvent).where(AuditEvent.hazard_id == hazard.id).order_by(AuditEvent.seq)).all()
    names = _names(session, {e.actor for e in events})
    out = []
    for e in events:
        if not confidential.visible_event(user, hazard, e.action):
            continue  # a report's own events tell who reported, was looked up, was paid
        actor = confidential.actor_of(user, hazard, e.actor)
        if actor == e.actor:
            actor = f"{names.get(e.actor, e.actor)}（{e.actor}）"
        out.append({"seq": e.seq, "ts": e.ts, "actor": actor, "action": e.action,
                    "action_name": AUDIT_NAMES.get(e.action, e.action), "reason": e.reason,
                    "summary": _summary(e.after), "reauthenticated": (e.after or {}).get("reauthenticated")})
    return out


def detail(session: Session, user: AppUser, hazard: Hazard) -> dict[str, Any]:
    ent = session.get(Enterprise, hazard.enterprise_id)
    plans = session.exec(select(RectificationPlan).where(RectificationPlan.hazard_id == hazard.id)
                         .order_by(RectificationPlan.id.desc())).all()
    evidence = session.exec(select(Evidence).where(Evidence.hazard_id == hazard.id)
                            .order_by(Evidence.cycle.desc(), Evidence.id)).all()
    extensions = session.exec(select(Extension).where(Extension.hazard_id == hazard.id)
                              .order_by(Extension.id.desc())).all()
    notices = session.exec(select(Notification).where(Notification.hazard_id == hazard.id)
                           .order_by(Notification.created_at, Notification.id).limit(200)).all()
    people = {hazard.reported_by, hazard.confirmed_by, hazard.submitted_by, hazard.closed_by,
              *(p.submitted_by for p in plans), *(e.uploaded_by for e in evidence),
              *(x.requested_by for x in extensions), *(x.decided_by for x in extensions)} - {None}
    names = _names(session, people)  # type: ignore[arg-type]
    ref = reference_options(session)
    region = ref["by_code"]["regions"].get(hazard.region_code)
    industry = ref["by_code"]["industries"].get(hazard.industry_code)
    standard = ref["by_code"]["standards"].get(hazard.basis_code) if hazard.basis_code else None
    department = ref["by_code"]["departments"].get(hazard.supervising_department)
    pending = pending_extension(session, hazard)
    extra = []
    for provider in DETAIL_PROVIDERS:
        extra.extend(provider(session, user, hazard))
    return {
        "hazard": hazard, "enterprise": ent, "region": region.name if region else hazard.region_code,
        "industry": industry.name if industry else hazard.industry_code, "standard": standard,
        "department": department.name if department else (hazard.supervising_department or ""),
        "reporter": reporter(user, hazard, names), "names": names,
        "plans": plans, "evidence": evidence, "extensions": extensions, "notices": notices,
        "audit": audit_trail(session, user, hazard), "overdue": ledger.is_overdue(hazard),
        "days_overdue": ledger.days_overdue(hazard), "pending_extension": pending,
        "actions": allowed_actions(session, user, hazard, pending), "extra": extra,
        "evidence_count": sum(1 for e in evidence if e.cycle == hazard.cycle),  # as ledger.evidence_count, no query
    }


REFERENCE_TTL = 60.0  # seconds
_reference: dict[str, tuple[float, dict[str, Any]]] = {}


def reference_options(session: Session) -> dict[str, Any]:
    """镇街区, industries, standards, departments for the forms and the hazard page, kept per
    database for REFERENCE_TTL seconds: every page showed them and asked for them again, four
    queries a view, though they change only when the office loads new reference files (a
    drop-down a minute late is harmless; nothing is decided from this copy)."""
    import time

    key = str(session.get_bind().url)
    got = _reference.get(key)
    if got is not None and time.monotonic() - got[0] < REFERENCE_TTL:
        return got[1]
    lists = {"regions": session.exec(select(Region).order_by(Region.code)).all(),
             "industries": session.exec(select(Industry).order_by(Industry.code)).all(),
             "standards": session.exec(select(Standard).order_by(Standard.code)).all(),
             "departments": session.exec(select(Department).order_by(Department.code)).all()}
    for rows in lists.values():
        for row in rows:
            session.expunge(row)  # kept past this session: detached, every column loaded
    options = {**lists, "by_code": {k: {r.code: r for r in rows} for k, rows in lists.items()},
               "channels": CHANNELS, "levels": LEVELS, "states": STATE_NAMES, "roles": ROLE_NAMES}
    _reference[key] = (time.monotonic(), options)
    return options


def forget_reference() -> None:
    """Drop the kept reference data (tests that change it; a reload of the reference files)."""
    _reference.clear()
