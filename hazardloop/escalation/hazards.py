"""The hazard ladder (督查督办): late hazards climb it, documents are issued.

Plain functions; the Prefect flows, the CLI and the demo call them.

- A deadline cycle (escalation_cycle) starts when a hazard gets a deadline (plan,
  approved extension, rejection with a new deadline): `on_domain_event`, which
  bootstrap subscribes to the ledger's events, writes
  it in the same transaction, with the policy in force then (snapshot by
  version).  The sweep also starts cycles it finds missing (data imported
  without the listener), with the policy in force at that sweep.
- The sweep walks active cycles whose next step is due (index on status,
  next_due), in batches of `batch_size` cycles, one transaction per batch.  For
  each cycle every step that came due fires once (catch-up), in ladder order.
- Exactly-once lives in the database: step rows are inserted with ON CONFLICT DO
  NOTHING on UNIQUE(hazard_id, cycle, step) and only the rows this transaction
  inserted get a document, a 文号 (counter row lock, same transaction, taken after
  the batch's documents are rendered) and notifications (unique key).  Two sweeps
  at once, a sweep run twice, a sweep killed half-way: each step is issued exactly
  once, numbers stay gapless.
- A hazard not in rectifying is not escalated (reviewed: paused; closed or
  dismissed, or a newer cycle: the old cycle is ended).
- Steps that need approval (曝光) are only proposed; `approve_step` issues
  them, `decline_step` records the reason.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from hazardloop.config import calendar, clock, labels
from hazardloop.config.escalation import KINDS, STAGES, Policy, Step, load_policy
from hazardloop.config.settings import get_settings
from hazardloop.models import audit
from hazardloop.models.db import insert_or_skip
from hazardloop.errors import NotFound, ValidationError
from hazardloop.models.escalation import Document, EscalationCycle, EscalationPolicy, EscalationStep
from hazardloop.models.tables import Department, Enterprise, Hazard, Region, Standard
from hazardloop.escalation import addressees, calendar_warning, documents, interviews, ladder
from hazardloop.notifications import outbox, recipients
from hazardloop.states import guards
from hazardloop.states.events import DomainEvent
from hazardloop.states.roles import LEVELS

log = logging.getLogger("hazardloop.escalation")

SYSTEM_ACTOR = ladder.SYSTEM_ACTOR
EVENT = "escalation"
ACTIVE_STATE = "rectifying"
ENDED_STATES = ("closed", "dismissed")

SessionFactory = Callable[[], Any]  # returns a Session or a context manager yielding one


# --- units of work ------------------------------------------------------------------


@contextlib.contextmanager
def unit(factory: SessionFactory, commit: bool = True) -> Iterator[Session]:
    """One transaction from whatever the caller gives: a Session factory or session_scope-like."""
    obj = factory()
    if isinstance(obj, Session):
        with obj as session:
            try:
                yield session
                session.commit() if commit else session.rollback()
            except BaseException:
                session.rollback()
                raise
    else:
        with obj as session:
            try:
                yield session
            finally:
                if not commit:
                    session.rollback()


def factory_for(url: str | None = None) -> SessionFactory:
    from hazardloop.models.db import session_scope

    return lambda: session_scope(url)


def _retryable(exc: DBAPIError) -> bool:
    # PostgreSQL deadlock / serialization failure: the batch rolled back whole; run it again.
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40P01", "40001")


# --- policies -----------------------------------------------------------------------


def ensure_policy(session: Session, policy: Policy) -> str:
    """Store the policy body under its version (once) and return the version."""
    table = EscalationPolicy.__table__
    session.execute(insert_or_skip(session, table, ["version"]),
                    {"version": policy.version, "body": policy.to_dict(), "source": policy.source[:500],
                     "first_used_at": clock.utcnow()})
    return policy.version


class _Policies:
    """Policy versions read back from the database (what a cycle runs under)."""

    def __init__(self) -> None:
        self._by_version: dict[str, Policy] = {}

    def get(self, session: Session, version: str) -> Policy:
        policy = self._by_version.get(version)
        if policy is None:
            row = session.get(EscalationPolicy, version)
            if row is None:
                raise NotFound(f"督办规则版本 {version} 不存在。")
            policy = self._by_version[version] = Policy.from_dict(row.body, f"version {version[:12]}")
        return policy


_plans: dict[tuple[str, date], tuple[date, ...]] = {}


def ladder_dates(policy: Policy, deadline_day: date) -> tuple[date, ...]:
    key = (policy.version, deadline_day)
    dates = _plans.get(key)
    if dates is None:
        if len(_plans) > 50000:
            _plans.clear()
        dates = _plans[key] = tuple(calendar.add_workdays(deadline_day, s.offset) for s in policy.steps)
    return dates


def start_cycle(session: Session, hazard: Hazard, policy: Policy | None = None) -> bool:
    """Record the cycle the hazard's current deadline opened, with the policy in force now."""
    if hazard.state != ACTIVE_STATE or hazard.deadline is None:
        return False
    policy = policy or load_policy()
    version = ensure_policy(session, policy)
    first = ladder_dates(policy, clock.local_date(hazard.deadline))[0]
    table = EscalationCycle.__table__
    rows = session.execute(
        insert_or_skip(session, table, ["hazard_id", "cycle"])
        .returning(table.c.id),
        {"hazard_id": hazard.id, "cycle": hazard.cycle, "deadline": hazard.deadline, "policy_version": version,
         "next_index": 0, "next_due": first, "status": "active", "started_at": clock.utcnow()},
    ).all()
    return bool(rows)


