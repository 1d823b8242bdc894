"""Regions and departments that lag (落后单位督办): monthly evaluation and the unit ladder.

Each month, as of its last day (Shanghai), every region (镇街区) and every supervising
department (行业监管部门) gets the figures of `stats` (the same as-of-the-audit-trail
definitions: one SQL statement over `stats.per_hazard_sql`), is checked against the
thresholds of config/lagging.yaml, and one row per (unit kind, unit, month) is stored.
Consecutive missed months are counted from those stored rows, never recomputed, so a
re-run gives the same answer and a past month is never evaluated differently.  A month
whose predecessor was never evaluated evaluates it first (back to the policy's start).

A streak of `consecutive` missed months starts a cycle; its ladder steps (函告 → 通报 →
约谈 → 曝光) come due one per further missed month; a met month ends the cycle.  Steps
are unique per (unit, cycle, step): only the transaction that inserts the row issues the
document (文号 from the shared counter, rendered once, SHA-256 stored), queues the
outbox rows and writes the audit event.  曝光 is only proposed until the committee office
approves (then its document is issued) or declines it (reason required).

Department figures follow the hazard's industry: the department is the industry's
supervising department in the reference data (as `hazard.supervising_department` is
set at report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlmodel import Session

from hazardloop.config import calendar, clock
from hazardloop.config.lagging import STEP_KINDS, UNIT_KINDS, LaggingPolicy, LaggingPolicyError, Threshold
from hazardloop.config.lagging import LagStep as StepRule
from hazardloop.config.lagging import load_policy as _load_policy
from hazardloop.config.settings import get_settings
from hazardloop.models import audit
from hazardloop.models.db import insert_or_skip
from hazardloop.models.errors import NotFound, ValidationError
from hazardloop.models.lagging import LagDocument, LagEvaluation, LagStep
from hazardloop.models.tables import AppUser, Department, Industry, Region
from hazardloop.notifications import documents, outbox
from hazardloop.notifications.recipients import Recipient
from hazardloop.reports import stats
from hazardloop.reports.redblack import month_bounds
from hazardloop.states import guards

SYSTEM_ACTOR = "system"
EVENT = "lag_escalation"  # outbox event of a unit document; its document_id points at lag_document
EVENT_PROPOSED = "lag_proposed"  # the committee office is told a 曝光 awaits its decision
STATUS_NAMES = {"issued": "已发出", "proposed": "待审批", "approved": "已批准并发出", "declined": "不予批准"}
_ROLE = {"region": "township", "department": "department"}


def load_policy(path: Any = None) -> LaggingPolicy:
    """The policy in force; a bad file becomes a ValidationError (Chinese, with the line)."""
    try:
        return _load_policy(path)
    except LaggingPolicyError as exc:
        raise ValidationError(str(exc)) from None


# --- months ---------------------------------------------------------------------------------


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(month: str) -> str:
    first, _ = month_bounds(month)
    return month_of(first - timedelta(days=1))


def _months(start: str, end: str) -> list[str]:
    out, m = [], end
    while m >= start:
        out.append(m)
        m = previous_month(m)
    return out[::-1]


def _check_month(month: str, policy: LaggingPolicy) -> tuple[date, date]:
    first, last = month_bounds(month)
    month = month_of(first)
    if month < policy.start:
        raise ValidationError(f"{month} 早于考核起始月份 {policy.start}（见落后单位督办规则文件的 start）。")
    if last >= clock.today():
        raise ValidationError(f"{month} 尚未结束（今天是 {clock.today().isoformat()}），月末数据未定，不能考核；"
                              f"月度考核在次月第一个工作日进行。")
    return first, last


def first_workday(year: int, month: int) -> date:
    day = date(year, month, 1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def is_run_day(day: date) -> bool:
    """The monthly run falls on the month's first working day (China's calendar, 调休 included)."""
    return day == first_workday(day.year, day.month)


# --- units and figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    kind: str
    code: str
    name: str
    addressee: str  # how a document addresses it (镇人民政府, 街道办事处, 管委会, the department)


def _addressee(region: Region) -> str:
    if region.kind == "street":
        return f"{region.name}办事处"
    if region.kind == "town":
        return f"{region.name}人民政府"
    return f"{region.name}管委会" if region.kind == "zone" else region.name


def units(session: Session, policy: LaggingPolicy) -> list[Unit]:
    out: list[Unit] = []
    if "region" in policy.units:
        out += [Unit("region", r.code, r.name, _addressee(r))
                for r in session.execute(select(Region).order_by(Region.code)).scalars()]
    if "department" in policy.units:
        out += [Unit("department", d.code, d.name, d.name)
                for d in session.execute(select(Department).where(Department.committee == False)  # noqa: E712
                                         .order_by(Department.code)).scalars()]
    return out


_FIGURES = ("found", "confirmed", "closed", "open", "overdue", "stock_open")


def figures_at(session: Session, as_of: date) -> dict[tuple[str, str], dict[str, int]]:
    """Per (unit kind, unit code): found, confirmed, closed, open, overdue and stock_open as of
    the end of `as_of`, by the definitions of `stats.compute` -- one statement, grouped by
    (region, industry, found year) and summed here."""
    conn = session.connection()
    sql = text(f"""WITH {stats.per_hazard_sql(conn.dialect.name, None).strip()}
