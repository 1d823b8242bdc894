"""The problems' daily ladder (问题隐患督办, 五项整治) as a Prefect flow: thin, one unit of work.

The work is hazardloop.escalation.problems.sweep (the CLI `hazardloop campaign sweep` and the
tests call it too).  The schedule fires every day at 08:20 Shanghai and acts only on working
days (cron cannot know 调休); a missed day is caught up by the next run, and running it twice
issues nothing twice: each step is unique per (problem, cycle, step) in the database.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from hazardloop.bootstrap import bootstrap
from hazardloop.config import calendar, clock
from hazardloop.escalation import problems
from hazardloop.models.db import session_scope

TZ = "Asia/Shanghai"
SCHEDULE = "20 8 * * *"


@flow(name="campaign-problem-sweep")
def problem_sweep_flow(as_of: str | None = None, db_url: str | None = None, force: bool = False) -> dict[str, Any]:
    """问题隐患督办：每个工作日对整改中的问题隐患出具到期提醒、逾期催办、督办通知。"""
    bootstrap()  # this process may be a worker that imported nothing else
    day = date.fromisoformat(as_of) if as_of else clock.today()
    if not force and not calendar.is_workday(day):
        return {"as_of": day.isoformat(), "skipped": True}
    with session_scope(db_url) as session:
        result = problems.sweep(session, day)
    summary = {"as_of": day.isoformat(), "problems": result.problems, "steps": len(result.steps),
               "documents": result.documents, "notifications": result.notifications}
    get_run_logger().info("问题隐患督办：%s", summary)
    return summary


def deployments() -> list[Any]:
    from prefect.schedules import Cron

    return [problem_sweep_flow.to_deployment(
        name="daily-campaign-problem-sweep", schedules=[Cron(SCHEDULE, timezone=TZ)],
        description="每日 08:20（北京时间，工作日）五项整治问题隐患督办：到期提醒、逾期催办、督办通知。",
        tags=["hazardloop", "campaigns"])]