# Why a cycle's undecided proposals are withdrawn, by the event that ended the cycle.
_ENDED_BY = {
    "closed": "隐患已销号，本督办周期结束",
    "dismissed": "隐患已不予认定（撤销），本督办周期结束",
    "extension_decided": "已批准延期、整改时限变更，原督办周期结束",
    "rejected": "整改验收未通过、已重新限期，原督办周期结束",
    "plan_accepted": "整改时限重新确定，原督办周期结束",
}


def withdraw_stale(session: Session, hazard_id: int | None = None, *, reason: str | None = None,
                   regions: list[str] | None = None) -> int:
    """Withdraw every proposal (曝光 待审批) whose cycle is over: the hazard left rectifying for
    good (closed, dismissed) or got a newer deadline (a newer cycle).  A proposal stays live only
    while its hazard is rectifying or under review in the same cycle.  Each withdrawal is audited
    with its reason; the queue lists proposals only, so it shows live ones only."""
    st, h = EscalationStep.__table__, Hazard.__table__
    stmt = (select(st.c.id, st.c.hazard_id, st.c.cycle, st.c.step, h.c.state, h.c.cycle.label("current"))
            .join(h, h.c.id == st.c.hazard_id)
            .where(st.c.status == "proposed",
                   (h.c.cycle != st.c.cycle) | h.c.state.in_(ENDED_STATES)))
    if hazard_id is not None:
        stmt = stmt.where(st.c.hazard_id == hazard_id)
    rows = session.execute(_region_filter(stmt, h.c.region_code, regions)).all()
    if not rows:
        return 0
    now = clock.utcnow()
    audits = []
    for r in rows:
        why = reason or (_ENDED_BY[r.state] if r.state in ENDED_STATES else
                         f"隐患已进入第 {r.current} 个督办周期，第 {r.cycle} 周期结束")
        done = session.execute(update(st).where(st.c.id == r.id, st.c.status == "proposed").values(
            status="withdrawn", decided_by=SYSTEM_ACTOR, decided_at=now, decision_reason=why)).rowcount
        if done:
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_withdrawn", "hazard_id": r.hazard_id,
                           "after": {"step": r.step, "cycle": r.cycle, "step_id": r.id}, "reason": why})
    audit.append_many(session, audits)
    return len(audits)


def on_domain_event(session: Session, event: DomainEvent) -> None:
    # A cycle that ends takes its undecided proposals with it (same transaction).
    if event.name in _ENDED_BY:
        withdraw_stale(session, event.hazard.id, reason=_ENDED_BY[event.name])
    # A new deadline starts a new cycle, in the same transaction as the ledger change.
    if event.name not in ("plan_accepted", "extension_decided", "rejected"):
        return
    try:
        start_cycle(session, event.hazard)
    except Exception as exc:  # noqa: BLE001 - a broken policy file must not block the ledger
        from hazardloop.config.escalation import PolicyError

        if not isinstance(exc, PolicyError):
            raise
        log.error("督办周期未能在状态变更时建立（将由下次督办扫描补建）：%s", exc)


# --- documents and notices -------------------------------------------------------------


class _Refs:
    """Names of reference rows (regions by their government's full name, departments, standards),
    read once per sweep."""

    def __init__(self, session: Session) -> None:
        self.regions = {r.code: addressees.region_addressee(r) for r in session.execute(select(Region)).scalars()}
        self.departments = {d.code: d.name for d in session.execute(select(Department)).scalars()}
        self.standards = {s.code: s for s in session.execute(select(Standard)).scalars()}
        self.contact = addressees.contact(session)


_ROLE_ADDRESS = {
    "principal": None, "controller": None, "safety_manager": None,  # the enterprise itself
    "township": "region", "department": "department", "committee": "committee",
}


def _addressee(roles: tuple[str, ...], ent: Enterprise, region: str, department: str, kind: str = "") -> str:
    names: list[str] = []
    committee = addressees.MEMBER_UNITS if kind in addressees.TO_MEMBER_UNITS else addressees.OFFICE
    for role in roles:
        target = _ROLE_ADDRESS.get(role)
        name = ent.name if target is None else region if target == "region" else \
            department if target == "department" else committee
        if name not in names:
            names.append(name)
    return "、".join(names)


def _title(step: Step, ent: Enterprise) -> str:
    if step.kind == "letter":
        return f"关于督促{ent.name}整改重大事故隐患的{step.name}"
    if step.kind == "bulletin":
        return f"关于{ent.name}重大事故隐患逾期未整改的通报"
    if step.kind == "interview":
        return f"关于约谈{ent.name}主要负责人的通知"
    if step.kind == "exposure":
        return f"关于对{ent.name}重大事故隐患逾期未整改情况予以曝光的通告"
    return f"重大事故隐患{step.name}"


def document_context(refs: _Refs, hazard: Hazard, ent: Enterprise, step: Step, deadline_day: date,
                     issue_day: date, number: str = "") -> dict[str, Any]:
    settings = get_settings()
    region = refs.regions.get(hazard.region_code, hazard.region_code)
    department = refs.departments.get(hazard.supervising_department or "", "行业主管部门")
    std = refs.standards.get(hazard.basis_code or "")
    basis = "有关重大事故隐患判定标准"
    if std is not None:
        basis = f"《{std.title}》（{std.number}）{hazard.basis_clause or ''}"
    respond_by = calendar.add_workdays(issue_day, 3 if step.kind == "interview" else 5)
    return {
        "issuing_body": settings.issuing_body, "city": settings.city, "number": number, "title": _title(step, ent),
        "step": step, "kind_name": KINDS[step.kind], "hazard": hazard, "enterprise": ent, "basis": basis,
        "level_name": LEVELS.get(hazard.level or "", "有关部门"), "region_name": region,
        "department_name": department,
        "addressee": _addressee(step.recipients, ent, region, department, step.kind),
        "copy_to": _addressee(step.copy, ent, region, department, step.kind) if step.copy else "",
        "deadline_cn": documents.cn_date(deadline_day), "issue_date_cn": documents.cn_date(issue_day),
        "respond_by_cn": documents.cn_date(respond_by),
        "contact_name": refs.contact[0], "contact_phone": refs.contact[1],
        "days_overdue": max(0, (issue_day - deadline_day).days),
        "workdays_overdue": max(0, calendar.workdays_between(deadline_day, issue_day)),
        "workdays_left": max(0, calendar.workdays_between(issue_day, deadline_day)),
    }


