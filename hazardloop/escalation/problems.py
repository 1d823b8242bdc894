"""The problems' short ladder (问题隐患督办): overdue problems of the special campaigns remind
and climb a short ladder — 到期提醒 → 逾期催办 → 督办通知 (a numbered 公文) by default, the steps
and their offsets (working days from the deadline) in config/campaigns.yaml `problem_rules`.

The vocabulary is escalation.ladder's: a cycle is one deadline (assign and each rejection
start a new one); a step fires at most once per (problem, cycle, step) — a unique row, only
the transaction that inserts it acts; a letter step takes a 文号 (ladder.number_one, the
shared counter), is rendered once (escalation.documents, template doc_problem) and stored in
its row with its SHA-256.  A problem reported rectified is paused (only rectifying problems
climb); a missed sweep catches up and issues each due step once.  Every notice goes through
the outbox in the same transaction, every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session, select

from hazardloop.config import calendar, clock
from hazardloop.config import campaigns as config
from hazardloop.config.settings import get_settings
from hazardloop.errors import ValidationError
from hazardloop.escalation import documents, ladder
from hazardloop.models import audit
from hazardloop.models.campaigns import CampaignObject, CampaignProblem, ProblemStep
from hazardloop.models.db import insert_or_skip
from hazardloop.models.tables import AppUser, Region
from hazardloop.notifications import outbox
from hazardloop.notifications.recipients import Recipient, resolve
from hazardloop.states import campaign_guards

EVENT = "problem_escalation"
TARGET_ROLES = {"township": "township", "department": "department", "committee": "committee"}


def rules() -> config.CampaignConfig:
    try:
        return config.load()
    except config.CampaignConfigError as exc:
        raise ValidationError(str(exc)) from None


def recipients(session: Session, problem: CampaignProblem, targets: tuple[str, ...] | list[str]) -> list[Recipient]:
    """responsible: the enterprise's safety manager when the object is a registered enterprise's,
    else the named responsible person (an undeliverable row says the contact is missing);
    township / department / committee: the active officers."""
    like_hazard = SimpleNamespace(enterprise_id=problem.enterprise_id or 0, region_code=problem.region_code,
                                  supervising_department=problem.department_code)
    out: list[Recipient] = []
    for target in targets:
        if target == "responsible":
            people = resolve(session, like_hazard, ["safety_manager"]) if problem.enterprise_id else []
            out += people or ([Recipient("safety_manager", problem.responsible)] if problem.responsible else [])
        else:
            out += resolve(session, like_hazard, [TARGET_ROLES[target]])
    return out


def notify(session: Session, problem: CampaignProblem, event: str, subject: str, body: str,
           targets: tuple[str, ...] | list[str], *, step: str = "", document_id: int | None = None) -> int:
    """Queue a problem notice in the caller's transaction (unique per problem, cycle, step, person)."""
    return outbox.enqueue(session, event=event, hazard_id=None, cycle=problem.cycle,
                          step=f"problem:{problem.id}:{step}" if step else f"problem:{problem.id}",
                          recipients=recipients(session, problem, targets), subject=subject, body=body,
                          document_id=document_id)


def due_dates(problem: CampaignProblem, cfg: config.CampaignConfig) -> list[tuple[config.ProblemStep, date]]:
    deadline = clock.local_date(problem.deadline)  # type: ignore[arg-type]
    return [(s, calendar.add_workdays(deadline, s.offset)) for s in cfg.steps]


@dataclass
class SweepResult:
    as_of: date
    problems: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    documents: int = 0
    notifications: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "problems": self.problems, "steps": self.steps, "documents": self.documents,
                "notifications": self.notifications}


