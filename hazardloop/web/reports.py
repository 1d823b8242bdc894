"""Public reports (举报) on the console and the JSON API.

Every step calls the same functions as `hazardloop report ...` (hazardloop.intake.reports),
so the report machine's guards (states.report_machine) decide who may do what; this module
only asks them (allowed_actions probes the same guard functions, changing nothing).

Confidentiality: lists, pages and JSON carry reports.report_dict() or fewer fields, never
the reporter's name or contact.  Those are shown only after an explicit "查看举报人身份"
POST, which goes through reports.reveal_identity(): the guard (may_read_identity) decides
and the read is audited ("report_identity_read": who read which report, never the values).
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from hazardloop.config import clock, labels
from hazardloop.config.intake_rules import reward_rules
from hazardloop.intake import reports
from hazardloop.models.db import session_scope
from hazardloop.errors import ConflictError, HazardLoopError, NotFound, ValidationError
from hazardloop.models.intake import PublicReport
from hazardloop.models.tables import AppUser, Department, Enterprise, Hazard
from hazardloop.states import report_machine as rm
from hazardloop.states.errors import InvalidTransition, MissingData, PermissionDenied
from hazardloop.web import pages, services
from hazardloop.web.api import ERRORS, User
from hazardloop.web.errors import status_of

# The action names are the CLI's (`hazardloop report accept|reject|start|extend|verify|feedback|reward|pay`).
ACTION_NAMES = {
    "accept": "受理", "reject": "不予受理", "start": "开始核查", "extend": "延长核查期限", "verify": "核查结论",
    "feedback": "反馈举报人", "reward": "核定奖励", "pay": "兑付奖励",
}
TRIGGER_OF = {"accept": "accept", "reject": "decline", "start": "start_verification",
              "extend": "extend_verification", "verify": "verify", "feedback": "give_feedback",
              "reward": "decide_reward", "pay": "pay"}
DONE = {
    "accept": "已受理，核查期限开始计算。", "reject": "已决定不予受理。", "start": "已开始核查。",
    "extend": "核查期限已延长。", "verify": "核查结论已记录。", "feedback": "已反馈举报人。",
    "reward": "奖励已核定。", "pay": "奖励已兑付。",
}
VIA = {"platform": "平台", "phone": "电话", "letter": "信件", "visit": "来访"}
# Well-formed data for each trigger: probing a guard with it leaves only the refusals that
# depend on who acts and on the record (role, department, "already extended", "0 元").
_PROBE: dict[str, dict[str, Any]] = {
    "accept": {"enterprise_id": 1}, "decline": {"reason": "-"}, "start_verification": {},
    "extend_verification": {"days": 1, "reason": "-"}, "verify": {"verdict": "true", "note": "-"},
    "give_feedback": {"text": "-"}, "decide_reward": {}, "pay": {"payment_ref": "-"},
}
AUDIT_NAMES = labels.AUDIT_ACTIONS
HANDLING = ("received", "accepted", "verifying", "verified", "feedback_given", "reward_decided")


# --- asking the guards (changes nothing) -------------------------------------------------------


def _guard_passes(report: Any, trigger: str, user: AppUser) -> bool:
    try:
        return bool(rm.GUARDS[trigger](report, user, dict(_PROBE[trigger])))
    except (PermissionDenied, MissingData):
        return False


def _passes(check: Any, *args: Any) -> bool:
    try:
        check(*args)
        return True
    except HazardLoopError:
        return False


def may(user: AppUser, report: PublicReport, action: str) -> bool:
    if not rm.may_view(user, report) or action not in TRIGGER_OF:
        return False
    trigger = TRIGGER_OF[action]
    if action == "verify" and report.state == "accepted":
        # As `report verify` on the CLI: a verdict on an accepted report starts the verification first.
        return _guard_passes(report, "start_verification", user) and _guard_passes(report, "verify", user)
    return trigger in rm.allowed_triggers(report.state) and _guard_passes(report, trigger, user)


def allowed_actions(user: AppUser, report: PublicReport) -> list[str]:
    return [a for a in ACTION_NAMES if may(user, report, a)]


def may_reveal(user: AppUser) -> bool:
    return _passes(rm.may_read_identity, user)


def may_submit(user: AppUser) -> bool:
    return _passes(rm.may_submit, user)


def may_list(user: AppUser) -> bool:
    """Whether any report could be visible to this user (a probe of rm.may_view in the user's own scope)."""
    return bool(rm.may_view(user, SimpleNamespace(department_code=user.department_code)))


def nav_links(user: AppUser | None) -> list[tuple[str, str, str]]:
    if user is None:
        return []
    links = []
    if may_list(user):
        links.append(("/reports", "nav-reports", "群众举报"))
    if may_submit(user):
        links.append(("/reports/new", "nav-report-new", "我要举报" if user.role == "public" else "登记举报"))
    return links


# --- look-ups and input -------------------------------------------------------------------------


def visible_report(session: Session, user: AppUser, ref: Any) -> PublicReport:
    """By id or code (JB-2026-000001), only if the guard lets the user see it; else 404."""
    text = str(ref or "").strip()[:40]
    number = services.small_int(text)
    if number is None and (not text or text.isdigit() or not (text.isascii() and text.isprintable())
                           or len(text) > 32):
        raise NotFound(f"没有编号为 {text} 的举报。")  # '²', a number too big for an id column, junk
    return reports.view(session, user, number if number is not None else text)


def _text(data: dict[str, Any], key: str, label: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    value = str(value)
    if "\x00" in value:
        raise ValidationError(f"{label}不能包含 NUL 字符。")
    if len(value) > limit:
        raise ValidationError(f"{label}太长（最多 {limit} 个字符）。")
    return value


def _enterprise_ref(value: str | None, label: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit() and services.small_int(value) is None:  # '²' or a number too big for an id column
        raise ValidationError(f"{label} {value[:40]} 不是有效的企业编号（可填企业编号、统一社会信用代码或名称）。")
    return value


def _check_version(report: PublicReport, version: int | None) -> None:
    # The engine takes expected_version on accept/decline; the other steps are checked here the same way
    # (same message) before the engine runs, and the version column catches a race after that.
    if version is not None and report.version != version:
        raise ConflictError(f"举报 {report.code} 已被他人办理（当前：{rm.STATE_NAMES[report.state]}），请刷新后重试。")


def _days(value: Any) -> Any:
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if isinstance(value, int):
        return value
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else text[:20]


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value or "").lower() in ("1", "true", "yes", "on")


# --- what the pages and the API share ----------------------------------------------------------


def submit(session: Session, user: AppUser, data: dict[str, Any]) -> PublicReport:
    via = str(data.get("via") or "platform")
    if via not in VIA:
        raise ValidationError("举报途径必须是 " + "、".join(f"{k}（{v}）" for k, v in VIA.items()) + " 之一。")
    content = _text(data, "content", "举报内容", 4000)
    if not content or not content.strip():
        raise ValidationError("举报内容不能为空。")
    return reports.submit(
        session, user, content=content, enterprise=_enterprise_ref(_text(data, "enterprise", "被举报企业", 200),
                                                                   "被举报企业"),
        location=(_text(data, "location", "地点", 200) or "").strip() or None,
        reporter_name=(_text(data, "reporter_name", "举报人姓名", 64) or "").strip() or None,
        reporter_contact=(_text(data, "reporter_contact", "联系方式", 100) or "").strip() or None, via=via,
        feedback_channel=(_text(data, "feedback_channel", "反馈方式", 16) or "").strip() or None)


def perform(session: Session, user: AppUser, ref: Any, action: str, data: dict[str, Any]) -> reports.VerifyOutcome | PublicReport:
    """One step on a report the user can see; the report machine's guards decide the rest."""
    report = visible_report(session, user, ref)
    if action not in ACTION_NAMES:
        raise NotFound(f"没有操作 {action[:40]}。")
    version = services.parse_version(data.get("expected_version"))
    if action == "accept":
        dept = (_text(data, "department", "承办部门", 32) or "").strip() or None
        if dept is not None and session.get(Department, dept) is None:
            raise ValidationError(f"没有部门 {dept}。")
        return reports.accept(session, user, report.id, department=dept, expected_version=version,
                              enterprise=_enterprise_ref(_text(data, "enterprise", "被举报企业", 200), "被举报企业"))
    if action == "reject":
        return reports.decline(session, user, report.id, reason=_text(data, "reason", "理由", 2000),
                               expected_version=version)
    _check_version(report, version)
    if action == "start":
        return reports.start_verification(session, user, report.id)
    if action == "extend":
        return reports.extend_verification(session, user, report.id, days=_days(data.get("days")),
                                           reason=_text(data, "reason", "延长理由", 2000))
    if action == "verify":
        hazard_ref = (_text(data, "hazard", "关联隐患", 40) or "").strip()
        hazard_id = services.visible_hazard(session, user, hazard_ref).id if hazard_ref else None
        if report.state == "accepted":  # as `report verify`: start implied; its guard speaks if refused
            reports.start_verification(session, user, report.id)
        return reports.verify(session, user, report.id, verdict=_text(data, "verdict", "核查结论", 16) or None,
                              note=_text(data, "note", "核查情况说明", 2000), hazard=hazard_id,
                              title=(_text(data, "title", "隐患名称", 200) or "").strip() or None)
    if action == "feedback":
        return reports.give_feedback(session, user, report.id, text=_text(data, "text", "反馈内容", 2000))
    if action == "reward":
        rule = (_text(data, "rule", "奖励规则", 32) or "").strip() or None
        kind = (_text(data, "kind", "隐患类别", 16) or "major").strip()
        if kind not in ("major", "ordinary"):
            raise ValidationError("隐患类别必须是 major（重大事故隐患或违法行为）或 ordinary（一般事故隐患）。")
        return reports.decide_reward(session, user, report.id, rule=rule, kind=kind,
                                     fine=(_text(data, "fine", "罚款金额", 20) or "").strip() or None,
                                     amount=(_text(data, "amount", "奖励金额", 20) or "").strip() or None,
                                     reason=_text(data, "reason", "备注", 2000) or None)
    return reports.pay(session, user, report.id, payment_ref=_text(data, "payment_ref", "兑付凭证号", 100))


def list_visible(session: Session, user: AppUser, state: str | None = None, limit: int = 200) -> list[PublicReport]:
    return reports.list_reports(session, user, state=state if state in rm.STATES else None, limit=limit)


def enterprise_names(session: Session, rows: list[PublicReport]) -> dict[int, str]:
    ids = {r.enterprise_id for r in rows if r.enterprise_id}
    if not ids:
        return {}
    return dict(session.exec(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ids))).all())


