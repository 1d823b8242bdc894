"""Crashes and concurrency: SIGKILL between send and record; two dispatchers on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import select

from hazardloop.models.tables import Notification
from hazardloop.notifications import admin
from hazardloop.notifications.dispatcher import KILL_ENV, _single_sqlite_dispatcher, dispatch
from hazardloop.notifications.outbox import enqueue
from hazardloop.notifications.recipients import Recipient
from tests.fixtures_notify import http_receiver, routes_file  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
RUNNER = """
import json, sys
from hazardloop.notifications.dispatcher import dispatch
report = dispatch(sys.argv[1], concurrency=int(sys.argv[2]), batch_size=int(sys.argv[3]))
print(json.dumps(report.as_dict()))
"""


def _dispatcher(url: str, *, kill: str | None = None, concurrency: int = 1, batch: int = 10) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(KILL_ENV, None)
    if kill:
        env[KILL_ENV] = kill
    return subprocess.Popen([sys.executable, "-c", RUNNER, url, str(concurrency), str(batch)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _queue(s, n: int, channel_people: int = 1) -> None:
    for i in range(n):
        enqueue(s, event="escalation", hazard_id=None, cycle=1, step=f"s{i}",
                recipients=[Recipient("committee", "杨志远", username="office1")], subject=f"第{i}号", body=f"正文{i}")
    s.commit()


def test_sigkill_after_send_before_record_loses_nothing(org, routes_file, http_receiver, tmp_path):
    # Lease of 2 s so the recovery happens within the test; the default is 300 s.
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook", "file"]}},
                policy_={"lease_seconds": 2})
    with org.session() as s:
        _queue(s, 3)
    proc = _dispatcher(org.url, kill="after_send")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    # It sent (the receiver has the copies) but recorded nothing: the rows are still claimed.
    assert len(http_receiver.hits) == 3
    with org.session() as s:
        rows = list(s.exec(select(Notification).order_by(Notification.id)).all())
        assert {r.status for r in rows} == {"sending"} and len(rows) == 6 and all(r.claimed_by for r in rows)
    assert dispatch(org.url).claimed == 0  # the lease still holds: nobody else takes them yet
    time.sleep(2.2)
    report = dispatch(org.url)
    assert report.recovered == 6 and report.sent == 6
    # At least once: the webhook saw each message twice, always with the same idempotency key,
    # so a receiver that dedupes keeps exactly one; the file channel (which dedupes) has one file each.
    assert len(http_receiver.hits) == 6
    assert len(http_receiver.unique()) == 3
    assert sorted(h.body["message"] for h in http_receiver.unique().values()) == ["正文0", "正文1", "正文2"]
    assert len(list((tmp_path / "home" / "outbox-files").glob("*.json"))) == 3
    with org.session() as s:
        rows = list(s.exec(select(Notification).order_by(Notification.id)).all())
        assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {2}
        log = admin.attempts(s, rows[0].id)
        assert [t.status for t in log] == ["INTERRUPTED", "SUCCESS"]
        assert "X-Idempotency-Key" in log[0].error
    assert dispatch(org.url).claimed == 0  # and never again


def test_sigkill_after_claim_before_send_sends_once(org, routes_file, http_receiver):
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}}, policy_={"lease_seconds": 1})
    with org.session() as s:
        _queue(s, 2)
    proc = _dispatcher(org.url, kill="after_claim")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert http_receiver.hits == []
    time.sleep(1.2)
    assert dispatch(org.url).sent == 2
    assert len(http_receiver.hits) == 2  # killed before sending: no duplicate at all


def test_two_dispatchers_on_postgresql_deliver_each_message_once(pg, routes_file, http_receiver):
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}})
    http_receiver.delay = 0.01  # slow enough that both dispatchers are busy at the same time
    with pg.session() as s:
        _queue(s, 150)
    procs = [_dispatcher(pg.url, concurrency=4, batch=10) for _ in range(2)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["claimed"] for r in reports) == 150
    assert all(r["claimed"] > 0 for r in reports), reports  # both really worked
    assert len(http_receiver.hits) == 150
    assert len(set(http_receiver.keys())) == 150  # no message twice, even before dedup
    with pg.session() as s:
        rows = list(s.exec(select(Notification)).all())
        assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


def test_sqlite_allows_one_dispatcher_at_a_time(sqlite_template, tmp_path, routes_file):
    import shutil

    from sqlmodel import Session

    from hazardloop.models.db import forget_engine, get_engine, write_engine

    path = tmp_path / "one.sqlite"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    routes_file(roles={"*": {"channels": ["file"]}})
    with Session(write_engine(url)) as s:
        _queue(s, 1)
    with _single_sqlite_dispatcher(get_engine(url)) as mine:
        assert mine
        report = dispatch(url)
        assert report.busy and report.claimed == 0 and "SQLite" in report.summary()
    assert dispatch(url).sent == 1
    forget_engine(url)


def test_a_pass_looks_for_expired_leases_once_not_before_every_batch(org, routes_file, http_receiver):
    """After a large sweep the lease query walks every recently sent row's index entry: one pass of
    many batches asks it at its start (and then at most once a minute), and still recovers what a
    dead dispatcher left."""
    from sqlalchemy import event

    from hazardloop.models.db import get_engine

    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}}, policy_={"lease_seconds": 2})
    with org.session() as s:
        _queue(s, 3)
    proc = _dispatcher(org.url, kill="after_claim")  # claims 3 rows and dies holding them
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    with org.session() as s:  # 57 more (other steps than _queue's s0…s2): 60 due in all, six batches of 10
        for i in range(57):
            enqueue(s, event="escalation", hazard_id=None, cycle=1, step=f"more{i}",
                    recipients=[Recipient("committee", "杨志远", username="office1")], subject=f"补{i}号", body=f"正文{i}")
        s.commit()
    time.sleep(2.2)
    asked: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        if "claimed_until <" in statement:
            asked.append(statement)

    engine = get_engine(org.url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        report = dispatch(org.url, batch_size=10, concurrency=1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.claimed == 60 and report.recovered == 3 and report.sent == 60
    assert len(asked) == 1, len(asked)  # not once per batch (6 + the empty last claim)
    assert len(http_receiver.hits) == 60
