"""The problems' (问题隐患) lifecycle: a lighter machine beside the hazard's, built by the same
lifecycle builder, guarded by states.campaign_guards.

    found ─assign─▶ rectifying ─rectify─▶ rectified ─verify─▶ closed
                       ▲                     │
                       └──────reject─────────┘
    found / rectifying / rectified ─raise_major─▶ raised   (a major hazard now; its own loop)

A problem a campaign check finds ("not met") starts in found; assign gives it a responsible
person and a deadline (a new cycle of its ladder); rectify needs at least one photo or file;
verify is the township's or the department's close-out, never by the person who rectified.
"""

from __future__ import annotations

from hazardloop.config import labels
from hazardloop.states import campaign_guards
from hazardloop.states.lifecycle import Lifecycle

STATES = ["found", "rectifying", "rectified", "closed", "raised"]
TERMINAL = {"closed", "raised"}
OPEN = ("found", "rectifying", "rectified")

TRANSITIONS = [
    {"trigger": "assign", "source": "found", "dest": "rectifying"},
    {"trigger": "rectify", "source": "rectifying", "dest": "rectified"},
    {"trigger": "verify", "source": "rectified", "dest": "closed"},
    {"trigger": "reject", "source": "rectified", "dest": "rectifying"},
    *({"trigger": "raise_major", "source": s, "dest": "raised"} for s in OPEN),
]

LIFECYCLE = Lifecycle(
    noun="问题隐患", states=STATES, initial="found", terminal=TERMINAL, transitions=TRANSITIONS,
    guards=campaign_guards.PROBLEM_GUARDS, state_names=labels.PROBLEM_STATES,
    trigger_names=labels.PROBLEM_TRIGGERS, none_allowed="无（已办结）", guard_prefix="problem_guard",
)
MACHINE = LIFECYCLE.machine
allowed_triggers = LIFECYCLE.allowed_triggers
allowed_for = LIFECYCLE.allowed_for
fire = LIFECYCLE.fire
mermaid = LIFECYCLE.mermaid
