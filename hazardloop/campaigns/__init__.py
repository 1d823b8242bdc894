"""The special campaigns (五项整治, policy ¶26–30): inventories, 赋码, checks against the
checklist, and the problems (问题隐患) they find, closed in their own loop or raised into the
major-hazard ledger.  Plain functions over an open Session; callers commit."""
