"""Annual plans (年度行动计划) and their tasks from YAML, and the sub-plan filing (子方案审核备案).

A plan file has `actions` (十大行动 / 五项整治 headings) and `tasks`; an optional `plan`
mapping names the unit and year (default: the city plan, the committee's, one plan per
deadline year).  Every task is checked first and every problem is reported with its
entry number; nothing is written unless all pass.  Loading is an upsert keyed by plan
and task code: the text of a task is updated, its progress never touched.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from hazardloop.config import clock, labels
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.escalation import tasks as lag
from hazardloop.models import audit
from hazardloop.models.plans import Plan, PlanTask
from hazardloop.models.tables import AppUser, Department, Region
from hazardloop.states import plan_guards, task_machine

REFERENCE = Path(__file__).resolve().parent.parent / "config" / "reference" / "plan_city_2024_2026.yaml"
COMMITTEE_UNIT = plan_guards.COMMITTEE_UNIT
_TASK_KEYS = {"code", "action", "paragraph", "content", "measure", "target", "start", "deadline", "milestones",
              "lead", "co", "regions", "note"}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")


def city_plan_code(year: int) -> str:
    return f"city-{year}"


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


class UnitIndex:
    """Unit codes and names: a lead may be written as a code or as the unit's Chinese name."""

    def __init__(self, session: Session) -> None:
        self.departments = {d.code: d for d in session.execute(select(Department)).scalars()}
        self.regions = {r.code: r for r in session.execute(select(Region)).scalars()}
        self.by_name = {d.name: ("department", d.code) for d in self.departments.values()}
        self.by_name.update({r.name: ("region", r.code) for r in self.regions.values()})

    def resolve(self, value: Any) -> tuple[str, str] | None:
        text = str(value or "").strip()
        if text in self.departments:
            return "department", text
        if text in self.regions:
            return "region", text
        return self.by_name.get(text)

    def name(self, kind: str, code: str) -> str:
        if kind == "region":
            return self.regions[code].name if code in self.regions else code
        return self.departments[code].name if code in self.departments else code