SELECT region_code, industry_code, found_year, COUNT(*) AS found, SUM(confirmed) AS confirmed,
       SUM(CASE WHEN st = 5 THEN 1 ELSE 0 END) AS closed,
       SUM(CASE WHEN st IN (0, 1, 3, 4) THEN 1 ELSE 0 END) AS open,
       SUM(CASE WHEN st = 3 AND deadline < :t THEN 1 ELSE 0 END) AS overdue
FROM hz GROUP BY region_code, industry_code, found_year""")
    dept_of = {i.code: i.department_code for i in session.execute(select(Industry)).scalars()}
    out: dict[tuple[str, str], dict[str, int]] = {}
    for r in conn.execute(sql, {"t": stats.bind_time(conn, stats.cutoff(as_of))}).mappings():
        stock = int(r["found_year"]) <= stats.STOCK_LAST_YEAR
        for key in (("region", r["region_code"]), ("department", dept_of.get(r["industry_code"], ""))):
            f = out.setdefault(key, dict.fromkeys(_FIGURES, 0))
            for m in ("found", "confirmed", "closed", "open", "overdue"):
                f[m] += int(r[m] or 0)
            if stock:
                f["stock_open"] += int(r["open"] or 0)
    return out


def metric_value(metric: str, f: dict[str, int]) -> float | None:
    """The value a threshold is checked on (one decimal, as shown); None: no base (not applicable)."""
    if metric == "overdue_share":
        return round(f["overdue"] * 100.0 / f["open"], 1) if f["open"] else None
    if metric == "closure_rate":
        return round(f["closed"] * 100.0 / f["confirmed"], 1) if f["confirmed"] else None
    return float(f["stock_open"])


def _fmt(value: float, unit: str) -> str:
    return (str(int(value)) if float(value).is_integer() else f"{value:.1f}") + unit


def check(policy: LaggingPolicy, month: str, f: dict[str, int]) -> list[dict[str, Any]]:
    """The thresholds missed, each with its value and limit (empty: all met)."""
    missed = []
    for t in policy.thresholds:
        if not t.applies(month):
            continue
        value = metric_value(t.metric, f)
        if t.missed(value):
            missed.append({"metric": t.metric, "name": t.name, "value": value, "limit": t.limit, "op": t.op,
                           "unit": t.unit, "value_text": _fmt(value, t.unit), "rule": t.describe()})
    return missed


# --- evaluation -----------------------------------------------------------------------------


def _stored(session: Session, month: str) -> dict[tuple[str, str], LagEvaluation]:
    rows = session.execute(select(LagEvaluation).where(LagEvaluation.month == month)).scalars()
    return {(r.unit_kind, r.unit_code): r for r in rows}


def _evaluate_one(session: Session, month: str, policy: LaggingPolicy, unit_list: list[Unit],
                  prev: dict[tuple[str, str], LagEvaluation]) -> tuple[dict[tuple[str, str], LagEvaluation], int]:
    have = _stored(session, month)
    todo = [u for u in unit_list if (u.kind, u.code) not in have]
    if not todo:
        return have, 0
    _, last = month_bounds(month)
    figs = figures_at(session, last)
    now = clock.utcnow()
    rows = []
    for u in todo:
        f = figs.get((u.kind, u.code), dict.fromkeys(_FIGURES, 0))
        missed = check(policy, month, f)
        p = prev.get((u.kind, u.code))
        last_cycle = p.cycle if p else 0
        if missed:
            continuing = p is not None and p.streak > 0
            streak = p.streak + 1 if continuing else 1
            cycle = last_cycle if continuing else last_cycle + 1
        else:
            streak, cycle = 0, last_cycle
        rows.append({"unit_kind": u.kind, "unit_code": u.code, "month": month, "figures": f, "missed": missed,
                     "streak": streak, "cycle": cycle, "policy_version": policy.version, "evaluated_at": now})
    table = LagEvaluation.__table__
    new = session.execute(insert_or_skip(session, table, ["unit_kind", "unit_code", "month"])
                          .returning(table.c.id), rows).all()
    if new:
        lagging = [f"{r['unit_kind']}:{r['unit_code']}" for r in rows if r["missed"]]
        audit.append(session, actor=SYSTEM_ACTOR, action="lag_evaluated",
                     after={"month": month, "units": len(new), "missed": lagging, "policy": policy.version})
    session.expire_all()
    return _stored(session, month), len(new)


def evaluate(session: Session, month: str, *, policy: LaggingPolicy | None = None) -> list[dict[str, Any]]:
    """Every unit's evaluation of `month` (stored once; earlier unevaluated months first).

    Each dict: unit kind/code/name, month, figures, missed thresholds (name, value vs limit),
    streak (consecutive missed months), cycle, and the ladder steps due by the streak."""
    policy = policy or load_policy()
    first, _ = _check_month(month, policy)
    month = month_of(first)
    unit_list = units(session, policy)
    prev: dict[tuple[str, str], LagEvaluation] = {}
    for m in _months(policy.start, month):
        prev, _n = _evaluate_one(session, m, policy, unit_list, prev)
    out = []
    for u in unit_list:
        ev = prev[(u.kind, u.code)]
        out.append({"unit_kind": u.kind, "unit_code": u.code, "unit_name": u.name, "month": month,
                    "figures": dict(ev.figures), "missed": list(ev.missed), "streak": ev.streak, "cycle": ev.cycle,
                    "steps_due": [s.code for s in policy.steps_due(ev.streak)], "evaluation_id": ev.id})
    return out


# --- steps and documents --------------------------------------------------------------------


def unit_recipients(session: Session, unit_kind: str, unit_code: str, name: str) -> list[Recipient]:
    """The township officers of a region, or the supervisors of a department; when none is
    registered, one recipient by the unit's name (its outbox row then says it is unreachable)."""
    stmt = select(AppUser).where(AppUser.active == True)  # noqa: E712
    if unit_kind == "region":
        stmt = stmt.where(AppUser.role == "township", AppUser.region_code == unit_code)
    else:
        stmt = stmt.where(AppUser.role == "supervisor", AppUser.department_code == unit_code)
    people = [Recipient(_ROLE[unit_kind], u.name, u.phone, u.email, u.username)
              for u in session.execute(stmt.order_by(AppUser.id)).scalars()]
    return people or [Recipient(_ROLE[unit_kind], name)]


