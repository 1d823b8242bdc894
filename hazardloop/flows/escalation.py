"""The daily escalation sweep and the stage-timeout check as Prefect flows.

Thin: the work is escalation.hazards.sweep / check_stage_timeouts, the
same functions `hazardloop sweep` and the tests call.  Inside a shard the sweep
walks its hazards in batches (bounded memory).  Exactly-once is held by the
database (unique step rows, locked document counters), not by the orchestration,
so shards may run at once, twice, or be killed half-way.

Two ways to split a sweep:
- in one process (`hazardloop serve`): one task per shard (a group of regions);
  a flow run's tasks never leave the process that runs it;
- across workers (`hazardloop deploy`, the parameter shard_deployment set): when
  the sweep is large, each shard is a child flow run of the escalation-shard
  deployment, picked up by whichever shard worker is free.  A child costs a few
  seconds and ~90 MB, so the number of shards follows the number of due hazards
  (shard_size per shard) and a small city's sweep stays one run.  A child that
  ends Crashed or Failed (a lost machine is marked Crashed by the heartbeat
  automation, flows/deploy.py) is submitted again, up to `attempts` times.  The
  totals are read from the database afterwards: a crashed child may have
  committed batches it never reported.
"""

from __future__ import annotations

import time
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


SHARD_FLOW = "escalation-shard"
SHARD_SIZE = 50_000  # due hazards per child run: below it the sweep is one run (a child costs seconds)
MAX_SHARDS = 16  # one per region at most (16 regions in the reference data)


def due_by_region(db_url: str | None, day: date) -> dict[str, int]:
    """Rectifying hazards per region whose first ladder step is due by `day` (what a sweep may touch)."""
    from sqlalchemy import func

    from hazardloop.config import calendar
    from hazardloop.config.escalation import load_policy

    latest = calendar.latest_with_offset_due(day, load_policy().steps[0].offset)
    h = Hazard.__table__
    with session_scope(db_url, write=False) as s:
        rows = s.execute(select(h.c.region_code, func.count()).where(
            h.c.state == esc.ACTIVE_STATE, h.c.deadline <= clock.end_of_day_utc(latest)).group_by(h.c.region_code))
        return {r: n for r, n in rows}


