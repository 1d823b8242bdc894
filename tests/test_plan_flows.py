"""The action plan's Prefect flows: thin wrappers over the functions tests/test_plans.py walks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from hazardloop.config import clock
from hazardloop.models.plans import PlanLagStep, QuarterlyReview
from hazardloop.models.tables import Notification
from hazardloop.plans import plans
from tests.fixtures_web import web_sqlite  # noqa: F401
from tests.test_plans import PLAN_2025


def test_dispatch_and_quarterly_flows(web_sqlite, prefect_harness):  # noqa: F811
    from hazardloop.flows.plans import plan_dispatch_flow, quarterly_review_flow

    db = web_sqlite
    with db.session() as s, clock.frozen(date(2025, 1, 2)):
        plans.load_plan(s, db.user(s, "office1"), text=PLAN_2025)
        plans.open_filings(s, db.user(s, "office1"), 2025, date(2025, 3, 15), units=["yingji"])
        s.commit()
    with clock.frozen(date(2025, 3, 12)):  # three working days before the filing date: the unfiled unit, once
        filing = plan_dispatch_flow(as_of="2025-03-12", db_url=db.url)
        filing_again = plan_dispatch_flow(as_of="2025-03-13", db_url=db.url)
    assert filing["filing_reminded"]["plans"] == ["yingji-2025"] and "filing_reminded" not in filing_again
    with clock.frozen(date(2025, 3, 22)):  # three days before the report day: remind, once
        first = plan_dispatch_flow(as_of="2025-03-22", db_url=db.url)
        again = plan_dispatch_flow(as_of="2025-03-22", db_url=db.url)
    assert first["reminded"]["units"] == 3 and again["reminded"]["notifications"] == 0
    assert "evaluated" not in first
    with clock.frozen(date(2025, 4, 1)):  # the first working day: evaluate March
        out = plan_dispatch_flow(as_of="2025-04-01", db_url=db.url)
        quiet = quarterly_review_flow(as_of="2025-04-02", db_url=db.url)
        review = quarterly_review_flow(as_of="2025-04-01", db_url=db.url, actor="office1")
        twice = quarterly_review_flow(as_of="2025-04-01", db_url=db.url, actor="office1")
    # no reports since January: three lagging months, three steps for each of the three units
    assert out["evaluated"]["months"][-1] == "2025-03" and out["evaluated"]["documents"] == 9
    assert quiet["skipped"] and review["number"] == "肥安办研〔2025〕1号" and twice["already"]
    with db.session() as s:
        assert len(s.execute(select(PlanLagStep)).all()) == 9
        assert s.execute(select(QuarterlyReview.quarter)).scalars().all() == ["2025-Q1"]
        assert s.execute(select(Notification).where(Notification.event == "plan_report_due")).first()