def committee_recipients(session: Session) -> list[Recipient]:
    stmt = select(AppUser).where(AppUser.active == True, AppUser.role == "committee").order_by(AppUser.id)  # noqa: E712
    return [Recipient("committee", u.name, u.phone, u.email, u.username) for u in session.execute(stmt).scalars()]


def _title(step: StepRule, unit: Unit) -> str:
    return {
        "letter": f"关于{unit.name}重大事故隐患整改工作滞后的函",
        "bulletin": f"关于{unit.name}重大事故隐患整改工作滞后情况的通报",
        "interview": f"关于约谈{unit.name}主要负责同志的通知",
        "exposure": f"关于对{unit.name}重大事故隐患整改工作滞后情况予以曝光的通告",
    }[step.kind]


def _earlier(session: Session, row: LagStep) -> str:
    prior = session.execute(
        select(LagStep.name, LagDocument.number).join(LagDocument, LagDocument.step_id == LagStep.id)
        .where(LagStep.unit_kind == row.unit_kind, LagStep.unit_code == row.unit_code, LagStep.cycle == row.cycle,
               LagStep.id != row.id).order_by(LagStep.id)).all()
    if not prior:
        return "经市安委办按月调度"
    return "此前已被" + "、".join(f"{name}（{number}）" for name, number in prior)


