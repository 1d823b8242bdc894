"""The one rule for who may see anything that identifies a public reporter (举报人) or hints at one.

Policy ¶ on 举报 asks for a working 保密制度.  Every output — pages, every API schema, CLI,
the Excel ledger, notifications, documents — asks these functions, never its own copy:

- `can_see_reporter(viewer, hazard)`: the account that reported a hazard found through the
  public channel (群众举报) is shown only to that account itself.  Nobody else — not the
  enterprise, not the regulator, not the committee office — needs the account name to act;
  the accepting office reads a report's identity only through the audited identity door
  (intake.reports.reveal_identity).  `viewer=None` (an operator's CLI without --actor, a
  notice, a document) is treated as "not allowed".
- `can_see_report_events(viewer)`: the report workflow's own events on a hazard's trail
  (report_accept … report_decide_reward, report_pay, report_identity_read) say that a
  named reporter exists, was looked up, was paid.  Only the roles that handle reports see
  them: the accepting role, the committee office, supervisors, the system.
"""

from __future__ import annotations

from typing import Any

from hazardloop.config.intake_rules import report_rules
from hazardloop.models.tables import AppUser, Hazard
from hazardloop.states.roles import Role

MASKED_REPORTER = "群众举报人（身份保密）"
PUBLIC_CHANNEL = "public_report"
REPORT_EVENT_PREFIX = "report_"
# The public-report intake's actor for a citizen's own submission (intake.reports.PUBLIC_ACTOR).
PUBLIC_ACTOR = "public"


def can_see_reporter(viewer: AppUser | None, hazard: Any) -> bool:
    if getattr(hazard, "channel", None) != PUBLIC_CHANNEL:
        return True
    return viewer is not None and viewer.username == hazard.reported_by


def reporter_of(viewer: AppUser | None, hazard: Any) -> str:
    """hazard.reported_by as this viewer may read it."""
    return hazard.reported_by if can_see_reporter(viewer, hazard) else MASKED_REPORTER


def can_see_report_events(viewer: AppUser | None) -> bool:
    if viewer is None:
        return False
    return viewer.role in (Role.committee, Role.system, Role.supervisor) or viewer.role == report_rules().accepting_role


def is_report_event(action: str) -> bool:
    return action.startswith(REPORT_EVENT_PREFIX)


def visible_event(viewer: AppUser | None, hazard: Hazard | None, action: str) -> bool:
    """Whether an audit event on a hazard's trail may be shown to this viewer at all."""
    return not is_report_event(action) or can_see_report_events(viewer)


def actor_of(viewer: AppUser | None, hazard: Any, actor: str) -> str:
    """An audit event's actor as this viewer may read it: the reporter's account (or the
    intake's 'public') is masked for anyone not allowed to see the reporter."""
    if hazard is not None and actor == getattr(hazard, "reported_by", None) and not can_see_reporter(viewer, hazard):
        return MASKED_REPORTER
    if actor == PUBLIC_ACTOR and not can_see_report_events(viewer):
        return MASKED_REPORTER
    return actor
