"""Escalation (督查督办): every ladder that climbs and the numbered 公文 it issues.

ladder.py holds the shared vocabulary (step, cycle, document, approval); hazards.py is the
hazard ladder and its daily sweep; units.py the lagging-unit ladder; documents.py the 文号
counters, rendering and storage.  Importing this package changes nothing (see bootstrap).
"""
