"""Domain events: the ledger announces what happened, inside the open transaction.

Higher layers (notifications) subscribe and write their rows — the outbox — in
the same transaction, without the ledger knowing about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from hazardloop.models.tables import AppUser, Hazard


@dataclass
class DomainEvent:
    name: str  # reported, listed, plan_accepted, extension_decided, rejected, closed, dismissed, submitted,
    # reopened (unmerge), closed_imported (a ledger import's historical close-out)
    hazard: Hazard
    actor: AppUser
    info: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Session, DomainEvent], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Listener:
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def emit(session: Session, event: DomainEvent) -> None:
    for listener in list(_listeners):
        listener(session, event)