class _Resolver:
    """recipients.resolve, one role at a time (it resolves roles in order, so the concatenation is
    the same list), cached by what each role depends on: the enterprise, the region, the department."""

    _KEY = {"principal": "ent", "controller": "ent", "safety_manager": "ent", "township": "region",
            "department": "dept", "committee": "all"}

    def __init__(self, session: Session, refs: _Refs | None = None) -> None:
        self.session = session
        self.refs = refs
        self.cache: dict[tuple, list[recipients.Recipient]] = {}

    def __call__(self, hazard: Hazard, roles: tuple[str, ...], kind: str = "") -> list[recipients.Recipient]:
        """The people for the roles; with `kind` (a 公文's), every addressee is covered: a unit
        nobody is registered for stands in by its full name (an undeliverable row), and
        "committee" on a 通报/曝光 is every member unit."""
        out: list[recipients.Recipient] = []
        for role in roles:
            dep = self._KEY.get(role, "ent")
            members = bool(kind) and role == "committee" and kind in addressees.TO_MEMBER_UNITS
            key = (role, hazard.enterprise_id if dep == "ent" else hazard.region_code if dep == "region"
                   else hazard.supervising_department if dep == "dept" else None, bool(kind), members)
            found = self.cache.get(key)
            if found is None:
                if len(self.cache) > 50000:
                    self.cache.clear()
                if members:
                    found = addressees.member_units(self.session)
                else:
                    found = recipients.resolve(self.session, hazard, [role])
                    if not found and kind and role in ("township", "department"):
                        found = [recipients.Recipient(role, self._unit_name(hazard, role))]
                self.cache[key] = found
            out.extend(found)
        return out

    def _unit_name(self, hazard: Hazard, role: str) -> str:
        refs = self.refs or _Refs(self.session)
        self.refs = refs
        if role == "township":
            return refs.regions.get(hazard.region_code, hazard.region_code)
        return refs.departments.get(hazard.supervising_department or "", "行业主管部门")


def enqueue_many(session: Session, notices: list[dict[str, Any]]) -> int:
    """outbox.enqueue for many notices in few INSERTs (same rows, same unique keys, same channel
    routing); the sweep queues thousands per batch and one statement each would dominate its time."""
    now = clock.utcnow()
    rows = [row for n in notices for row in outbox.notice_rows(
        event=n["event"], hazard_id=n["hazard_id"], cycle=n["cycle"], step=n["step"], recipients=n["recipients"],
        subject=n["subject"], body=n["body"], document_id=n.get("document_id"), now=now)]
    return outbox.insert_rows(session, rows)


# --- the sweep -------------------------------------------------------------------------


ITEMS_MAX = 5000


@dataclass
class SweepResult:
    as_of: date
    dry_run: bool = False
    cycles_started: int = 0
    cycles_ended: int = 0
    issued: Counter = field(default_factory=Counter)  # step code -> issued (or proposed) count
    documents: Counter = field(default_factory=Counter)  # doc_type -> documents issued
    proposed: int = 0
    notifications: int = 0
    timeouts: int = 0
    withdrawn: int = 0  # proposals of ended cycles withdrawn by this sweep
    skipped: int = 0  # 到期提醒 whose deadline had passed when swept: recorded once, not sent
    future: bool = False  # as_of after today: a dry run unless forced
    forced: bool = False
    items: list[dict[str, Any]] = field(default_factory=list)  # what was issued (kept only if keep_items)
    seconds: float = 0.0

    def merge(self, other: SweepResult) -> None:
        self.cycles_started += other.cycles_started
        self.cycles_ended += other.cycles_ended
        self.issued.update(other.issued)
        self.documents.update(other.documents)
        self.proposed += other.proposed
        self.notifications += other.notifications
        self.timeouts += other.timeouts
        self.withdrawn += other.withdrawn
        self.skipped += other.skipped
        room = ITEMS_MAX - len(self.items)  # the listing is for people: bounded, the counts are complete
        if room > 0:
            self.items.extend(other.items[:room])

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "cycles_started": self.cycles_started,
                "cycles_ended": self.cycles_ended, "issued": dict(self.issued), "documents": dict(self.documents),
                "proposed": self.proposed, "notifications": self.notifications, "timeouts": self.timeouts,
                "withdrawn": self.withdrawn, "skipped": self.skipped, "future": self.future, "forced": self.forced,
                "seconds": round(self.seconds, 3), "items": self.items}


def _as_of(as_of: date | None) -> date:
    return as_of or clock.today()


def _region_filter(stmt, column, regions: list[str] | None):  # noqa: ANN001, ANN202
    return stmt.where(column.in_(regions)) if regions else stmt


