"""The hazard lifecycle: one shared transitions Machine for every hazard.

Machine(model=None) holds no rows; an action fires an event on a hazard with
`MACHINE.events[name].trigger(hazard, actor=..., data=...)`.  The conditions are
the guards in states.guards; they raise a Chinese refusal instead of returning
False, so a refused action always says why.
"""

from __future__ import annotations

from typing import Any

from transitions import EventData, Machine

from hazardloop.states import guards
from hazardloop.states.errors import InvalidTransition
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
]


def _guard(name: str):
    check = guards.TRANSITION_GUARDS[name]

    def condition(event: EventData) -> bool:
        return check(event.model, event.kwargs["actor"], event.kwargs.get("data") or {})

    condition.__name__ = f"guard_{name}"
    return condition


MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=[{**t, "conditions": [_guard(t["trigger"])]} for t in TRANSITIONS],
    initial="found",
    auto_transitions=False,
    send_event=True,
    model_attribute="state",
)


def allowed_triggers(state: str) -> list[str]:
    return [t["trigger"] for t in TRANSITIONS if t["source"] == state]


def fire(hazard: Any, trigger: str, actor: Any, data: dict[str, Any] | None = None) -> str:
    """Run one trigger through its guard; returns the new state or raises."""
    if trigger not in allowed_triggers(hazard.state):
        allowed = allowed_triggers(hazard.state)
        allowed_text = "、".join(f"{t}（{TRIGGER_NAMES[t]}）" for t in allowed) or "无（已是终态）"
        raise InvalidTransition(
            f"隐患当前状态为“{STATE_NAMES.get(hazard.state, hazard.state)}”（{hazard.state}），"
            f"不能执行 {trigger}（{TRIGGER_NAMES.get(trigger, trigger)}）；此状态允许：{allowed_text}。"
        )
    MACHINE.events[trigger].trigger(hazard, actor=actor, data=data or {})
    return hazard.state


def check(hazard: Any, trigger: str, actor: Any, data: dict[str, Any] | None = None) -> bool:
    """Would the guard let this actor fire this trigger now?  (Runs the same guard, changes nothing.)"""
    if trigger not in allowed_triggers(hazard.state):
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
            raise InvalidTransition(f"审计记录中的 {action} 不能从 {state} 执行。")
        state = nxt
    return state


def mermaid() -> str:
    """The lifecycle as a Mermaid state diagram (docs/lifecycle.md is generated from it)."""
    lines = ["stateDiagram-v2", "    [*] --> found"]
    for name in STATES:
        lines.append(f"    {name}: {name} {STATE_NAMES[name]}")
    for t in TRANSITIONS:
        lines.append(f"    {t['source']} --> {t['dest']}: {t['trigger']} {TRIGGER_NAMES[t['trigger']]}")
    for name in sorted(TERMINAL):
        lines.append(f"    {name} --> [*]")
    return "\n".join(lines) + "\n"
