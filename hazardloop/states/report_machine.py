"""The public report (举报) lifecycle: a second shared transitions Machine beside the hazard's.

    received ─accept─▶ accepted ─start_verification─▶ verifying ─verify─▶ verified
       │                  │ extend_verification ↺        │ extend ↺           │ give_feedback
       └─decline─▶ not_accepted                           ▼                    ▼
                                        paid ◀─pay─ reward_decided ◀─decide_reward─ feedback_given

The guards below decide who may fire what; they raise a Chinese refusal instead
of returning False.  The identity guard (may_read_identity) is the only door to
the reporter's name and contact.
"""

from __future__ import annotations

from typing import Any

from hazardloop.states.lifecycle import Lifecycle

from hazardloop.config.intake_rules import report_rules
from hazardloop.config import labels
from hazardloop.models.lookup import department_name
from hazardloop.models.tables import AppUser
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import ROLE_NAMES, Role

STATES = ["received", "accepted", "not_accepted", "verifying", "verified", "feedback_given",
          "reward_decided", "paid"]
TERMINAL = {"not_accepted", "paid"}

STATE_NAMES = labels.REPORT_STATES
TRIGGER_NAMES = labels.REPORT_TRIGGERS
VERDICTS = labels.VERDICTS

TRANSITIONS = [
    {"trigger": "accept", "source": "received", "dest": "accepted"},
    {"trigger": "decline", "source": "received", "dest": "not_accepted"},
    {"trigger": "start_verification", "source": "accepted", "dest": "verifying"},
    {"trigger": "extend_verification", "source": "accepted", "dest": "accepted"},
    {"trigger": "extend_verification", "source": "verifying", "dest": "verifying"},
    {"trigger": "verify", "source": "verifying", "dest": "verified"},
    {"trigger": "give_feedback", "source": "verified", "dest": "feedback_given"},
    {"trigger": "decide_reward", "source": "feedback_given", "dest": "reward_decided"},
    {"trigger": "pay", "source": "reward_decided", "dest": "paid"},
]


# --- guards ------------------------------------------------------------------------


def _role_name(role: str) -> str:
    try:
        return ROLE_NAMES[Role(role)]
    except ValueError:
        return role


def _need(actor: AppUser, roles: set[str], action: str) -> None:
    if not actor.active:
        raise PermissionDenied(f"用户 {actor.username} 已停用，不能{action}。")
    if actor.role not in roles:
        raise PermissionDenied(f"{action}需要{'或'.join(_role_name(r) for r in sorted(roles))}角色；"
                               f"{actor.name}（{actor.username}）的角色是{_role_name(actor.role)}。")


def _accepting(actor: AppUser, action: str) -> None:
    _need(actor, {report_rules().accepting_role}, action)


def _handler(actor: AppUser, report: Any, action: str) -> None:
    """The accepting office, or the supervising department the report was assigned to."""
    _need(actor, {report_rules().accepting_role, Role.committee.value, Role.supervisor.value}, action)
    if actor.role == Role.supervisor and actor.department_code != report.department_code:
        raise PermissionDenied(f"{action}只能由承办部门（{department_name(report, report.department_code)}）或受理机关"
                               f"办理；{actor.name} 属于{department_name(actor, actor.department_code)}。")


def _text(data: dict[str, Any], field: str, label: str, action: str) -> str:
    value = data.get(field)
    if value is None or not str(value).strip():
        raise MissingData(f"{action}缺少{label}。")
    return str(value).strip()


def g_accept(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _accepting(actor, "受理举报")
    if not data.get("enterprise_id"):
        raise MissingData("受理举报须确定被举报企业（--enterprise：企业编号、统一社会信用代码或名称）。")
    return True


def g_decline(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _accepting(actor, "不予受理")
    _text(data, "reason", "不予受理的理由", "不予受理")
    return True


def g_start_verification(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _handler(actor, report, "开始核查")
    return True


def g_extend_verification(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    rules = report_rules()
    _need(actor, {Role.committee.value}, "批准延长核查期限")
    _text(data, "reason", "延长理由", "延长核查期限")
    if report.verify_extended and rules.extension_times <= 1:
        raise MissingData(f"举报 {report.code} 的核查期限已延长过一次，不能再延长。")
    days = data.get("days")
    if not isinstance(days, int) or days < 1 or days > rules.extension_max_days:
        raise MissingData(f"延长天数须为 1–{rules.extension_max_days} 之间的整数，收到 {days!r}。")
    return True


def g_verify(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _handler(actor, report, "作出核查结论")
    if data.get("verdict") not in VERDICTS:
        raise MissingData("核查结论必须是 " + "、".join(f"{k}（{v}）" for k, v in VERDICTS.items()) + " 之一。")
    _text(data, "note", "核查情况说明", "核查结论")
    return True


def g_give_feedback(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _accepting(actor, "反馈举报人")
    _text(data, "text", "反馈内容", "反馈举报人")
    return True


def g_decide_reward(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need(actor, {Role.committee.value}, "核定举报奖励")
    return True


def g_pay(report: Any, actor: AppUser, data: dict[str, Any]) -> bool:
    _need(actor, {Role.committee.value}, "兑付举报奖励")
    if not report.reward_amount:
        raise MissingData(f"举报 {report.code} 核定不予奖励（0 元），无需兑付。")
    if actor.username == report.reward_decided_by:
        raise PermissionDenied("核定奖励的人不能同时办理兑付（须由另一名工作人员兑付）。")
    _text(data, "payment_ref", "兑付凭证号", "兑付奖励")
    return True


GUARDS = {
    "accept": g_accept, "decline": g_decline, "start_verification": g_start_verification,
    "extend_verification": g_extend_verification, "verify": g_verify, "give_feedback": g_give_feedback,
    "decide_reward": g_decide_reward, "pay": g_pay,
}


# --- checks that are not transitions ------------------------------------------------


def may_submit(actor: AppUser) -> bool:
    """Citizens submit their own reports; the accepting office records phone calls and letters."""
    _need(actor, {Role.public.value, Role.committee.value, report_rules().accepting_role}, "登记举报")
    return True


def may_read_identity(actor: AppUser) -> bool:
    """Only the accepting officer's role sees who reported."""
    _accepting(actor, "查看举报人身份")
    return True


def may_view(actor: AppUser, report: Any) -> bool:
    if actor.role in (Role.committee, Role.system) or actor.role == report_rules().accepting_role:
        return True
    if actor.role == Role.supervisor:
        return report.department_code is not None and actor.department_code == report.department_code
    return False


def may_sweep(actor: AppUser) -> bool:
    _need(actor, {Role.system.value, Role.committee.value}, "催办逾期举报")
    return True


# --- the machine ----------------------------------------------------------------------


LIFECYCLE = Lifecycle(
    noun="举报", states=STATES, initial="received", terminal=TERMINAL, transitions=TRANSITIONS, guards=GUARDS,
    state_names=STATE_NAMES, trigger_names=TRIGGER_NAMES, none_allowed="无（已办结）", guard_prefix="report_guard",
)
MACHINE = LIFECYCLE.machine
allowed_triggers = LIFECYCLE.allowed_triggers
fire = LIFECYCLE.fire
mermaid = LIFECYCLE.mermaid