def start_missing_cycles(session: Session, as_of: date, policy: Policy, *, regions: list[str] | None = None,
                         batch_size: int = 2000, after_id: int = 0) -> tuple[int, int]:
    """Open cycles for rectifying hazards that have none yet and whose first step is due.

    One batch; returns (cycles inserted, last hazard id seen, 0 when done)."""
    latest = calendar.latest_with_offset_due(as_of, policy.steps[0].offset)
    h, c = Hazard.__table__, EscalationCycle.__table__
    stmt = (select(h.c.id, h.c.cycle, h.c.deadline)
            .where(h.c.state == ACTIVE_STATE, h.c.deadline <= clock.end_of_day_utc(latest), h.c.id > after_id,
                   ~exists().where(c.c.hazard_id == h.c.id, c.c.cycle == h.c.cycle))
            .order_by(h.c.id).limit(batch_size))
    rows = session.execute(_region_filter(stmt, h.c.region_code, regions)).all()
    if not rows:
        return 0, 0
    version = ensure_policy(session, policy)
    now = clock.utcnow()
    params = [{"hazard_id": r.id, "cycle": r.cycle, "deadline": r.deadline, "policy_version": version,
               "next_index": 0, "next_due": ladder_dates(policy, clock.local_date(r.deadline))[0],
               "status": "active", "started_at": now} for r in rows]
    inserted = session.execute(
        insert_or_skip(session, c, ["hazard_id", "cycle"])
        .returning(c.c.id), params).all()
    return len(inserted), rows[-1].id


@dataclass
class _Due:
    cycle_row: Any
    hazard: Hazard
    policy: Policy
    index: int
    step: Step
    due: date
    deadline_day: date


def _process_batch(session: Session, as_of: date, rows: list, policies: _Policies, refs: _Refs,
                   result: SweepResult, keep_items: bool) -> None:
    """Issue every due step of these cycles (one transaction; the caller commits)."""
    hazard_ids = [r.hazard_id for r in rows]
    hazards = {h.id: h for h in session.execute(select(Hazard).where(Hazard.id.in_(hazard_ids))).scalars()}
    ent_ids = {h.enterprise_id for h in hazards.values()}
    # Load the enterprises into the identity map: recipients.resolve's session.get then costs nothing.
    enterprises = {e.id: e for e in session.execute(select(Enterprise).where(Enterprise.id.in_(ent_ids))).scalars()}
    cyc = EscalationCycle.__table__
    cycle_updates: list[dict[str, Any]] = []
    due_items: list[_Due] = []
    for r in rows:
        hz = hazards.get(r.hazard_id)
        if hz is None or hz.cycle != r.cycle or hz.state in ENDED_STATES:
            cycle_updates.append({"cid": r.id, "next_index": r.next_index, "next_due": None, "status": "ended"})
            result.cycles_ended += 1
            continue
        if hz.state != ACTIVE_STATE:
            continue  # reviewed (or not yet rectifying): paused, looked at again next sweep
        policy = policies.get(session, r.policy_version)
        deadline_day = clock.local_date(r.deadline)
        dates = ladder_dates(policy, deadline_day)
        i = r.next_index
        # A step brought forward (a 约谈会 not held, a commitment missed): next_due before its date.
        early = r.next_due if i < len(dates) and r.next_due is not None and r.next_due < dates[i] else None
        while i < len(policy.steps) and (dates[i] <= as_of or (i == r.next_index and early is not None)):
            due_items.append(_Due(r, hz, policy, i, policy.steps[i], min(dates[i], early or dates[i]), deadline_day))
            i += 1
        done = i >= len(policy.steps)
        cycle_updates.append({"cid": r.id, "next_index": i, "next_due": None if done else dates[i],
                              "status": "done" if done else "active"})
    # The cycles first: _issue ends holding the 文号 counters, and nothing else should wait on them.
    if cycle_updates:
        session.execute(update(cyc).where(cyc.c.id == bindparam("cid")).values(
            next_index=bindparam("next_index"), next_due=bindparam("next_due"), status=bindparam("status")),
            cycle_updates)
    if due_items:
        _issue(session, as_of, due_items, refs, enterprises, result, keep_items)


def _superseded(d: _Due, as_of: date) -> bool:
    """A reminder (no document) that would go out after the deadline it announces."""
    return d.step.kind == "reminder" and not d.step.has_document and as_of > d.deadline_day


# Stands for the 文号 while a document is rendered, before its number is taken.  A NUL cannot be
# stored in PostgreSQL text and the random part cannot be guessed, so no ledger data contains it.
_NUMBER_SLOT = f"\x00{secrets.token_hex(8)}\x00"