def document_context(session: Session, unit: Unit, step: StepRule, row: LagStep, ev: LagEvaluation,
                     issue_day: date, number: str) -> dict[str, Any]:
    _, last = month_bounds(ev.month)
    respond_by = calendar.add_workdays(issue_day, 3 if step.kind == "interview" else 5)
    return {
        "issuing_body": get_settings().issuing_body, "number": number, "title": _title(step, unit),
        "addressee": unit.addressee, "copy_to": "市安委会各成员单位" if step.kind in ("bulletin", "exposure") else "",
        "unit_name": unit.name, "scope": "辖区" if unit.kind == "region" else "监管行业领域",
        "duty": "属地管理责任" if unit.kind == "region" else "行业监管责任",
        "figures": ev.figures, "missed": ev.missed, "streak": ev.streak, "month_end_cn": documents.cn_date(last),
        "issue_date_cn": documents.cn_date(issue_day), "respond_by_cn": documents.cn_date(respond_by),
        "earlier": _earlier(session, row),
    }


def _unit(session: Session, kind: str, code: str) -> Unit:
    if kind == "region":
        r = session.get(Region, code)
        return Unit("region", code, r.name if r else code, _addressee(r) if r else code)
    d = session.get(Department, code)
    return Unit("department", code, d.name if d else code, d.name if d else code)


def _issue_document(session: Session, row: LagStep, step: StepRule, ev: LagEvaluation, day: date,
                    actor: str) -> dict[str, Any]:
    """Number, render once, store with hashes, queue to the unit (and the committee office for
    a bulletin, interview or exposure), audit.  Returns the stored document's facts."""
    unit = _unit(session, row.unit_kind, row.unit_code)
    serial = documents.allocate(session, step.doc_type, day.year, 1)
    number = documents.format_number(get_settings().doc_prefix, step.doc_type, day.year, serial)
    ctx = document_context(session, unit, step, row, ev, day, number)
    html, body = documents.render(step.template, ctx)
    doc = LagDocument(number=number, doc_type=step.doc_type, year=day.year, serial=serial, title=ctx["title"],
                      step_id=row.id, unit_kind=row.unit_kind, unit_code=row.unit_code, issue_date=day, html=html,
                      text=body, sha256=documents.sha256(html), text_sha256=documents.sha256(body),
                      issued_at=clock.utcnow())
    session.add(doc)
    session.flush()
    people = unit_recipients(session, row.unit_kind, row.unit_code, unit.addressee)
    if step.kind != "letter":
        people += committee_recipients(session)
    queued = outbox.enqueue(session, event=EVENT, hazard_id=None, cycle=row.cycle, step=f"lag:{row.id}",
                            recipients=people, subject=f"{step.name}：{number}", body=body, document_id=doc.id)
    audit.append(session, actor=actor, action="lag_step_approved" if row.status == "approved" else "lag_step_issued",
                 after={"unit_kind": row.unit_kind, "unit_code": row.unit_code, "cycle": row.cycle,
                        "step": row.step, "step_id": row.id, "month": row.month, "number": number,
                        "sha256": doc.sha256, "text_sha256": doc.text_sha256})
    return {"number": number, "sha256": doc.sha256, "notifications": queued, "document_id": doc.id}


def _cycle_ended(session: Session, kind: str, code: str, cycle: int, month: str) -> str | None:
    """The first later month in which the unit met every threshold or started another cycle."""
    return session.execute(
        select(LagEvaluation.month).where(LagEvaluation.unit_kind == kind, LagEvaluation.unit_code == code,
                                          LagEvaluation.month > month,
                                          (LagEvaluation.streak == 0) | (LagEvaluation.cycle != cycle))
        .order_by(LagEvaluation.month).limit(1)).scalar()


