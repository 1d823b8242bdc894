"""The monthly bulletin (月通报) as a Prefect flow: thin, one unit of work.

Cron cannot know 调休, so the deployment fires every day at 09:00 Shanghai and
hazardloop.reports.bulletin_issue.scheduled decides: on the month's first working
day it issues the previous month's bulletin (numbered, stored, queued to every
member unit in one transaction); on other days it does nothing.  Issuing is
idempotent (one document per month), so a rerun or a second worker changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from hazardloop.bootstrap import bootstrap
from hazardloop.models.db import session_scope
from hazardloop.reports.bulletin_issue import scheduled

TZ = "Asia/Shanghai"
SCHEDULE = "0 9 * * *"  # daily 09:00 Shanghai; the flow keeps only the first working day of the month


@flow(name="monthly-bulletin")
def monthly_bulletin_flow(today: str | None = None, db_url: str | None = None) -> dict[str, Any]:
    """月通报：每月第一个工作日签发上月通报（编文号、存储、发送到各成员单位）。"""
    bootstrap()  # this process may be a worker that imported nothing else
    day = date.fromisoformat(today) if today else None
    with session_scope(db_url) as session:
        issued = scheduled(session, day)
        summary = {"issued": False} if issued is None else {"issued": True, **issued.as_dict()}
    get_run_logger().info("月通报：%s", summary if issued else "今天不是本月第一个工作日，跳过")
    return summary


def deployments() -> list[Any]:
    """The RunnerDeployment `hazardloop serve` runs: daily at 09:00 (Asia/Shanghai), issuing on the first working day."""
    from prefect.schedules import Cron

    return [monthly_bulletin_flow.to_deployment(
        name="monthly-bulletin", schedules=[Cron(SCHEDULE, timezone=TZ)],
        description="每日 09:00（北京时间）检查：每月第一个工作日签发上月月通报，并发送到各成员单位。",
        tags=["hazardloop", "bulletin"])]
