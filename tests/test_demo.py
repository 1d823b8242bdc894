"""`hazardloop demo`: a realistic ledger walked through the same guards, refused on a full database."""

from __future__ import annotations

from datetime import date

import pytest
from rich.console import Console
from sqlmodel import Session, select

from hazardloop.demo import run_demo
from hazardloop.models import audit
from hazardloop.errors import HazardLoopError
from hazardloop.models.tables import AuditEvent, Hazard
from hazardloop.states.machine import TRANSITIONS, replay

TRIGGERS = {t["trigger"] for t in TRANSITIONS}


def test_demo_walks_hazards_and_refuses_to_overwrite(db):
    console = Console(record=True, width=120)
    summary = run_demo(db.engine, reset=False, n_enterprises=25, n_hazards=60, seed=7, console=console,
                       today=date(2026, 11, 29))
    text = console.export_text()
    assert summary["hazards"] == 60 and summary["audit_ok"]
    assert "按镇街区" in text and "审计链完整" in text
    # the daily sweep ran across the simulated days: late hazards climbed the ladder
    assert summary["documents"].get("提示函", 0) > 0 and "督办扫描出具的文书" in text
    # last month's bulletin was issued as the monthly flow would, to every member unit
    assert summary["bulletin"]["number"].startswith("肥安办通报〔2026〕") and summary["bulletin"]["units"] > 0
    assert "2026-10 月通报" in text
    # a year of action plans: monthly reports, the plan-work ladder, three quarterly reviews (issue 18)
    assert summary["plans"]["reports"] > 0 and summary["plans"]["steps"] > 0 and len(summary["plans"]["reviews"]) == 3
    assert summary["plans"]["filing_reminders"] >= 1  # at least the late filer was reminded before 15 March
    with Session(db.engine) as s:
        hazards = s.exec(select(Hazard)).all()
        states = {h.state for h in hazards}
        assert {"closed", "dismissed", "rectifying"} <= states
        assert {h.channel for h in hazards} == {"self_inspection", "inspection", "public_report", "assigned"}
        assert min(h.found_at.year for h in hazards) == 2023
        for h in hazards:  # the stored state is exactly what the audit trail replays to
            actions = s.exec(select(AuditEvent.action).where(AuditEvent.hazard_id == h.id)
                             .order_by(AuditEvent.seq)).all()
            assert replay([a for a in actions if a in TRIGGERS]) == h.state
            if h.state == "closed":
                assert h.closed_by != h.submitted_by
        assert audit.verify(s).ok
    with pytest.raises(HazardLoopError, match="--reset"):
        run_demo(db.engine, reset=False, n_enterprises=5, n_hazards=5, seed=1, console=console)
    again = run_demo(db.engine, reset=True, n_enterprises=10, n_hazards=12, seed=3, console=console,
                     today=date(2026, 11, 29))
    assert again["hazards"] == 12