def trail(session: Session, report: PublicReport) -> list[dict[str, Any]]:
    """The report's own audit events (they name it in `after.report`)."""
    from hazardloop.models.tables import AuditEvent

    # JSON field access (->> on PostgreSQL, json_extract on SQLite): only this report's events are read.
    stmt = select(AuditEvent).where(AuditEvent.action.like("report\\_%", escape="\\"),  # type: ignore[attr-defined]
                                    AuditEvent.after["report"].as_string() == report.code)  # type: ignore[index]
    events = session.exec(stmt.order_by(AuditEvent.seq)).all()
    names = dict(session.exec(select(AppUser.username, AppUser.name)
                              .where(AppUser.username.in_({e.actor for e in events}))).all()) if events else {}
    out = []
    for e in events:
        actor = "举报人（身份保密）" if e.actor == reports.PUBLIC_ACTOR else f"{names.get(e.actor, e.actor)}（{e.actor}）"
        out.append({"seq": e.seq, "ts": e.ts, "actor": actor, "action": e.action,
                    "action_name": AUDIT_NAMES.get(e.action, e.action), "reason": e.reason})
    return out


def detail(session: Session, user: AppUser, report: PublicReport) -> dict[str, Any]:
    ent = session.get(Enterprise, report.enterprise_id) if report.enterprise_id else None
    hazard = session.get(Hazard, report.hazard_id) if report.hazard_id else None
    dept = session.get(Department, report.department_code) if report.department_code else None
    running = reports.current_deadline(report)
    staff = {report.accepted_by, report.verified_by, report.feedback_by, report.reward_decided_by, report.paid_by} - {None}
    names = dict(session.exec(select(AppUser.username, AppUser.name).where(AppUser.username.in_(staff))).all()) \
        if staff else {}
    return {
        "names": {u: f"{names.get(u, u)}（{u}）" for u in staff},
        "report": report, "data": reports.report_dict(report), "enterprise": ent, "hazard": hazard,
        "department": dept.name if dept else (report.department_code or ""),
        "deadline": (reports.PHASE_NAMES[running[0]], running[1]) if running else None,
        "actions": allowed_actions(user, report), "may_reveal": may_reveal(user) and not report.anonymous,
        "trail": trail(session, report),
        "departments": session.exec(select(Department).order_by(Department.code)).all(),
        "reward_rules": reward_rules()["rules"], "reward_default": reward_rules()["default"],
    }


