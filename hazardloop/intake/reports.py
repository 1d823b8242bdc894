"""Public reports (举报): plain functions for every step, the reward, the identity door, reminders.

Confidentiality: the reporter's name and contact are Fernet tokens in the row;
nothing here writes them to the audit trail, a notification, a log or a list.
The only way to read them is reveal_identity(), allowed to the accepting role
and itself audited (who read, which report — never the values).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from hazardloop.config import bounds, clock, labels, secrecy
from hazardloop.config.intake_rules import RuleError, add_days, compute_reward, report_rules, reward_rules
from hazardloop.models import audit
from hazardloop.errors import ConflictError, NotFound, ValidationError
from hazardloop.models.intake import PublicReport
from hazardloop.models.tables import AppUser, Hazard, Industry
from hazardloop.notifications import outbox, sealed
from hazardloop.notifications.recipients import Recipient
from hazardloop.states import ledger
from hazardloop.states import report_machine as rm
from hazardloop.states.roles import Role
from hazardloop.intake import merge as merging

PUBLIC_ACTOR = "public"  # the trail's actor for a citizen's own submission: no account name is linked
IDENTITY_FIELDS = ("reporter_name_enc", "reporter_contact_enc")


def get_report(session: Session, ref: int | str) -> PublicReport:
    report = None
    if isinstance(ref, int) or str(ref).isdigit():
        report = session.get(PublicReport, int(ref))
    if report is None:
        report = session.exec(select(PublicReport).where(PublicReport.code == str(ref).upper())).first()
    if report is None:
        raise NotFound(f"没有编号为 {ref} 的举报。")
    return report


def _summary(report: PublicReport, fields: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {"report": report.code, "state": report.state}
    out.update({f: getattr(report, f) for f in fields})
    return out


def _audit(session: Session, actor: str, action: str, report: PublicReport, before: dict | None,
           after: dict, reason: str | None = None) -> None:
    for d in (before or {}), after:
        assert not set(d) & set(IDENTITY_FIELDS), "identity must never reach the audit trail"
    audit.append(session, actor=actor, action=action, hazard_id=report.hazard_id, before=before, after=after,
                 reason=reason)


def _step(session: Session, report: PublicReport, trigger: str, actor: AppUser, data: dict[str, Any],
          changes: dict[str, Any], *, reason: str | None = None, expected_version: int | None = None,
          extra: dict[str, Any] | None = None) -> PublicReport:
    if expected_version is not None and report.version != expected_version:
        raise ConflictError(f"举报 {report.code} 已被他人办理（当前：{rm.STATE_NAMES[report.state]}），请刷新后重试。")
    fields = tuple(changes)
    before = _summary(report, fields)
    rm.fire(report, trigger, actor, data)
    for k, v in changes.items():
        setattr(report, k, v)
    code = report.code
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(f"举报 {code} 已被他人同时办理，本次操作未生效，请刷新后重试。") from exc
    after = _summary(report, fields) | (extra or {})
    _audit(session, actor.username, f"report_{trigger}", report, before, after, reason)
    return report


# --- submit -----------------------------------------------------------------------


def submit(session: Session, actor: AppUser, *, content: str, enterprise: str | None = None,
           location: str | None = None, reporter_name: str | None = None, reporter_contact: str | None = None,
           via: str = "platform", feedback_channel: str | None = None) -> PublicReport:
    """Register a report.  No name ⇒ anonymous (allowed).  feedback_channel (sms / email): the
    reporter asks for the feedback and the reward decision there, at the contact given."""
    rm.may_submit(actor)
    if not content or not content.strip():
        raise ValidationError("举报内容不能为空。")
    bounds.check_text(content, "举报内容")
    feedback_channel = check_feedback_channel(feedback_channel, reporter_contact)
    ent = None
    if enterprise:
        try:
            ent = ledger.get_enterprise(session, enterprise)
        except NotFound:
            ent = None  # the reporter may name a company we do not know yet; the office matches it on accept
    anonymous = not (reporter_name and reporter_name.strip())
    report = PublicReport(
        content=content.strip(), location=location, enterprise_id=ent.id if ent else None,
        enterprise_name=(enterprise or "").strip() or None, anonymous=anonymous, received_via=via,
        reporter_name_enc=secrecy.encrypt(reporter_name), reporter_contact_enc=secrecy.encrypt(reporter_contact),
        feedback_channel=feedback_channel,
    )
    session.add(report)
    session.flush()
    report.code = f"JB-{clock.local_date(report.received_at).year}-{report.id:06d}"
    issue_query_code(report)  # written with the code, in the same UPDATE
    session.flush()
    who = PUBLIC_ACTOR if actor.role == Role.public else actor.username
    _audit(session, who, "report_submit", report, None, {
        "report": report.code, "state": report.state, "anonymous": anonymous, "enterprise_id": report.enterprise_id,
        "received_via": via, "has_contact": report.reporter_contact_enc is not None,
        "feedback_channel": feedback_channel,
    })
    return report


_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_feedback_channel(channel: str | None, contact: str | None) -> str | None:
    """The chosen channel's code (Chinese names accepted), checked against the contact given:
    短信 needs a mobile number, 电子邮件 an e-mail address.  The contact is never echoed."""
    if channel is None or not str(channel).strip():
        return None
    code = labels.resolve("feedback_channel", str(channel).strip(), "反馈方式")
    if not (contact and contact.strip()):
        raise ValidationError(f"选择了{labels.label('feedback_channel', code)}反馈，请填写联系方式。")
    if not (_MOBILE if code == "sms" else _EMAIL).match(sealed.normalise(code, contact)):
        raise ValidationError("选择短信反馈时，联系方式应为 11 位手机号码。" if code == "sms"
                              else "选择电子邮件反馈时，联系方式应为电子邮件地址（如 name@example.com）。")
    return code


def _tell_reporter(session: Session, report: PublicReport, event: str, subject: str, body: str) -> int:
    """Queue a notice to the reporter on the channel they chose, if they chose one (same transaction
    as the step).  The row names the report; the dispatcher decrypts the address when it sends."""
    if not report.feedback_channel or report.reporter_contact_enc is None:
        return 0
    assert report.id is not None
    return sealed.enqueue_reporter(session, report_id=report.id, cycle=report.cycle, event=event,
                                   channel=report.feedback_channel, subject=subject, body=body)


TRACK_HINT = "凭举报编号和查询码可随时查询办理情况（网页“举报办理情况查询” /track）。本通知请勿回复。"


# --- the reporter's 查询码 -------------------------------------------------------------------------

# No 0/O, 1/I/L: read out on the phone or copied from paper without mistakes.  12 characters of 31
# are 59 bits; with the argon2id hash each guess costs the server's hashing time.
QUERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
QUERY_LENGTH = 12
# argon2id at OWASP's minimum (19 MiB, 2 passes): tens of ms per check, not the console's login cost
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_ISSUED: dict[str, str] = {}  # report code -> the plain 查询码, until the submitting caller reads it once


def _format_code(raw: str) -> str:
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _normalise_code(value: str | None) -> str:
    return re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", value or "").upper())


def issue_query_code(report: PublicReport) -> None:
    """Give the report its 查询码: only the hash is stored; the plain code waits for query_code_of()."""
    raw = "".join(secrets.choice(QUERY_ALPHABET) for _ in range(QUERY_LENGTH))
    report.query_code_hash = _HASHER.hash(raw)
    if len(_ISSUED) > 1000:  # a caller that never asked: do not keep codes around
        _ISSUED.clear()
    _ISSUED[str(report.code)] = _format_code(raw)


def query_code_of(report: PublicReport) -> str | None:
    """The 查询码 just issued for this report — once: a second call answers None."""
    return _ISSUED.pop(str(report.code), None)


def _check_query_code(report: PublicReport | None, query_code: str | None) -> bool:
    raw = _normalise_code(query_code)
    if report is None or not report.query_code_hash or len(raw) != QUERY_LENGTH:
        _HASHER.hash("x" * QUERY_LENGTH)  # the same time whether or not the report exists
        return False
    try:
        return _HASHER.verify(report.query_code_hash, raw)
    except (VerificationError, InvalidHashError):
        return False


def track(session: Session, ref: str, query_code: str | None) -> dict[str, Any]:
    """What the reporter may see of their report, given its number and 查询码: its status, the
    feedback and the reward decision — nothing of the enterprise's internal data (no hazard, plan,
    verification note, handling department or officer).  A wrong number or code gets one answer."""
    report = session.exec(select(PublicReport).where(PublicReport.code == str(ref or "").strip().upper())).first()
    if not _check_query_code(report, query_code):
        raise NotFound("举报编号或查询码不正确。")
    assert report is not None
    _audit(session, PUBLIC_ACTOR, "report_status_read", report, None, {"report": report.code})
    running = current_deadline(report)
    reward = None
    if report.reward_decided_at is not None:
        reward = {"amount": report.reward_amount, "basis": (report.reward or {}).get("basis"),
                  "decided_on": clock.local_date(report.reward_decided_at),
                  "paid": report.paid_at is not None,
                  "paid_on": clock.local_date(report.paid_at) if report.paid_at else None}
    return {
        "report": report.code, "state": report.state, "state_name": rm.STATE_NAMES[report.state],
        "received_on": clock.local_date(report.received_at),
        "accepted_on": clock.local_date(report.accepted_at) if report.accepted_at and report.state != "not_accepted" else None,
        "decline_reason": report.decline_reason if report.state == "not_accepted" else None,
        "verdict": report.verdict, "verdict_name": rm.VERDICTS.get(report.verdict or ""),
        "verified_on": clock.local_date(report.verified_at) if report.verified_at else None,
        "feedback": report.feedback_text, "feedback_on": clock.local_date(report.feedback_at) if report.feedback_at else None,
        "reward": reward,
        "next_deadline": ({"phase": PHASE_NAMES[running[0]], "date": running[1]} if running else None),
    }


# --- accept / decline ------------------------------------------------------------------


def _department_for(session: Session, enterprise_id: int) -> str | None:
    ent = ledger.get_enterprise(session, enterprise_id)
    industry = session.get(Industry, ent.industry_code)
    return industry.department_code if industry else None


def accept(session: Session, actor: AppUser, ref: int | str, *, enterprise: str | None = None,
           department: str | None = None, expected_version: int | None = None) -> PublicReport:
    report = get_report(session, ref)
    ent_id = report.enterprise_id
    if enterprise:
        ent_id = ledger.get_enterprise(session, enterprise).id
    dept = department or (_department_for(session, ent_id) if ent_id else None)
    now = clock.utcnow()
    due = clock.end_of_day_utc(report_rules().due("verify", clock.local_date(now)))
    return _step(session, report, "accept", actor, {"enterprise_id": ent_id}, {
        "enterprise_id": ent_id, "department_code": dept, "accepted_by": actor.username, "accepted_at": now,
        "verify_deadline": due, "cycle": report.cycle + 1,
    }, expected_version=expected_version)


def decline(session: Session, actor: AppUser, ref: int | str, *, reason: str | None,
            expected_version: int | None = None) -> PublicReport:
    report = get_report(session, ref)
    return _step(session, report, "decline", actor, {"reason": reason},
                 {"decline_reason": (reason or "").strip(), "accepted_by": actor.username,
                  "accepted_at": clock.utcnow()}, reason=reason, expected_version=expected_version)


# --- verification ----------------------------------------------------------------------


def start_verification(session: Session, actor: AppUser, ref: int | str) -> PublicReport:
    report = get_report(session, ref)
    return _step(session, report, "start_verification", actor, {}, {"verifier": actor.username})


def extend_verification(session: Session, actor: AppUser, ref: int | str, *, days: int | None,
                        reason: str | None) -> PublicReport:
    report = get_report(session, ref)
    rules = report_rules()
    data = {"days": days, "reason": reason}
    new_due = None
    # Only a number of days the guard will accept is added to a date (11,455,704 days overflowed).
    if isinstance(days, int) and 1 <= days <= rules.extension_max_days and report.verify_deadline is not None:
        new_due = clock.end_of_day_utc(add_days(clock.local_date(report.verify_deadline), days, rules.extension_unit))
    return _step(session, report, "extend_verification", actor, data, {
        "verify_deadline": new_due, "verify_extended": True, "extension_reason": (reason or "").strip(),
        "cycle": report.cycle + 1}, reason=reason)


@dataclass
class VerifyOutcome:
    report: PublicReport
    hazard: Hazard | None
    created: bool
    candidates: list[merging.Candidate]


def verify(session: Session, actor: AppUser, ref: int | str, *, verdict: str | None, note: str | None,
           hazard: int | str | None = None, title: str | None = None) -> VerifyOutcome:
    """Record the verdict.  True or partly true: attach to the named hazard, or create one
    (channel public_report) and show same-enterprise look-alikes for a possible merge."""
    report = get_report(session, ref)
    now = clock.utcnow()
    due = clock.end_of_day_utc(report_rules().due("feedback", clock.local_date(now)))
    target, created, cands = None, False, []
    _step(session, report, "verify", actor, {"verdict": verdict, "note": note}, {
        "verdict": verdict, "verify_note": (note or "").strip(), "verified_by": actor.username, "verified_at": now,
        "feedback_deadline": due, "cycle": report.cycle + 1})
    if verdict in ("true", "partly"):
        if hazard is not None:
            target = ledger.get_hazard(session, hazard)
            if target.enterprise_id != report.enterprise_id:
                raise ValidationError(f"隐患 {target.code} 与举报 {report.code} 的被举报企业不同，不能关联。")
        else:
            text = report.content
            target = ledger.report(session, actor, enterprise=report.enterprise_id,
                                   title=(title or text.splitlines()[0])[:60], channel="public_report",
                                   description=text, location=report.location)
            created = True
            cands = merging.candidates(session, target.enterprise_id, f"{target.title} {target.description}",
                                       target.location, exclude=target.id)
        merging.add_source(session, target, channel="public_report", kind="report", ref=report.code,
                           actor=actor.username)
        report.hazard_id = target.id
        session.flush()
        _audit(session, actor.username, "report_link", report, None,
               {"report": report.code, "hazard": target.code, "created": created})
    return VerifyOutcome(report, target, created, cands)


# --- feedback and reward -------------------------------------------------------------------


def give_feedback(session: Session, actor: AppUser, ref: int | str, *, text: str | None) -> PublicReport:
    report = get_report(session, ref)
    extra = {"feedback_channel": report.feedback_channel} if report.feedback_channel else None
    _step(session, report, "give_feedback", actor, {"text": text},
          {"feedback_text": (text or "").strip(), "feedback_by": actor.username, "feedback_at": clock.utcnow()},
          extra=extra)
    _tell_reporter(session, report, "reporter_feedback", f"举报 {report.code} 办理结果反馈",
                   f"您于 {clock.local_date(report.received_at)} 提交的举报 {report.code} 已核查处理，"
                   f"办理结果反馈如下：\n\n{report.feedback_text}\n\n{TRACK_HINT}")
    return report


def first_rewardable(session: Session, report: PublicReport) -> PublicReport | None:
    """The earliest real-name report of the same hazard with a rewarded verdict."""
    doc = reward_rules()
    if report.hazard_id is None:
        return report
    stmt = select(PublicReport).where(PublicReport.hazard_id == report.hazard_id,
                                      PublicReport.verdict.in_([str(v).lower() for v in doc["verdicts_rewarded"]]))  # type: ignore[union-attr]
    if not doc.get("anonymous_rewarded", False):
        stmt = stmt.where(PublicReport.anonymous == False)  # noqa: E712
    return session.exec(stmt.order_by(PublicReport.received_at, PublicReport.id)).first()


def decide_reward(session: Session, actor: AppUser, ref: int | str, *, rule: str | None = None,
                  kind: str = "major", fine: Any = None, amount: Any = None,
                  reason: str | None = None) -> PublicReport:
    report = get_report(session, ref)
    doc = reward_rules()
    rewarded_verdicts = [str(v).lower() for v in doc["verdicts_rewarded"]]
    result: dict[str, Any]
    if report.verdict not in rewarded_verdicts:
        result = {"amount": 0, "basis": f"核查结论为{rm.VERDICTS.get(report.verdict or '', report.verdict)}，不予奖励。"}
    elif report.anonymous and not doc.get("anonymous_rewarded", False):
        result = {"amount": 0, "basis": "匿名举报，无法兑付，不予奖励。"}
    elif doc.get("first_reporter_only", True) and (first := first_rewardable(session, report)) is not None \
            and first.id != report.id:
        result = {"amount": 0, "basis": f"同一隐患已由更早的实名举报（{first.code}）举报，按规定只奖励最先举报人。"}
    else:
        try:
            result = compute_reward(rule, kind=kind, fine=fine, amount=amount).as_dict()
        except RuleError as exc:
            raise ValidationError(str(exc)) from exc
    name = rule or doc["default"]
    spec = doc["rules"].get(name, {})
    result.setdefault("rule", name)
    result.setdefault("rule_name", spec.get("name", name))
    result.setdefault("source", spec.get("source"))
    extra = {"feedback_channel": report.feedback_channel} if report.feedback_channel else None
    _step(session, report, "decide_reward", actor, {}, {
        "reward": result, "reward_amount": int(result["amount"]), "reward_decided_by": actor.username,
        "reward_decided_at": clock.utcnow()}, reason=reason, extra=extra)
    amount = int(result["amount"])
    decided = (f"奖励金额 {amount} 元，兑付事宜另行通知。" if amount > 0 else "不予奖励。")
    _tell_reporter(session, report, "reporter_reward", f"举报 {report.code} 奖励决定",
                   f"您提交的举报 {report.code} 的奖励已核定：{decided}\n依据：{result.get('basis') or ''}\n\n"
                   f"{TRACK_HINT}")
    return report


def pay(session: Session, actor: AppUser, ref: int | str, *, payment_ref: str | None) -> PublicReport:
    report = get_report(session, ref)
    return _step(session, report, "pay", actor, {"payment_ref": payment_ref},
                 {"paid_by": actor.username, "paid_at": clock.utcnow(), "payment_ref": (payment_ref or "").strip()})


# --- reading -------------------------------------------------------------------------------


def report_dict(report: PublicReport) -> dict[str, Any]:
    """Everything but the identity (what lists, show and JSON output carry)."""
    data = report.model_dump(exclude=set(IDENTITY_FIELDS) | {"query_code_hash"})
    data["state_name"] = rm.STATE_NAMES[report.state]
    data["verdict_name"] = rm.VERDICTS.get(report.verdict or "")
    data["reporter"] = "匿名" if report.anonymous else "实名（身份保密）"
    data["feedback_channel_name"] = labels.label("feedback_channel", report.feedback_channel) or "不需要"
    return data


def reveal_identity(session: Session, actor: AppUser, ref: int | str) -> dict[str, str | None]:
    """The reporter's name and contact, for the accepting officer only; the read is audited."""
    report = get_report(session, ref)
    rm.may_read_identity(actor)
    try:
        identity = {"name": secrecy.decrypt(report.reporter_name_enc),
                    "contact": secrecy.decrypt(report.reporter_contact_enc)}
    except secrecy.KeyError_ as exc:
        raise ValidationError(str(exc)) from exc
    _audit(session, actor.username, "report_identity_read", report, None,
           {"report": report.code, "fields": ["name", "contact"]})
    return identity


