"""Reports read from the ledger: statistics, principal-led inspections, the red/black list, the monthly bulletin."""