@dataclass
class RunResult:
    month: str
    dry_run: bool
    units: int = 0
    lagging: int = 0
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # issued or proposed by this run
    documents: int = 0
    proposed: int = 0
    notifications: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "dry_run": self.dry_run, "units": self.units, "lagging": self.lagging,
                "documents": self.documents, "proposed": self.proposed, "notifications": self.notifications,
                "steps": self.steps, "evaluations": self.evaluations}


def run(session: Session, month: str, *, dry_run: bool = False, policy: LaggingPolicy | None = None,
        as_of: date | None = None) -> RunResult:
    """Evaluate `month` and issue every ladder step due by it, each once per unit and cycle.

    dry_run: everything is worked out in the transaction (文号 included) and rolled back."""
    policy = policy or load_policy()
    day = as_of or clock.today()
    evals = evaluate(session, month, policy=policy)
    month = evals[0]["month"] if evals else month
    result = RunResult(month, dry_run, units=len(evals), lagging=sum(1 for e in evals if e["missed"]),
                       evaluations=evals)
    table = LagStep.__table__
    for e in evals:
        due = policy.steps_due(e["streak"])
        if not due or _cycle_ended(session, e["unit_kind"], e["unit_code"], e["cycle"], month):
            continue
        for step in due:
            new_id = session.execute(insert_or_skip(session, table, ["unit_kind", "unit_code", "cycle", "step"])
                                     .returning(table.c.id), {
                "unit_kind": e["unit_kind"], "unit_code": e["unit_code"], "cycle": e["cycle"], "step": step.code,
                "name": step.name, "kind": step.kind, "month": month, "evaluation_id": e["evaluation_id"],
                "status": "proposed" if step.approval else "issued", "policy_version": policy.version,
                "created_at": clock.utcnow()}).scalar()
            if new_id is None:
                continue  # issued before: once per unit, cycle and step
            row = session.get(LagStep, new_id)
            ev = session.get(LagEvaluation, e["evaluation_id"])
            item = {"step_id": new_id, "unit_kind": e["unit_kind"], "unit_code": e["unit_code"],
                    "unit_name": e["unit_name"], "cycle": e["cycle"], "step": step.code, "name": step.name,
                    "status": row.status, "number": None, "missed": e["missed"]}
            if step.approval:
                result.proposed += 1
                result.notifications += outbox.enqueue(
                    session, event=EVENT_PROPOSED, hazard_id=None, cycle=e["cycle"], step=f"lag:{new_id}",
                    recipients=committee_recipients(session), subject=f"待审批：{e['unit_name']}{step.name}",
                    body=f"{e['unit_name']}已连续 {e['streak']} 个月未达到重大事故隐患整改考核要求（"
                         + "；".join(f"{m['name']} {m['value_text']}，要求{m['rule']}" for m in e["missed"])
                         + f"），拟予{step.name}。请执行 hazardloop lagging approve {new_id} 或 decline。")
                audit.append(session, actor=SYSTEM_ACTOR, action="lag_step_proposed",
                             after={"unit_kind": e["unit_kind"], "unit_code": e["unit_code"], "cycle": e["cycle"],
                                    "step": step.code, "step_id": new_id, "month": month})
            else:
                doc = _issue_document(session, row, step, ev, day, SYSTEM_ACTOR)
                item["number"] = doc["number"]
                result.documents += 1
                result.notifications += doc["notifications"]
            result.steps.append(item)
    session.flush()
    if dry_run:
        session.rollback()
    return result


# --- approval of 曝光 -------------------------------------------------------------------------


