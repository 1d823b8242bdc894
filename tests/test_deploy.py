"""`hazardloop deploy` without a server: what it would register, how a sweep is split, the fixed UI port."""

from __future__ import annotations

import socket
from datetime import date

import pytest

from hazardloop.flows import deploy
from hazardloop.flows.escalation import balance, shards_for


def test_the_number_of_child_runs_follows_the_size_of_the_sweep():
    assert shards_for(0) == 1 and shards_for(3_000) == 1 and shards_for(50_000) == 1  # a city: one run
    assert shards_for(50_001) == 2 and shards_for(120_000) == 3
    assert shards_for(10_000_000) == 16  # at most one per region
    assert shards_for(900, shard_size=300) == 3


def test_balance_spreads_regions_by_their_due_hazards():
    counts = {"a": 900, "b": 500, "c": 400, "d": 100, "e": 50}
    groups = balance(counts, 2)
    assert sorted(r for g in groups for r in g) == sorted(counts)  # every region once
    loads = sorted(sum(counts[r] for r in g) for g in groups)
    assert loads == [950, 1000]
    assert balance(counts, 2) == groups  # stable
    assert balance({"a": 1}, 4) == [["a"]] and balance({}, 3) == []


def test_deployments_are_module_paths_on_two_queues_with_heartbeats():
    deps = {d.name: d for d in deploy.deployments(shard_size=1234)}
    assert "escalation-shard" in deps and "daily-escalation-sweep" in deps and "notification-dispatch" in deps
    for d in deps.values():
        # a module path imports on any machine where hazardloop is installed; a file path needs shipped code
        assert ":" not in d.entrypoint and d.entrypoint.startswith("hazardloop.flows."), d.entrypoint
        assert d.job_variables["stream_output"] is False
        assert d.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
        assert "HAZARDLOOP_DATABASE_URL" not in d.job_variables["env"]  # workers bring their own
    assert deps["escalation-shard"].entrypoint == "hazardloop.flows.escalation.escalation_shard_flow"
    assert deps["escalation-shard"].work_queue_name == deploy.SHARD_QUEUE
    sweep = deps["daily-escalation-sweep"]
    assert sweep.work_queue_name == deploy.MAIN_QUEUE
    assert sweep.parameters["shard_deployment"] == deploy.SHARD_DEPLOYMENT and sweep.parameters["shard_size"] == 1234
    assert sweep.schedules[0].schedule.cron == "0 8 * * *"  # the same schedule as serve


def test_worker_commands():
    assert deploy.worker_command(shards=True)[-2:] == ["--limit", "1"]
    assert "shards" in deploy.worker_command(shards=True) and "default" in deploy.worker_command(shards=False)


def test_deploy_needs_a_server_address(monkeypatch):
    from typer.testing import CliRunner

    from hazardloop.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 2 and "PREFECT_API_URL" in result.output
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    result = CliRunner().invoke(app, ["deploy", "--heartbeat", "10"])
    assert result.exit_code == 2 and "30" in result.output


def test_serve_uses_a_fixed_port_and_refuses_a_taken_one(monkeypatch, tmp_path):
    from hazardloop.flows import serve

    monkeypatch.delenv("HAZARDLOOP_PREFECT_PORT", raising=False)
    assert serve.default_port() == 4200
    monkeypatch.setenv("HAZARDLOOP_PREFECT_PORT", "4310")
    assert serve.default_port() == 4310
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(RuntimeError, match="已被占用"):
            serve.start_server("127.0.0.1", port, ui=False, home=tmp_path)


def test_totals_and_remaining_come_from_the_database(org):
    """The sweep's report is read back from the database, so a crashed child's batches are counted."""
    from hazardloop.config import clock
    from hazardloop.escalation import hazards as esc
    from hazardloop.flows.escalation import due_by_region, totals_from_db
    from tests.fixtures_escalation import ENT_XY, at, rectifying_with_deadline

    with org.session() as s:
        rectifying_with_deadline(s, date(2024, 9, 2), date(2024, 9, 20))
        rectifying_with_deadline(s, date(2024, 9, 2), date(2024, 9, 20), enterprise=ENT_XY, title="行车制动失灵")
    day = date(2024, 10, 10)
    with clock.frozen(at(day, 8)):
        assert sum(due_by_region(org.url, day).values()) == 2
        since = clock.utcnow()
        before = totals_from_db(org.url, day, since)
        esc.sweep(esc.factory_for(org.url), day, stage_timeouts=False)
        after = totals_from_db(org.url, day, since)
    assert before["remaining"] == 2 and before["issued"] == {}  # two cycles due, nothing issued yet
    assert after["issued"] == {"reminder": 2, "notice_letter": 2, "warning_letter": 2, "supervision_letter": 2}
    assert after["documents"] == {"函": 6} and after["remaining"] == 0 and after["notifications"] > 0
