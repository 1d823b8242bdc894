"""Notifications: recipients by role, the transactional outbox, delivery."""
