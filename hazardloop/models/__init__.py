"""SQLModel tables, the engine and sessions, migrations, reference data, audit trail.

Importing this package registers no table: a caller imports the table modules it uses
(`from hazardloop.models.tables import Hazard`).  SQLAlchemy builds and configures a
mapper for every table registered, on import and on the first query; with all 45 tables
that was about a fifth of a CLI call's CPU (issue 15).  No table has an ORM relationship
to another module's table, so a module's tables work alone; a foreign key to another
module's table imports that module (interviews → escalation).

What needs every table on the metadata (the migrations' environment, `demo --reset`, the
test fixtures that empty the database) calls `load_all()`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Every module that defines tables (tests/test_cli_clerk.py checks that none is missing).
TABLE_MODULES = ("tables", "notify", "web", "inspections", "intake", "escalation", "lagging", "interviews",
                 "campaigns", "plans")

# The names this package has always exported, each from its module, imported on first use.
_EXPORTS = {name: "tables" for name in (
    "AppUser", "AuditEvent", "AuditHead", "Department", "Enterprise", "Evidence", "Extension", "Hazard",
    "Industry", "Notification", "RectificationPlan", "Region", "Standard")} | {
    "NotificationAttempt": "notify", "ApiToken": "web", "WebCredential": "web"}

__all__ = ["TABLE_MODULES", "load_all", *_EXPORTS]


def load_all() -> Any:
    """Register every table on SQLModel.metadata (and return it)."""
    for name in TABLE_MODULES:
        import_module(f"{__name__}.{name}")
    from sqlmodel import SQLModel

    return SQLModel.metadata


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
