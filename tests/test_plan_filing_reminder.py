"""The reminder before the sub-plan filing date (附件: “各部门单位具体实施方案于3月15日前报市安委会
办公室审核备案”): units not yet filed are reminded `filing_remind` working days before, once, through
the outbox; the dispatcher delivers it to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from hazardloop.config import clock
from hazardloop.config.plans import PlansPolicyError, load_policy, parse_policy
from hazardloop.models import audit
from hazardloop.models.tables import AppUser, AuditEvent, Notification
from hazardloop.notifications.dispatcher import dispatch
from hazardloop.plans import dispatch as plan_dispatch
from hazardloop.plans import plans
from tests.fixtures_notify import http_receiver, routes_file  # noqa: F401
from tests.test_plans import PLAN_2025

DUE = date(2025, 3, 15)  # a Saturday: three working days before it is Wednesday the 12th


def _rows(s, step_prefix: str = "plan-filing:") -> list[Notification]:
    return s.execute(select(Notification).where(Notification.event == plan_dispatch.EVENT_FILING,
                                                Notification.step.startswith(step_prefix))
                     .order_by(Notification.id)).scalars().all()


def _remind(s, day: date, policy=None) -> dict:  # noqa: ANN001
    with clock.frozen(day):
        out = plan_dispatch.remind_filings(s, day, policy=policy)
        s.commit()
    return out


def test_units_not_filed_are_reminded_once_before_the_due_date(org, http_receiver, routes_file):  # noqa: F811
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}})
    db = org
    policy = load_policy()
    assert policy.filing_due == "03-15" and policy.filing_remind == 3
    assert plan_dispatch.filing_reminder_day(DUE, policy) == date(2025, 3, 12)
    with db.session() as s:
        office = db.user(s, "office1")
        with clock.frozen(date(2025, 1, 2)):
            plans.load_plan(s, office, text=PLAN_2025)
            plans.open_filings(s, office, 2025, DUE, units=["yingji", "zhujian"])
            s.commit()
        assert _remind(s, date(2025, 3, 11))["units"] == 0  # four working days before: not yet
        with clock.frozen(date(2025, 3, 11)):  # 住建局 files in time: never reminded
            plans.submit_plan(s, db.user(s, "sup_zhujian"), "zhujian-2025", summary="住建局子方案要点")
            s.commit()

        first = _remind(s, date(2025, 3, 12))
        assert first["plans"] == ["yingji-2025"] and first["notifications"] == 2  # both 应急局 supervisors
        rows = _rows(s)
        assert {r.recipient_name for r in rows} == {"蒋国平", "沈丽娟"}
        assert all(r.step == "plan-filing:yingji-2025:2025-03-15" for r in rows)
        assert rows[0].subject == "请于3月15日前报送2025年度子方案"
        assert "3月15日前报市安委会办公室审核备案" in rows[0].body and "yingji-2025" in rows[0].body

        # once: the same day again, the next day, and after a new 应急局 person is registered
        assert _remind(s, date(2025, 3, 12))["notifications"] == 0
        s.add(AppUser(username="sup_yingji3", name="新到岗同志", role="supervisor", department_code="yingji"))
        s.commit()
        assert _remind(s, date(2025, 3, 13)) == {"as_of": "2025-03-13", "units": 0, "notifications": 0, "plans": []}
        assert len(_rows(s)) == 2
        assert s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "plan_filing_reminded")).scalar() == 1

        # a sub-plan opened inside the window is caught up the next run; after the due date the ladder takes over
        with clock.frozen(date(2025, 3, 13)):
            plans.open_filings(s, office, 2025, DUE, units=["shiheng"])
            s.commit()
        assert _remind(s, date(2025, 3, 14))["plans"] == ["shiheng-2025"]
        with clock.frozen(date(2025, 3, 17)):
            plans.open_filings(s, office, 2025, DUE, units=["shichang"])
            s.commit()
        assert _remind(s, date(2025, 3, 17))["units"] == 0
        assert not _rows(s, "plan-filing:shichang-2025")
        # a policy with filing_remind: 0 sends none
        with clock.frozen(date(2026, 1, 2)):
            plans.load_plan(s, office, text=PLAN_2025.replace("2025-", "2026-"))
            plans.open_filings(s, office, 2026, date(2026, 3, 15), units=["yingji"])
            s.commit()
        assert _remind(s, date(2026, 3, 13), policy=replace(policy, filing_remind=0))["units"] == 0
        assert audit.verify(s).ok

    # the dispatcher delivers each reminder once to the real receiver
    report = dispatch(db.url)
    assert report.sent == 3  # two for 应急局, one for 石横镇 (its officer)
    titles = [h.body.get("title", "") for h in http_receiver.hits]
    assert titles.count("请于3月15日前报送2025年度子方案") == 3
    assert dispatch(db.url).sent == 0


def test_the_policy_file_sets_the_reminder_and_refuses_a_bad_value():
    base = load_policy()
    text = base.source and open(base.source, encoding="utf-8").read()
    assert "filing_remind: 3" in text
    assert parse_policy(text.replace("filing_remind: 3", "filing_remind: 5")).filing_remind == 5
    # a local file written before the key existed keeps working, with the default
    old = "\n".join(line for line in text.splitlines() if not line.startswith("filing_remind"))
    assert parse_policy(old).filing_remind == 3
    with pytest.raises(PlansPolicyError, match=r"第 \d+ 行.*filing_remind 应为 0–20"):
        parse_policy(text.replace("filing_remind: 3", "filing_remind: -1"))
    assert replace(base, filing_remind=5).version != base.version  # the stored policy version tells them apart
