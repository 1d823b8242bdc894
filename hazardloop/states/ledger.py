"""The hazard ledger: plain functions for every action on a hazard.

Each function takes an open Session and the acting user, fires the shared
machine (whose guards decide), writes the audit event and announces a domain
event, all in the caller's transaction.  Callers commit; on any error they roll
back and nothing is half-written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, bindparam, func
from sqlalchemy.orm import class_mapper
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from hazardloop.config import bounds, clock
from hazardloop.config.labels import label
from hazardloop.config.private import FILE_MODE, private_dir
from hazardloop.config.settings import get_settings
from hazardloop.models import audit
from hazardloop.models.db import connection
from hazardloop.models.fastsql import Prepared
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.models.tables import (
    AppUser,
    Enterprise,
    Evidence,
    Extension,
    Hazard,
    Industry,
    RectificationPlan,
    Standard,
)
from hazardloop.states import guards
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.events import DomainEvent, emit
from hazardloop.states.machine import fire
from hazardloop.states.roles import CHANNELS, STATE_NAMES

EDITABLE = ("title", "description", "location")
EDIT_LABELS = {"title": "隐患名称", "description": "隐患描述", "location": "隐患部位"}


# --- look-ups ---------------------------------------------------------------


# Statements every action runs, built once (SQLAlchemy then reuses their cache key
# and compiled form instead of rebuilding both per call).  Rows are read with Core
# on the session's connection and turned into session objects by _attach: the
# ORM's query and loading machinery cost more than the database work itself.
_HAZARDS = Hazard.__table__
_USERS = AppUser.__table__
_USER_BY_NAME = Prepared(_USERS.select().where(_USERS.c.username == bindparam("username")))
_HAZARD_BY_ID = Prepared(_HAZARDS.select().where(_HAZARDS.c.id == bindparam("id")))
_HAZARD_BY_CODE = Prepared(_HAZARDS.select().where(_HAZARDS.c.code == bindparam("code")))
_STANDARD_EXISTS = Prepared(select(Standard.__table__.c.code).where(Standard.__table__.c.code == bindparam("code")))
_PLAN_COLUMNS = ["hazard_id", "responsible_person", "measures", "funds", "deadline", "emergency_plan",
                 "submitted_by", "created_at"]
_INSERT_PLAN = Prepared(RectificationPlan.__table__.insert(), column_keys=_PLAN_COLUMNS)
_EVIDENCE_COUNT = Prepared(select(func.count().label("n")).select_from(Evidence.__table__).where(
    Evidence.__table__.c.hazard_id == bindparam("hazard_id"), Evidence.__table__.c.cycle == bindparam("cycle")))
_EXTENSIONS = Extension.__table__
_DECIDE_EXTENSION = _EXTENSIONS.update().where(_EXTENSIONS.c.id == bindparam("_id"), _EXTENSIONS.c.status == "pending")
# One UPDATE per set of changed columns, guarded by the version read (optimistic locking).
_UPDATES: dict[tuple[str, ...], Any] = {}


def _attach(session: Session, cls: type, row: Any) -> Any:
    """The session's object for a Core row: the one already in its identity map, or a
    new persistent one holding exactly the row's values (as a query would load it)."""
    if row is None:
        return None
    key = (cls, (row["id"],), None)  # the ORM's identity key: class, primary key, token
    known = session.identity_map.get(key)
    if known is not None:
        return known
    # What the ORM's own loading does for a row it has not seen (orm/loading.py): a bare
    # instance, the row's values in its dict (no attribute events, no model validation),
    # keyed, marked as loaded, put in the identity map.  The public spelling,
    # make_transient_to_detached + Session.add, costs 2.5x as much (cascade walk over every
    # column); tests/test_fastsql.py holds this to the ORM's behaviour.
    obj = _MANAGERS.get(cls) or _MANAGERS.setdefault(cls, class_mapper(cls).class_manager)
    obj = obj.new_instance()
    obj.__dict__.update(row)
    state = instance_state(obj)
    state.key = key
    state._commit_all(state.dict)  # noqa: SLF001
    session._update_impl(state)  # noqa: SLF001
    return obj


_MANAGERS: dict[type, Any] = {}


def get_user(session: Session, username: str) -> AppUser:
    row = _USER_BY_NAME.first(connection(session), {"username": username})
    if row is None:
        raise NotFound(f"没有用户 {username}。")
    return _attach(session, AppUser, row)