def view(session: Session, actor: AppUser, ref: int | str) -> PublicReport:
    report = get_report(session, ref)
    if not rm.may_view(actor, report):
        raise NotFound(f"没有编号为 {ref} 的举报。")
    return report


def list_reports(session: Session, actor: AppUser, *, state: str | None = None, limit: int = 200) -> list[PublicReport]:
    stmt = select(PublicReport)
    if actor.role == Role.supervisor:
        stmt = stmt.where(PublicReport.department_code == actor.department_code)
    elif not (actor.role in (Role.committee, Role.system) or actor.role == report_rules().accepting_role):
        return []
    if state:
        stmt = stmt.where(PublicReport.state == state)
    return list(session.exec(stmt.order_by(PublicReport.id).limit(limit)).all())


# --- deadlines, reminders and escalation -------------------------------------------------------


def current_deadline(report: PublicReport) -> tuple[str, date] | None:
    """(phase, Shanghai date) of the deadline now running, or None."""
    if report.state == "received":
        return "accept", report_rules().due("accept", clock.local_date(report.received_at))
    if report.state in ("accepted", "verifying") and report.verify_deadline:
        return "verify", clock.local_date(report.verify_deadline)
    if report.state == "verified" and report.feedback_deadline and not report.anonymous:
        return "feedback", clock.local_date(report.feedback_deadline)
    return None


