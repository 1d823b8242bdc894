"""Campaign checks and the problems (问题隐患) they find.

A check records every checklist item of the object's campaign as met / not met / not
applicable, with photos; each "not met" becomes a problem (state found).  The problems'
loop runs on states.problem_machine (guards in states.campaign_guards): assign (responsible
person and deadline) → rectify (a note and ≥ 1 photo or file) → verify (closed) or reject
(reason, new deadline).  A problem judged to be a major accident hazard is raised into the
hazard ledger through hazardloop.states.ledger.report (and confirm, when the actor may and a
level is given) with its basis: the hazard row is created by the ledger, never copied, and
the two are linked both ways (campaign_problem.hazard_id; the audit event problem_raise_major
on the hazard's trail names the problem).  Every change is audited in the same transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, func, select

from hazardloop.campaigns import inventory
from hazardloop.config import clock, labels
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.escalation import problems as ladder
from hazardloop.models import audit
from hazardloop.models.campaigns import CampaignCheck, CampaignObject, CampaignPhoto, CampaignProblem
from hazardloop.models.tables import AppUser, Hazard, Standard
from hazardloop.states import campaign_guards as guards
from hazardloop.states import ledger, problem_machine
from hazardloop.states.errors import MissingData

RESULTS = labels.CHECK_RESULTS
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".pdf"}
MAX_PHOTO_BYTES = 20 * 1024 * 1024


# --- files ---------------------------------------------------------------------------------------


def store_file(src: str | Path) -> tuple[str, str, int]:
    """Store a photo as hazard evidence is stored (content-addressed, private modes): (where, sha256, size)."""
    src = Path(src)
    if src.is_file() and src.stat().st_size > MAX_PHOTO_BYTES:
        raise ValidationError(f"照片 {src.name} 超过 20 MB。")
    target, sha, size = ledger.store_private_file(src, "照片")
    return str(target), sha, size


def _photo(session: Session, actor: AppUser, path: str | Path, filename: str | None, *, purpose: str,
           check_id: int | None = None, problem: CampaignProblem | None = None, item_no: int | None = None) -> CampaignPhoto:
    name = (filename or Path(path).name)[:255]
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        raise ValidationError(f"{name} 不是照片（可用：{'、'.join(sorted(IMAGE_SUFFIXES))}）。")
    stored, sha, size = store_file(path)
    photo = CampaignPhoto(check_id=check_id, problem_id=problem.id if problem else None, item_no=item_no,
                          cycle=problem.cycle if problem else 0, purpose=purpose, filename=name, stored_path=stored,
                          sha256=sha, size=size, uploaded_by=actor.username)
    session.add(photo)
    session.flush()
    return photo


# --- checks -----------------------------------------------------------------------------------------


def record_check(session: Session, actor: AppUser, ref: int | str, results: dict[Any, str], *,
                 notes: dict[Any, str] | None = None, photos: list[tuple[int | None, str | Path, str | None]] = (),
                 responsible: str | None = None, deadline: date | None = None,
                 ) -> tuple[CampaignCheck, list[CampaignProblem]]:
    """One check of an object against its campaign's checklist: every item met / not_met / na.
    Each not_met item becomes a problem; with a deadline, each is assigned at once (to
    `responsible`, default the object's responsible person)."""
    obj = inventory.get_object(session, ref)
    guards.check(actor, obj)
    c = inventory.campaign(obj.campaign)
    given = {int(k): v for k, v in results.items() if str(k).strip().isdigit()}
    bad = [f"第 {k} 项：{v!r}" for k, v in given.items() if v not in RESULTS]
    if bad:
        raise ValidationError("检查结果只能是 " + "、".join(f"{k}（{v}）" for k, v in RESULTS.items())
                              + "；" + "；".join(bad) + "。")
    extra = sorted(set(given) - {i.no for i in c.items})
    if extra:
        raise ValidationError(f"{c.name}的检查清单只有第 1–{len(c.items)} 项，收到第 {'、'.join(map(str, extra))} 项。")
    missing = [i.no for i in c.items if i.no not in given]
    if missing:
        raise MissingData(f"检查清单第 {'、'.join(map(str, missing))} 项尚未填写（每项须选择符合、不符合或不适用）。")
    notes = {int(k): str(v).strip() for k, v in (notes or {}).items() if str(v or "").strip()}
    counts = {r: sum(1 for v in given.values() if v == r) for r in RESULTS}
    check = CampaignCheck(object_id=obj.id, campaign=obj.campaign, region_code=obj.region_code,
                          checked_by=actor.username, results={str(k): given[k] for k in sorted(given)},
                          notes={str(k): v for k, v in notes.items()}, met=counts["met"],
                          not_met=counts["not_met"], na=counts["na"])
    session.add(check)
    session.flush()
    stored = [_photo(session, actor, path, name, purpose="check", check_id=check.id, item_no=no)
              for no, path, name in photos]
    audit.append(session, actor=actor.username, action="campaign_check", after={
        "object": obj.code, "campaign": obj.campaign, "check_id": check.id, "results": check.results,
        "photos": [p.sha256 for p in stored]})
    found = []
    for no in sorted(k for k, v in given.items() if v == "not_met"):
        item = c.item(no)
        problem = CampaignProblem(campaign=obj.campaign, object_id=obj.id, check_id=check.id, item_no=no,
                                  item_text=item.text, description=notes.get(no, ""), region_code=obj.region_code,
                                  industry_code=obj.industry_code, department_code=obj.department_code,
                                  enterprise_id=obj.enterprise_id, found_by=actor.username)
        session.add(problem)
        session.flush()
        problem.code = f"WT-{clock.local_date(problem.found_at).year}-{problem.id:06d}"
        for p in stored:
            if p.item_no == no:
                p.problem_id = problem.id
                session.add(p)
        session.flush()
        audit.append(session, actor=actor.username, action="problem_found", after={
            "problem": problem.code, "object": obj.code, "check_id": check.id, "item_no": no,
            "item_text": item.text, "description": problem.description})
        found.append(problem)
    if deadline is not None:
        who = responsible or obj.fields.get("responsible_person") or obj.fields.get("safety_contact") \
            or obj.fields.get("site_manager") or obj.fields.get("contractor_site_manager") or obj.fields.get("owner")
        for problem in found:
            assign(session, actor, problem.id, responsible=who, deadline=deadline)
    return check, found


# --- the problems' loop -------------------------------------------------------------------------


def get_problem(session: Session, ref: int | str) -> CampaignProblem:
    ref_s = str(ref).strip()
    problem = session.get(CampaignProblem, int(ref_s)) if ref_s.isdigit() else None
    if problem is None:
        problem = session.exec(select(CampaignProblem).where(CampaignProblem.code == ref_s.upper())).first()
    if problem is None:
        raise NotFound(f"没有编号为 {ref} 的问题隐患。")
    return problem


def view_problem(session: Session, viewer: AppUser, ref: int | str) -> CampaignProblem:
    problem = get_problem(session, ref)
    if not guards.can_view(viewer, problem):
        raise NotFound(f"没有编号为 {ref} 的问题隐患。")
    return problem


def _transition(session: Session, problem: CampaignProblem, trigger: str, actor: AppUser, data: dict[str, Any],
                changes: dict[str, Any], *, reason: str | None = None, hazard_id: int | None = None,
                expected_version: int | None = None, extra: dict[str, Any] | None = None) -> CampaignProblem:
    if expected_version is not None and problem.version != expected_version:
        raise ConflictError(f"问题隐患 {problem.code} 已被他人修改，请刷新后重试。")
    before = {"state": problem.state, **{k: getattr(problem, k) for k in changes}}
    problem_machine.fire(problem, trigger, actor, data)
    for k, v in changes.items():
        setattr(problem, k, v)
    audit.append(session, actor=actor.username, action=f"problem_{trigger}", hazard_id=hazard_id, before=before,
                 after={"problem": problem.code, "state": problem.state, **changes, **(extra or {})}, reason=reason)
    code = problem.code
    try:
        session.add(problem)
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(f"问题隐患 {code} 已被他人同时修改，本次操作未生效，请刷新后重试。") from exc
    return problem


def assign(session: Session, actor: AppUser, ref: int | str, *, responsible: str | None, deadline: date | None,
           expected_version: int | None = None) -> CampaignProblem:
    problem = get_problem(session, ref)
    data = {"responsible": responsible, "deadline": deadline}
    changes = {"responsible": (responsible or "").strip() or None, "assigned_by": actor.username,
               "deadline": clock.end_of_day_utc(deadline) if isinstance(deadline, date) else None,
               "cycle": problem.cycle + 1}
    _transition(session, problem, "assign", actor, data, changes, expected_version=expected_version)
    ladder.notify(session, problem, "problem_assigned", f"问题隐患整改通知：{problem.code}",
                  f"专项整治检查发现问题隐患 {problem.code}：{problem.item_text}。请于 {deadline.isoformat()} 前"  # type: ignore[union-attr]
                  f"完成整改并上传整改后照片。", ("responsible", "township"))
    return problem


def add_evidence(session: Session, actor: AppUser, ref: int | str, path: str | Path,
                 filename: str | None = None) -> CampaignPhoto:
    problem = get_problem(session, ref)
    guards.upload_photo(actor, problem)
    if problem.state != "rectifying":
        raise MissingData(f"只有整改中的问题隐患可以上传整改照片；{problem.code} 当前为"
                          f"{labels.PROBLEM_STATES.get(problem.state, problem.state)}。")
    photo = _photo(session, actor, path, filename, purpose="evidence", problem=problem)
    audit.append(session, actor=actor.username, action="problem_evidence", after={
        "problem": problem.code, "photo_id": photo.id, "filename": photo.filename, "sha256": photo.sha256,
        "cycle": problem.cycle})
    return photo


def evidence_count(session: Session, problem: CampaignProblem) -> int:
    return session.exec(select(func.count()).select_from(CampaignPhoto).where(
        CampaignPhoto.problem_id == problem.id, CampaignPhoto.purpose == "evidence",
        CampaignPhoto.cycle == problem.cycle)).one()


def rectify(session: Session, actor: AppUser, ref: int | str, *, note: str | None,
            evidence: list[tuple[str | Path, str | None]] = (), expected_version: int | None = None) -> CampaignProblem:
    problem = get_problem(session, ref)
    if expected_version is not None and problem.version != expected_version:
        raise ConflictError(f"问题隐患 {problem.code} 已被他人修改，请刷新后重试。")
    for path, name in evidence:
        add_evidence(session, actor, problem.id, path, name)
    data = {"note": note, "evidence_count": evidence_count(session, problem)}
    return _transition(session, problem, "rectify", actor, data, {
        "rectified_by": actor.username, "rectified_at": clock.utcnow(), "rectification": (note or "").strip()})


def verify(session: Session, actor: AppUser, ref: int | str, *, reason: str | None = None,
           expected_version: int | None = None) -> CampaignProblem:
    problem = get_problem(session, ref)
    return _transition(session, problem, "verify", actor, {}, {"closed_by": actor.username,
                       "closed_at": clock.utcnow()}, reason=reason, expected_version=expected_version)


def reject(session: Session, actor: AppUser, ref: int | str, *, reason: str | None, deadline: date | None,
           expected_version: int | None = None) -> CampaignProblem:
    problem = get_problem(session, ref)
    changes: dict[str, Any] = {}
    if isinstance(deadline, date):
        changes = {"deadline": clock.end_of_day_utc(deadline), "cycle": problem.cycle + 1,
                   "rejections": problem.rejections + 1, "rectified_by": None, "rectified_at": None}
    _transition(session, problem, "reject", actor, {"reason": reason, "deadline": deadline}, changes, reason=reason,
                expected_version=expected_version)
    ladder.notify(session, problem, "problem_rejected", f"问题隐患验收不通过：{problem.code}",
                  f"问题隐患 {problem.code} 验收不通过：{reason}。请于 {deadline.isoformat()} 前重新整改。",  # type: ignore[union-attr]
                  ("responsible", "township"))
    return problem


def raise_major(session: Session, actor: AppUser, ref: int | str, *, basis_code: str | None,
                basis_clause: str | None, reason: str | None, level: str | None = None,
                expected_version: int | None = None) -> tuple[CampaignProblem, Hazard]:
    """Raise a problem judged to be a major accident hazard into the ledger, with its basis.

    The hazard is reported by the actor through the ledger (channel 督导检查, its own guards);
    with `level` and an actor who may confirm it (its department's supervisor or the office),
    it is confirmed and listed at once, else it waits in found for its department.  The problem
    ends in raised, linked to the hazard."""
    problem = get_problem(session, ref)
    data = {"basis_code": basis_code, "basis_clause": basis_clause, "reason": reason}
    # Refuse before anything is written: the state, then the problem's guard (the ledger's follow).
    if "raise_major" not in problem_machine.allowed_for(problem):
        problem_machine.fire(problem, "raise_major", actor, data)  # raises the machine's refusal
    guards.raise_major(problem, actor, data)
    if session.get(Standard, basis_code) is None:
        raise ValidationError(f"判定依据 {basis_code} 不在标准目录中（见 hazardloop ref standards）。")
    obj = session.get(CampaignObject, problem.object_id)
    location = (obj.fields.get("location") or obj.fields.get("address")) if obj else None
    hazard = ledger.report(
        session, actor, enterprise=problem.enterprise_id, channel="inspection",  # type: ignore[arg-type]
        title=f"{problem.item_text.rstrip('。')}"[:200],
        description=(f"由专项整治问题隐患 {problem.code} 升级（{obj.code if obj else ''} {obj.title if obj else ''}）。"
                     f"{problem.description or ''} 升级理由：{reason}").strip(),
        location=str(location)[:200] if location else None, basis_code=basis_code, basis_clause=basis_clause)
    if level:
        ledger.confirm(session, actor, hazard.id, basis_code=basis_code, basis_clause=basis_clause, level=level)
    _transition(session, problem, "raise_major", actor, data,
                {"hazard_id": hazard.id, "raised_by": actor.username, "raised_at": clock.utcnow()},
                reason=reason, hazard_id=hazard.id, expected_version=expected_version,
                extra={"hazard": hazard.code, "basis_code": basis_code, "basis_clause": basis_clause})
    return problem, hazard


def problem_of_hazard(session: Session, hazard_id: int) -> CampaignProblem | None:
    """The other direction of the link: the campaign problem a major hazard was raised from."""
    return session.exec(select(CampaignProblem).where(CampaignProblem.hazard_id == hazard_id)).first()


def is_overdue(problem: CampaignProblem) -> bool:
    return problem.state == "rectifying" and problem.deadline is not None and problem.deadline < clock.utcnow()


def list_problems(session: Session, viewer: AppUser | None = None, *, campaign_code: str | None = None,
                  state: str | None = None, region: str | None = None, object_id: int | None = None,
                  overdue: bool = False, limit: int = 1000) -> list[CampaignProblem]:
    stmt = select(CampaignProblem)
    for column, value in ((CampaignProblem.campaign, campaign_code), (CampaignProblem.state, state),
                          (CampaignProblem.region_code, region), (CampaignProblem.object_id, object_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if overdue:
        stmt = stmt.where(CampaignProblem.state == "rectifying", CampaignProblem.deadline < clock.utcnow())
    rows = session.exec(stmt.order_by(CampaignProblem.id)).all()
    if viewer is not None:
        rows = [p for p in rows if guards.can_view(viewer, p)]
    return list(rows)[:limit]


def photos_of(session: Session, problem_id: int) -> list[CampaignPhoto]:
    return list(session.exec(select(CampaignPhoto).where(CampaignPhoto.problem_id == problem_id)
                             .order_by(CampaignPhoto.id)).all())


def hazard_code(session: Session, problem: CampaignProblem) -> str | None:
    return ledger.get_hazard(session, problem.hazard_id).code if problem.hazard_id else None


def checks_of(session: Session, object_id: int) -> list[CampaignCheck]:
    return list(session.exec(select(CampaignCheck).where(CampaignCheck.object_id == object_id)
                             .order_by(CampaignCheck.id)).all())


def default_deadline(day: date | None = None) -> date:
    return (day or clock.today()) + timedelta(days=ladder.rules().default_days)
