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
from hazardloop.models.notify import NotificationAttempt  # noqa: F401  (notifications)
from hazardloop.models.web import ApiToken, WebCredential  # noqa: F401  (web console sign-in)
from hazardloop.models import intake  # noqa: F401,E402  (public reports, sources, merges, imports)

__all__ = [
    "AppUser", "AuditEvent", "AuditHead", "Department", "Enterprise", "Evidence",
    "Extension", "Hazard", "Industry", "Notification", "RectificationPlan", "Region",
    "Standard",
]
from hazardloop.models import escalation as _escalation  # noqa: E402,F401  (escalation tables)
from hazardloop.models import lagging as _lagging  # noqa: E402,F401  (lagging-unit ladder tables)
from hazardloop.models import interviews as _interviews  # noqa: E402,F401  (约谈会 records, issue 14)
from hazardloop.models import campaigns as _campaigns  # noqa: E402,F401  (special campaigns: inventories, checks, problems)
from hazardloop.models import plans as _plans  # noqa: E402,F401  (action-plan loop tables)