def check_task(raw: Any, units: UnitIndex, actions: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """One task entry -> (clean row, problems).  Shared by the YAML loader and the Excel import."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return {}, ["应为键值映射"]
    unknown = set(raw) - _TASK_KEYS
    if unknown:
        problems.append("未知的字段 " + "、".join(sorted(unknown)))
    code = str(raw.get("code") or "").strip()
    if not _CODE.match(code):
        problems.append(f"任务编号 {code!r} 为空或不合规（字母、数字、-、_、.，至多 32 位）")
    content = str(raw.get("content") or "").strip()
    if not content:
        problems.append("缺少任务内容（content）")
    deadline = _date(raw.get("deadline"))
    if deadline is None:
        problems.append(f"完成时限（deadline）应为日期 YYYY-MM-DD，收到 {raw.get('deadline')!r}")
    start = _date(raw.get("start")) if raw.get("start") else None
    if raw.get("start") and start is None:
        problems.append(f"开始日期（start）应为日期 YYYY-MM-DD，收到 {raw.get('start')!r}")
    if start and deadline and start > deadline:
        problems.append(f"开始日期 {start} 晚于完成时限 {deadline}")
    lead = units.resolve(raw.get("lead"))
    if lead is None:
        problems.append(f"牵头单位 {raw.get('lead')!r} 不是已登记的部门或镇街区（代码或名称）")
    milestones = []
    for i, m in enumerate(raw.get("milestones") or [], 1):
        day = _date(m.get("date")) if isinstance(m, dict) else None
        if day is None or not str(m.get("text") or "").strip():
            problems.append(f"第 {i} 个节点应有 date（YYYY-MM-DD）和 text")
        elif deadline and day > deadline:
            problems.append(f"节点 {day} 晚于完成时限 {deadline}")
        else:
            milestones.append({"date": day.isoformat(), "text": str(m["text"]).strip()})
    action = str(raw.get("action") or "").strip()
    if actions and action and action not in actions:
        problems.append(f"行动 {action!r} 未在 actions 中列出")
    co, regions = [], []
    for c in raw.get("co") or []:
        r = units.resolve(c)
        co.append(r[1] if r else str(c).strip())  # units outside the system stay as written (named, not escalated)
    for r in raw.get("regions") or []:
        r = str(r).strip()
        if r != "all" and r not in units.regions:
            problems.append(f"镇街区 {r!r} 未登记")
        regions.append(r)
    row = {"code": code, "action_code": action, "action_name": actions.get(action, ""),
           "paragraph": str(raw.get("paragraph") or "").strip(), "content": content,
           "measure": str(raw.get("measure") or "").strip(), "target": str(raw.get("target") or "").strip(),
           "start": start, "deadline": deadline, "milestones": milestones,
           "lead_kind": lead[0] if lead else "", "lead_code": lead[1] if lead else "", "co_units": co,
           "regions": regions, "note": str(raw.get("note") or "").strip()}
    return row, problems


class _TextDates(yaml.SafeLoader):
    """Dates stay text until check_task reads them: 2025-13-31 is a row's problem, not a crash."""


_TextDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        doc = yaml.load(text, Loader=_TextDates)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source} 不是合法的 YAML：{exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
        raise ValidationError(f"{source} 的顶层应是包含 tasks 列表的映射。")
    return doc


def ensure_plan(session: Session, actor: str, *, unit_kind: str, unit_code: str, year: int, title: str,
                parent: Plan | None = None, source: str = "", filing_due: date | None = None) -> Plan:
    plan = session.execute(select(Plan).where(Plan.unit_kind == unit_kind, Plan.unit_code == unit_code,
                                              Plan.year == year)).scalars().first()
    if plan is not None:
        return plan
    is_city = unit_code == COMMITTEE_UNIT and parent is None
    plan = Plan(code=city_plan_code(year) if is_city else f"{unit_code}-{year}", title=title, year=year,
                unit_kind=unit_kind, unit_code=unit_code, parent_id=parent.id if parent else None,
                state="approved" if is_city else "draft", filing_due=None if is_city else filing_due, source=source)
    session.add(plan)
    session.flush()
    audit.append(session, actor=actor, action="plan_loaded",
                 after={"plan": plan.code, "year": year, "unit_kind": unit_kind, "unit_code": unit_code,
                        "state": plan.state, "filing_due": filing_due.isoformat() if filing_due else None})
    return plan


def upsert_tasks(session: Session, actor: str, plan: Plan, rows: list[dict[str, Any]], source: str,
                 review_id: int | None = None) -> tuple[int, int]:
    """Insert new tasks, update the text of known ones (never their progress).  (added, updated)"""
    known = {t.code: t for t in session.execute(select(PlanTask).where(PlanTask.plan_id == plan.id)).scalars()}
    added = updated = 0
    for row in rows:
        task = known.get(row["code"])
        if task is None:
            task = PlanTask(plan_id=plan.id, source=source, review_id=review_id, **row)
            session.add(task)
            session.flush()
            audit.append(session, actor=actor, action="plan_task_added",
                         after={"plan": plan.code, "task": task.code, "task_id": task.id, "lead": task.lead_code,
                                "deadline": task.deadline.isoformat(), "source": source})
            added += 1
            continue
        before = {k: _plain(getattr(task, k)) for k in row if _plain(getattr(task, k)) != _plain(row[k])}
        if before:
            for k in before:
                setattr(task, k, row[k])
            session.add(task)
            audit.append(session, actor=actor, action="plan_task_added", before=before,
                         after={"plan": plan.code, "task": task.code, "task_id": task.id,
                                **{k: _plain(row[k]) for k in before}}, reason="重新载入计划文件，更新任务内容")
            updated += 1
    session.flush()
    return added, updated


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def load_plan(session: Session, actor: AppUser, path: str | Path | None = None, *, text: str | None = None,
              source: str = "yaml") -> dict[str, Any]:
    """Load a plan file (default: the city plan's starting tasks from the policy text)."""
    plan_guards.manage_plans(actor, "载入行动计划")
    path = Path(path) if path else REFERENCE
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"无法读取计划文件 {path}：{exc.strerror}") from None
    doc = _read_yaml(text, str(path))
    units = UnitIndex(session)
    actions = {str(a.get("code")): str(a.get("name") or "") for a in doc.get("actions") or [] if isinstance(a, dict)}
    header = doc.get("plan") or {}
    unit = units.resolve(header.get("unit", COMMITTEE_UNIT))
    if unit is None:
        raise ValidationError(f"计划的单位 {header.get('unit')!r} 不是已登记的部门或镇街区。")
    problems, rows, seen = [], [], set()
    for i, raw in enumerate(doc["tasks"], 1):
        row, bad = check_task(raw, units, actions)
        if row.get("code") in seen:
            bad.append(f"任务编号 {row['code']} 重复")
        seen.add(row.get("code"))
        if bad:
            problems.append(f"tasks 第 {i} 条（{row.get('code') or '无编号'}）：" + "；".join(bad))
        rows.append(row)
    if problems:
        raise ValidationError(f"计划文件 {path.name} 有 {len(problems)} 条任务不合格，未写入任何内容：\n" + "\n".join(problems))
    by_year: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_year.setdefault(int(header.get("year") or row["deadline"].year), []).append(row)
    city_source = "reference" if path == REFERENCE else source
    out = {"plans": [], "added": 0, "updated": 0}
    for year in sorted(by_year):
        title = header.get("title") or (f"全市{year}年度安全生产治本攻坚行动任务清单" if unit[1] == COMMITTEE_UNIT
                                        else f"{units.name(*unit)}{year}年度安全生产治本攻坚行动计划")
        parent = None
        if unit[1] != COMMITTEE_UNIT:
            parent = session.execute(select(Plan).where(Plan.code == city_plan_code(year))).scalars().first()
        plan = ensure_plan(session, actor.username, unit_kind=unit[0], unit_code=unit[1], year=year, title=title,
                           parent=parent, source=str(path.name), filing_due=None)
        added, updated = upsert_tasks(session, actor.username, plan, by_year[year], city_source)
        out["plans"].append({"plan": plan.code, "year": year, "tasks": len(by_year[year])})
        out["added"] += added
        out["updated"] += updated
    return out