def shards_for(due: int, shard_size: int = SHARD_SIZE, max_shards: int = MAX_SHARDS) -> int:
    """How many child runs a sweep of `due` hazards is worth: one per shard_size, at least one."""
    return max(1, min(max_shards, -(-due // max(1, shard_size))))


def balance(counts: dict[str, int], shards: int) -> list[list[str]]:
    """Regions into `shards` groups of similar size (largest first into the lightest group); stable."""
    shards = max(1, min(shards, len(counts))) if counts else 1
    groups: list[list[str]] = [[] for _ in range(shards)]
    load = [0] * shards
    for region in sorted(counts, key=lambda r: (-counts[r], r)):
        i = min(range(shards), key=lambda k: (load[k], k))
        groups[i].append(region)
        load[i] += counts[region]
    return [sorted(g) for g in groups if g]


def totals_from_db(db_url: str | None, day: date, since) -> dict[str, Any]:  # noqa: ANN001
    """What the sweep of `day` left in the database: steps written since `since` (by whichever run,
    crashed ones included), documents dated `day`, and what is still due (0 when the sweep is complete)."""
    from sqlalchemy import func

    from hazardloop.models.escalation import Document, EscalationCycle, EscalationStep
    from hazardloop.models.tables import Notification

    st, doc, cyc, note = (EscalationStep.__table__, Document.__table__, EscalationCycle.__table__,
                          Notification.__table__)
    with session_scope(db_url, write=False) as s:
        issued = dict(s.execute(select(st.c.step, func.count()).where(
            st.c.created_at >= since, ~st.c.step.like("timeout_%")).group_by(st.c.step)).all())
        documents = dict(s.execute(select(doc.c.doc_type, func.count()).where(
            doc.c.issue_date == day, doc.c.step_id.is_not(None)).group_by(doc.c.doc_type)).all())
        notifications = s.execute(select(func.count()).select_from(note).where(
            note.c.event == esc.EVENT, note.c.created_at >= since)).scalar_one()
        h = Hazard.__table__  # a paused (reviewed) hazard's cycle stays due: not the sweep's to finish
        remaining = s.execute(select(func.count()).select_from(cyc.join(h, h.c.id == cyc.c.hazard_id)).where(
            cyc.c.status == "active", cyc.c.next_due <= day, h.c.state == esc.ACTIVE_STATE,
            h.c.cycle == cyc.c.cycle)).scalar_one()
    return {"issued": issued, "documents": documents, "notifications": notifications, "remaining": remaining}


def _node() -> str:
    import os
    import socket

    return os.environ.get("HAZARDLOOP_NODE") or socket.gethostname()


@flow(name=SHARD_FLOW, log_prints=True)
def escalation_shard_flow(as_of: str, regions: list[str] | None = None, db_url: str | None = None,
                          batch_size: int = 500) -> dict[str, Any]:
    """督办扫描的一个分片（若干镇街区），由空闲的分片工作进程执行；可重复执行，每个步骤只出具一次。"""
    bootstrap()  # this process may be a worker that imported nothing else
    node = _node()
    _tag_node(node)
    logger = get_run_logger()
    logger.info("分片开始：%s，节点 %s，镇街区 %s", as_of, node, "、".join(regions or []) or "全部")
    result = esc.sweep(esc.factory_for(db_url), date.fromisoformat(as_of), regions=regions, stage_timeouts=False,
                       batch_size=batch_size)
    import resource

    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    part = {k: v for k, v in result.as_dict().items() if k != "items"} | {"node": node, "peak_mb": peak_mb}
    logger.info("分片完成：%s", part)
    return part


def _tag_node(node: str) -> None:
    # The node that ran a shard is shown on the run (tag node:<name>), for people and for the parent's report.
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if not run_id:
        return
    try:
        with get_client(sync_client=True) as client:
            tags = list(client.read_flow_run(run_id).tags or [])
            client.update_flow_run(run_id, tags=[*tags, f"node:{node}"])
    except Exception as exc:  # noqa: BLE001 - a missing tag must not stop the shard
        get_run_logger().warning("未能标注执行节点：%s", exc)


def run_children(deployment: str, day: date, groups: list[list[str]], db_url: str | None, *, attempts: int,
                 poll: float, logger, batch_size: int = 500) -> dict[str, Any]:  # noqa: ANN001
    """One child run per group on `deployment`; a child that ends Crashed/Failed/Cancelled is run again."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.runtime import flow_run

    parent = flow_run.get_id() or "local"

    def submit(i: int, attempt: int):  # noqa: ANN202
        return run_deployment(
            deployment, parameters={"as_of": day.isoformat(), "regions": groups[i], "db_url": db_url,
                                    "batch_size": batch_size},
            timeout=0, idempotency_key=f"{parent}:{day}:{i}:{attempt}",
            flow_run_name=f"escalation-shard-{day}-{i + 1}of{len(groups)}-try{attempt}")

    pending = {i: (submit(i, 1).id, 1) for i in range(len(groups))}
    nodes: dict[int, str] = {}
    reruns = 0
    failed: list[int] = []
    with get_client(sync_client=True) as client:
        while pending:
            time.sleep(poll)
            for i, (run_id, attempt) in list(pending.items()):
                run = client.read_flow_run(run_id)
                if run.state is None or not run.state.is_final():
                    continue
                del pending[i]
                if run.state.is_completed():
                    nodes[i] = next((t[5:] for t in run.tags or [] if t.startswith("node:")), "?")
                    continue
                if attempt >= attempts:
                    failed.append(i)
                    logger.error("分片 %s 第 %s 次仍未完成（%s），放弃。", i + 1, attempt, run.state.name)
                    continue
                logger.warning("分片 %s 第 %s 次运行结束于 %s，重新提交。", i + 1, attempt, run.state.name)
                reruns += 1
                pending[i] = (submit(i, attempt + 1).id, attempt + 1)
    return {"nodes": [nodes.get(i) for i in range(len(groups))], "reruns": reruns, "failed": failed}


def _warn_missing_calendar(db_url: str | None, logger) -> None:  # noqa: ANN001
    """From November on, next year's holiday arrangement missing: the office is told once a year and the log says so."""
    with session_scope(db_url) as session:  # the shards sweep by region; the calendar reminder is once
        warn_missing(session, clock.today())
    missing = calendar.missing_next_year(clock.today())
    if missing:
        logger.warning(calendar.missing_message(missing))


@flow(name="escalation-sweep", log_prints=True)
def escalation_sweep_flow(as_of: str | None = None, shards: int = 4, db_url: str | None = None,
                          force: bool = False, shard_deployment: str | None = None, shard_size: int = SHARD_SIZE,
                          max_shards: int = MAX_SHARDS, attempts: int = 3, poll_seconds: float = 5.0,
                          batch_size: int = 500) -> dict[str, Any]:
    """督办扫描: every step that came due is issued once; runs on working days (or with force).

    shard_deployment None: the shards are tasks in this process (`serve`).  Set (`deploy`):
    large sweeps go out as child flow runs of that deployment, one per shard_size due hazards."""
    bootstrap()  # this process may be a worker that imported nothing else
    logger = get_run_logger()
    day = date.fromisoformat(as_of) if as_of else clock.today()
    if not force and not esc.is_sweep_day(day):
        logger.info("%s 不是工作日，不进行督办扫描。", day)
        return {"as_of": day.isoformat(), "skipped": True}
    if shard_deployment is None:
        groups = plan_shards(active_regions(db_url), shards)
        futures = [sweep_shard.submit(day.isoformat(), group, db_url) for group in groups]
        total = combine([f.result() for f in futures]) | {"as_of": day.isoformat(), "shards": len(groups)}
        _warn_missing_calendar(db_url, logger)
        logger.info("督办扫描 %s 完成：%s", day, total)
        return total
    counts = due_by_region(db_url, day)
    n = shards_for(sum(counts.values()), shard_size, max_shards)
    since = clock.utcnow()
    if n <= 1:  # a small city: one run, here, no child run's start-up cost
        part = esc.sweep(esc.factory_for(db_url), day, stage_timeouts=False, batch_size=batch_size)
        runs: dict[str, Any] = {"nodes": [_node()], "reruns": 0, "failed": []}
        groups = [sorted(counts)]
        logger.info("督办扫描 %s：%s 件到期隐患，在本进程一次完成（%s）", day, sum(counts.values()), part.as_dict()["issued"])
    else:
        groups = balance(counts, n)
        logger.info("督办扫描 %s：%s 件到期隐患，分 %s 片交给分片工作进程", day, sum(counts.values()), len(groups))
        runs = run_children(shard_deployment, day, groups, db_url, attempts=attempts, poll=poll_seconds,
                            logger=logger, batch_size=batch_size)
    total = totals_from_db(db_url, day, since) | runs | {"as_of": day.isoformat(), "shards": len(groups)}
    _warn_missing_calendar(db_url, logger)
    logger.info("督办扫描 %s 完成（数据库中的结果）：%s", day, total)
    if runs["failed"] or total["remaining"]:
        raise RuntimeError(f"督办扫描 {day} 未完成：分片 {runs['failed']} 失败，仍有 {total['remaining']} 个周期到期未处理")
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
