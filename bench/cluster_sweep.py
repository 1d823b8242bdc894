"""Benchmark: the escalation sweep on PostgreSQL in one process, and sent to 1 and to 2 shard workers.

    python bench/cluster_sweep.py --hazards 1000000      # the issue's size (long: see docs/cluster.md)
    python bench/cluster_sweep.py --hazards 100000       # what was measured here
    python bench/cluster_sweep.py --hazards 20000 --shard-size 1000   # a quick run
    python bench/cluster_sweep.py --hazards 1000000 --template hl_bench_1m --seed-only   # seed once (kept) ...
    python bench/cluster_sweep.py --hazards 1000000 --template hl_bench_1m --runs 2,1   # ... then sweep copies of it

One ledger is seeded once (bench/sweep.py's generator: ~10% overdue, 16 regions) into a
template database; every run gets a fresh copy (CREATE DATABASE … TEMPLATE), so all three
sweep the same never-swept ledger:

1. in-process: hazardloop.escalation.hazards.sweep in a child process (as `serve` runs it);
2. the layout of hazardloop.flows.cluster with 1 shard worker, the sweep deployment run once;
3. the same with 2 shard workers.

The cluster runs use the production rule for the number of child runs (one per --shard-size
due hazards).  Printed per run: wall time (for the cluster: from submitting the parent run to
its completion, child start-up included), the rows written, and the peak RSS of each shard
run (each reports its own) and of each worker process.  The row counts must agree.
Last line: `ratio: N.NN` = 2-worker wall time / in-process wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

AS_OF = "2026-06-30"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin(base: str):  # noqa: ANN202
    return create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _url(base: str, name: str, driver: str = "postgresql+psycopg") -> str:
    return make_url(base).set(drivername=driver, database=name).render_as_string(hide_password=False)


def _copy(admin, template: str, name: str) -> None:  # noqa: ANN001
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))


def _drop(admin, name: str) -> None:  # noqa: ANN001
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _load() -> str:
    # the 1/5/15-minute load averages: the machine is shared, so every figure is printed beside them
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _hazards(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM hazard")).scalar_one()
    except Exception:  # noqa: BLE001 - no hazard table yet: an empty database
        return 0
    finally:
        engine.dispose()


def _rows(url: str) -> dict[str, int]:
    from hazardloop.models.escalation import Document, EscalationStep
    from hazardloop.models.tables import Notification

    engine = create_engine(url)
    with engine.connect() as conn:
        out = {"steps": conn.execute(select(func.count()).select_from(EscalationStep)).scalar_one(),
               "documents": conn.execute(select(func.count()).select_from(Document)).scalar_one(),
               # the ladder's notices only: a cluster run sweeps on the real date, and from late in the year
               # the once-a-sweep 节假日安排 reminder to the committee (event calendar) comes with it
               "notifications": conn.execute(select(func.count()).select_from(Notification)
                                             .where(Notification.event == "escalation")).scalar_one()}
    engine.dispose()
    return out


def in_process(url: str) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("sweep.py")), "--phase", "sweep", "--db", url,
                          "--batch", "500"], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit("in-process sweep failed")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": res["seconds"], "peak_mb": [round(res["peak_mb"])], "rows": _rows(url)}


def _vm_hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def _schedules_off(get_client) -> None:  # noqa: ANN001
    """Only the sweep this bench starts runs on the cluster: `hazardloop deploy` registers every
    deployment with its schedule, and the dispatcher's (every 3 minutes) would drain the sweep's
    outbox beside it -- work the in-process run does not do.  (A first run, before this, had
    three dispatch runs beside the 2-worker sweep.)  Every schedule is switched off and the runs
    it already planned are deleted."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        for dep in client.read_deployments():
            for sched in client.read_deployment_schedules(dep.id):
                client.update_deployment_schedule(dep.id, sched.id, active=False)
        planned = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))))
        for r in planned:
            client.delete_flow_run(r.id)
    print(f"  schedules switched off, {len(planned)} planned runs deleted", flush=True)


