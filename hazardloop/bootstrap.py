"""The composition root: one function wires the application; every entry point calls it.

The ledger announces what happened (hazardloop.states.events) inside its transaction;
who listens is decided here and nowhere else, so importing a module never changes
behaviour.  Entry points: the CLI (hazardloop.cli.main), the web app factory
(hazardloop.web.app.create_app), every Prefect flow, the demo and the bench scripts.
Calling it again changes nothing (each handler is subscribed once).
"""

from __future__ import annotations

from hazardloop.escalation import hazards
from hazardloop.notifications import notices
from hazardloop.states import events

# In order: the lifecycle notices, then the escalation cycle a new deadline opens.  Both write
# their rows in the ledger's transaction (the transactional outbox).
HANDLERS: tuple[events.Listener, ...] = (notices.on_event, hazards.on_domain_event)


def bootstrap() -> None:
    """Subscribe every domain-event handler (idempotent)."""
    for handler in HANDLERS:
        events.subscribe(handler)
