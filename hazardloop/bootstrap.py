"""The composition root: one function wires the application; every entry point calls it.

The ledger announces what happened (hazardloop.states.events) inside its transaction;
who listens is decided here and nowhere else, so importing a module never changes
behaviour.  Entry points: the CLI (hazardloop.cli.main), the web app factory
(hazardloop.web.app.create_app), every Prefect flow, the demo and the bench scripts.
Calling it again changes nothing (each handler is subscribed once).

Handlers are named "module:function" and imported on the first event they hear: a command
that changes nothing (`hazard list`, `--help`) never loads the notification stack, Jinja2 or
the escalation ladder (issue 15: start-up time of a clerk's scripts).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from hazardloop.states import events


class Handler:
    """A domain-event handler named "module:function", resolved on its first call."""

    __slots__ = ("target", "_fn")

    def __init__(self, target: str) -> None:
        self.target = target
        self._fn: events.Listener | None = None

    def resolve(self) -> events.Listener:
        if self._fn is None:
            module, _, name = self.target.partition(":")
            self._fn = getattr(import_module(module), name)
        return self._fn

    def __call__(self, session: Any, event: events.DomainEvent) -> None:
        self.resolve()(session, event)

    def __eq__(self, other: object) -> bool:
        # Equal to the function it names, so `listeners.count(notices.on_event)` still finds it.
        if isinstance(other, Handler):
            return other.target == self.target
        return f"{getattr(other, '__module__', '')}:{getattr(other, '__name__', '')}" == self.target

    def __hash__(self) -> int:
        return hash(self.target)

    def __repr__(self) -> str:
        return f"Handler({self.target!r})"


# In order: the lifecycle notices, then the escalation cycle a new deadline opens.  Both write
# their rows in the ledger's transaction (the transactional outbox).
HANDLERS: tuple[Handler, ...] = (Handler("hazardloop.notifications.notices:on_event"),
                                 Handler("hazardloop.escalation.hazards:on_domain_event"))


def bootstrap() -> None:
    """Subscribe every domain-event handler (idempotent)."""
    for handler in HANDLERS:
        events.subscribe(handler)
