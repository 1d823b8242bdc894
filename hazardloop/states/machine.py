"""The hazard lifecycle: one shared transitions Machine for every hazard.

Machine(model=None) holds no rows; an action fires an event on a hazard with
`MACHINE.events[name].trigger(hazard, actor=..., data=...)`.  The conditions are
the guards in states.guards; they raise a Chinese refusal instead of returning
False, so a refused action always says why.
"""

from __future__ import annotations

from typing import Any

from hazardloop.states import guards
from hazardloop.states.errors import InvalidTransition
from hazardloop.states.lifecycle import Lifecycle
from hazardloop.states.roles import STATE_NAMES, TRIGGER_NAMES

STATES = ["found", "listed", "rectifying", "reviewed", "closed", "dismissed"]
TERMINAL = {"closed", "dismissed"}

TRANSITIONS = [
    {"trigger": "confirm", "source": "found", "dest": "listed"},
    {"trigger": "dismiss", "source": "found", "dest": "dismissed"},
    {"trigger": "start_rectification", "source": "listed", "dest": "rectifying"},
    {"trigger": "extend", "source": "rectifying", "dest": "rectifying"},
    {"trigger": "submit", "source": "rectifying", "dest": "reviewed"},
    {"trigger": "approve", "source": "reviewed", "dest": "closed"},
    {"trigger": "reject", "source": "reviewed", "dest": "rectifying"},
    # Undoing a merge (hazard unmerge) returns the duplicate it dismissed to found; open only to a
    # merge's dismissal (only_if below) — a regulator's dismissal stays final.
    {"trigger": "reopen", "source": "dismissed", "dest": "found"},
    # A ledger import records a close-out its sheet reports, for the hazard the row has just created
    # (guards.close_imported); every other close-out is approve after review.
    {"trigger": "close_imported", "source": "found", "dest": "closed"},
    # The office sends such an imported close-out (导入销号) to a regulator's review after all:
    # approve makes it a reviewed close-out (审核销号), reject sends it back to rectification.
    {"trigger": "review_imported", "source": "closed", "dest": "reviewed"},
]


LIFECYCLE = Lifecycle(
    noun="隐患", states=STATES, initial="found", terminal=TERMINAL, transitions=TRANSITIONS,
    guards=guards.TRANSITION_GUARDS, state_names=STATE_NAMES, trigger_names=TRIGGER_NAMES,
    none_allowed="无（已是终态）",
    only_if={"reopen": (guards.merge_dismissal, guards.MERGE_DISMISSAL_ONLY),
             "review_imported": (guards.imported_close, "只有导入销号（未经审核）的隐患可以送审")},
    unlisted=frozenset({"close_imported"}),
)
MACHINE = LIFECYCLE.machine
allowed_triggers = LIFECYCLE.allowed_triggers
allowed_for = LIFECYCLE.allowed_for  # what is open to this hazard (reopen only after a merge)
fire = LIFECYCLE.fire  # run one trigger through its guard; returns the new state or raises
mermaid = LIFECYCLE.mermaid  # docs/lifecycle.md is generated from it


def check(hazard: Any, trigger: str, actor: Any, data: dict[str, Any] | None = None) -> bool:
    """Would the guard let this actor fire this trigger now?  (Runs the same guard, changes nothing.)"""
    if trigger not in allowed_for(hazard):
        return False
    try:
        return bool(guards.TRANSITION_GUARDS[trigger](hazard, actor, data or {}))
    except guards.PermissionDenied:
        return False
    except guards.MissingData:  # the role may act; the form has yet to be filled in
        return True


def replay(actions: list[str]) -> str:
    """The state a sequence of audited triggers leads to from found (no guards)."""
    state = "found"
    for action in actions:
        nxt = next((t["dest"] for t in TRANSITIONS if t["trigger"] == action and t["source"] == state), None)
        if nxt is None:
            raise InvalidTransition(f"审计记录中的“{TRIGGER_NAMES.get(action, action)}”不能从“{STATE_NAMES.get(state, state)}”执行。")
        state = nxt
    return state
