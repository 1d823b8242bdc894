"""Lifecycle notices go into the outbox in the ledger's transaction; keys, routing, undeliverable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import hazardloop.notifications  # noqa: F401  (subscribes the notices, as the CLI does)
from hazardloop.cli import app
from hazardloop.errors import ValidationError
from hazardloop.models.notify import NotificationAttempt
from hazardloop.models.tables import Enterprise, Notification
from hazardloop.notifications.dispatcher import dispatch
from hazardloop.notifications.outbox import enqueue
from hazardloop.notifications.recipients import Recipient, resolve
from hazardloop.notifications.routes import load_routes
from hazardloop.states import ledger
from hazardloop.states.events import _listeners
from tests.fixtures_notify import http_receiver, routes_file  # noqa: F401
from tests.helpers import ENT_HD, evidence_file, future, listed, rectifying, reported

ROOT = Path(__file__).resolve().parent.parent


def _rows(s, **where) -> list[Notification]:
    stmt = select(Notification)
    for k, v in where.items():
        stmt = stmt.where(getattr(Notification, k) == v)
    return list(s.exec(stmt.order_by(Notification.id)).all())


def test_listed_goes_to_principal_and_controller_in_the_same_transaction(org, routes_file):
    routes_file(roles={"*": {"channels": ["file"]}})
    with org.session() as s:
        hid = reported(s)
        ledger.confirm(s, org.user(s, "sup_yingji"), hid, basis_code="CHEM121", basis_clause="第十三条", level="city")
        # Written by the subscriber inside the open transaction, before any commit.
        pending = _rows(s, event="listed")
        assert sorted((r.recipient_role, r.recipient_name) for r in pending) == [
            ("controller", "钱德明"), ("principal", "赵建国"), ("safety_manager", "孙立新")]
        s.rollback()  # the confirmation is undone: so are its notices
        assert _rows(s, event="listed") == []
        ledger.confirm(s, org.user(s, "sup_yingji"), hid, basis_code="CHEM121", basis_clause="第十三条", level="city")
        s.commit()
        rows = _rows(s, event="listed")
        assert len(rows) == 3 and {r.status for r in rows} == {"pending"}
        assert {r.recipient_key for r in rows} == {f"{role}:{name}@e{rows[0].recipient_key.split('@e')[1]}"
                                                   for role, name in (("principal", "赵建国"), ("controller", "钱德明"),
                                                                      ("safety_manager", "孙立新"))}
        principal = next(r for r in rows if r.recipient_role == "principal")
        assert principal.subject.startswith("【挂牌督办】") and "赵建国（主要负责人）" in principal.body


def test_same_notice_twice_is_one_row(org, routes_file):
    routes_file(roles={"*": {"channels": ["file", "webhook"]}}, http_port=9)  # port unused: nothing is sent
    r = Recipient("committee", "杨志远", username="office1")
    with org.session() as s:
        kw = dict(event="escalation", hazard_id=None, cycle=2, step="warning_letter", recipients=[r],
                  subject="警示函", body="正文", document_id=3)
        assert enqueue(s, **kw) == 2  # one per channel
        assert enqueue(s, **kw) == 0
        s.commit()
        keys = [n.key for n in _rows(s)]
    assert keys == ["escalation|-|2|warning_letter|office1|file", "escalation|-|2|warning_letter|office1|webhook"]


def test_every_lifecycle_event_has_its_own_chinese_notice(org, routes_file, tmp_path):
    routes_file(roles={"*": {"channels": ["file"]}})
    with org.session() as s:
        hid = rectifying(s)
        ext = ledger.request_extension(s, org.user(s, "hd_safety"), hid, deadline=future(60), reason="设备到货延迟")
        s.commit()
        ledger.decide_extension(s, org.user(s, "sup_yingji"), ext.id, approve=True, reason="同意")
        s.commit()
        ledger.submit(s, org.user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
        s.commit()
        ledger.reject(s, org.user(s, "sup_yingji"), hid, reason="报警器未接入联锁", deadline=future(20))
        s.commit()
        ledger.submit(s, org.user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path, "b.jpg", b"second")])
        s.commit()
        ledger.approve(s, org.user(s, "sup_yingji2"), hid, reason="已整改到位")
        s.commit()
        rows = _rows(s, hazard_id=hid)
    by_event: dict[str, list[Notification]] = {}
    for r in rows:
        by_event.setdefault(r.event, []).append(r)
    expected = {"reported": "【隐患上报】", "listed": "【挂牌督办】", "plan_accepted": "【整改方案已受理】",
                "extension_requested": "【延期申请待审批】", "extension_decided": "【延期申请已批准】",
                "submitted": "【整改完成待审核】", "rejected": "【整改被驳回】", "closed": "【隐患已销号】"}
    assert set(by_event) == set(expected)
    for event, prefix in expected.items():
        assert all(r.subject.startswith(prefix) for r in by_event[event]), event
    assert {r.recipient_role for r in by_event["closed"]} == {"principal", "controller", "safety_manager", "township"}
    assert {r.recipient_name for r in by_event["extension_requested"]} == {"蒋国平", "沈丽娟"}
    rejected = by_event["rejected"][0]
    deadline = future(20)
    assert "报警器未接入联锁" in rejected.body and f"{deadline.year}年{deadline.month}月{deadline.day}日" in rejected.body
    assert len(by_event["submitted"]) == 4  # two submissions (one per cycle) x two supervisors
    assert "第十三条" in by_event["listed"][0].body


def test_self_reported_hazard_does_not_notify_its_reporter(org, routes_file):
    routes_file(roles={"*": {"channels": ["file"]}})
    with org.session() as s:
        h = ledger.report(s, org.user(s, "hd_safety"), enterprise=ENT_HD, title="自查发现的隐患", channel="self_inspection")
        s.commit()
        assert _rows(s, hazard_id=h.id) == []


def test_person_without_a_channel_is_kept_undeliverable_then_rerouted(org, routes_file, http_receiver):
    routes_file(smtp_port=2, roles={"*": {"channels": ["email"]}})  # e-mail only; the principal has none
    runner = CliRunner()
    with org.session() as s:
        hid = listed(s)
        by_role = {r.recipient_role: r for r in _rows(s, event="listed")}
    assert by_role["principal"].status == "undeliverable" and by_role["principal"].channel == "none"
    assert "赵建国" in by_role["principal"].last_error
    assert by_role["safety_manager"].status == "pending"  # he has an e-mail address
    out = runner.invoke(app, ["--db", org.url, "outbox", "list", "--status", "undeliverable", "--json"])
    assert out.exit_code == 0, out.output
    import json

    listed_json = json.loads(out.output)
    assert {n["recipient_name"] for n in listed_json["notifications"]} == {"赵建国", "钱德明"}
    assert listed_json["counts"]["undeliverable"] == 2
    # The dispatcher never drops them either.
    dispatch(org.url)
    with org.session() as s:
        assert {r.status for r in _rows(s, channel="none")} == {"undeliverable"}
        ent = s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one()
        ent.contacts = {**ent.contacts, "principal_email": "zhao@hengda.example"}
        s.add(ent)
        s.commit()
    out = runner.invoke(app, ["--db", org.url, "outbox", "retry", "--status", "undeliverable", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rerouted_rows"] == 1
    with org.session() as s:
        rows = _rows(s, hazard_id=hid, recipient_role="principal", event="listed")
        assert [(r.channel, r.status) for r in rows] == [("none", "rerouted"), ("email", "pending")]
        assert rows[1].address == "zhao@hengda.example"
        assert _rows(s, recipient_role="controller", event="listed")[0].status == "undeliverable"


def test_contacts_json_and_user_emails_feed_the_recipients(org):
    with org.session() as s:
        ent = s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one()
        ent.contacts = {"controller": {"email": "qian@x.example", "phone": "139"}, "principal_email": "zhao@x.example"}
        s.add(ent)
        s.commit()
        hid = listed(s)
        h = ledger.get_hazard(s, hid)
        found = resolve(s, h, ["principal", "controller", "department"])
        people = {r.role: r for r in found}
        assert people["principal"].email == "zhao@x.example" and people["principal"].phone == "13805380001"
        assert people["controller"].email == "qian@x.example" and people["controller"].phone == "13805380002"
        assert [r.username for r in found if r.role == "department"] == ["sup_yingji", "sup_yingji2"]
        with pytest.raises(ValueError):
            resolve(s, h, ["mayor"])


def test_routes_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels:\n  email: {url: 'mailto://x', needs: fax}\nroles:\n  principal: {channels: [pager]}\n",
                   encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_routes(bad)
    assert "needs" in str(err.value) and "pager" in str(err.value)
    assert load_routes().channels["file"].url.startswith("file://")  # the packaged default parses


def test_secrets_come_from_the_environment_and_stay_out_of_db_and_errors(org, routes_file, http_receiver, monkeypatch):
    secret = "s3cr3t-T0ken-xyz"
    monkeypatch.setenv("SMS_TOKEN", secret)
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["sms"]}})
    with org.session() as s:
        listed(s)
    http_receiver.fail_first = 3  # the first three fail: their errors are recorded
    dispatch(org.url)
    dispatch(org.url, concurrency=1)
    assert any(h.headers.get("authorization") == f"Bearer {secret}" for h in http_receiver.hits)
    assert {h.body["mobile"] for h in http_receiver.hits} <= {"13805380001", "13805380002", "13805380003"}
    with org.session() as s:
        dumped = repr([r.model_dump() for r in s.exec(select(Notification)).all()])
        dumped += repr([a.model_dump() for a in s.exec(select(NotificationAttempt)).all()])
    assert secret not in dumped and "FAILURE" in dumped
    routes = load_routes()
    assert routes.scrub(f"error at json://gw/?token={secret}") == "error at json://gw/?token=***"


def test_subscription_is_active_in_the_cli_process(tmp_path):
    """`hazardloop` itself (not the test process) writes the notices."""
    env = dict(os.environ, HAZARDLOOP_HOME=str(tmp_path / "cli-home"), PYTHONPATH=str(ROOT))
    env.pop("HAZARDLOOP_DATABASE_URL", None)
    env.pop("HAZARDLOOP_ROUTES", None)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "hazardloop", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("init")
    run("org", "load", str(ROOT / "tests" / "data" / "org.yaml"), "--privileged")
    run("hazard", "report", "--actor", "inspector1", "--enterprise", ENT_HD, "--title", "储罐区无报警",
        "--channel", "inspection")
    run("hazard", "confirm", "1", "--actor", "sup_yingji", "--basis", "CHEM121", "--clause", "第十三条",
        "--level", "city")
    import json

    data = json.loads(run("outbox", "list", "--json"))
    assert data["counts"] == {"pending": 4}
    assert "已发送 4" in run("outbox", "dispatch")
    assert len(list((tmp_path / "cli-home" / "outbox-files").glob("*.json"))) == 4
    shown = json.loads(run("outbox", "show", "2", "--json"))
    assert shown["status"] == "sent" and shown["attempt_log"][0]["status"] == "SUCCESS"


def test_listener_is_registered_once():
    from hazardloop.notifications.notices import on_event

    assert _listeners.count(on_event) == 1


def test_listing_always_tells_principal_and_controller_even_if_unregistered(org, routes_file):
    # The config forgets them; the policy does not.  A controller missing from the record is a finding.
    routes_file(roles={"*": {"channels": ["file"]}}, events={"listed": ["safety_manager"]})
    with org.session() as s:
        ent = s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one()
        ent.controller = ""
        s.add(ent)
        s.commit()
        hid = listed(s)
        rows = {r.recipient_role: r for r in _rows(s, hazard_id=hid, event="listed")}
    assert set(rows) == {"principal", "controller", "safety_manager"}
    assert rows["principal"].status == "pending"
    assert rows["controller"].status == "undeliverable" and "没有登记实际控制人" in rows["controller"].last_error
    with org.session() as s:
        ent = s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one()
        ent.controller = "钱德明"
        s.add(ent)
        s.commit()
        from hazardloop.notifications import admin

        assert admin.retry(s, status="undeliverable")["rerouted_rows"] == 1
        s.commit()
        names = [r.recipient_name for r in _rows(s, hazard_id=hid, recipient_role="controller")]
    assert names == ["（未登记）", "钱德明"]
