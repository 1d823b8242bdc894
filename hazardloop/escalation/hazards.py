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
  inserted get a document, a 文号 (counter row lock, same transaction) and
  notifications (unique key).  Two sweeps at once, a sweep run twice, a sweep
  killed half-way: each step is issued exactly once, numbers stay gapless.
- A hazard not in rectifying is not escalated (reviewed: paused; closed or
  dismissed, or a newer cycle: the old cycle is ended).
- Steps that need approval (曝光) are only proposed; `approve_step` issues
  them, `decline_step` records the reason.
"""

from __future__ import annotations

import contextlib
import logging
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
from hazardloop.models.escalation import EscalationCycle, EscalationPolicy, EscalationStep
from hazardloop.models.tables import Department, Enterprise, Hazard, Region, Standard
from hazardloop.escalation import documents, ladder
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


def on_domain_event(session: Session, event: DomainEvent) -> None:
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
    """Names of reference rows (regions, departments, standards), read once per sweep."""

    def __init__(self, session: Session) -> None:
        self.regions = {r.code: r.name for r in session.execute(select(Region)).scalars()}
        self.departments = {d.code: d.name for d in session.execute(select(Department)).scalars()}
        self.standards = {s.code: s for s in session.execute(select(Standard)).scalars()}


_ROLE_ADDRESS = {
    "principal": None, "controller": None, "safety_manager": None,  # the enterprise itself
    "township": "region", "department": "department", "committee": "市安委会各成员单位",
}


def _addressee(roles: tuple[str, ...], ent: Enterprise, region: str, department: str) -> str:
    names: list[str] = []
    for role in roles:
        target = _ROLE_ADDRESS.get(role)
        name = ent.name if target is None else region if target == "region" else \
            department if target == "department" else target
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
        "addressee": _addressee(step.recipients, ent, region, department),
        "copy_to": _addressee(step.copy, ent, region, department) if step.copy else "",
        "deadline_cn": documents.cn_date(deadline_day), "issue_date_cn": documents.cn_date(issue_day),
        "respond_by_cn": documents.cn_date(respond_by),
        "days_overdue": max(0, (issue_day - deadline_day).days),
        "workdays_overdue": max(0, calendar.workdays_between(deadline_day, issue_day)),
        "workdays_left": max(0, calendar.workdays_between(issue_day, deadline_day)),
    }


class _Resolver:
    """recipients.resolve, one role at a time (it resolves roles in order, so the concatenation is
    the same list), cached by what each role depends on: the enterprise, the region, the department."""

    _KEY = {"principal": "ent", "controller": "ent", "safety_manager": "ent", "township": "region",
            "department": "dept", "committee": "all"}

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple, list[recipients.Recipient]] = {}

    def __call__(self, hazard: Hazard, roles: tuple[str, ...]) -> list[recipients.Recipient]:
        out: list[recipients.Recipient] = []
        for role in roles:
            dep = self._KEY.get(role, "ent")
            key = (role, hazard.enterprise_id if dep == "ent" else hazard.region_code if dep == "region"
                   else hazard.supervising_department if dep == "dept" else None)
            found = self.cache.get(key)
            if found is None:
                if len(self.cache) > 50000:
                    self.cache.clear()
                found = self.cache[key] = recipients.resolve(self.session, hazard, [role])
            out.extend(found)
        return out


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
        room = ITEMS_MAX - len(self.items)  # the listing is for people: bounded, the counts are complete
        if room > 0:
            self.items.extend(other.items[:room])

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "cycles_started": self.cycles_started,
                "cycles_ended": self.cycles_ended, "issued": dict(self.issued), "documents": dict(self.documents),
                "proposed": self.proposed, "notifications": self.notifications, "timeouts": self.timeouts,
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
        while i < len(policy.steps) and dates[i] <= as_of:
            due_items.append(_Due(r, hz, policy, i, policy.steps[i], dates[i], deadline_day))
            i += 1
        done = i >= len(policy.steps)
        cycle_updates.append({"cid": r.id, "next_index": i, "next_due": None if done else dates[i],
                              "status": "done" if done else "active"})
    if due_items:
        _issue(session, as_of, due_items, refs, enterprises, result, keep_items)
    if cycle_updates:
        session.execute(update(cyc).where(cyc.c.id == bindparam("cid")).values(
            next_index=bindparam("next_index"), next_due=bindparam("next_due"), status=bindparam("status")),
            cycle_updates)


def _issue(session: Session, as_of: date, items: list[_Due], refs: _Refs, enterprises: dict[int, Enterprise],
           result: SweepResult, keep_items: bool) -> None:
    st = EscalationStep.__table__
    now = clock.utcnow()
    params = [{"hazard_id": d.hazard.id, "cycle": d.cycle_row.cycle, "step": d.step.code, "kind": d.step.kind,
               "due_date": d.due, "status": "proposed" if d.step.approval else "issued",
               "policy_version": d.policy.version, "created_at": now} for d in items]
    inserted = session.execute(
        insert_or_skip(session, st, ["hazard_id", "cycle", "step"])
        .returning(st.c.id, st.c.hazard_id, st.c.cycle, st.c.step), params).all()
    ids = {(r.hazard_id, r.cycle, r.step): r.id for r in inserted}
    mine = [d for d in items if (d.hazard.id, d.cycle_row.cycle, d.step.code) in ids]
    if not mine:
        return
    # 文号: reserve a block per (doc_type, year), counters locked in a fixed order (no deadlock between sweeps).
    year = as_of.year
    need = Counter(d.step.doc_type for d in mine if d.step.has_document and not d.step.approval)
    serials: dict[str, int] = {}
    for doc_type in sorted(need):
        serials[doc_type] = documents.allocate(session, doc_type, year, need[doc_type])
    prefix = get_settings().doc_prefix
    resolver = _Resolver(session)
    doc_rows: list[dict[str, Any]] = []
    notices: list[tuple[_Due, int, str, str]] = []  # (item, step_id, subject, body)
    audits: list[dict[str, Any]] = []
    for d in mine:
        step_id = ids[(d.hazard.id, d.cycle_row.cycle, d.step.code)]
        ent = enterprises[d.hazard.enterprise_id]
        result.issued[d.step.code] += 1
        item: dict[str, Any] = {"hazard": d.hazard.code, "hazard_id": d.hazard.id, "cycle": d.cycle_row.cycle,
                                "step": d.step.code, "name": d.step.name, "due": d.due.isoformat(), "number": None}
        if d.step.approval:
            result.proposed += 1
            item["status"] = "proposed"
            body = (f"【{d.step.name}待审批】隐患 {d.hazard.code}（{ent.name}）“{d.hazard.title}”已逾期，按督办规则应予"
                    f"{d.step.name}。请市安委办审批：hazardloop escalation approve {step_id} 或 decline {step_id}。")
            notices.append((d, step_id, f"{d.step.name}待审批：{d.hazard.code}", body))
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_proposed", "hazard_id": d.hazard.id,
                           "after": {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id,
                                     "due_date": d.due}})
        elif d.step.has_document:
            serial = serials[d.step.doc_type]
            serials[d.step.doc_type] += 1
            number = documents.format_number(prefix, d.step.doc_type, year, serial)
            ctx = document_context(refs, d.hazard, ent, d.step, d.deadline_day, as_of, number)
            html, text = documents.render(d.step.template, ctx)
            doc_rows.append(documents.document_row(
                number=number, doc_type=d.step.doc_type, year=year, serial=serial, title=ctx["title"],
                step_id=step_id, hazard_id=d.hazard.id, cycle=d.cycle_row.cycle, step=d.step.code,
                issue_date=as_of, html=html, text=text, issued_at=now))
            result.documents[d.step.doc_type] += 1
            item.update(status="issued", number=number)
            notices.append((d, step_id, f"{d.step.name}：{number}", text))
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_issued", "hazard_id": d.hazard.id,
                           "after": {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id,
                                     "number": number, "sha256": doc_rows[-1]["sha256"], "due_date": d.due}})
        else:
            ctx = document_context(refs, d.hazard, ent, d.step, d.deadline_day, as_of)
            text = documents.render_text(d.step.template, ctx)
            item["status"] = "issued"
            notices.append((d, step_id, f"{d.step.name}：{d.hazard.code}", text))
            audits.append({"actor": SYSTEM_ACTOR, "action": "escalation_issued", "hazard_id": d.hazard.id,
                           "after": {"step": d.step.code, "cycle": d.cycle_row.cycle, "step_id": step_id,
                                     "due_date": d.due}})
        if keep_items:
            result.items.append(item)
    doc_ids = documents.store(session, doc_rows)
    batch: list[dict[str, Any]] = []
    for d, step_id, subject, body in notices:
        if d.step.approval:
            people = resolver(d.hazard, ("committee",))
            step_key = f"{d.step.code}:proposed"
        else:
            people = resolver(d.hazard, d.step.recipients + d.step.copy)
            step_key = d.step.code
        batch.append(dict(event=EVENT, hazard_id=d.hazard.id, cycle=d.cycle_row.cycle, step=step_key,
                          recipients=people, subject=subject, body=body, document_id=doc_ids.get(step_id)))
    result.notifications += enqueue_many(session, batch)
    audit.append_many(session, audits)


def _due_cycles(session: Session, as_of: date, after_id: int, batch_size: int, regions: list[str] | None) -> list:
    c, h = EscalationCycle.__table__, Hazard.__table__
    stmt = (select(c.c.id, c.c.hazard_id, c.c.cycle, c.c.deadline, c.c.policy_version, c.c.next_index)
            .where(c.c.status == "active", c.c.next_due <= as_of, c.c.id > after_id)
            .order_by(c.c.id).limit(batch_size))
    if regions:
        stmt = stmt.where(exists().where(h.c.id == c.c.hazard_id, h.c.region_code.in_(regions)))
    return session.execute(stmt).all()


def sweep(factory: SessionFactory, as_of: date | None = None, *, dry_run: bool = False,
          regions: list[str] | None = None, batch_size: int = 500, policy: Policy | None = None,
          keep_items: bool = False, stage_timeouts: bool = True) -> SweepResult:
    """Run the escalation sweep for one day (default: today in Asia/Shanghai).

    One transaction per batch; a dry run does all the work in one transaction
    and rolls it back, so it shows exactly what would be issued (文号 included)
    and writes nothing."""
    started = time.perf_counter()
    day = _as_of(as_of)
    policy = policy or load_policy()
    result = SweepResult(day, dry_run)
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
        for timeout in policy.stage_timeouts:
            after = 0
            while True:
                n, after = _with_retry(factory, flush_only, lambda s: _stage_timeout_batch(
                    s, day, policy, timeout, regions, batch_size, after))
                result.timeouts += n
                if not after:
                    break


# --- stage timeouts ------------------------------------------------------------------------


def _stage_timeout_batch(session: Session, day: date, policy: Policy, timeout, regions: list[str] | None,  # noqa: ANN001
                         batch_size: int, after_id: int) -> tuple[int, int]:
    """Remind once per hazard left too long in found (not judged) or listed (no plan)."""
    latest = calendar.latest_with_offset_due(day, timeout.workdays)
    h, st = Hazard.__table__, EscalationStep.__table__
    since = h.c.found_at if timeout.state == "found" else h.c.confirmed_at
    stmt = (select(h.c.id, h.c.cycle, since.label("since"))
            .where(h.c.state == timeout.state, since <= clock.end_of_day_utc(latest), h.c.id > after_id,
                   ~exists().where(st.c.hazard_id == h.c.id, st.c.cycle == h.c.cycle, st.c.step == timeout.code))
            .order_by(h.c.id).limit(batch_size))
    rows = session.execute(_region_filter(stmt, h.c.region_code, regions)).all()
    if not rows:
        return 0, 0
    now = clock.utcnow()
    params = [{"hazard_id": r.id, "cycle": r.cycle, "step": timeout.code, "kind": "timeout",
               "due_date": calendar.add_workdays(clock.local_date(r.since), timeout.workdays),
               "status": "issued", "policy_version": policy.version, "created_at": now} for r in rows]
    inserted = session.execute(
        insert_or_skip(session, st, ["hazard_id", "cycle", "step"])
        .returning(st.c.hazard_id), params).all()
    mine = {r.hazard_id for r in inserted}
    if mine:
        settings = get_settings()
        since_by_id = {r.id: r.since for r in rows}
        hazards = session.execute(select(Hazard).where(Hazard.id.in_(mine))).scalars().all()
        ents = {e.id: e for e in session.execute(select(Enterprise).where(
            Enterprise.id.in_({x.enterprise_id for x in hazards}))).scalars()}
        resolver = _Resolver(session)
        audits = []
        for hz in hazards:
            ent = ents[hz.enterprise_id]
            text = documents.render_text("doc_stage_timeout", {
                "title": timeout.name, "addressee": "、".join(dict.fromkeys(
                    p.name for p in resolver(hz, timeout.recipients))) or "有关人员",
                "hazard": hz, "enterprise": ent, "since_cn": documents.cn_date(clock.local_date(since_by_id[hz.id])),
                "stage_name": STAGES[timeout.state], "workdays": timeout.workdays, "stage": timeout.state,
                "issuing_body": settings.issuing_body, "issue_date_cn": documents.cn_date(day)})
            outbox.enqueue(session, event=EVENT, hazard_id=hz.id, cycle=hz.cycle, step=timeout.code,
                           recipients=resolver(hz, timeout.recipients), subject=f"{timeout.name}：{hz.code}",
                           body=text)
            audits.append({"actor": SYSTEM_ACTOR, "action": "stage_timeout", "hazard_id": hz.id,
                           "after": {"step": timeout.code, "state": timeout.state, "workdays": timeout.workdays}})
        audit.append_many(session, audits)
    return len(mine), rows[-1].id


def check_stage_timeouts(factory: SessionFactory, as_of: date | None = None, *, regions: list[str] | None = None,
                         batch_size: int = 500, policy: Policy | None = None) -> int:
    """Only the stage-timeout check (its own flow); returns how many reminders were queued."""
    day, policy = _as_of(as_of), policy or load_policy()
    total = 0
    for timeout in policy.stage_timeouts:
        after = 0
        while True:
            n, after = _with_retry(factory, False, lambda s: _stage_timeout_batch(
                s, day, policy, timeout, regions, batch_size, after))
            total += n
            if not after:
                break
    return total


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
                   recipients=recipients.resolve(session, hazard, list(step.recipients + step.copy)),
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