# --- the queue -------------------------------------------------------------------------------------


QUEUE_SECTIONS = [  # key, title, hint, states, action that must be allowed
    ("report-accept", "待受理的举报", "群众举报，请决定受理或不予受理", ("received",), ("accept", "reject")),
    ("report-verify", "待核查的举报", "已受理，请在核查期限内核查并作出结论", ("accepted", "verifying"), ("verify",)),
    ("report-feedback", "待反馈举报人", "已核查，请向举报人反馈核查处理情况", ("verified",), ("feedback",)),
    ("report-reward", "待核定举报奖励", "已反馈，请按奖励规则核定奖励", ("feedback_given",), ("reward",)),
    ("report-pay", "待兑付举报奖励", "奖励已核定，请另一名工作人员兑付", ("reward_decided",), ("pay",)),
]


def _routed_to(user: AppUser, report: PublicReport, key: str) -> bool:
    # Verification is routed like the engine's reminders (reports._recipients): to the assigned
    # department's supervisors, or to the accepting office when no department was named.
    if key != "report-verify":
        return True
    if report.department_code:
        return user.role == "supervisor"
    return user.role != "supervisor"


def queue_sections(session: Session, user: AppUser) -> list[services.Section]:
    if not may_list(user):
        return []
    rows = [r for r in list_visible(session, user, limit=100000) if r.state in HANDLING]
    names = enterprise_names(session, rows)
    today = clock.today()
    out = []
    for key, title, hint, states, actions in QUEUE_SECTIONS:
        mine = [r for r in rows if r.state in states and _routed_to(user, r, key)
                and any(may(user, r, a) for a in actions)]
        if not mine:
            continue
        items = []
        for r in mine[:services.QUEUE_LIMIT]:
            running = reports.current_deadline(r)
            items.append({"report": r, "enterprise": names.get(r.enterprise_id or 0, r.enterprise_name or ""),
                          "deadline": running, "late": bool(running and running[1] < today)})
        out.append(services.Section(key, title, hint, items, len(mine)))
    return out


