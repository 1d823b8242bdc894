"""The action plan's schedules as Prefect flows: thin, one unit of work each.

- plan-dispatch (daily 09:00 Shanghai): three days before the report day it reminds the
  units that still owe this month's 月调度; `filing_remind` working days before the sub-plan
  filing date (and until it) it reminds the units not yet filed, once each (附件: 3月15日前
  审核备案); on the month's first working day it evaluates
  the previous month (escalation.tasks.evaluate: overdue tasks, missing reports, sub-plans
  not filed → 督促提醒 → 函告 → 通报 → 约谈 → 曝光 → 追责问责移交).
- quarterly-review (daily 09:30): on the first working day after a quarter it issues the
  quarter's 季度会商研判 report (once: the quarter is unique in the database).
The work is plain functions the CLI and the tests call; running again is harmless.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from prefect import flow, get_run_logger
from sqlalchemy import select

from hazardloop.bootstrap import bootstrap
from hazardloop.config import calendar, clock
from hazardloop.escalation import tasks as lag
from hazardloop.models.db import session_scope
from hazardloop.models.plans import QuarterlyReview
from hazardloop.models.tables import AppUser
from hazardloop.plans import dispatch
from hazardloop.reports import quarterly

TZ = "Asia/Shanghai"


@flow(name="plan-dispatch")
def plan_dispatch_flow(as_of: str | None = None, db_url: str | None = None) -> dict[str, Any]:
    """月调度：报送日前三天提醒未报单位；子方案报送期限前提醒未报送单位；每月第一个工作日考核上月并按阶梯督办。"""
    bootstrap()
    day = date.fromisoformat(as_of) if as_of else clock.today()
    policy = lag.load_policy()
    out: dict[str, Any] = {"as_of": day.isoformat()}
    with session_scope(db_url) as session:
        month = dispatch.month_to_remind(day, policy)
        if month:
            out["reminded"] = dispatch.remind_unreported(session, month, policy=policy)
        filings = dispatch.remind_filings(session, day, policy=policy)
        if filings["units"]:
            out["filing_reminded"] = filings
        if calendar.is_first_workday_of_month(day):
            prev = calendar.previous_month(calendar.month_of(day))
            if prev >= policy.start:
                out["evaluated"] = {k: v for k, v in lag.evaluate(session, prev, policy=policy, as_of=day)
                                    .to_dict().items() if k != "steps"}
    get_run_logger().info("月调度：%s", out)
    return out


@flow(name="quarterly-review")
def quarterly_review_flow(as_of: str | None = None, db_url: str | None = None, actor: str = "system") -> dict[str, Any]:
    """季度会商研判：季后第一个工作日签发上季度报告（每季度一次）。"""
    bootstrap()
    day = date.fromisoformat(as_of) if as_of else clock.today()
    if day.month not in (1, 4, 7, 10) or not calendar.is_first_workday_of_month(day):
        return {"as_of": day.isoformat(), "skipped": True}
    quarter = quarterly.quarter_of(day - timedelta(days=day.day))
    with session_scope(db_url) as session:
        if session.execute(select(QuarterlyReview.id).where(QuarterlyReview.quarter == quarter)).first():
            return {"as_of": day.isoformat(), "quarter": quarter, "already": True}
        user = session.execute(select(AppUser).where(AppUser.username == actor)).scalars().first()
        user = user or AppUser(username="system", name="系统", role="system")
        row = quarterly.issue(session, user, quarter, as_of=day)
        out = {"as_of": day.isoformat(), "quarter": quarter, "number": row.number}
    get_run_logger().info("季度会商研判：%s", out)
    return out


def deployments() -> list[Any]:
    from prefect.schedules import Cron

    return [
        plan_dispatch_flow.to_deployment(
            name="plan-monthly-dispatch", schedules=[Cron("0 9 * * *", timezone=TZ)],
            description="每日 09:00（北京时间）：报送日前三天提醒未报月调度的单位；子方案报送期限前提醒未报送的单位；"
                        "每月第一个工作日考核上月计划任务并按阶梯督办。",
            tags=["hazardloop", "plans"]),
        quarterly_review_flow.to_deployment(
            name="plan-quarterly-review", schedules=[Cron("30 9 * * *", timezone=TZ)],
            description="每日 09:30：季后第一个工作日签发上季度会商研判报告。", tags=["hazardloop", "plans"]),
    ]
