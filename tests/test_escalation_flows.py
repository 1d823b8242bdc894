"""The Prefect flows (thin wrappers over the sweep) and `hazardloop serve` with a real Prefect server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date

import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.flows.deployments import all_deployments
from hazardloop.flows.escalation import combine, plan_shards
from hazardloop.models.escalation import EscalationStep
from tests.fixtures_escalation import ENT_XY, at, check_gapless, rectifying_with_deadline


def test_plan_shards_covers_every_region_once():
    regions = [f"r{i}" for i in range(7)]
    groups = plan_shards(regions, 3)
    assert len(groups) == 3 and sorted(r for g in groups for r in g) == regions
    assert plan_shards(["a"], 4) == [["a"]] and plan_shards([], 4) == []


def test_combine_adds_parts():
    part = {"issued": {"a": 1}, "documents": {"函": 1}, "proposed": 0, "notifications": 2, "cycles_started": 1,
            "cycles_ended": 0, "timeouts": 0}
    assert combine([part, part])["issued"] == {"a": 2} and combine([part, part])["notifications"] == 4


def test_escalation_flow_sweeps_in_region_shards(org, prefect_harness, monkeypatch):
    from hazardloop.flows.escalation import escalation_sweep_flow, stage_timeout_flow

    with org.session() as s:
        rectifying_with_deadline(s, date(2024, 9, 2), date(2024, 9, 20))  # 石横镇
        rectifying_with_deadline(s, date(2024, 9, 2), date(2024, 9, 20), enterprise=ENT_XY, title="行车制动失灵")  # 新城街道
    with clock.frozen(at(date(2024, 10, 1), 8)):
        skipped = escalation_sweep_flow(as_of="2024-10-01", db_url=org.url)  # 国庆: not a working day
    assert skipped["skipped"] is True
    with clock.frozen(at(date(2024, 10, 10), 8)):
        total = escalation_sweep_flow(as_of="2024-10-10", shards=4, db_url=org.url)
        again = escalation_sweep_flow(as_of="2024-10-10", shards=4, db_url=org.url)
        timeouts = stage_timeout_flow(as_of="2024-10-10", db_url=org.url)
    assert total["shards"] == 2
    # the 到期提醒 came due before the deadline and is swept after it: kept as skipped, not sent
    assert total["issued"] == {"notice_letter": 2, "warning_letter": 2, "supervision_letter": 2}
    assert total["documents"] == {"函": 6}
    assert sum(again["issued"].values()) == 0 and timeouts["timeouts"] == 0
    with org.session() as s:
        assert len(s.exec(select(EscalationStep)).all()) == 8
        assert check_gapless(s) == {("函", 2024): 6}


def test_deployments_are_registered_with_shanghai_schedules():
    deps = {d.name: d for d in all_deployments()}
    assert set(deps) >= {"daily-escalation-sweep", "stage-timeout-check"}
    sched = deps["daily-escalation-sweep"].schedules[0].schedule
    assert sched.cron == "0 8 * * *" and sched.timezone == "Asia/Shanghai"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _deployment_names(api: str) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        with get_client(sync_client=True) as client:
            return {d.name for d in client.read_deployments()}


EXPECTED = {"daily-escalation-sweep", "stage-timeout-check", "notification-dispatch", "daily-inspection-check"}


@pytest.mark.slow
def test_serve_starts_prefect_server_registers_deployments_and_stops_cleanly(tmp_path):
    port, web_port = _free_port(), _free_port()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(HAZARDLOOP_HOME=str(home), PYTHONPATH=os.getcwd())
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "hazardloop", "serve", "--port", str(port), "--no-ui",
                             "--web-port", str(web_port), "--demo-accounts"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 240
        names: set[str] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(api + "/health", timeout=2):
                    names = _deployment_names(api)
                if EXPECTED <= names:
                    break
            except OSError:
                pass
            time.sleep(1)
        output = (tmp_path / "serve.log").read_text(errors="replace")
        assert EXPECTED <= names, output
        assert (home / "prefect" / "prefect.db").is_file()  # PREFECT_HOME under the data directory
        # the console runs beside the schedules, with a demo sign-in per role printed
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login", timeout=10) as page:
            assert page.status == 200 and "登录" in page.read().decode()
        assert f"网页控制台：http://127.0.0.1:{web_port}/" in output and output.count("演示账号") >= 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0, (tmp_path / "serve.log").read_text(errors="replace")
        with pytest.raises(OSError):  # the server went down with it
            urllib.request.urlopen(api + "/health", timeout=2)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login", timeout=2)
        assert "Prefect 服务器已停止" in (tmp_path / "serve.log").read_text(errors="replace")
        assert "网页控制台已停止" in (tmp_path / "serve.log").read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
