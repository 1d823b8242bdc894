"""`hazardloop deploy`: the deployments of `serve` on a Prefect server, run by workers.

`serve` runs every flow in its own process.  Beyond one machine a Prefect server
(on PostgreSQL) keeps the schedules and workers on any machine run the flows:

- one work pool (type process, default "hazardloop") with two queues:
  "default" for every scheduled flow (the sweep's parent run among them) and
  "shards" for the sweep's child runs.  Shard workers take one run at a time
  (`--limit 1`), so a second worker gets the second shard; the parent waits on its
  own queue, where it cannot take the slot a shard needs;
- the deployments are registered by module path (hazardloop is installed on every
  worker machine; there is no code to ship), with the same schedules as `serve`;
- every flow run sends a heartbeat every HEARTBEAT seconds, and an automation marks
  a run whose heartbeats stop (its machine lost) Crashed after `within` seconds:
  otherwise it stays Running forever and the sweep's parent would wait for ever.
  The parent then submits that shard again (flows/escalation.py);
- `stream_output: false`: a worker that dies does not take its running child
  with it (the child's output would go to a closed pipe);
- the database URL is not put in the deployments: each worker's environment has
  HAZARDLOOP_DATABASE_URL, and the flow runs it starts inherit it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

POOL = "hazardloop"
MAIN_QUEUE = "default"
SHARD_QUEUE = "shards"
SHARD_DEPLOYMENT = "escalation-shard/escalation-shard"
HEARTBEAT = 30  # seconds between flow-run heartbeats (Prefect's minimum)
CRASH_AFTER = 90  # seconds without a heartbeat before a run is marked Crashed
AUTOMATION = "hazardloop: 心跳中断的运行标记为 Crashed"


def module_entrypoint(entrypoint: str) -> str:
    """'hazardloop/flows/x.py:fn' (a file path, what to_deployment gives) -> 'hazardloop.flows.x.fn'."""
    if ":" not in entrypoint:
        return entrypoint
    path, fn = entrypoint.rsplit(":", 1)
    root = Path(importlib.import_module("hazardloop").__file__).resolve().parent.parent  # type: ignore[arg-type]
    module = Path(path).resolve().with_suffix("").relative_to(root)
    return ".".join(module.parts) + "." + fn


def deployments(*, shard_size: int | None = None, heartbeat: int = HEARTBEAT,
                env: dict[str, str] | None = None) -> list[Any]:
    """The RunnerDeployments of `serve` (same names and schedules) plus the sweep's shard deployment,
    set up for a process work pool."""
    from prefect.deployments.runner import EntrypointType

    from hazardloop.flows.deployments import all_deployments
    from hazardloop.flows.escalation import escalation_shard_flow

    out = all_deployments()
    out.append(escalation_shard_flow.to_deployment(
        name="escalation-shard", entrypoint_type=EntrypointType.MODULE_PATH, tags=["hazardloop", "escalation"],
        description="督办扫描的一个分片（若干镇街区）：由督办扫描按到期隐患数量拆分后提交，分片工作进程逐个执行。"))
    job_env = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat)} | (env or {})
    for d in out:
        if d.entrypoint_type != EntrypointType.MODULE_PATH:
            d.entrypoint = module_entrypoint(d.entrypoint)
            d._entrypoint_type = EntrypointType.MODULE_PATH
            d._path = None
        d.work_queue_name = SHARD_QUEUE if d.name == "escalation-shard" else MAIN_QUEUE
        d.job_variables = {"stream_output": False, "env": dict(job_env)}
        if d.name == "daily-escalation-sweep":
            d.parameters = dict(d.parameters or {}) | {"shard_deployment": SHARD_DEPLOYMENT}
            if shard_size:
                d.parameters["shard_size"] = shard_size
    return out


def ensure_pool(client, pool: str = POOL) -> None:  # noqa: ANN001
    """The process work pool and its two queues (created once; left as they are afterwards)."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        client.read_work_pool(pool)
    except ObjectNotFound:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process",
                                                   description="HazardLoop：计划流程与督办扫描分片"))
        except ObjectAlreadyExists:
            pass
    for queue in (MAIN_QUEUE, SHARD_QUEUE):
        try:
            client.read_work_queue_by_name(queue, work_pool_name=pool)
        except ObjectNotFound:
            try:
                client.create_work_queue(name=queue, work_pool_name=pool)
            except ObjectAlreadyExists:
                pass


def ensure_crash_automation(within: int = CRASH_AFTER) -> str:
    """The automation that marks a flow run Crashed when its heartbeats stop (Prefect's zombie-run recipe)."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    automation = Automation(
        name=AUTOMATION,
        description="运行所在机器失联（心跳停止）后，将运行标记为 Crashed，督办扫描据此重新提交该分片。",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=within)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"超过 {within} 秒未收到心跳：运行所在机器可能已失联。")],
    )
    try:
        existing = Automation.read(name=AUTOMATION)
    except ValueError:
        existing = None
    if existing is not None:
        automation.id = existing.id
        automation.update()
        return str(existing.id)
    return str(automation.create().id)


def deploy(pool: str = POOL, *, shard_size: int | None = None, heartbeat: int = HEARTBEAT,
           crash_after: int = CRASH_AFTER, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Register the work pool, the deployments and the crash automation on the server at PREFECT_API_URL.
    Returns (deployment name, id) pairs.  Running it again updates them in place."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        ensure_pool(client, pool)
    out = []
    for d in deployments(shard_size=shard_size, heartbeat=heartbeat, env=env):
        out.append((f"{d.flow_name}/{d.name}", str(d.apply(work_pool_name=pool))))
    ensure_crash_automation(crash_after)
    return out


def worker_command(pool: str = POOL, *, shards: bool, name: str | None = None) -> list[str]:
    """The command that starts a worker: shard workers take one run at a time."""
    cmd = ["prefect", "worker", "start", "--pool", pool, "--type", "process",
           "--work-queue", SHARD_QUEUE if shards else MAIN_QUEUE, "--limit", "1" if shards else "4"]
    return cmd + (["--name", name] if name else [])