# --- pages -----------------------------------------------------------------------------------------


router = APIRouter(include_in_schema=False)


def _report_page(request: Request, user: AppUser, csrf: str, ref: str, *, status: int = 200,
                 error: str | None = None, notice: str | None = None, form: dict[str, Any] | None = None,
                 form_action: str | None = None, identity: dict[str, Any] | None = None) -> Response:
    p = pages
    with p._db(request) as s:  # noqa: SLF001
        report = visible_report(s, user, ref)
        ctx = detail(s, user, report)
    ctx.update({"user": user, "csrf": csrf, "error": error, "notice": notice, "form": form or {},
                "form_action": form_action, "identity": identity, "ACTIONS": ACTION_NAMES,
                "R_STATES": rm.STATE_NAMES, "VERDICTS": rm.VERDICTS, "VIA": VIA})
    return pages.no_store(p._render(request, "report.html", ctx, status))  # noqa: SLF001


@router.get("/reports")
def report_list(request: Request, state: str | None = None) -> Response:
    p = pages
    user, data = p._current(request)  # noqa: SLF001
    if user is None:
        return p._to_login(request)  # noqa: SLF001
    state = state if state in rm.STATES else None
    with p._db(request) as s:  # noqa: SLF001
        rows = list_visible(s, user, state=state)
        names = enterprise_names(s, rows)
        counts = dict.fromkeys(rm.STATES, 0)
        if may_list(user):
            for r in list_visible(s, user, limit=100000):
                counts[r.state] += 1
    ctx = {"user": user, "csrf": data.csrf, "rows": rows, "names": names, "state": state, "counts": counts,
           "R_STATES": rm.STATE_NAMES, "deadline": reports.current_deadline, "PHASES": reports.PHASE_NAMES,
           "may_submit": may_submit(user)}
    return pages.no_store(p._render(request, "report_list.html", ctx))  # noqa: SLF001


