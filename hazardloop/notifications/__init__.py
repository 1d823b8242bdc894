"""Notifications: recipients by role, the transactional outbox, delivery.

Importing this package subscribes the lifecycle notices to the ledger's domain
events (notices.install()), so any process that imports it — the CLI via
cli_notify, the Prefect flows via flows/dispatch, the web app — writes the
notification rows in the same transaction as the change that causes them.
"""

from hazardloop.notifications import notices as _notices

_notices.install()
