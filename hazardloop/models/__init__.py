"""SQLModel tables, the engine and sessions, migrations, reference data, audit trail."""

from hazardloop.models.tables import (
    AppUser,
    AuditEvent,
    AuditHead,
    Department,
    Enterprise,
    Evidence,
    Extension,
    Hazard,
    Industry,
    Notification,
    RectificationPlan,
    Region,
    Standard,
)

__all__ = [
    "AppUser", "AuditEvent", "AuditHead", "Department", "Enterprise", "Evidence",
    "Extension", "Hazard", "Industry", "Notification", "RectificationPlan", "Region",
    "Standard",
]
from hazardloop.models import escalation as _escalation  # noqa: E402,F401  (escalation tables)
