"""Notifications: delivery only -- recipients by role, routes, the transactional outbox,
the Apprise dispatcher, and the lifecycle notices with their templates.

Importing this package changes nothing: the lifecycle notices are subscribed to the
ledger's domain events by hazardloop.bootstrap, which every entry point calls.
"""
