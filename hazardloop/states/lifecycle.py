"""What the hazard's and the public report's machines share: one transitions Machine
(model=None, guards as conditions that raise), the refusal for a trigger the state
does not allow, and the Mermaid picture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine

from hazardloop.states.errors import InvalidTransition

Guard = Callable[[Any, Any, dict[str, Any]], bool]


@dataclass
class Lifecycle:
    noun: str  # 隐患 / 举报: names the record in refusals
    states: list[str]
    initial: str
    terminal: set[str]
    transitions: list[dict[str, str]]
    guards: dict[str, Guard]
    state_names: dict[str, str]
    trigger_names: dict[str, str]
    none_allowed: str  # what a refusal says when the state allows nothing
    guard_prefix: str = "guard"
    # trigger -> (predicate on the record, why not): a transition open to only some records of its
    # source state (reopen: only a hazard a merge dismissed).  Refusals list what is open to THIS record.
    only_if: dict[str, tuple[Callable[[Any], bool], str]] = field(default_factory=dict)
    # Triggers only a program fires (a ledger import's close-out): never offered to a person in a refusal.
    unlisted: frozenset[str] = frozenset()
    machine: Machine = field(init=False)

    def __post_init__(self) -> None:
        self.machine = Machine(
            model=None, states=self.states,
            transitions=[{**t, "conditions": [self._condition(t["trigger"])]} for t in self.transitions],
            initial=self.initial, auto_transitions=False, send_event=True, model_attribute="state",
        )

    def _condition(self, name: str) -> Callable[[EventData], bool]:
        check = self.guards[name]

        def condition(event: EventData) -> bool:
            return check(event.model, event.kwargs["actor"], event.kwargs.get("data") or {})

        condition.__name__ = f"{self.guard_prefix}_{name}"
        return condition

    def allowed_triggers(self, state: str) -> list[str]:
        return [t["trigger"] for t in self.transitions if t["source"] == state]

    def allowed_for(self, obj: Any) -> list[str]:
        """The triggers open to this record now (its state's, less those whose only_if fails)."""
        return [t for t in self.allowed_triggers(obj.state) if t not in self.only_if or self.only_if[t][0](obj)]

    def fire(self, obj: Any, trigger: str, actor: Any, data: dict[str, Any] | None = None) -> str:
        """Run one trigger through its guard; returns the new state or raises."""
        allowed = self.allowed_for(obj)
        if trigger not in allowed:
            # Names only, from the machine's label tables (config/labels.py): a person reads this.
            allowed_text = "、".join(self.trigger_names.get(t, t) for t in allowed
                                    if t not in self.unlisted) or self.none_allowed
            why = f"：{self.only_if[trigger][1]}" if trigger in self.only_if and \
                trigger in self.allowed_triggers(obj.state) else ""
            raise InvalidTransition(
                f"{self.noun}当前状态为“{self.state_names.get(obj.state, obj.state)}”，"
                f"不能执行“{self.trigger_names.get(trigger, trigger)}”{why}；此状态允许：{allowed_text}。"
            )
        self.machine.events[trigger].trigger(obj, actor=actor, data=data or {})
        return obj.state

    def mermaid(self) -> str:
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for name in self.states:
            lines.append(f"    {name}: {name} {self.state_names[name]}")
        for t in self.transitions:
            lines.append(f"    {t['source']} --> {t['dest']}: {t['trigger']} {self.trigger_names[t['trigger']]}")
        for name in sorted(self.terminal):
            lines.append(f"    {name} --> [*]")
        return "\n".join(lines) + "\n"
