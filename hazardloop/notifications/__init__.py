"""Notifications: recipients by role, the transactional outbox, delivery, escalation.

Importing this package subscribes to the ledger's domain events: the lifecycle
notices (notices.install()) and the escalation cycles (a new deadline opens a
cycle under the policy in force).  So any process that imports it — the CLI, the
Prefect flows, the web app — writes those rows in the same transaction as the
change that causes them.
"""

from hazardloop.notifications import notices as _notices

_notices.install()

from hazardloop.notifications import escalation as _escalation  # noqa: E402,F401  (subscribes cycle starts)
