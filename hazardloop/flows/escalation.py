"""The daily escalation sweep and the stage-timeout check as Prefect flows.

Thin: the work is escalation.hazards.sweep / check_stage_timeouts, the
same functions `hazardloop sweep` and the tests call.  One flow run per sweep;
one task per shard (a group of regions), so several workers can share a sweep;
inside a shard the sweep walks its hazards in batches (bounded memory).
Shards may run at once: exactly-once is held by the database (unique step rows,
locked document counters), not by the orchestration.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import select

from hazardloop.bootstrap import bootstrap
from hazardloop.config import calendar, clock
from hazardloop.escalation.calendar_warning import warn_missing
from hazardloop.models.db import session_scope
from hazardloop.models.tables import Hazard
from hazardloop.escalation import hazards as esc


def active_regions(db_url: str | None = None) -> list[str]:
    """Regions that have hazards under rectification (index-only on region_code/state)."""
    with session_scope(db_url, write=False) as s:
        return sorted(r for r in s.execute(select(Hazard.region_code).distinct()
                                           .where(Hazard.state == esc.ACTIVE_STATE)).scalars())


def plan_shards(regions: list[str], shards: int) -> list[list[str]]:
    """Split regions into at most `shards` groups, round-robin (stable for the same input)."""
    shards = max(1, min(shards, len(regions))) if regions else 1
    groups: list[list[str]] = [[] for _ in range(shards)]
    for i, region in enumerate(sorted(regions)):
        groups[i % shards].append(region)
    return [g for g in groups if g]


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"issued": {}, "documents": {}, "proposed": 0, "notifications": 0,
                             "cycles_started": 0, "cycles_ended": 0, "timeouts": 0}
    for part in parts:
        for key in ("issued", "documents"):
            for k, v in part[key].items():
                total[key][k] = total[key].get(k, 0) + v
        for key in ("proposed", "notifications", "cycles_started", "cycles_ended", "timeouts"):
            total[key] += part[key]
    return total


@task(name="escalation-shard", retries=2, retry_delay_seconds=10)
def sweep_shard(as_of: str, regions: list[str] | None, db_url: str | None = None) -> dict[str, Any]:
    result = esc.sweep(esc.factory_for(db_url), date.fromisoformat(as_of), regions=regions, stage_timeouts=False)
    return result.as_dict()


@flow(name="escalation-sweep", log_prints=True)
def escalation_sweep_flow(as_of: str | None = None, shards: int = 4, db_url: str | None = None,
                          force: bool = False) -> dict[str, Any]:
    """督办扫描: every step that came due is issued once; runs on working days (or with force)."""
    bootstrap()  # this process may be a worker that imported nothing else
    logger = get_run_logger()
    day = date.fromisoformat(as_of) if as_of else clock.today()
    if not force and not esc.is_sweep_day(day):
        logger.info("%s 不是工作日，不进行督办扫描。", day)
        return {"as_of": day.isoformat(), "skipped": True}
    groups = plan_shards(active_regions(db_url), shards)
    futures = [sweep_shard.submit(day.isoformat(), group, db_url) for group in groups]
    total = combine([f.result() for f in futures]) | {"as_of": day.isoformat(), "shards": len(groups)}
    with session_scope(db_url) as session:  # the shards sweep by region; the calendar reminder is once
        warn_missing(session, clock.today())
    missing = calendar.missing_next_year(clock.today())
    if missing:
        logger.warning(calendar.missing_message(missing))
    logger.info("督办扫描 %s 完成：%s", day, total)
    return total


@flow(name="stage-timeout-check")
def stage_timeout_flow(as_of: str | None = None, db_url: str | None = None, force: bool = False) -> dict[str, Any]:
    """环节超时提醒: hazards left too long in found or listed."""
    bootstrap()  # this process may be a worker that imported nothing else
    day = date.fromisoformat(as_of) if as_of else clock.today()
    if not force and not esc.is_sweep_day(day):
        return {"as_of": day.isoformat(), "skipped": True}
    n = esc.check_stage_timeouts(esc.factory_for(db_url), day)
    get_run_logger().info("环节超时提醒 %s：%s 条", day, n)
    return {"as_of": day.isoformat(), "timeouts": n}
