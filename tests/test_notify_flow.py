"""The dispatcher's Prefect flow and its deployment (thin wrapper over dispatch())."""

from __future__ import annotations

from hazardloop.notifications.outbox import enqueue
from hazardloop.notifications.recipients import Recipient
from tests.fixtures_notify import routes_file  # noqa: F401


def test_dispatch_flow_sends_and_deployment_runs_every_few_minutes(sqlite_template, tmp_path, routes_file,
                                                                   prefect_harness):
    import shutil

    from sqlmodel import Session

    from hazardloop.flows.dispatch import deployments, dispatch_flow
    from hazardloop.models.db import forget_engine, write_engine

    path = tmp_path / "flow.sqlite"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    routes_file(roles={"*": {"channels": ["file"]}})
    with Session(write_engine(url)) as s:
        enqueue(s, event="escalation", hazard_id=None, cycle=1, step="reminder",
                recipients=[Recipient("committee", "杨志远", username="office1")], subject="到期提醒", body="正文")
        s.commit()
    result = dispatch_flow(database_url=url, concurrency=2)
    assert result["sent"] == 1 and result["claimed"] == 1
    assert len(list((tmp_path / "home" / "outbox-files").glob("*.json"))) == 1
    deps = deployments()
    assert [d.name for d in deps] == ["notification-dispatch"]
    interval = deps[0].schedules[0].schedule.interval
    assert 60 <= interval.total_seconds() <= 600
    forget_engine(url)