# --- sub-plans (子方案) and their filing --------------------------------------------------------


def open_filings(session: Session, actor: AppUser, year: int, due: date, units: list[str] | None = None) -> list[Plan]:
    """Create the year's draft sub-plans (with the filing date) for the member units: every unit
    named (default: every department leading or co-leading a task of the city plan, but the
    committee itself).  Existing sub-plans are kept."""
    plan_guards.manage_plans(actor, "部署子方案报送")
    city = get_plan(session, city_plan_code(year))
    index = UnitIndex(session)
    if units is None:
        codes: set[str] = set()
        for t in session.execute(select(PlanTask).where(PlanTask.plan_id == city.id)).scalars():
            codes.update(c for c in [t.lead_code, *t.co_units] if c in index.departments)
        units = sorted(c for c in codes if not index.departments[c].committee)
    out = []
    for code in units:
        unit = index.resolve(code)
        if unit is None:
            raise ValidationError(f"单位 {code!r} 不是已登记的部门或镇街区。")
        out.append(ensure_plan(session, actor.username, unit_kind=unit[0], unit_code=unit[1], year=year,
                               title=f"{index.name(*unit)}{year}年度安全生产治本攻坚行动子方案", parent=city,
                               source="open_filings", filing_due=due))
    return out


def get_plan(session: Session, code: str) -> Plan:
    plan = session.execute(select(Plan).where(Plan.code == code.strip())).scalars().first()
    if plan is None:
        raise NotFound(f"没有编号为 {code} 的行动计划（见 hazardloop plan list）。")
    return plan


def _fire_filing(session: Session, actor: AppUser, plan: Plan, trigger: str, data: dict[str, Any],
                 reason: str | None = None) -> Plan:
    before = {"state": plan.state, "version": plan.version}
    data = {**data, "unit_name": lag.unit_of(session, plan.unit_kind, plan.unit_code).name}
    task_machine.fire_filing(plan, trigger, actor, data)
    now = clock.utcnow()
    if trigger == "submit_plan":
        plan.submitted_by, plan.submitted_at = actor.username, now
        if data.get("summary"):
            plan.summary = str(data["summary"]).strip()
    else:
        plan.reviewed_by, plan.reviewed_at, plan.review_reason = actor.username, now, reason
    session.add(plan)
    code = plan.code  # read before the flush: a failed flush expires the row
    try:
        session.flush()
    except StaleDataError:
        raise ConflictError(f"子方案 {code} 已被他人同时修改，请刷新后重试。") from None
    late = trigger == "submit_plan" and plan.filing_due is not None and clock.today() > plan.filing_due
    audit.append(session, actor=actor.username, action=f"plan_{trigger}", before=before,
                 after={"plan": plan.code, "state": plan.state, "late": late}, reason=reason)
    return plan


def submit_plan(session: Session, actor: AppUser, code: str, summary: str | None = None) -> Plan:
    return _fire_filing(session, actor, get_plan(session, code), "submit_plan", {"summary": summary})


def approve_plan(session: Session, actor: AppUser, code: str) -> Plan:
    return _fire_filing(session, actor, get_plan(session, code), "approve_plan", {})


def return_plan(session: Session, actor: AppUser, code: str, reason: str | None) -> Plan:
    return _fire_filing(session, actor, get_plan(session, code), "return_plan", {"reason": reason},
                        reason=(reason or "").strip() or None)


def list_plans(session: Session, year: int | None = None) -> list[dict[str, Any]]:
    stmt = select(Plan).order_by(Plan.year, Plan.parent_id.is_not(None), Plan.code)
    if year:
        stmt = stmt.where(Plan.year == year)
    names = lag.unit_names(session)
    counts: dict[int, list[PlanTask]] = {}
    for t in session.execute(select(PlanTask)).scalars():
        counts.setdefault(t.plan_id, []).append(t)
    today = clock.today()
    out = []
    for p in session.execute(stmt).scalars():
        ts = counts.get(p.id, [])
        filed = clock.local_date(p.submitted_at) if p.submitted_at else None
        out.append({"code": p.code, "title": p.title, "year": p.year, "unit_kind": p.unit_kind,
                    "unit_kind_name": labels.PLAN_UNIT_KINDS.get(p.unit_kind, p.unit_kind),
                    "unit_code": p.unit_code, "unit_name": names.get((p.unit_kind, p.unit_code), p.unit_code),
                    "sub_plan": p.parent_id is not None, "state": p.state,
                    "state_name": task_machine.FILING.state_names[p.state],
                    "filing_due": p.filing_due.isoformat() if p.filing_due else None,
                    "submitted_on": filed.isoformat() if filed else None,
                    "filed_late": bool(filed and p.filing_due and filed > p.filing_due),
                    "review_reason": p.review_reason, "tasks": len(ts),
                    "verified": sum(t.state == "verified" for t in ts),
                    "overdue": sum(lag.is_overdue(t, today) for t in ts)})
    return out
