"""SQLModel tables, the engine and sessions, migrations, reference data, audit trail."""

from hazardloop.models import inspections  # noqa: F401  (principal_inspection table)

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
