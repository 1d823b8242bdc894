"""The notification dispatcher as a Prefect flow (thin: one call to the plain function).

Every few minutes under `hazardloop serve` (deployments() below); `hazardloop
outbox dispatch` runs the same function by hand.  One flow run is one pass; the
work inside is batched by the dispatcher, never one task per message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import logging

from prefect import flow, get_run_logger
from prefect.exceptions import MissingContextError

from hazardloop.bootstrap import bootstrap
from hazardloop.notifications.dispatcher import dispatch

INTERVAL = timedelta(minutes=3)


@flow(name="notification-dispatch", log_prints=False)
def dispatch_flow(limit: int | None = None, concurrency: int = 8, database_url: str | None = None) -> dict[str, Any]:
    """投递到期的通知：认领、发送、记录、重试、死信。"""
    bootstrap()  # this process may be a worker that imported nothing else
    report = dispatch(database_url, limit=limit, concurrency=concurrency)
    try:
        logger = get_run_logger()
    except MissingContextError:  # called as a plain function (dispatch_flow.fn)
        logger = logging.getLogger(__name__)
    logger.info(report.summary())
    return report.as_dict()


def deployments() -> list[Any]:
    """The RunnerDeployment(s) `hazardloop serve` runs: the dispatcher every 3 minutes."""
    return [dispatch_flow.to_deployment(name="notification-dispatch", interval=INTERVAL,
                                        description="通知发件箱调度：每 3 分钟投递一次到期通知")]