def get_hazard(session: Session, ref: int | str) -> Hazard:
    """By id or by code (YH-2026-000123)."""
    conn, row = connection(session), None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        known = session.identity_map.get((Hazard, (int(ref),), None))
        if known is not None:
            return known
        row = _HAZARD_BY_ID.first(conn, {"id": int(ref)})
    if row is None:
        row = _HAZARD_BY_CODE.first(conn, {"code": str(ref)})
    if row is None:
        raise NotFound(f"没有编号为 {ref} 的隐患。")
    return _attach(session, Hazard, row)


def get_enterprise(session: Session, ref: int | str) -> Enterprise:
    """By id, 统一社会信用代码 or exact name."""
    ent = None
    if isinstance(ref, int) or str(ref).isdigit():
        ent = session.get(Enterprise, int(ref))
    if ent is None:
        ent = session.exec(select(Enterprise).where(
            (Enterprise.credit_code == str(ref).upper()) | (Enterprise.name == str(ref)))).first()
    if ent is None:
        raise NotFound(f"没有企业 {ref}（可用企业编号、统一社会信用代码或名称）。")
    return ent


def _check_version(hazard: Hazard, expected_version: int | None) -> None:
    if expected_version is not None and hazard.version != expected_version:
        raise ConflictError(
            f"隐患 {hazard.code} 已被他人修改（当前状态：{STATE_NAMES[hazard.state]}，版本 {hazard.version}），"
            f"请刷新后重试。"
        )


def _flush(session: Session, hazard: Hazard) -> None:
    code = hazard.code  # read before the flush: a failed flush expires the object
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(f"隐患 {code} 已被他人同时修改，本次操作未生效，请刷新后重试。") from exc


def _update(session: Session, hazard: Hazard, values: dict[str, Any]) -> None:
    """Write the changed columns with one version-checked UPDATE, then mark them as
    the object's loaded values, so the session has nothing left to flush for it."""
    names = tuple(values)
    stmt = _UPDATES.get(names)
    if stmt is None:
        stmt = (
            _HAZARDS.update().where(_HAZARDS.c.id == bindparam("_id"), _HAZARDS.c.version == bindparam("_old"))
            .values({**{n: bindparam(n, type_=_HAZARDS.c[n].type) for n in names},
                     "version": bindparam("_new", type_=Integer())}))
        stmt = _UPDATES[names] = Prepared(stmt)
    old = hazard.version
    done = stmt.execute(connection(session), {**values, "_id": hazard.id, "_old": old, "_new": old + 1})
    if done != 1:
        raise ConflictError(f"隐患 {hazard.code} 已被他人同时修改，本次操作未生效，请刷新后重试。")
    hazard.__dict__["version"] = old + 1
    # The row now holds these values: make them the object's loaded state, with no
    # pending change left for the session's flush — what the ORM itself does to an
    # object after flushing it (InstanceState._commit_all; stable since SQLAlchemy 1.x).
    instance_state(hazard)._commit_all(hazard.__dict__, session.identity_map)


def _snapshot(hazard: Hazard, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(hazard, f) for f in fields}


def _transition(
    session: Session, hazard: Hazard, trigger: str, actor: AppUser, data: dict[str, Any],
    changes: dict[str, Any], *, reason: str | None = None, event: str | None = None,
    expected_version: int | None = None, audit_extra: dict[str, Any] | None = None,
) -> Hazard:
    """Guard, fire, apply the field changes, audit and announce — one unit."""
    _check_version(hazard, expected_version)
    if instance_state(hazard).modified:
        # Edits made to the object in this session and not yet written: the ORM writes them
        # first (version-checked), so the transition's UPDATE below, which marks the whole
        # object as loaded, never drops one.
        _flush(session, hazard)
    before = _snapshot(hazard, ("state", *changes))
    fire(hazard, trigger, actor, data)
    # The changes go straight into the object's dict: _update writes them and marks them
    # loaded in the same step, so attribute history (what setattr would record) has no use.
    hazard.__dict__.update(changes)
    hazard.__pydantic_fields_set__.update(changes)
    values = {"state": hazard.state, **changes}
    after = {**values, **audit_extra} if audit_extra else values
    # The audit event first, then the hazard's UPDATE: every unit of work locks the
    # chain's head row before any hazard row, so two writers never wait on each
    # other in opposite orders (a deadlock on PostgreSQL).  A version conflict in the
    # UPDATE rolls the event back with everything else.
    audit.append(session, actor=actor.username, action=trigger, hazard_id=hazard.id,
                 before=before, after=after, reason=reason)
    _update(session, hazard, values)
    if event:
        emit(session, DomainEvent(event, hazard, actor, {"reason": reason, **(audit_extra or {})}))
    return hazard