def _people(session: Session, role: str, department: str | None = None) -> list[Recipient]:
    stmt = select(AppUser).where(AppUser.active == True, AppUser.role == role)  # noqa: E712
    if department is not None:
        stmt = stmt.where(AppUser.department_code == department)
    return [Recipient("department" if role == "supervisor" else "committee", u.name, u.phone, u.email, u.username)
            for u in session.exec(stmt.order_by(AppUser.id)).all()]


def _recipients(session: Session, report: PublicReport, phase: str, targets: list[str]) -> list[Recipient]:
    rules = report_rules()
    out: list[Recipient] = []
    for target in targets:
        if target == "handler" and phase == "verify" and report.department_code:
            out += _people(session, "supervisor", report.department_code)
        elif target in ("handler", "accepting"):
            out += _people(session, rules.accepting_role)
        elif target == "committee":
            out += _people(session, "committee")
    seen, unique = set(), []
    for r in out:
        if r.username not in seen:
            seen.add(r.username)
            unique.append(r)
    return unique


PHASE_NAMES = {"accept": "受理", "verify": "核查", "feedback": "反馈"}


def sweep(session: Session, actor: AppUser, today: date | None = None) -> dict[str, int]:
    """Queue every due reminder/overdue/escalation notice for open reports; idempotent
    (the outbox key names report, phase, cycle and step), and a missed day catches up."""
    rm.may_sweep(actor)
    today = today or clock.today()
    rules = report_rules()
    queued, checked = 0, 0
    open_states = ("received", "accepted", "verifying", "verified")
    for report in session.exec(select(PublicReport).where(PublicReport.state.in_(open_states))  # type: ignore[union-attr]
                               .order_by(PublicReport.id)).all():
        running = current_deadline(report)
        if running is None:
            continue
        checked += 1
        phase, due = running
        for rem in rules.reminders:
            if add_days(due, rem["offset"], "working") > today:
                continue
            late = (today - due).days
            when = f"已逾期 {late} 天" if late > 0 else ("今天到期" if late == 0 else f"还有 {-late} 天到期")
            subject = f"【{rem.get('name', rem['step'])}】举报 {report.code} 的{PHASE_NAMES[phase]}期限 {due.isoformat()}"
            body = (f"举报 {report.code}（{rm.STATE_NAMES[report.state]}）的{PHASE_NAMES[phase]}期限为 "
                    f"{due.isoformat()}，{when}。请及时办理。\n（举报人信息保密，不在通知中显示。）")
            queued += outbox.enqueue(
                session, event=f"report_{rem['step']}", hazard_id=None, cycle=report.cycle,
                step=f"R{report.id}:{phase}:{rem['step']}", recipients=_recipients(session, report, phase, rem["to"]),
                subject=subject, body=body)
    if queued:
        audit.append(session, actor=actor.username, action="report_sweep", after={"queued": queued, "checked": checked,
                                                                              "date": today})
    return {"checked": checked, "queued": queued}