def _new_page(request: Request, user: AppUser, csrf: str, *, status: int = 200, error: str | None = None,
              form: dict[str, Any] | None = None, done: str | None = None, query_code: str | None = None) -> Response:
    ctx = {"user": user, "csrf": csrf, "error": error, "form": form or {}, "done": done, "VIA": VIA,
           "FEEDBACK_CHANNELS": labels.FEEDBACK_CHANNELS,
           "may_submit": may_submit(user), "query_code": query_code}
    return pages.no_store(pages._render(request, "report_new.html", ctx, status))  # noqa: SLF001


@router.get("/reports/new")
def report_new(request: Request, done: str | None = None) -> Response:
    p = pages
    user, data = p._current(request)  # noqa: SLF001
    if user is None:
        return p._to_login(request)  # noqa: SLF001
    code = done if done and done.isascii() and done.startswith("JB-") and len(done) <= 32 else None
    response = _new_page(request, user, data.csrf, done=code, status=200 if may_submit(user) else 403,
                         error=None if may_submit(user) else _refusal(rm.may_submit, user),
                         query_code=_query_code_shown(request, code) if code else None)
    if QUERY_CODE_COOKIE in request.cookies:
        response.delete_cookie(QUERY_CODE_COOKIE, path="/reports/new")  # shown once
    return response


def _refusal(check: Any, *args: Any) -> str | None:
    try:
        check(*args)
    except HazardLoopError as exc:
        return str(exc)
    return None


@router.post("/reports/new")
async def report_submit(request: Request) -> Response:
    return await run_in_threadpool(_submit, request, await pages.posted_fields(request, 20))


def _submit(request: Request, fields: dict[str, str]) -> Response:
    p = pages
    poster = p.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    keep = {k: v for k, v in fields.items() if k != "csrf_token"}
    try:
        with p._db(request, write=True) as s:  # noqa: SLF001
            report = submit(s, s.get(AppUser, user.id), keep)
            code, query_code = report.code, reports.query_code_of(report)
    except HazardLoopError as exc:
        return _new_page(request, user, data.csrf, status=status_of(exc), error=str(exc), form=keep)
    # the 查询码 is shown once, on the page the redirect leads to; it travels in a short-lived signed
    # cookie (never in a URL, which logs and history keep) that the page clears as it shows it
    response = RedirectResponse(f"/reports/new?done={code}", status_code=303)
    if query_code:
        response.set_cookie(QUERY_CODE_COOKIE, _query_code_signer(request).dumps([code, query_code]), max_age=300,
                            path="/reports/new", httponly=True, samesite="strict",
                            secure=bool(request.app.state.secure_cookies))
    return response


QUERY_CODE_COOKIE = "hl_query_code"


def _query_code_signer(request: Request):  # noqa: ANN202
    from itsdangerous import URLSafeTimedSerializer

    # the console's own secret (the session codec's), with a salt of its own
    return URLSafeTimedSerializer(request.app.state.codec._login.secret_key,  # noqa: SLF001
                                  salt="hazardloop.query_code")


def _query_code_shown(request: Request, done: str | None) -> str | None:
    from itsdangerous import BadSignature

    try:
        code, query_code = _query_code_signer(request).loads(request.cookies.get(QUERY_CODE_COOKIE, ""), max_age=300)
    except (BadSignature, ValueError, TypeError):
        return None
    return query_code if code == done else None