# --- report -----------------------------------------------------------------


def report(
    session: Session, actor: AppUser, *, enterprise: int | str, title: str, channel: str,
    description: str = "", location: str | None = None, found_at: Any = None,
    basis_code: str | None = None, basis_clause: str | None = None, imported: dict[str, Any] | None = None,
) -> Hazard:
    """Record a hazard from any channel (state found).  `imported`: the ledger-import row it comes from
    (the importer's guard instead of the channel's; kept in the audit event and the domain event)."""
    if channel not in CHANNELS:
        raise ValidationError(f"发现渠道必须是 {'、'.join(f'{k}（{v}）' for k, v in CHANNELS.items())} 之一。")
    if not title or not title.strip():
        raise ValidationError("上报隐患缺少隐患名称（title）。")
    bounds.check_text(title, "隐患名称", limit=200)
    bounds.check_text(description, "隐患描述", required=False)
    bounds.check_text(location, "隐患部位", required=False, limit=200)
    if found_at is not None:
        day = clock.local_date(found_at) if isinstance(found_at, datetime) else found_at
        if isinstance(day, date):
            bounds.check_found_date(day, clock.today())
    ent = get_enterprise(session, enterprise)
    guards.report(actor, ent, channel, imported=imported is not None)
    industry = session.get(Industry, ent.industry_code)
    hazard = Hazard(
        enterprise_id=ent.id, region_code=ent.region_code, industry_code=ent.industry_code,
        supervising_department=industry.department_code if industry else None,
        title=title.strip(), description=description or "", location=location, channel=channel,
        reported_by=actor.username, found_at=found_at or clock.utcnow(),
        basis_code=basis_code, basis_clause=basis_clause,
    )
    session.add(hazard)
    session.flush()
    hazard.code = f"YH-{clock.local_date(hazard.found_at).year}-{hazard.id:06d}"
    session.flush()
    audit.append(session, actor=actor.username, action="report", hazard_id=hazard.id, after={
        "state": hazard.state, "code": hazard.code, "enterprise_id": ent.id, "title": hazard.title,
        "channel": channel, "found_at": hazard.found_at, "location": location,
        **({"basis_code": basis_code, "basis_clause": basis_clause} if basis_code or basis_clause else {}),
        **(imported or {}),
    })
    emit(session, DomainEvent("reported", hazard, actor, dict(imported or {})))
    return hazard


# --- the regulator's judgement ---------------------------------------------


def confirm(
    session: Session, actor: AppUser, ref: int | str, *, basis_code: str | None, basis_clause: str | None,
    level: str | None, supervising_department: str | None = None, expected_version: int | None = None,
    basis_override: str | None = None,
) -> Hazard:
    """Confirm and list.  The basis standard must apply to the hazard's industry (its `sectors`);
    otherwise the committee office may override with a reason (`basis_override`), recorded in
    the confirm's audit event."""
    hazard = get_hazard(session, ref)
    data = {"basis_code": basis_code, "basis_clause": basis_clause, "level": level}
    if basis_code and _STANDARD_EXISTS.first(connection(session), {"code": basis_code}) is None:
        raise ValidationError(f"判定依据 {basis_code} 不在标准目录中（见 hazardloop ref standards）。")
    override = _basis_check(session, hazard, actor, basis_code, basis_override)
    now = clock.utcnow()
    changes = {"basis_code": basis_code, "basis_clause": basis_clause, "level": level,
               "confirmed_by": actor.username, "confirmed_at": now}
    if supervising_department:
        changes["supervising_department"] = supervising_department
    return _transition(session, hazard, "confirm", actor, data, changes, event="listed",
                       expected_version=expected_version, reason=override,
                       audit_extra={"basis_override": True} if override else None)


def _basis_check(session: Session, hazard: Hazard, actor: AppUser, basis_code: str | None,
                 override: str | None) -> str | None:
    """None when the standard applies to the hazard's industry; the override reason when the
    committee office confirms on a standard for another industry; else refused (Chinese)."""
    if not basis_code:
        return None
    std = session.get(Standard, basis_code)
    if std is None or not std.sectors or hazard.industry_code in std.sectors:
        return None
    industry = session.get(Industry, hazard.industry_code)
    names = {i.code: i.name for i in session.exec(select(Industry).where(Industry.code.in_(std.sectors))).all()}
    if not override or not override.strip():
        raise ValidationError(
            f"判定依据 {basis_code}《{std.title}》适用于{'、'.join(names.get(c, c) for c in std.sectors)}，"
            f"不适用于该隐患所属行业“{industry.name if industry else hazard.industry_code}”；"
            "请选用本行业的判定标准，确需采用的，由市安委办说明理由后确认（--override-reason）。")
    guards.override_basis(actor)
    return override.strip()