def get_step(session: Session, step_id: int, *, lock: bool = False) -> LagStep:
    stmt = select(LagStep).where(LagStep.id == step_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有编号为 {step_id} 的落后单位督办事项（见 hazardloop lagging list）。")
    return row


def _need_proposed(row: LagStep) -> None:
    if row.status != "proposed":
        raise ValidationError(f"落后单位督办事项 {row.id} 当前为“{STATUS_NAMES.get(row.status, row.status)}”，"
                              f"不是待审批。")


def approve(session: Session, actor: AppUser, step_id: int, *, reason: str | None = None,
            policy: LaggingPolicy | None = None, as_of: date | None = None) -> tuple[LagStep, LagDocument]:
    """The committee office approves a proposed 曝光: its document is issued now and sent."""
    guards.decide_lag_exposure(actor, "批准曝光落后单位")
    row = get_step(session, step_id, lock=True)
    _need_proposed(row)
    ended = _cycle_ended(session, row.unit_kind, row.unit_code, row.cycle, row.month)
    if ended:
        raise ValidationError(f"{_unit(session, row.unit_kind, row.unit_code).name}在 {ended} 已达到考核要求"
                              f"（本轮督办已结束），不能再批准此项；如不再需要，请以理由不予批准。")
    policy = policy or load_policy()
    try:
        step = policy.step(row.step)
    except KeyError:
        raise ValidationError(f"现行落后单位督办规则中没有步骤 {row.step}，不能出具公文。") from None
    row.status, row.decided_by, row.decided_at = "approved", actor.username, clock.utcnow()
    row.decision_reason = reason.strip() if reason and reason.strip() else None
    session.add(row)
    session.flush()
    ev = session.get(LagEvaluation, row.evaluation_id)
    doc = _issue_document(session, row, step, ev, as_of or clock.today(), actor.username)
    return row, session.get(LagDocument, doc["document_id"])


def decline(session: Session, actor: AppUser, step_id: int, *, reason: str | None) -> LagStep:
    guards.decide_lag_exposure(actor, "不予批准曝光落后单位")
    if not reason or not reason.strip():
        raise ValidationError("不予批准须说明理由（--reason）。")
    row = get_step(session, step_id, lock=True)
    _need_proposed(row)
    row.status, row.decided_by, row.decided_at, row.decision_reason = (
        "declined", actor.username, clock.utcnow(), reason.strip())
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="lag_step_declined",
                 after={"unit_kind": row.unit_kind, "unit_code": row.unit_code, "cycle": row.cycle,
                        "step": row.step, "step_id": row.id}, reason=reason.strip())
    return row


# --- reading ------------------------------------------------------------------------------


def list_steps(session: Session, month: str | None = None, status: str | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
    stmt = (select(LagStep, LagDocument.number, LagEvaluation.missed, LagEvaluation.streak)
            .join(LagEvaluation, LagEvaluation.id == LagStep.evaluation_id)
            .outerjoin(LagDocument, LagDocument.step_id == LagStep.id))
    if month:
        first, _ = month_bounds(month)
        stmt = stmt.where(LagStep.month == month_of(first))
    if status:
        stmt = stmt.where(LagStep.status == status)
    out = []
    for row, number, missed, streak in session.execute(stmt.order_by(LagStep.id).limit(limit)).all():
        unit = _unit(session, row.unit_kind, row.unit_code)
        out.append({"step_id": row.id, "unit_kind": row.unit_kind, "unit_kind_name": UNIT_KINDS[row.unit_kind],
                    "unit_code": row.unit_code, "unit_name": unit.name, "cycle": row.cycle, "month": row.month,
                    "step": row.step, "name": row.name, "kind": row.kind, "kind_name": STEP_KINDS.get(row.kind, ""),
                    "status": row.status, "status_name": STATUS_NAMES.get(row.status, row.status),
                    "number": number, "streak": streak, "missed": missed, "decided_by": row.decided_by,
                    "decision_reason": row.decision_reason})
    return out


def steps_for_month(session: Session, month: str, status: str | None = None) -> list[dict[str, Any]]:
    """For the monthly bulletin: the unit steps of the month that are in effect or awaiting
    approval (or only those of `status`) -- unit name and kind, step, 文号 (None while proposed),
    missed thresholds."""
    return [{"unit_name": s["unit_name"], "unit_kind": s["unit_kind"], "unit_kind_name": s["unit_kind_name"],
             "step": s["name"], "status": s["status_name"], "number": s["number"],
             "missed": [{"name": m["name"], "value": m["value_text"], "rule": m["rule"]} for m in s["missed"]]}
            for s in list_steps(session, month, status) if s["status"] != "declined"]


def get_document(session: Session, number: str) -> LagDocument:
    doc = session.execute(select(LagDocument).where(LagDocument.number == number.strip())).scalars().first()
    if doc is None:
        raise NotFound(f"没有文号为 {number} 的落后单位督办公文。")
    return doc


__all__ = ["evaluate", "run", "approve", "decline", "list_steps", "steps_for_month", "figures_at", "check",
           "is_run_day", "first_workday", "load_policy", "Threshold"]
