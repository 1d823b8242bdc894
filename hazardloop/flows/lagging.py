"""The monthly lagging-unit run (落后单位督办) as a Prefect flow: thin, one unit of work.

The work is hazardloop.reports.lagging.run (the CLI and the tests call it too).  The
schedule fires every day at 08:45 Shanghai; the flow acts only on the month's first
working day (cron cannot know 调休) and evaluates the previous month.  Running it again
is harmless: evaluations and steps are unique in the database.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from hazardloop.bootstrap import bootstrap
from hazardloop.config import clock
from hazardloop.models.db import session_scope
from hazardloop.reports import lagging

TZ = "Asia/Shanghai"
SCHEDULE = "45 8 * * *"


@flow(name="lagging-units")
def lagging_flow(as_of: str | None = None, db_url: str | None = None, force: bool = False) -> dict[str, Any]:
    """落后单位月度考核：每月第一个工作日考核上月，连续未达标的按阶梯督办。"""
    bootstrap()  # this process may be a worker that imported nothing else
    day = date.fromisoformat(as_of) if as_of else clock.today()
    if not force and not lagging.is_run_day(day):
        return {"as_of": day.isoformat(), "skipped": True}
    month = lagging.previous_month(lagging.month_of(day))
    with session_scope(db_url) as session:
        result = lagging.run(session, month, as_of=day)
    summary = {"as_of": day.isoformat(), "month": month, "units": result.units, "lagging": result.lagging,
               "documents": result.documents, "proposed": result.proposed, "notifications": result.notifications}
    get_run_logger().info("落后单位考核：%s", summary)
    return summary


def deployments() -> list[Any]:
    from prefect.schedules import Cron

    return [lagging_flow.to_deployment(
        name="monthly-lagging-units", schedules=[Cron(SCHEDULE, timezone=TZ)],
        description="每月第一个工作日 08:45（北京时间）考核上月各镇街区、行业监管部门，连续未达标的按阶梯督办。",
        tags=["hazardloop", "lagging"])]