def _issue(session: Session, as_of: date, items: list[_Due], refs: _Refs, enterprises: dict[int, Enterprise],
           result: SweepResult, keep_items: bool) -> None:
    """Insert the due steps, render their documents, then number and store them.

    The 文号 counters are row-locked from `allocate` until commit, and every sweep (every shard)
    needs the same few counters: so the documents are rendered first with a placeholder for the
    number, and the counters are taken only for the numbering and the inserts at the end (same
    transaction: still gapless, and a rollback returns the numbers)."""
    st = EscalationStep.__table__
    now = clock.utcnow()
    params = [{"hazard_id": d.hazard.id, "cycle": d.cycle_row.cycle, "step": d.step.code, "kind": d.step.kind,
               "due_date": d.due, "status": "proposed" if d.step.approval else "skipped" if _superseded(d, as_of)
               else "issued",
               "policy_version": d.policy.version, "created_at": now} for d in items]
    inserted = session.execute(
        insert_or_skip(session, st, ["hazard_id", "cycle", "step"])
        .returning(st.c.id, st.c.hazard_id, st.c.cycle, st.c.step), params).all()
    ids = {(r.hazard_id, r.cycle, r.step): r.id for r in inserted}
    mine = [d for d in items if (d.hazard.id, d.cycle_row.cycle, d.step.code) in ids]
    if not mine:
        return
    year = as_of.year
    resolver = _Resolver(session, refs)
    # Rendered but not yet numbered: (item, step_id, title, html, text, result item, audit, notice).
    unnumbered: list[Any] = []
    audits: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []  # the notices, in the order of `mine`; a document's filled in once numbered
    for d in mine:
        step_id = ids[(d.hazard.id, d.cycle_row.cycle, d.step.code)]
        ent = enterprises[d.hazard.enterprise_id]
        if not _superseded(d, as_of):
            result.issued[d.step.code] += 1
        item: dict[str, Any] = {"hazard": d.hazard.code, "hazard_id": d.hazard.id, "cycle": d.cycle_row.cycle,
                                "step": d.step.code, "name": d.step.name, "due": d.due.isoformat(), "number": None}
        notice: dict[str, Any] | None = None
        if _superseded(d, as_of):
            # A catch-up sweep after the deadline: "N working days left, apply for an extension
            # before it" would be false; the row is kept (once per cycle) and nothing is sent.
            item["status"] = "skipped"
            result.skipped += 1
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_skipped", "hazard_id": d.hazard.id,
                           "after": {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id,
                                     "due_date": d.due}, "reason": "补扫时整改时限已过，到期提醒已失去意义，未发出"})
        elif d.step.approval:
            result.proposed += 1
            item["status"] = "proposed"
            body = (f"【{d.step.name}待审批】隐患 {d.hazard.code}（{ent.name}）“{d.hazard.title}”已逾期，按督办规则应予"
                    f"{d.step.name}。请市安委办审批：hazardloop escalation approve {step_id} 或 decline {step_id}。")
            notice = dict(step=f"{d.step.code}:proposed", recipients=resolver(d.hazard, ("committee",)),
                          subject=f"{d.step.name}待审批：{d.hazard.code}", body=body)
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_proposed", "hazard_id": d.hazard.id,
                           "after": {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id,
                                     "due_date": d.due}})
        elif d.step.has_document:
            ctx = document_context(refs, d.hazard, ent, d.step, d.deadline_day, as_of, _NUMBER_SLOT)
            html, text = documents.render(d.step.template, ctx)
            result.documents[d.step.doc_type] += 1
            item["status"] = "issued"
            notice = dict(step=d.step.code, recipients=resolver(d.hazard, d.step.recipients + d.step.copy,
                                                                d.step.kind))
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_issued", "hazard_id": d.hazard.id})
            unnumbered.append((d, step_id, ctx["title"], html, text, item, audits[-1], notice))
        else:
            ctx = document_context(refs, d.hazard, ent, d.step, d.deadline_day, as_of)
            text = documents.render_text(d.step.template, ctx)
            item["status"] = "issued"
            notice = dict(step=d.step.code, recipients=resolver(d.hazard, d.step.recipients + d.step.copy, ""),
                          subject=f"{d.step.name}：{d.hazard.code}", body=text)
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_issued", "hazard_id": d.hazard.id,
                           "after": {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id,
                                     "due_date": d.due}})
        if notice is not None:
            notice.update(event=EVENT, hazard_id=d.hazard.id, cycle=d.cycle_row.cycle, step_id=step_id)
            batch.append(notice)
        if keep_items:
            result.items.append(item)
    # 文号: from here to commit the counters are locked (in a fixed order: no deadlock between sweeps).
    need = Counter(u[0].step.doc_type for u in unnumbered)
    serials = {doc_type: documents.allocate(session, doc_type, year, need[doc_type]) for doc_type in sorted(need)}
    prefix = get_settings().doc_prefix
    doc_rows: list[dict[str, Any]] = []
    for k, (d, step_id, title, html, text, item, event, notice) in enumerate(unnumbered):
        unnumbered[k] = None  # drop the placeholder copy as the numbered one is made: one copy of the 公文 held
        serial = serials[d.step.doc_type]
        serials[d.step.doc_type] += 1
        number = documents.format_number(prefix, d.step.doc_type, year, serial)
        html, text = html.replace(_NUMBER_SLOT, number), text.replace(_NUMBER_SLOT, number)
        doc_rows.append(documents.document_row(
            number=number, doc_type=d.step.doc_type, year=year, serial=serial, title=title,
            step_id=step_id, hazard_id=d.hazard.id, cycle=d.cycle_row.cycle, step=d.step.code,
            issue_date=as_of, html=html, text=text, issued_at=now))
        item["number"] = number
        notice.update(subject=f"{d.step.name}：{number}", body=text)
        event["after"] = {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id, "number": number,
                          "sha256": doc_rows[-1]["sha256"], "due_date": d.due}
    doc_ids = documents.store(session, doc_rows)
    for notice in batch:
        notice["document_id"] = doc_ids.get(notice.pop("step_id"))
    result.notifications += enqueue_many(session, batch)
    audit.append_many(session, audits)


def _due_cycles(session: Session, as_of: date, after_id: int, batch_size: int, regions: list[str] | None) -> list:
    c, h = EscalationCycle.__table__, Hazard.__table__
    stmt = (select(c.c.id, c.c.hazard_id, c.c.cycle, c.c.deadline, c.c.policy_version, c.c.next_index, c.c.next_due)
            .where(c.c.status == "active", c.c.next_due <= as_of, c.c.id > after_id)
            .order_by(c.c.id).limit(batch_size))
    if regions:
        stmt = stmt.where(exists().where(h.c.id == c.c.hazard_id, h.c.region_code.in_(regions)))
    return session.execute(stmt).all()


