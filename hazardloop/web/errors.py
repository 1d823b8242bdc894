"""Refusals as HTTP: which status and which error kind each of the engine's errors answers with.

Its own module so that the routers and the app factory both use it without importing each other.
"""

from __future__ import annotations

from hazardloop.errors import ConflictError, HazardLoopError, NotFound
from hazardloop.states.errors import InvalidTransition, PermissionDenied


def status_of(error: HazardLoopError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, (ConflictError, InvalidTransition)):
        return 409
    return 422


def kind_of(error: HazardLoopError) -> str:
    return {404: "not_found", 403: "forbidden", 409: "conflict"}.get(status_of(error), "invalid")