def _context(session: Session, problem: CampaignProblem, cfg: config.CampaignConfig, day: date, number: str,
             title: str) -> dict[str, Any]:
    obj = session.get(CampaignObject, problem.object_id)
    region = session.get(Region, problem.region_code)
    deadline = clock.local_date(problem.deadline)  # type: ignore[arg-type]
    try:
        name = cfg.get(problem.campaign).name
    except config.CampaignConfigError:
        name = problem.campaign
    addressee = f"{region.name}{'办事处' if region.kind == 'street' else '人民政府' if region.kind == 'town' else '管委会'}" \
        if region else problem.region_code
    return {"issuing_body": get_settings().issuing_body, "number": number, "title": title, "addressee": addressee,
            "copy_to": "市安委办" if problem.department_code is None else "行业监管部门、市安委办",
            "found_cn": documents.cn_date(clock.local_date(problem.found_at)), "campaign_name": name,
            "object_title": obj.title if obj else "", "object_code": obj.code if obj else "",
            "region_name": region.name if region else problem.region_code, "problem_code": problem.code,
            "item_text": problem.item_text.rstrip("。的"), "responsible": problem.responsible or "责任单位",
            "deadline_cn": documents.cn_date(deadline), "issue_date_cn": documents.cn_date(day),
            "days_overdue": max(0, (day - deadline).days),
            "respond_by_cn": documents.cn_date(calendar.add_workdays(day, 3))}


def sweep(session: Session, as_of: date | None = None, actor: AppUser | None = None) -> SweepResult:
    """Issue every ladder step due by `as_of` for the rectifying problems, each once per cycle."""
    if actor is not None:
        campaign_guards.run_ladder(actor)
    who = actor.username if actor is not None else ladder.SYSTEM_ACTOR
    day = as_of or clock.today()
    cfg = rules()
    result = SweepResult(day)
    first_offset = min((s.offset for s in cfg.steps), default=0)
    # The earliest step is due `first_offset` working days from the deadline: only problems whose
    # deadline is at most that far ahead can have anything due (a week's margin for holidays).
    horizon = clock.end_of_day_utc(day + timedelta(days=max(0, -first_offset) * 2 + 7))
    problems = session.exec(select(CampaignProblem).where(CampaignProblem.state == "rectifying",
                                                          CampaignProblem.deadline <= horizon)
                            .order_by(CampaignProblem.id)).all()
    table = ProblemStep.__table__
    for problem in problems:
        result.problems += 1
        for step, due in due_dates(problem, cfg):
            if due > day:
                continue
            new_id = session.execute(insert_or_skip(session, table, ["problem_id", "cycle", "step"])
                                     .returning(table.c.id), {
                "problem_id": problem.id, "cycle": problem.cycle, "step": step.code, "name": step.name,
                "kind": step.kind, "due_date": due, "created_at": clock.utcnow()}).scalar()
            if new_id is None:
                continue  # issued before: once per problem, cycle and step
            row = session.get(ProblemStep, new_id)
            deadline = clock.local_date(problem.deadline)  # type: ignore[arg-type]
            document_id = None
            if step.kind == "letter":
                serial, number = ladder.number_one(session, step.doc_type or "督", day)
                title = f"关于督促整改问题隐患{problem.code}的通知"
                html, text = documents.render("doc_problem", _context(session, problem, cfg, day, number, title))
                row.number, row.title, row.html, row.text = number, title, html, text
                row.sha256, row.text_sha256 = documents.sha256(html), documents.sha256(text)
                session.add(row)
                session.flush()
                result.documents += 1
                subject, body = f"{step.name}：{number}", text
            else:
                late = (day - deadline).days
                when = f"已逾期 {late} 天" if late > 0 else f"将于 {deadline.isoformat()} 到期"
                subject = f"{step.name}：问题隐患 {problem.code} {when}"
                body = (f"问题隐患 {problem.code}（{problem.item_text}）整改期限 {deadline.isoformat()}，{when}。"
                        f"请责任单位尽快整改并上传整改后照片，报告整改完成。")
            queued = notify(session, problem, EVENT, subject, body, step.to, step=step.code, document_id=document_id)
            result.notifications += queued
            audit.append(session, actor=who, action="problem_step_issued", after={
                "problem": problem.code, "cycle": problem.cycle, "step": step.code, "step_id": new_id,
                "due_date": due, "number": row.number, "sha256": row.sha256, "notifications": queued})
            result.steps.append({"problem": problem.code, "cycle": problem.cycle, "step": step.code,
                                 "name": step.name, "due_date": due, "number": row.number})
    return result


def steps_of(session: Session, problem_id: int) -> list[ProblemStep]:
    return list(session.exec(select(ProblemStep).where(ProblemStep.problem_id == problem_id)
                             .order_by(ProblemStep.cycle, ProblemStep.due_date, ProblemStep.id)).all())


def stored_letter(step: ProblemStep, html: bool = False) -> str:
    """A letter step's stored text, refused if it no longer matches its hash."""
    return documents.stored_body(step, html)
