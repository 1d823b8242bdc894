"""The multi-process layout, started on one machine: `make cluster` / `python -m hazardloop.flows.cluster`.

Each part is a separate process, as it would be on separate machines (docs/cluster.md):

    Prefect server   prefect server start            PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://…
    deployments      hazardloop deploy               (once, and after an upgrade)
    main worker(s)   prefect worker start --pool hazardloop --work-queue default --limit 4
    shard workers    prefect worker start --pool hazardloop --work-queue shards --limit 1   (N)
    web              uvicorn 'hazardloop.web.app:create_app' --factory --workers N
    dispatcher(s)    hazardloop outbox dispatch, every INTERVAL seconds (python -m hazardloop.flows.cluster dispatcher)

All of them point at one PostgreSQL (HAZARDLOOP_DATABASE_URL); the Prefect server has
its own database on it.  Every process is started in its own process group and
listens on 127.0.0.1 unless told otherwise; stop() ends each group with SIGTERM
(SIGKILL after a grace period), the flow runs a worker started (which Prefect puts
in their own sessions) included.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hazardloop.flows import deploy as deploy_mod
from hazardloop.flows.serve import start_server, stop_server

LOOPBACK = "127.0.0.1"

# uvicorn's access log with the worker's pid and the client's port: which web worker served which request.
WEB_LOG_CONFIG = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(process)d %(levelprefix)s %(message)s",
                    "use_colors": False},
        "access": {"()": "uvicorn.logging.AccessFormatter", "use_colors": False,
                   "fmt": '%(process)d %(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'},
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


@dataclass
class Layout:
    database_url: str  # the application's PostgreSQL (postgresql+psycopg://…)
    prefect_database_url: str  # the Prefect server's own database (postgresql+asyncpg://…)
    home: Path  # PREFECT_HOME of every part, and the logs
    workers: int = 2  # shard workers
    main_workers: int = 1
    web_workers: int = 2
    dispatchers: int = 1
    dispatch_every: float = 60.0
    host: str = LOOPBACK
    prefect_port: int = 4200
    web_port: int = 8000
    secret_key: str | None = None
    poll_seconds: float = 10.0  # how often workers ask for work (Prefect's default 10)
    heartbeat: int = deploy_mod.HEARTBEAT
    crash_after: int = deploy_mod.CRASH_AFTER
    shard_size: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"


def ensure_database(url: str) -> bool:
    """CREATE DATABASE for url's database when missing (the server's own, beside the application's)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = u.database
    conninfo = dict(host=u.host or LOOPBACK, port=u.port or 5432, user=u.username or "postgres",
                    password=u.password, dbname="postgres")
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def descendants(pid: int) -> list[int]:
    """Every process below pid (read from /proc): a worker's flow runs live in their own sessions."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class Cluster:
    """Start the layout as separate processes; stop() (or leaving the with-block) stops all of it."""

    def __init__(self, layout: Layout, echo=print) -> None:  # noqa: ANN001
        self.layout = layout
        self.echo = echo
        self.procs: dict[str, subprocess.Popen] = {}
        self.server: subprocess.Popen | None = None
        self.logs = layout.home / "logs"

    # --- environment ---------------------------------------------------------------------

    def env(self, **more: str) -> dict[str, str]:
        lay = self.layout
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update({
            "PREFECT_HOME": str(lay.home), "PREFECT_API_URL": lay.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": str(lay.poll_seconds),
            "PREFECT_WORKER_HEARTBEAT_SECONDS": str(max(5, int(lay.poll_seconds * 3))),
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(lay.heartbeat),
            "HAZARDLOOP_DATABASE_URL": lay.database_url,
        })
        if lay.secret_key:
            env["HAZARDLOOP_SECRET_KEY"] = lay.secret_key
        env.update(lay.extra_env)
        env.update(more)
        return env

    def _spawn(self, name: str, cmd: list[str], **env: str) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(cmd, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.layout.home)
        self.procs[name] = proc
        return proc

    # --- parts ---------------------------------------------------------------------------

    def start_server(self) -> None:
        lay = self.layout
        ensure_database(lay.prefect_database_url)
        self.echo(f"Prefect 服务器：{lay.api_url}（数据库 {lay.prefect_database_url.split('@')[-1]}）")
        self.server, _ = start_server(lay.host, lay.prefect_port, ui=True, home=lay.home,
                                      database_url=lay.prefect_database_url, timeout=300)

    def deploy(self) -> None:
        lay = self.layout
        cmd = [sys.executable, "-m", "hazardloop", "deploy", "--heartbeat", str(lay.heartbeat),
               "--crash-after", str(lay.crash_after)]
        if lay.shard_size:
            cmd += ["--shard-size", str(lay.shard_size)]
        out = subprocess.run(cmd, env=self.env(), cwd=lay.home, capture_output=True, text=True, timeout=300)
        (self.logs / "deploy.log").write_text(out.stdout + out.stderr)
        if out.returncode:
            raise RuntimeError(f"hazardloop deploy 失败（退出码 {out.returncode}）：{out.stderr[-2000:]}")

    def start_worker(self, name: str, *, shards: bool) -> subprocess.Popen:
        cmd = [sys.executable, "-m", *deploy_mod.worker_command(shards=shards, name=name)]
        return self._spawn(name, cmd, HAZARDLOOP_NODE=name)

    def start_web(self) -> None:
        lay = self.layout
        self.logs.mkdir(parents=True, exist_ok=True)
        config = self.logs.parent / "web-log.json"
        config.write_text(json.dumps(WEB_LOG_CONFIG))
        self._spawn("web", [sys.executable, "-m", "uvicorn", "hazardloop.web.app:create_app", "--factory",
                            "--host", lay.host, "--port", str(lay.web_port), "--workers", str(lay.web_workers),
                            "--log-config", str(config), "--no-server-header"])

    def start_dispatcher(self, name: str) -> None:
        self._spawn(name, [sys.executable, "-m", "hazardloop.flows.cluster", "dispatcher",
                           "--every", str(self.layout.dispatch_every)])

    def start(self) -> Cluster:
        lay = self.layout
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self.start_server()
            self.deploy()
            for i in range(lay.main_workers):
                self.start_worker(f"main-{i + 1}", shards=False)
            for i in range(lay.workers):
                self.start_worker(f"shard-{i + 1}", shards=True)
            if lay.web_workers:
                self.start_web()
            for i in range(lay.dispatchers):
                self.start_dispatcher(f"dispatcher-{i + 1}")
            if lay.web_workers:
                self.wait_web()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_web(self, timeout: float = 120) -> None:
        url = f"http://{self.layout.host}:{self.layout.web_port}/login"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs["web"].poll() is not None:
                raise RuntimeError(f"网页控制台启动失败，见 {self.logs / 'web.log'}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"网页控制台 {timeout:.0f} 秒内未就绪：{url}")

    # --- stopping -----------------------------------------------------------------------

    def kill(self, name: str, sig: int = signal.SIGKILL, *, with_runs: bool = True) -> list[int]:
        """Signal one part (its process group) and, with_runs, the flow runs it started: a lost machine."""
        proc = self.procs[name]
        pids = [proc.pid, *descendants(proc.pid)] if with_runs else [proc.pid]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        _signal(pids, sig)
        if sig == signal.SIGKILL:
            proc.wait(10)
        return pids

    def stop(self, grace: float = 20) -> None:
        if not self.procs and self.server is None:
            return
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is not None:
                continue
            pids = descendants(proc.pid)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _signal(pids, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill(name)
            _signal([p for p in pids if Path(f"/proc/{p}").exists()], signal.SIGKILL)
        if self.server is not None:
            stop_server(self.server)
            self.server = None
        self.procs.clear()
        self.echo("集群已停止。")

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dispatcher_loop(every: float) -> None:
    """A dispatcher process: one pass of the outbox every `every` seconds until SIGTERM."""
    from hazardloop.bootstrap import bootstrap
    from hazardloop.notifications.dispatcher import dispatch

    bootstrap()
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        try:
            print(dispatch(None).summary(), flush=True)
        except Exception as exc:  # noqa: BLE001 - a failed pass is retried on the next one
            print(f"投递失败：{exc}", flush=True)
        deadline = time.monotonic() + every
        while not stop and time.monotonic() < deadline:
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hazardloop.flows.cluster",
                                 description="在本机按多机布局启动 HazardLoop：Prefect 服务器（PostgreSQL）、"
                                             "worker、多进程网页控制台、投递进程；Ctrl-C 停止全部。")
    sub = ap.add_subparsers(dest="cmd")
    d = sub.add_parser("dispatcher", help="投递进程：每隔若干秒投递一次到期通知")
    d.add_argument("--every", type=float, default=60.0)
    ap.add_argument("--db", default=os.environ.get("HAZARDLOOP_DATABASE_URL",
                                                   "postgresql+psycopg://postgres@127.0.0.1:5432/hazardloop"))
    ap.add_argument("--prefect-db", default=os.environ.get(
        "PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/hazardloop_prefect"))
    ap.add_argument("--workers", type=int, default=2, help="分片 worker 数")
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--dispatchers", type=int, default=1)
    ap.add_argument("--port", type=int, default=int(os.environ.get("HAZARDLOOP_PREFECT_PORT") or 4200))
    ap.add_argument("--web-port", type=int, default=8000)
    ap.add_argument("--home", default=os.environ.get("HAZARDLOOP_CLUSTER_HOME", "var/cluster"))
    args = ap.parse_args(argv)
    if args.cmd == "dispatcher":
        dispatcher_loop(args.every)
        return 0
    from hazardloop.models.db import get_engine
    from hazardloop.models.migrate import init_database

    ensure_database(args.db)
    init_database(get_engine(args.db))
    layout = Layout(database_url=args.db, prefect_database_url=args.prefect_db, home=Path(args.home).resolve(),
                    workers=args.workers, web_workers=args.web_workers, dispatchers=args.dispatchers,
                    prefect_port=args.port, web_port=args.web_port)
    cluster = Cluster(layout)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        cluster.start()
        print(f"Prefect 界面：http://{layout.host}:{layout.prefect_port}/", flush=True)
        print(f"网页控制台：http://{layout.host}:{layout.web_port}/（{layout.web_workers} 个进程）", flush=True)
        print(f"进程：{', '.join(f'{n}={p.pid}' for n, p in cluster.procs.items())}；日志 {cluster.logs}", flush=True)
        print("Ctrl-C 停止全部。", flush=True)
        while True:
            for name, proc in cluster.procs.items():
                if proc.poll() is not None:
                    print(f"{name} 已退出（退出码 {proc.returncode}），见 {cluster.logs / (name + '.log')}", flush=True)
                    raise KeyboardInterrupt
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