def dismiss(session: Session, actor: AppUser, ref: int | str, *, reason: str | None,
            expected_version: int | None = None) -> Hazard:
    hazard = get_hazard(session, ref)
    return _transition(session, hazard, "dismiss", actor, {"reason": reason},
                       {"dismissed_reason": (reason or "").strip()}, reason=reason, event="dismissed",
                       expected_version=expected_version)


# --- the enterprise's rectification ----------------------------------------


def plan(
    session: Session, actor: AppUser, ref: int | str, *, responsible_person: str | None, measures: str | None,
    funds: str | None, deadline: date | None, emergency_plan: str | None, expected_version: int | None = None,
) -> Hazard:
    """Submit the rectification plan (五落实): listed -> rectifying, the deadline starts."""
    hazard = get_hazard(session, ref)
    data = {"responsible_person": responsible_person, "measures": measures, "funds": funds,
            "deadline": deadline, "emergency_plan": emergency_plan}
    _check_version(hazard, expected_version)
    guards.start_rectification(hazard, actor, data)  # refuse before anything is written
    due = clock.end_of_day_utc(deadline)  # type: ignore[arg-type]
    # A plain INSERT in this transaction (no model object to build and flush); a
    # refusal further on rolls it back with everything else.
    _INSERT_PLAN.execute(connection(session), dict(
        hazard_id=hazard.id, responsible_person=responsible_person.strip(), measures=measures.strip(),  # type: ignore[union-attr]
        funds=str(funds).strip(), deadline=due, emergency_plan=emergency_plan.strip(),  # type: ignore[union-attr]
        submitted_by=actor.username, created_at=clock.utcnow(),
    ))
    return _transition(session, hazard, "start_rectification", actor, data,
                       {"deadline": due, "cycle": hazard.cycle + 1}, event="plan_accepted",
                       audit_extra={"plan": {k: v for k, v in data.items()}})


def store_private_file(src: Path, what: str = "文件") -> tuple[Path, str, int]:
    """Copy a file under the evidence directory, named by its SHA-256: (where, sha256, size).
    Private (0700 directories, 0600 files); the same content is stored once."""
    if not src.is_file():
        raise ValidationError(f"{what}文件不存在：{src}")
    digest = hashlib.sha256()
    with src.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    target = get_settings().evidence_dir / sha[:2] / (sha + src.suffix.lower())
    if not target.exists():
        private_dir(target.parent)
        # A temp name of its own: two writers storing the same content at once (PostgreSQL
        # does not serialise them) must not share, truncate or steal one .part file.
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, FILE_MODE)
        tmp.replace(target)  # atomic: a crash never leaves a half-copied file
    return target, sha, src.stat().st_size


def add_evidence(session: Session, actor: AppUser, ref: int | str, path: str | Path,
                 filename: str | None = None) -> Evidence:
    """Store an evidence file (content-addressed by SHA-256) under the data directory."""
    hazard = get_hazard(session, ref)
    guards.upload_evidence(actor, hazard)
    if hazard.state != "rectifying":
        raise MissingData(f"只有整改中的隐患可以上传整改材料；{hazard.code} 当前为{STATE_NAMES[hazard.state]}。")
    src = Path(path)
    target, sha, size = store_private_file(src, "证明材料")
    evidence = Evidence(hazard_id=hazard.id, cycle=hazard.cycle, filename=filename or src.name,
                        stored_path=str(target), sha256=sha, size=size, uploaded_by=actor.username)
    session.add(evidence)
    session.flush()
    audit.append(session, actor=actor.username, action="evidence", hazard_id=hazard.id,
                 after={"evidence_id": evidence.id, "filename": evidence.filename, "sha256": sha,
                        "size": evidence.size, "cycle": hazard.cycle})
    return evidence


def evidence_count(session: Session, hazard: Hazard) -> int:
    return _EVIDENCE_COUNT.scalar(connection(session), {"hazard_id": hazard.id, "cycle": hazard.cycle})


