"""The dispatcher's Prefect flow and its deployment (thin wrapper over dispatch())."""

from __future__ import annotations

import shutil

from sqlmodel import Session

from hazardloop.models.db import forget_engine, write_engine
from hazardloop.notifications.outbox import enqueue
from hazardloop.notifications.recipients import Recipient
from tests.fixtures_notify import routes_file  # noqa: F401


def _queued_db(sqlite_template, tmp_path) -> str:
    path = tmp_path / "flow.sqlite"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    with Session(write_engine(url)) as s:
        enqueue(s, event="escalation", hazard_id=None, cycle=1, step="reminder",
                recipients=[Recipient("committee", "杨志远", username="office1")], subject="到期提醒", body="正文")
        s.commit()
    return url


def test_deployment_runs_the_dispatcher_every_few_minutes(sqlite_template, tmp_path, routes_file):
    from hazardloop.flows.dispatch import deployments, dispatch_flow

    routes_file(roles={"*": {"channels": ["file"]}})
    url = _queued_db(sqlite_template, tmp_path)
    assert dispatch_flow.fn(database_url=url)["sent"] == 1  # the flow body is the plain function
    deps = deployments()
    assert [d.name for d in deps] == ["notification-dispatch"]
    interval = deps[0].schedules[0].schedule.interval
    assert 60 <= interval.total_seconds() <= 600
    forget_engine(url)


def test_dispatch_flow_runs_under_prefect(sqlite_template, tmp_path, routes_file, prefect_harness):
    from hazardloop.flows.dispatch import dispatch_flow

    routes_file(roles={"*": {"channels": ["file"]}})
    url = _queued_db(sqlite_template, tmp_path)
    result = dispatch_flow(database_url=url, concurrency=2)
    assert result["sent"] == 1 and result["claimed"] == 1
    assert len(list((tmp_path / "home" / "outbox-files").glob("*.json"))) == 1
    forget_engine(url)


def test_a_dispatch_run_is_cancelled_while_the_last_one_still_drains(prefect_harness):
    """After a large sweep a pass outlasts its 3 minutes: the server must not start a second
    dispatcher beside it (the deployment's concurrency limit, CANCEL_NEW), and must start one again
    once the first has finished."""
    from prefect import get_client
    from prefect.states import Completed, Pending, Running

    from hazardloop.flows.dispatch import deployments

    (dep,) = deployments()
    dep.schedules = []  # only the runs this test makes
    deployment_id = dep.apply()
    with get_client(sync_client=True) as client:
        first = client.create_flow_run_from_deployment(deployment_id)
        second = client.create_flow_run_from_deployment(deployment_id)
        assert client.set_flow_run_state(first.id, Pending()).state.is_pending()
        assert client.set_flow_run_state(first.id, Running()).state.is_running()
        refused = client.set_flow_run_state(second.id, Pending())
        assert refused.state is not None and refused.state.is_cancelled(), refused
        assert client.read_flow_run(second.id).state.is_cancelled()
        client.set_flow_run_state(first.id, Completed())
        third = client.create_flow_run_from_deployment(deployment_id)
        assert client.set_flow_run_state(third.id, Pending()).state.is_pending()  # the slot is free again
        client.set_flow_run_state(third.id, Running())
        client.set_flow_run_state(third.id, Completed())