def sweep(factory: SessionFactory, as_of: date | None = None, *, dry_run: bool = False,
          regions: list[str] | None = None, batch_size: int = 500, policy: Policy | None = None,
          keep_items: bool = False, stage_timeouts: bool = True, force: bool = False,
          actor: str = SYSTEM_ACTOR) -> SweepResult:
    """Run the escalation sweep for one day (default: today in Asia/Shanghai).

    One transaction per batch; a dry run does all the work in one transaction
    and rolls it back, so it shows exactly what would be issued (文号 included)
    and writes nothing.  A day after today is a dry run unless `force` (then the
    forcing is audited first): 文号 never repeat, so a sweep dated ahead by mistake
    could not be undone."""
    started = time.perf_counter()
    day = _as_of(as_of)
    policy = policy or load_policy()
    future = day > clock.today()
    if future and not force:
        dry_run = True
    result = SweepResult(day, dry_run, future=future, forced=future and force and not dry_run)
    if result.forced:
        with unit(factory) as session:
            ladder.audit_forced(session, actor, "sweep", day.isoformat())
    if dry_run:
        with unit(factory, commit=False) as session:
            _sweep_all(lambda: contextlib.nullcontext(session), day, policy, regions, batch_size, result,
                       keep_items=True, flush_only=True, stage_timeouts=stage_timeouts)
    else:
        _sweep_all(factory, day, policy, regions, batch_size, result, keep_items=keep_items, flush_only=False,
                   stage_timeouts=stage_timeouts)
    result.seconds = time.perf_counter() - started
    log.info("督办扫描 %s：%s", day, result.as_dict() | {"items": len(result.items)})
    return result


def _with_retry(factory: SessionFactory, flush_only: bool, work: Callable[[Session], Any]) -> Any:
    for attempt in range(5):
        try:
            if flush_only:
                with factory() as session:
                    return work(session)
            with unit(factory) as session:
                return work(session)
        except DBAPIError as exc:
            if flush_only or not _retryable(exc) or attempt == 4:
                raise
            log.warning("督办扫描批次因并发冲突回滚，重试（第 %s 次）：%s", attempt + 1, exc.orig)
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _sweep_all(factory: SessionFactory, day: date, policy: Policy, regions: list[str] | None, batch_size: int,
               result: SweepResult, *, keep_items: bool, flush_only: bool, stage_timeouts: bool) -> None:
    result.withdrawn += _with_retry(factory, flush_only, lambda s: withdraw_stale(s, regions=regions))
    # A 约谈会 commitment past its date moves its ladder on before the due steps are looked at.
    _with_retry(factory, flush_only, lambda s: interviews.check_commitments(s, day))
    if not regions:  # once per sweep, not per shard
        # (not counted in result.notifications: those are the ladder's)
        _with_retry(factory, flush_only, lambda s: calendar_warning.warn_missing(s, clock.today()))
    after = 0
    while True:
        # Each batch is its own transaction; its partial result only counts once it committed.
        n, after = _with_retry(factory, flush_only, lambda s: start_missing_cycles(
            s, day, policy, regions=regions, batch_size=batch_size * 4, after_id=after))
        result.cycles_started += n
        if not after:
            break
    policies = _Policies()
    refs: _Refs | None = None
    after = 0
    while True:
        def work(session: Session) -> tuple[int, SweepResult]:
            nonlocal refs
            if refs is None:
                refs = _Refs(session)
            rows = _due_cycles(session, day, after, batch_size, regions)
            part = SweepResult(day)
            if rows:
                _process_batch(session, day, rows, policies, refs, part, keep_items)
            return (rows[-1].id if rows else 0), part

        after, part = _with_retry(factory, flush_only, work)
        result.merge(part)
        if not after:
            break
    if stage_timeouts:
        result.timeouts += _stage_timeouts_all(factory, flush_only, day, policy, regions, batch_size)


# --- stage timeouts ------------------------------------------------------------------------


