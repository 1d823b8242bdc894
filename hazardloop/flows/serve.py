"""`hazardloop serve`: the whole engine on one machine.

Starts `prefect server start` on loopback on a fixed port (4200, Prefect's usual;
HAZARDLOOP_PREFECT_PORT or --port to change it), with PREFECT_HOME
(and its SQLite database) under the data directory, waits until the API
answers, serves every registered deployment on its schedule, and on Ctrl-C or
SIGTERM stops the runner and then the server.  The server runs in its own
process group: a terminal Ctrl-C reaches the runner first, which pauses its
schedules while the server is still up; the server is stopped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from hazardloop.config.settings import get_settings

DEFAULT_PORT = 4200  # Prefect's usual port: the UI is at the same address at every start


def default_port() -> int:
    return int(os.environ.get("HAZARDLOOP_PREFECT_PORT") or DEFAULT_PORT)


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def prefect_home() -> Path:
    return get_settings().data_dir / "prefect"


def server_env(home: Path, host: str, port: int, ui: bool, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url or f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_ENABLED": "true" if ui else "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
    })
    return env


def wait_ready(url: str, proc: subprocess.Popen, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Prefect 服务器启动失败（退出码 {proc.returncode}），见日志 "
                               f"{log or prefect_home() / 'server.log'}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"Prefect 服务器 {timeout:.0f} 秒内未就绪：{url}")


def start_server(host: str, port: int, ui: bool, timeout: float = 180, *, home: Path | None = None,
                 database_url: str | None = None, extra_env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen, str]:
    """database_url: the server's own database (default SQLite under PREFECT_HOME;
    postgresql+asyncpg://… for several machines)."""
    home = home or prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    if port_taken(host, port):
        raise RuntimeError(f"端口 {port} 已被占用：另一个 Prefect 服务器在运行？用 --port 或 HAZARDLOOP_PREFECT_PORT 换一个。")
    log = open(home / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        env=server_env(home, host, port, ui, database_url) | (extra_env or {}), stdout=log,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    api = f"http://{host}:{port}/api"
    try:
        wait_ready(api, proc, timeout, home / "server.log")
    except BaseException:
        stop_server(proc)
        raise
    return proc, api


def stop_server(proc: subprocess.Popen, timeout: float = 30) -> int | None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def serve(host: str = "127.0.0.1", port: int | None = None, ui: bool = True, echo=print) -> int:  # noqa: ANN001
    """Run until Ctrl-C / SIGTERM; returns 0 after a clean shutdown."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"注意：Prefect 服务器将监听 {host}，不只是本机回环地址。")
    # Until the runner installs its own handler, SIGTERM means "stop cleanly" too.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    port = port or default_port()
    home = prefect_home()
    proc = None
    try:
        echo(f"正在启动 Prefect 服务器：http://{host}:{port}（PREFECT_HOME={home}）…")
        proc, api = start_server(host, port, ui)
        echo(f"Prefect 服务器已就绪：{api}")
        if ui:
            echo(f"Prefect 界面：http://{host}:{port}/")
        os.environ["PREFECT_API_URL"] = api
        os.environ["PREFECT_HOME"] = str(home)
        from prefect import serve as prefect_serve
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

        from hazardloop.flows.deployments import all_deployments

        with temporary_settings(updates={PREFECT_API_URL: api, PREFECT_HOME: str(home)}):
            deployments = all_deployments()
            echo("按计划运行：" + "、".join(d.name for d in deployments) + "（Ctrl-C 停止）")
            prefect_serve(*deployments, print_starting_message=False)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        if proc is not None:
            code = stop_server(proc)
            echo(f"Prefect 服务器已停止（退出码 {code}）。")
        signal.signal(signal.SIGTERM, previous)
    return 0
