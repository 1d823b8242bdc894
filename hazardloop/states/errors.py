"""Refusals from the lifecycle machine."""

from hazardloop.errors import HazardLoopError


class InvalidTransition(HazardLoopError):
    """The trigger is not allowed from the hazard's current state."""


class PermissionDenied(HazardLoopError):
    """The actor's role or scope does not allow the action."""


class MissingData(HazardLoopError):
    """The action needs data that was not given (names what is missing)."""