def _stage_timeout_batch(session: Session, day: date, policy: Policy, timeout, regions: list[str] | None,  # noqa: ANN001
                         batch_size: int, after_id: int, rung=None) -> tuple[int, int]:  # noqa: ANN001
    """One rung of a stage's ladder (default: its first, the reminder), for hazards left in the
    stage (found: not judged; listed: no plan) `rung.workdays` working days or more.  Once per
    hazard, cycle and rung (a unique step row, as for the deadline ladder); a rung with a
    document takes a 文号 and stores the 公文 once; every addressee gets an outbox row."""
    rung = rung or timeout.ladder[0]
    latest = calendar.latest_with_offset_due(day, rung.workdays)
    h, st = Hazard.__table__, EscalationStep.__table__
    since = h.c.found_at if timeout.state == "found" else h.c.confirmed_at
    stmt = (select(h.c.id, h.c.cycle, since.label("since"))
            .where(h.c.state == timeout.state, since <= clock.end_of_day_utc(latest), h.c.id > after_id,
                   ~exists().where(st.c.hazard_id == h.c.id, st.c.cycle == h.c.cycle, st.c.step == rung.code))
            .order_by(h.c.id).limit(batch_size))
    rows = session.execute(_region_filter(stmt, h.c.region_code, regions)).all()
    if not rows:
        return 0, 0
    now = clock.utcnow()
    params = [{"hazard_id": r.id, "cycle": r.cycle, "step": rung.code, "kind": "timeout",
               "due_date": calendar.add_workdays(clock.local_date(r.since), rung.workdays),
               "status": "issued", "policy_version": policy.version, "created_at": now} for r in rows]
    inserted = session.execute(
        insert_or_skip(session, st, ["hazard_id", "cycle", "step"])
        .returning(st.c.hazard_id, st.c.id), params).all()
    mine = {r.hazard_id: r.id for r in inserted}
    if mine:
        settings = get_settings()
        refs = _Refs(session)
        since_by_id = {r.id: r.since for r in rows}
        hazards = session.execute(select(Hazard).where(Hazard.id.in_(mine)).order_by(Hazard.id)).scalars().all()
        ents = {e.id: e for e in session.execute(select(Enterprise).where(
            Enterprise.id.in_({x.enterprise_id for x in hazards}))).scalars()}
        resolver = _Resolver(session, refs)
        audits, doc_rows, sent = [], [], []
        for hz in hazards:
            ent = ents[hz.enterprise_id]
            region = refs.regions.get(hz.region_code, hz.region_code)
            department = refs.departments.get(hz.supervising_department or "", "行业主管部门")
            since_day = clock.local_date(since_by_id[hz.id])
            ctx = {"title": rung.name, "hazard": hz, "enterprise": ent, "since_cn": documents.cn_date(since_day),
                   "stage_name": STAGES[timeout.state], "workdays": rung.workdays, "stage": timeout.state,
                   "issuing_body": settings.issuing_body, "issue_date_cn": documents.cn_date(day),
                   "region_name": region, "department_name": department, "rung": rung,
                   "addressee": _addressee(rung.recipients, ent, region, department, rung.kind),
                   "copy_to": _addressee(rung.copy, ent, region, department, rung.kind) if rung.copy else "",
                   "respond_by_cn": documents.cn_date(calendar.add_workdays(day, 5)),
                   "earlier": _earlier_timeout(session, hz, timeout, rung),
                   "contact_name": refs.contact[0], "contact_phone": refs.contact[1]}
            after = {"step": rung.code, "state": timeout.state, "workdays": rung.workdays, "step_id": mine[hz.id]}
            if rung.has_document:
                serial, number = ladder.number_one(session, rung.doc_type, day)
                ctx |= {"number": number, "title": _timeout_title(rung, ent, timeout.state)}
                html, text = documents.render("doc_stage_letter", ctx)
                doc_rows.append(documents.document_row(
                    number=number, doc_type=rung.doc_type, year=day.year, serial=serial, title=ctx["title"],
                    step_id=mine[hz.id], hazard_id=hz.id, cycle=hz.cycle, step=rung.code, issue_date=day,
                    html=html, text=text, issued_at=now))
                after |= {"number": number, "sha256": doc_rows[-1]["sha256"]}
                subject = f"{rung.name}：{number}"
            else:
                ctx["addressee"] = "、".join(dict.fromkeys(p.name for p in resolver(hz, rung.recipients))) or "有关人员"
                text = documents.render_text("doc_stage_timeout", ctx)
                subject = f"{rung.name}：{hz.code}"
            sent.append((hz, subject, text))
            audits.append({"actor": SYSTEM_ACTOR, "action": "stage_timeout", "hazard_id": hz.id, "after": after})
        doc_ids = {sid: did for sid, did in documents.store(session, doc_rows).items()}
        for hz, subject, text in sent:
            outbox.enqueue(session, event=EVENT, hazard_id=hz.id, cycle=hz.cycle, step=rung.code,
                           recipients=resolver(hz, rung.recipients + rung.copy, rung.kind if rung.has_document else ""),
                           subject=subject, body=text,
                           document_id=doc_ids.get(mine[hz.id]))
        audit.append_many(session, audits)
    return len(mine), rows[-1].id


def _timeout_title(rung, ent: Enterprise, state: str) -> str:  # noqa: ANN001
    if rung.kind == "referral":
        return f"关于对{ent.name}拒不整改重大事故隐患立案查处的建议"
    what = "判定" if state == "found" else "制定整改方案"
    return f"关于督促{ent.name}重大事故隐患{what}的{rung.name}"


def _earlier_timeout(session: Session, hz: Hazard, timeout, rung) -> str:  # noqa: ANN001
    """The earlier rungs of this stage already issued to the hazard, with their 文号."""
    codes = [x.code for x in timeout.ladder if x.code != rung.code and x.workdays < rung.workdays]
    if not codes:
        return ""
    st = EscalationStep.__table__
    d = Document.__table__
    rows = session.execute(select(st.c.step, d.c.number).outerjoin(d, d.c.step_id == st.c.id)
                           .where(st.c.hazard_id == hz.id, st.c.cycle == hz.cycle, st.c.step.in_(codes))
                           .order_by(st.c.id)).all()
    names = {x.code: x.name for x in timeout.ladder}
    return "、".join(f"{names[r.step]}（{r.number}）" if r.number else names[r.step] for r in rows)


def _stage_timeouts_all(factory: SessionFactory, flush_only: bool, day: date, policy: Policy,
                        regions: list[str] | None, batch_size: int) -> int:
    """Every rung of every stage's ladder, rung by rung in ladder order (a catch-up issues the
    reminder before the letter that cites it)."""
    total = 0
    for timeout in policy.stage_timeouts:
        for rung in timeout.ladder:
            after = 0
            while True:
                n, after = _with_retry(factory, flush_only, lambda s: _stage_timeout_batch(
                    s, day, policy, timeout, regions, batch_size, after, rung))
                total += n
                if not after:
                    break
    return total


