"""Every channel into one ledger: public reports, hazard sources and merging, Excel import/export.

Sits above states/ and notifications/ (it creates hazards through the ledger
and queues reminders through the outbox) and below the CLI.
"""
