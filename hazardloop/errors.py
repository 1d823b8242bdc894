"""Errors that callers show to people: each message is in Chinese and each one
means nothing was changed (the unit of work rolled back).  Imports nothing: every layer may raise them."""


class HazardLoopError(Exception):
    """Base: an action was refused.  str(error) is the Chinese message."""

    exit_code = 1


class NotFound(HazardLoopError):
    pass


class ValidationError(HazardLoopError):
    """Bad input (a field missing or malformed)."""


class ConflictError(HazardLoopError):
    """Someone else changed the record first (optimistic locking)."""
