"""The scheduled audit checkpoint as a Prefect flow: thin, one read-only unit of work.

The work is hazardloop.models.audit.checkpoint (the CLI's `audit checkpoint` and the tests
call it directly): the chain is verified, then its head is signed and appended to the
checkpoint file outside the database (models/anchor.py).  A broken chain writes no
checkpoint and fails the run, so the failure shows in Prefect's UI and notifications.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from hazardloop.bootstrap import bootstrap
from hazardloop.models import audit
from hazardloop.models.db import session_scope

TZ = "Asia/Shanghai"
SCHEDULE = "0 * * * *"  # every hour: an attacker's window to delete a tail unnoticed is at most an hour


@flow(name="audit-checkpoint")
def audit_checkpoint_flow(db_url: str | None = None) -> dict[str, Any]:
    """审计链签名检查点：先校验，再把链尾签名写入库外的检查点文件。"""
    bootstrap()
    with session_scope(db_url) as session:
        cp = audit.checkpoint(session)
    summary = {"seq": cp.seq, "hash": cp.hash, "ts": cp.ts}
    get_run_logger().info("审计链检查点：%s", summary)
    return summary


def deployments() -> list[Any]:
    from prefect.schedules import Cron

    return [audit_checkpoint_flow.to_deployment(
        name="hourly-audit-checkpoint", schedules=[Cron(SCHEDULE, timezone=TZ)],
        description="每小时整点：校验审计链，并把链尾签名追加到库外的检查点文件（HMAC-SHA256，密钥不在数据库中）。",
        tags=["hazardloop", "audit"])]