@router.get("/reports/{ref}")
def report_page(request: Request, ref: str, done: str | None = None) -> Response:
    p = pages
    user, data = p._current(request)  # noqa: SLF001
    if user is None:
        return p._to_login(request)  # noqa: SLF001
    return _report_page(request, user, data.csrf, ref[:40], notice=DONE.get(done or ""))


@router.post("/reports/{ref}/{action}")
async def report_action(request: Request, ref: str, action: str) -> Response:
    return await run_in_threadpool(_act, request, ref[:40], action[:40], await pages.posted_fields(request, 30))


def _act(request: Request, ref: str, action: str, fields: dict[str, str]) -> Response:
    p = pages
    poster = p.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    if action not in ACTION_NAMES and action != "reveal":
        return pages.error_page(request, user, data.csrf, "没有这个操作。", 404)
    keep = {k: v for k, v in fields.items() if k != "csrf_token"}
    try:
        with p._db(request) as s:  # noqa: SLF001
            report_id = visible_report(s, user, ref).id  # 404 before anything else, for any action
    except HazardLoopError as exc:
        return pages.error_page(request, user, data.csrf, str(exc), status_of(exc))
    try:
        with p._db(request, write=True) as s:  # noqa: SLF001
            actor = s.get(AppUser, user.id)
            if action == "reveal":
                identity = reports.reveal_identity(s, actor, report_id)  # guard + audit, in this transaction
            else:
                perform(s, actor, report_id, action, keep)
    except HazardLoopError as exc:
        # Re-render with the report as it is now (a conflict shows the new state) and the input kept.
        return _report_page(request, user, data.csrf, str(report_id), status=status_of(exc), error=str(exc),
                            form=keep, form_action=action)
    if action == "reveal":
        return _report_page(request, user, data.csrf, str(report_id), identity=identity)
    return RedirectResponse(f"/reports/{report_id}?done={action}", status_code=303)


# --- the JSON API ------------------------------------------------------------------------------------


MAX_ID = 2**31 - 1
Ref = Annotated[str, PathParam(min_length=1, max_length=40, description="举报编号（id 或 JB-年份-序号）")]
StateName = Literal["received", "accepted", "not_accepted", "verifying", "verified", "feedback_given",
                    "reward_decided", "paid"]


class ReportOut(BaseModel):
    """A report without its reporter's identity (as `report list|show --json`)."""

    id: int
    code: str | None
    version: int
    state: str
    state_name: str
    received_at: datetime
    received_via: str
    enterprise_id: int | None
    enterprise_name: str | None
    content: str
    location: str | None
    anonymous: bool
    reporter: str  # 匿名 / 实名（身份保密）
    feedback_channel: str | None = None  # sms / email: the feedback and the reward decision are sent there
    feedback_channel_name: str = "不需要"
    query_code: str | None = None  # only in the answer to the submission: the reporter's 查询码, shown once
    department_code: str | None
    accepted_by: str | None
    accepted_at: datetime | None
    decline_reason: str | None
    verify_deadline: datetime | None
    verify_extended: bool
    extension_reason: str | None
    verifier: str | None
    verdict: str | None
    verdict_name: str | None
    verify_note: str | None
    verified_by: str | None
    verified_at: datetime | None
    hazard_id: int | None
    feedback_deadline: datetime | None
    feedback_text: str | None
    feedback_by: str | None
    feedback_at: datetime | None
    reward: dict[str, Any] | None
    reward_amount: int | None
    reward_decided_by: str | None
    reward_decided_at: datetime | None
    paid_by: str | None
    paid_at: datetime | None
    payment_ref: str | None


class ReportDetailOut(BaseModel):
    report: ReportOut
    hazard: str | None = Field(default=None, description="关联隐患编号")
    allowed_actions: list[str]
    may_reveal: bool = Field(description="当前用户可否查看举报人身份（POST .../identity，留痕）")


class VerifyOut(ReportOut):
    hazard: str | None = None
    hazard_created: bool = False
    candidates: list[dict[str, Any]] = Field(default_factory=list)