def submit(session: Session, actor: AppUser, ref: int | str, *, evidence: list[str | Path] = (),
           expected_version: int | None = None) -> Hazard:
    """Completion: at least one evidence file in this cycle; rectifying -> reviewed."""
    hazard = get_hazard(session, ref)
    _check_version(hazard, expected_version)
    if evidence:
        guards.upload_evidence(actor, hazard)  # role first, before any file is stored
    for path in evidence:
        add_evidence(session, actor, hazard.id, path)
    data = {"evidence_count": evidence_count(session, hazard)}
    return _transition(session, hazard, "submit", actor, data,
                       {"submitted_by": actor.username, "submitted_at": clock.utcnow()},
                       event="submitted", audit_extra={"evidence_count": data["evidence_count"]})


# --- review -----------------------------------------------------------------


def approve(session: Session, actor: AppUser, ref: int | str, *, reason: str | None = None,
            expected_version: int | None = None, reauthenticated: bool | None = None) -> Hazard:
    hazard = get_hazard(session, ref)
    extra = {"reauthenticated": reauthenticated} if reauthenticated is not None else None
    return _transition(session, hazard, "approve", actor, {}, {"closed_by": actor.username,
                       "closed_at": clock.utcnow()}, reason=reason, event="closed",
                       expected_version=expected_version, audit_extra=extra)


def reject(session: Session, actor: AppUser, ref: int | str, *, reason: str | None, deadline: date | None,
           expected_version: int | None = None) -> Hazard:
    hazard = get_hazard(session, ref)
    data = {"reason": reason, "deadline": deadline}
    guards.reject(hazard, actor, data)  # before the deadline's arithmetic: 9999-12-31 is refused, not overflowed
    changes: dict[str, Any] = {}
    if deadline is not None:
        changes = {"deadline": clock.end_of_day_utc(deadline), "cycle": hazard.cycle + 1,
                   "rejections": hazard.rejections + 1, "submitted_by": None, "submitted_at": None}
    return _transition(session, hazard, "reject", actor, data, changes, reason=reason, event="rejected",
                       expected_version=expected_version)


# --- extensions ---------------------------------------------------------------


def request_extension(session: Session, actor: AppUser, ref: int | str, *, deadline: date | None,
                      reason: str | None) -> Extension:
    hazard = get_hazard(session, ref)
    guards.request_extension(actor, hazard)
    if hazard.state != "rectifying":
        raise MissingData(f"只有整改中的隐患可以申请延期；{hazard.code} 当前为{STATE_NAMES[hazard.state]}。")
    if not reason or not reason.strip():
        raise MissingData("申请延期缺少理由。")
    if not isinstance(deadline, date):
        raise MissingData("申请延期缺少新的整改时限（YYYY-MM-DD）。")
    bounds.check_text(reason, "延期理由")
    bounds.check_deadline(deadline, "新的整改时限", clock.today())
    if hazard.deadline is not None and deadline <= clock.local_date(hazard.deadline):
        raise ValidationError(f"延期后的时限 {deadline.isoformat()} 必须晚于当前时限 "
                              f"{clock.local_date(hazard.deadline).isoformat()}。")
    pending = session.exec(select(Extension).where(Extension.hazard_id == hazard.id,
                                                   Extension.status == "pending")).first()
    if pending is not None:
        raise ValidationError(f"隐患 {hazard.code} 已有待审批的延期申请（编号 {pending.id}）。")
    ext = Extension(hazard_id=hazard.id, requested_by=actor.username, reason=reason.strip(),
                    new_deadline=clock.end_of_day_utc(deadline))
    session.add(ext)
    session.flush()
    audit.append(session, actor=actor.username, action="extension_requested", hazard_id=hazard.id,
                 after={"extension_id": ext.id, "new_deadline": ext.new_deadline}, reason=ext.reason)
    emit(session, DomainEvent("extension_requested", hazard, actor, {"extension_id": ext.id}))
    return ext