def on_cluster(url: str, prefect_url: str, workers: int, shard_size: int, home: Path) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from hazardloop.flows.cluster import Cluster, Layout

    layout = Layout(database_url=url, prefect_database_url=prefect_url, home=home, workers=workers, main_workers=1,
                    web_workers=0, dispatchers=0, prefect_port=_free_port(), poll_seconds=2, shard_size=shard_size,
                    extra_env={"HAZARDLOOP_HOME": str(home / "data")})
    with Cluster(layout, echo=lambda m: None) as c, \
            temporary_settings(updates={PREFECT_API_URL: layout.api_url, PREFECT_HOME: str(home)}):
        _schedules_off(get_client)
        started = time.perf_counter()
        run = run_deployment("escalation-sweep/daily-escalation-sweep", timeout=0, as_subflow=False,
                             parameters={"as_of": AS_OF, "force": True, "poll_seconds": 2})
        worker_peak: dict[str, int] = {}
        with get_client(sync_client=True) as client:
            while True:
                for name, proc in c.procs.items():
                    if name.startswith("shard-"):
                        worker_peak[name] = max(worker_peak.get(name, 0), _vm_hwm(proc.pid) or 0)
                state = client.read_flow_run(run.id).state
                if state and state.is_final():
                    break
                time.sleep(2)
            seconds = time.perf_counter() - started
            if not state.is_completed():
                raise SystemExit(f"cluster sweep ended {state.name}: see {c.logs}")
            others = [r.name for r in client.read_flow_runs() if r.id != run.id
                      and not r.name.startswith("escalation-shard-")]
            print(f"  other flow runs on the cluster during the sweep: {others or 'none'}", flush=True)
            shards = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(like_="escalation-shard-")))
            peaks = []
            for r in shards:
                for log in client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id]))):
                    m = re.search(r"'peak_mb': (\d+)", log.message)
                    if m:
                        peaks.append((next((t[5:] for t in r.tags if t.startswith("node:")), "?"), int(m.group(1)),
                                      round((r.total_run_time.total_seconds() if r.total_run_time else 0), 1)))
    return {"seconds": seconds, "shards": len(peaks), "shard_runs": sorted(peaks), "worker_peak_mb": worker_peak,
            "rows": _rows(url)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hazards", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("HAZARDLOOP_BENCH_PG", PG), help="any database URL on the server")
    ap.add_argument("--shard-size", type=int, default=None, help="due hazards per child run (default: the flow's)")
    ap.add_argument("--template", default=None,
                    help="seed into this database and keep it (reused as is if it already holds the ledger)")
    ap.add_argument("--seed-only", action="store_true", help="seed the template and stop (with --template)")
    ap.add_argument("--runs", default="0,1,2", help="which runs, in order: 0 = in-process, N = N shard workers")
    args = ap.parse_args()
    os.environ.setdefault("HAZARDLOOP_HOME", tempfile.mkdtemp(prefix="hl-bench-home-"))
    from hazardloop.bootstrap import bootstrap
    from hazardloop.flows.escalation import SHARD_SIZE

    bootstrap()
    shard_size = args.shard_size or SHARD_SIZE
    admin = _admin(args.pg)
    tag = uuid.uuid4().hex[:6]
    template = args.template or f"hl_bench_cl_{tag}"
    names = [] if args.template else [template]  # a named template is kept for the next invocation
    runs = [int(r) for r in args.runs.split(",") if r.strip()]
    print(f"bench/cluster_sweep.py: {args.hazards:,} hazards on PostgreSQL, as of {AS_OF}, shard size {shard_size:,}, "
          f"{os.cpu_count()} CPUs, load {_load()}", flush=True)
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}).first()
        seeded = exists and _hazards(_url(args.pg, template))
        if seeded:
            if seeded != args.hazards:
                raise SystemExit(f"template {template} holds {seeded:,} hazards, not {args.hazards:,}")
            print(f"reusing the seeded template {template}", flush=True)
        else:
            if not exists:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{template}"'))
            out = subprocess.run([sys.executable, str(Path(__file__).with_name("sweep.py")), "--phase", "generate",
                                  "--db", _url(args.pg, template), "--hazards", str(args.hazards)],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.stderr.write(out.stderr)
                raise SystemExit("seeding failed")
            gen = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"seeded in {gen['seconds']:.1f} s: {gen['states']}, load {_load()}", flush=True)
        if args.seed_only:
            return
        results = {}
        for workers in runs:
            label = "in-process" if workers == 0 else f"{workers} worker{'s' if workers > 1 else ''}"
            name = f"hl_bench_cl_{tag}_{workers}"
            names.append(name)
            _copy(admin, template, name)
            if workers == 0:
                res = in_process(_url(args.pg, name))
            else:
                pname = f"hl_bench_clp_{tag}_{workers}"
                names.append(pname)
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{pname}"'))
                res = on_cluster(_url(args.pg, name), _url(args.pg, pname, "postgresql+asyncpg"), workers, shard_size,
                                 Path(tempfile.mkdtemp(prefix=f"hl-bench-cluster-{workers}-")))
            results[label] = res
            extra = "" if workers == 0 else (f", {res['shards']} shard runs (node, peak MB, run s): {res['shard_runs']}, "
                                             f"worker peak RSS MB {res['worker_peak_mb']}")
            print(f"{label}: {res['seconds']:.1f} s wall, rows {res['rows']}"
                  + (f", peak RSS {res['peak_mb'][0]} MB" if workers == 0 else extra)
                  + f", load {_load()}", flush=True)
        same = len({json.dumps(r["rows"], sort_keys=True) for r in results.values()}) == 1
        print("row counts agree" if same else "ROW COUNTS DIFFER", flush=True)
        if "2 workers" in results and "in-process" in results:
            print(f"ratio: {results['2 workers']['seconds'] / results['in-process']['seconds']:.2f}")
        if not same:
            sys.exit(1)
    finally:
        for name in reversed(names):
            _drop(admin, name)
        admin.dispose()


if __name__ == "__main__":
    main()