def check_stage_timeouts(factory: SessionFactory, as_of: date | None = None, *, regions: list[str] | None = None,
                         batch_size: int = 500, policy: Policy | None = None) -> int:
    """Only the stage-timeout ladders (their own flow); returns how many rungs were issued."""
    day, policy = _as_of(as_of), policy or load_policy()
    return _stage_timeouts_all(factory, False, day, policy, regions, batch_size)


# --- approval of steps that need it (曝光) -----------------------------------------------------


def get_step(session: Session, step_id: int) -> EscalationStep:
    step = session.get(EscalationStep, step_id)
    if step is None:
        raise NotFound(f"没有编号为 {step_id} 的督办事项。")
    return step


def _need_committee(actor, action: str) -> None:  # noqa: ANN001
    guards.decide_escalation_step(actor, action)


def approve_step(session: Session, actor, step_id: int, *, as_of: date | None = None,  # noqa: ANN001
                 reauthenticated: bool | None = None) -> tuple[EscalationStep, Any]:
    """The committee office approves a proposed step: its document is issued now, numbered and sent."""
    _need_committee(actor, "批准曝光等督办措施")
    row = session.execute(select(EscalationStep).where(EscalationStep.id == step_id).with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有编号为 {step_id} 的督办事项。")
    ladder.need_proposed(row, f"督办事项 {step_id}")
    hazard = session.get(Hazard, row.hazard_id)
    if hazard.state != ACTIVE_STATE or hazard.cycle != row.cycle:
        raise ValidationError(f"隐患 {hazard.code} 已不在该督办周期的整改中（当前状态：{labels.label('state', hazard.state)}），"
                              f"不能再批准此项；如不再需要，请以理由不予批准。")
    cycle = session.execute(select(EscalationCycle).where(EscalationCycle.hazard_id == row.hazard_id,
                                                          EscalationCycle.cycle == row.cycle)).scalar_one()
    policy = Policy.from_dict(session.get(EscalationPolicy, cycle.policy_version).body)
    step = policy.step(row.step)
    day = _as_of(as_of)
    serial, number = ladder.number_one(session, step.doc_type, day)
    ent = session.get(Enterprise, hazard.enterprise_id)
    ctx = document_context(_Refs(session), hazard, ent, step, clock.local_date(cycle.deadline), day, number)
    html, text = documents.render(step.template, ctx)
    now = clock.utcnow()
    doc = documents.document_row(number=number, doc_type=step.doc_type, year=day.year, serial=serial,
                                 title=ctx["title"], step_id=row.id, hazard_id=hazard.id, cycle=row.cycle,
                                 step=step.code, issue_date=day, html=html, text=text, issued_at=now)
    doc_id = documents.store(session, [doc])[row.id]
    ladder.mark_decided(session, row, actor, "approved")
    outbox.enqueue(session, event=EVENT, hazard_id=hazard.id, cycle=row.cycle, step=step.code,
                   recipients=_Resolver(session)(hazard, step.recipients + step.copy, step.kind),
                   subject=f"{step.name}：{number}", body=text, document_id=doc_id)
    audit.append(session, actor=actor.username, action="escalation_approved", hazard_id=hazard.id,
                 after={"step": step.code, "cycle": row.cycle, "step_id": row.id, "number": number,
                        "sha256": doc["sha256"],
                        # as for close-out: whether the approver gave the password again (web)
                        **({"reauthenticated": reauthenticated} if reauthenticated is not None else {})})
    return row, documents.get_document(session, number)


def decline_step(session: Session, actor, step_id: int, *, reason: str | None) -> EscalationStep:  # noqa: ANN001
    _need_committee(actor, "不予批准督办措施")
    reason = ladder.need_reason(reason)
    row = session.execute(select(EscalationStep).where(EscalationStep.id == step_id).with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有编号为 {step_id} 的督办事项。")
    ladder.need_proposed(row, f"督办事项 {step_id}")
    ladder.mark_decided(session, row, actor, "declined", reason)
    audit.append(session, actor=actor.username, action="escalation_declined", hazard_id=row.hazard_id,
                 after={"step": row.step, "cycle": row.cycle, "step_id": row.id}, reason=reason)
    return row


STATUS_NAMES = ladder.STATUS_NAMES


# --- for the demo ---------------------------------------------------------------------------


def run_sweeps(session_factory: SessionFactory, start_date: date, end_date: date) -> dict[str, int]:
    """Sweep every working day from start_date to end_date (inclusive), with the clock frozen at
    08:00 Shanghai each day; returns how many documents of each type were issued
    (keys: the step names, e.g. 提示函, plus 到期提醒 and 曝光（待审批） counts)."""
    from datetime import time as dtime, timedelta

    totals: Counter = Counter()
    policy = load_policy()
    day = start_date
    while day <= end_date:
        if calendar.is_workday(day):
            with clock.frozen(datetime.combine(day, dtime(8, 0), tzinfo=clock.SHANGHAI)):
                res = sweep(session_factory, day, policy=policy)
            for code, n in res.issued.items():
                step = policy.step(code)
                totals[f"{step.name}（待审批）" if step.approval else step.name] += n
            if res.timeouts:
                totals["环节超时提醒"] += res.timeouts
        day += timedelta(days=1)
    return dict(totals)


def is_sweep_day(day: date | None = None) -> bool:
    return calendar.is_workday(_as_of(day))


__all__ = ["sweep", "SweepResult", "start_cycle", "on_domain_event", "approve_step", "decline_step", "run_sweeps",
           "check_stage_timeouts", "factory_for", "ladder_dates", "is_sweep_day", "STATUS_NAMES"]