class IdentityOut(BaseModel):
    report: str
    name: str | None
    contact: str | None


def report_out(report: PublicReport) -> ReportOut:
    return ReportOut(**{k: v for k, v in reports.report_dict(report).items() if k in ReportOut.model_fields})


class SubmitIn(BaseModel):
    content: str = Field(max_length=4000, description="举报内容")
    enterprise: str | None = Field(default=None, max_length=200, description="被举报企业（名称、统一社会信用代码或编号）")
    location: str | None = Field(default=None, max_length=200)
    reporter_name: str | None = Field(default=None, max_length=64, description="举报人姓名；不填即匿名（加密保存）")
    reporter_contact: str | None = Field(default=None, max_length=100, description="联系方式（加密保存）")
    via: Literal["platform", "phone", "letter", "visit"] = "platform"
    feedback_channel: Literal["sms", "email"] | None = Field(
        default=None, description="反馈方式：sms 短信（联系方式为手机号码）/ email 电子邮件；不填则不发送，凭查询码查询")


class VersionIn(BaseModel):
    expected_version: int | None = Field(default=None, ge=0, le=MAX_ID, description="乐观锁：看到的版本号")


class AcceptIn(VersionIn):
    enterprise: str | None = Field(default=None, max_length=200, description="被举报企业（未匹配时必填）")
    department: str | None = Field(default=None, max_length=32, description="承办核查的部门（默认行业主管部门）")


class RejectIn(VersionIn):
    reason: str | None = Field(default=None, max_length=2000)


class ExtendIn(VersionIn):
    days: int | None = Field(default=None, ge=-MAX_ID, le=MAX_ID)
    reason: str | None = Field(default=None, max_length=2000)


class VerifyIn(VersionIn):
    verdict: Literal["true", "partly", "false"] | None = None
    note: str | None = Field(default=None, max_length=2000)
    hazard: str | None = Field(default=None, max_length=40, description="关联到已有隐患；不填则新建")
    title: str | None = Field(default=None, max_length=200)


class FeedbackIn(VersionIn):
    text: str | None = Field(default=None, max_length=2000)


class RewardIn(VersionIn):
    rule: str | None = Field(default=None, max_length=32, description="shandong / national")
    kind: Literal["major", "ordinary"] = "major"
    fine: str | None = Field(default=None, max_length=20)
    amount: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=2000)


class PayIn(VersionIn):
    payment_ref: str | None = Field(default=None, max_length=100)


def _db(request: Request, write: bool = False):  # noqa: ANN202
    return session_scope(request.app.state.db_url, write=write)


def _api_act(request: Request, user: AppUser, ref: str, action: str, data: dict[str, Any]) -> Any:
    try:
        with _db(request, write=True) as s:
            result = perform(s, s.get(AppUser, user.id), ref, action, data)
            if isinstance(result, reports.VerifyOutcome):
                return VerifyOut(**report_out(result.report).model_dump(),
                                 hazard=result.hazard.code if result.hazard else None, hazard_created=result.created,
                                 candidates=[c.as_dict() for c in result.candidates])
            return report_out(result)
    except (ConflictError, InvalidTransition) as exc:
        with _db(request) as s:
            current = visible_report(s, user, ref)
        return JSONResponse({"detail": str(exc), "error": "conflict", "state": current.state,
                             "version": current.version}, status_code=409)


api_router = APIRouter(prefix="/api/v1", tags=["reports"])


