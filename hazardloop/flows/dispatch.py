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
    """The RunnerDeployment(s) `hazardloop serve` runs: the dispatcher every 3 minutes, one run at a time.

    A pass drains every due row, so after a large sweep (1,000,000 hazards write ~1.2 million outbox
    rows) it outlasts its 3 minutes; without a limit a new run started every 3 minutes beside it
    (three at once in the 1,000,000-hazard bench), each a process of ~160 MB claiming from the same
    rows.  The server cancels a run that finds one still running (CANCEL_NEW): the next interval
    after it ends picks up whatever is left."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return [dispatch_flow.to_deployment(
        name="notification-dispatch", interval=INTERVAL,
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        description="通知发件箱调度：每 3 分钟投递一次到期通知；上一次仍在投递时本次取消")]
