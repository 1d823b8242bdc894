"""The daily principal-inspection check as a Prefect flow: thin, one unit of work.

The work is hazardloop.reports.inspections.daily_check (tests call it directly):
reminders queued in the outbox (each once per enterprise and period), missed
periods flagged in the result.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from hazardloop.bootstrap import bootstrap
from hazardloop.models.db import session_scope
from hazardloop.reports.inspections import daily_check

TZ = "Asia/Shanghai"
SCHEDULE = "15 8 * * *"  # every day 08:15 Shanghai: a period's last days include weekends


@flow(name="inspection-check")
def inspection_check_flow(as_of: str | None = None, db_url: str | None = None) -> dict[str, Any]:
    """主要负责人带队检查每日检查：到期前提醒、逾期未检查标记。"""
    bootstrap()  # this process may be a worker that imported nothing else
    day = date.fromisoformat(as_of) if as_of else None
    with session_scope(db_url) as session:
        result = daily_check(session, day)
    summary = {"as_of": result.as_of.isoformat(), "reminders": len(result.reminders), "queued": result.queued,
               "missed": len(result.missed)}
    get_run_logger().info("带队检查每日检查：%s", summary)
    return summary


def deployments() -> list[Any]:
    """The RunnerDeployment `hazardloop serve` runs: the check every day at 08:15 (Asia/Shanghai)."""
    from prefect.schedules import Cron

    return [inspection_check_flow.to_deployment(
        name="daily-inspection-check", schedules=[Cron(SCHEDULE, timezone=TZ)],
        description="每日 08:15（北京时间）主要负责人带队检查：周期结束前提醒，逾期未检查标记。",
        tags=["hazardloop", "inspections"])]