def decide_extension(session: Session, actor: AppUser, extension_id: int, *, approve: bool,
                     reason: str | None = None) -> Extension:
    ext = session.get(Extension, extension_id)
    if ext is None:
        raise NotFound(f"没有编号为 {extension_id} 的延期申请。")
    hazard = get_hazard(session, ext.hazard_id)
    guards.decide_extension(actor, hazard)
    if ext.status != "pending":
        raise ValidationError(f"延期申请 {ext.id} 已处理（{label('extension_status', ext.status)}）。")
    if not approve and (not reason or not reason.strip()):
        raise MissingData("不批准延期需要说明理由。")
    decision = {"status": "approved" if approve else "denied", "decided_by": actor.username,
                "decided_at": clock.utcnow(), "decision_reason": reason}
    info = {"extension_id": ext.id, "approved": approve, "new_deadline": ext.new_deadline}
    # The audit head is locked first (inside _transition or append), as everywhere.
    if approve:
        _transition(session, hazard, "extend", actor, {"deadline": clock.local_date(ext.new_deadline)},
                    {"deadline": ext.new_deadline, "cycle": hazard.cycle + 1}, reason=reason,
                    audit_extra={"extension_id": ext.id})
    else:
        audit.append(session, actor=actor.username, action="extension_denied", hazard_id=hazard.id,
                     after={"extension_id": ext.id}, reason=reason)
    # Only a request still pending is decided: of two regulators deciding it at once,
    # the second finds it decided (READ COMMITTED re-checks the row) and gets a conflict.
    done = connection(session).execute(
        _DECIDE_EXTENSION.values(**decision), {"_id": ext.id}).rowcount
    if done != 1:
        raise ConflictError(f"延期申请 {ext.id} 已被他人同时处理，本次决定未生效，请刷新后查看。")
    for name, value in decision.items():
        set_committed_value(ext, name, value)
    emit(session, DomainEvent("extension_decided", hazard, actor, {**info, "reason": reason} if not approve
                              else {"reason": reason, "extension_id": ext.id}))
    return ext


# --- field edits ----------------------------------------------------------------


def edit(session: Session, actor: AppUser, ref: int | str, *, expected_version: int | None = None,
         **fields: Any) -> Hazard:
    hazard = get_hazard(session, ref)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"不能修改字段 {'、'.join(sorted(unknown))}；可修改：{'、'.join(EDITABLE)}。")
    guards.edit(actor, hazard)
    _check_version(hazard, expected_version)
    for k, v in fields.items():
        if v is not None:
            bounds.check_text(v, EDIT_LABELS.get(k, k), required=(k == "title"))
    changed = {k: v for k, v in fields.items() if v is not None and getattr(hazard, k) != v}
    if not changed:
        return hazard
    before = _snapshot(hazard, tuple(changed))
    for k, v in changed.items():
        setattr(hazard, k, v)
    # Head row before hazard row, as in _transition.
    audit.append(session, actor=actor.username, action="edit", hazard_id=hazard.id, before=before, after=changed)
    _flush(session, hazard)
    return hazard


# --- queries ----------------------------------------------------------------------


@dataclass
class HazardFilter:
    state: str | None = None
    region: str | None = None
    industry: str | None = None
    channel: str | None = None
    level: str | None = None
    enterprise_id: int | None = None
    overdue: bool = False
    department: str | None = None  # 监管部门 (the hazard's supervising department)


def hazard_query(flt: HazardFilter, viewer: AppUser | None = None):  # noqa: ANN201
    stmt = select(Hazard)
    if viewer is not None:
        stmt = stmt.where(guards.visible_clause(viewer))
    for column, value in ((Hazard.state, flt.state), (Hazard.region_code, flt.region),
                          (Hazard.industry_code, flt.industry), (Hazard.channel, flt.channel),
                          (Hazard.level, flt.level), (Hazard.enterprise_id, flt.enterprise_id),
                          (Hazard.supervising_department, flt.department)):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.overdue:
        stmt = stmt.where(Hazard.state == "rectifying", Hazard.deadline < clock.utcnow())
    return stmt.order_by(Hazard.id)


def is_overdue(hazard: Hazard) -> bool:
    """Overdue is not a state: it is the deadline against the clock (paused once submitted)."""
    return hazard.state == "rectifying" and hazard.deadline is not None and hazard.deadline < clock.utcnow()


def days_overdue(hazard: Hazard) -> int:
    if not is_overdue(hazard):
        return 0
    return (clock.today() - clock.local_date(hazard.deadline)).days  # type: ignore[arg-type]


def view(session: Session, viewer: AppUser, ref: int | str) -> Hazard:
    """A hazard the viewer may see; any other is simply not there (no existence leak)."""
    hazard = get_hazard(session, ref)
    if not guards.can_view(viewer, hazard):
        raise NotFound(f"没有编号为 {ref} 的隐患。")
    return hazard


__all__ = [
    "PermissionDenied", "report", "confirm", "dismiss", "plan", "add_evidence", "submit", "approve", "reject",
    "request_extension", "decide_extension", "edit", "hazard_query", "HazardFilter", "get_hazard", "get_user",
    "get_enterprise", "is_overdue", "days_overdue", "view",
]
