"""The lifecycle machines, their guards and roles, the ledger functions, domain events."""