@api_router.get("/reports", response_model=list[ReportOut], responses=ERRORS, summary="举报清单（不含举报人信息）")
def api_list(request: Request, user: User, state: StateName | None = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[ReportOut]:
    with _db(request) as s:
        return [report_out(x) for x in list_visible(s, user, state=state, limit=limit)]


@api_router.post("/reports", response_model=ReportOut, status_code=201, responses=ERRORS, summary="登记举报（可匿名）")
def api_submit(request: Request, user: User, body: SubmitIn) -> ReportOut:
    with _db(request, write=True) as s:
        report = submit(s, s.get(AppUser, user.id), body.model_dump())
        return report_out(report).model_copy(update={"query_code": reports.query_code_of(report)})


@api_router.get("/reports/{ref}", response_model=ReportDetailOut, responses=ERRORS, summary="举报详情（不含举报人信息）")
def api_show(request: Request, user: User, ref: Ref) -> ReportDetailOut:
    with _db(request) as s:
        report = visible_report(s, user, ref)
        hazard = s.get(Hazard, report.hazard_id) if report.hazard_id else None
        return ReportDetailOut(report=report_out(report), hazard=hazard.code if hazard else None,
                               allowed_actions=allowed_actions(user, report),
                               may_reveal=may_reveal(user) and not report.anonymous)


@api_router.post("/reports/{ref}/identity", response_model=IdentityOut, responses=ERRORS,
                 summary="查看举报人身份（仅受理岗位；查看行为记入审计）")
def api_identity(request: Request, user: User, ref: Ref) -> IdentityOut:
    with _db(request) as s:
        report_id = visible_report(s, user, ref).id
    with _db(request, write=True) as s:
        identity = reports.reveal_identity(s, s.get(AppUser, user.id), report_id)  # guard + audit event
        return IdentityOut(report=s.get(PublicReport, report_id).code, **identity)


@api_router.post("/reports/{ref}/accept", response_model=ReportOut, responses=ERRORS, summary="受理")
def api_accept(request: Request, user: User, ref: Ref, body: AcceptIn) -> Any:
    return _api_act(request, user, ref, "accept", body.model_dump())


@api_router.post("/reports/{ref}/reject", response_model=ReportOut, responses=ERRORS, summary="不予受理（须说明理由）")
def api_reject(request: Request, user: User, ref: Ref, body: RejectIn) -> Any:
    return _api_act(request, user, ref, "reject", body.model_dump())


@api_router.post("/reports/{ref}/start", response_model=ReportOut, responses=ERRORS, summary="开始核查")
def api_start(request: Request, user: User, ref: Ref, body: VersionIn) -> Any:
    return _api_act(request, user, ref, "start", body.model_dump())


@api_router.post("/reports/{ref}/extend", response_model=ReportOut, responses=ERRORS, summary="批准延长核查期限（一次）")
def api_extend(request: Request, user: User, ref: Ref, body: ExtendIn) -> Any:
    return _api_act(request, user, ref, "extend", body.model_dump())


@api_router.post("/reports/{ref}/verify", response_model=VerifyOut, responses=ERRORS,
                 summary="核查结论（属实的新建或关联隐患）")
def api_verify(request: Request, user: User, ref: Ref, body: VerifyIn) -> Any:
    return _api_act(request, user, ref, "verify", body.model_dump())


@api_router.post("/reports/{ref}/feedback", response_model=ReportOut, responses=ERRORS, summary="反馈举报人")
def api_feedback(request: Request, user: User, ref: Ref, body: FeedbackIn) -> Any:
    return _api_act(request, user, ref, "feedback", body.model_dump())


@api_router.post("/reports/{ref}/reward", response_model=ReportOut, responses=ERRORS,
                 summary="核定奖励（结果注明所依据的规则）")
def api_reward(request: Request, user: User, ref: Ref, body: RewardIn) -> Any:
    return _api_act(request, user, ref, "reward", body.model_dump())


@api_router.post("/reports/{ref}/pay", response_model=ReportOut, responses=ERRORS, summary="兑付奖励（不能由核定人本人办理）")
def api_pay(request: Request, user: User, ref: Ref, body: PayIn) -> Any:
    return _api_act(request, user, ref, "pay", body.model_dump())


# --- installing ---------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Routes, the queue section and the nav links; called once by create_app."""
    app.include_router(api_router)
    app.include_router(router)
    app.state.templates.env.globals.update(report_nav=nav_links, R_STATES=rm.STATE_NAMES,
                                           REPORT_PHASES=reports.PHASE_NAMES)
    if queue_sections not in services.QUEUE_PROVIDERS:
        services.QUEUE_PROVIDERS.append(queue_sections)
