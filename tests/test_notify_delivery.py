"""Delivery through Apprise to real receivers on 127.0.0.1: SMTP, HTTP (json://), file://."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from hazardloop.config import clock
from hazardloop.models.notify import NotificationAttempt
from hazardloop.models.tables import Enterprise, Notification
from hazardloop.notifications import admin
from hazardloop.notifications.dispatcher import backoff_seconds, dispatch
from hazardloop.notifications.outbox import enqueue
from hazardloop.notifications.recipients import Recipient
from hazardloop.notifications.routes import DEFAULT_POLICY
from tests.fixtures_notify import http_receiver, routes_file, smtp_down, smtp_server  # noqa: F401
from tests.helpers import ENT_HD, listed

BODY = "隐患已挂牌督办：液氨储罐区未设置泄漏报警装置，请于2026年12月31日前完成整改。"


def _set_emails(s, **emails: str) -> None:
    ent = s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one()
    ent.contacts = {**(ent.contacts or {}), **{f"{role}_email": v for role, v in emails.items()}}
    s.add(ent)
    s.commit()


def _rows(s, **where) -> list[Notification]:
    stmt = select(Notification)
    for k, v in where.items():
        stmt = stmt.where(getattr(Notification, k) == v)
    return list(s.exec(stmt.order_by(Notification.id)).all())


def _attempts(s, nid: int) -> list[NotificationAttempt]:
    return admin.attempts(s, nid)


def test_listed_notice_arrives_by_email_with_chinese_intact(org, smtp_server, routes_file):
    routes_file(smtp_port=smtp_server.port, roles={"*": {"channels": ["email"]}})
    with org.session() as s:
        _set_emails(s, principal="zhao@hengda.example", controller="qian@hengda.example")
        hid = listed(s)
        assert len(_rows(s, event="listed", status="pending")) == 3
    report = dispatch(org.url, concurrency=4)
    assert report.sent == 4 and report.retried == report.dead == 0  # reported + 3 listed
    listed_mails = [m for m in smtp_server.mails if "挂牌督办" in m.subject]
    assert sorted(r for m in listed_mails for r in m.rcpt_tos) == [
        "qian@hengda.example", "safety@hengda.example", "zhao@hengda.example"]
    zhao = next(m for m in listed_mails if m.rcpt_tos == ["zhao@hengda.example"])
    assert zhao.subject == "【挂牌督办】肥城市恒达化工有限公司：液氨储罐区未设置泄漏报警装置"
    text = zhao.text()
    assert "赵建国（主要负责人）" in text and "挂牌督办" in text and "第十三条" in text
    assert "主要负责人和实际控制人" in text
    assert zhao.message["X-Idempotency-Key"]
    with org.session() as s:
        row = _rows(s, event="listed", recipient_role="principal")[0]
        assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.hazard_id == hid
        tries = _attempts(s, row.id)
        assert [(t.service, t.tag, t.status) for t in tries] == [("E-Mail", "email", "SUCCESS")]


def test_webhook_receives_json_with_idempotency_header(org, http_receiver, routes_file):
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}})
    with org.session() as s:
        r = Recipient("committee", "杨志远", username="office1")
        assert enqueue(s, event="escalation", hazard_id=None, cycle=1, step="letter1", recipients=[r],
                       subject="提示函", body=BODY, document_id=7) == 1
        s.commit()
    assert dispatch(org.url).sent == 1
    assert len(http_receiver.hits) == 1
    hit = http_receiver.hits[0]
    assert hit.path.startswith("/hook") and hit.body["title"] == "提示函" and hit.body["message"] == BODY
    assert hit.body["who"] == "杨志远"
    assert len(hit.headers["x-idempotency-key"]) == 32
    assert dispatch(org.url).claimed == 0  # nothing is due any more: sent once


def test_smtp_outage_then_recovery_arrives_exactly_once(org, smtp_down, routes_file):
    routes_file(smtp_port=smtp_down.port, roles={"*": {"channels": ["email"]}},
                policy_={"max_attempts": 5, "backoff_seconds": 60, "jitter": 0.2})
    start = clock.utcnow()
    with clock.frozen(start):
        with org.session() as s:
            enqueue(s, event="listed", hazard_id=None, recipients=[Recipient("committee", "杨志远", email="yang@anweiban.example",
                                                                            username="office1")],
                    subject="【挂牌督办】测试", body=BODY)
            s.commit()
        first = dispatch(org.url)
        assert first.retried == 1 and first.sent == 0
        assert dispatch(org.url).claimed == 0  # backoff: not due yet
        clock.advance(timedelta(seconds=60 * 1.2 + 1))
        assert dispatch(org.url).retried == 1  # second attempt, still down
        with org.session() as s:
            row = _rows(s)[0]
            wait = (row.next_attempt_at - clock.utcnow()).total_seconds()
            assert 120 * 0.8 - 1 <= wait <= 120 * 1.2 + 1  # doubled, with jitter
            assert row.status == "retry" and row.last_error
        smtp_down.start()  # the outage ends
        clock.advance(timedelta(seconds=120 * 1.2 + 1))
        assert dispatch(org.url).sent == 1
        assert dispatch(org.url).claimed == 0
    assert len(smtp_down.mails) == 1
    assert smtp_down.mails[0].subject == "【挂牌督办】测试" and BODY in smtp_down.mails[0].text()
    with org.session() as s:
        row = _rows(s)[0]
        assert row.status == "sent" and row.attempts == 3 and row.last_error is None
        tries = _attempts(s, row.id)
        assert [t.status for t in tries] == ["FAILURE", "FAILURE", "SUCCESS"]
        assert [t.attempt for t in tries] == [1, 2, 3]
        assert tries[0].error and tries[0].service == "E-Mail"


def test_dead_letter_after_max_attempts_then_operator_retry(org, http_receiver, routes_file):
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}},
                policy_={"max_attempts": 3, "backoff_seconds": 10, "jitter": 0})
    http_receiver.always_fail = True
    with clock.frozen(clock.utcnow()):
        with org.session() as s:
            enqueue(s, event="closed", hazard_id=None, recipients=[Recipient("committee", "朱婷婷", username="office2")],
                    subject="【隐患已销号】", body=BODY)
            s.commit()
        results = []
        for _ in range(3):
            results.append(dispatch(org.url))
            clock.advance(timedelta(seconds=100))
        assert [(r.retried, r.dead) for r in results] == [(1, 0), (1, 0), (0, 1)]
        assert dispatch(org.url).claimed == 0  # dead stays dead
        with org.session() as s:
            row = _rows(s)[0]
            assert row.status == "dead" and row.attempts == 3 and "JSON" in row.last_error
            assert [t.status for t in _attempts(s, row.id)] == ["FAILURE"] * 3
            assert admin.list_notifications(s, status="dead")[0].id == row.id
            admin.retry(s, status="dead")
            s.commit()
        http_receiver.always_fail = False
        assert dispatch(org.url).sent == 1
    assert len(http_receiver.hits) == 1


def test_backoff_is_exponential_capped_and_jittered():
    policy = dict(DEFAULT_POLICY, backoff_seconds=60, backoff_max_seconds=3600, jitter=0.25)
    for n, base in ((1, 60), (2, 120), (3, 240), (7, 3600), (12, 3600)):
        values = [backoff_seconds(n, policy) for _ in range(200)]
        assert all(base * 0.75 <= v <= base * 1.25 for v in values)
        assert max(values) - min(values) > base * 0.1  # it does vary


def test_digest_one_message_per_recipient_when_configured(org, http_receiver, routes_file):
    routes_file(http_port=http_receiver.port, roles={"*": {"channels": ["webhook"]}},
                people={"office1": {"channels": ["webhook"], "digest": True}})
    with org.session() as s:
        for i in range(5):
            for who in (Recipient("committee", "杨志远", username="office1"),
                        Recipient("committee", "朱婷婷", username="office2")):
                enqueue(s, event="escalation", hazard_id=None, cycle=1, step=f"bulletin{i}", recipients=[who],
                        subject=f"通报第{i + 1}号", body=f"第{i + 1}份通报正文")
        s.commit()
    report = dispatch(org.url)
    assert report.sent == 10 and report.digests == 1 and report.messages == 6
    to_yang = [h for h in http_receiver.hits if h.body["who"] == "杨志远"]
    to_zhu = [h for h in http_receiver.hits if h.body["who"] == "朱婷婷"]
    assert len(to_yang) == 1 and len(to_zhu) == 5  # office2 did not ask for a digest
    digest = to_yang[0].body
    assert "共 5 条" in digest["title"]
    assert all(f"通报第{i}号" in digest["message"] and f"第{i}份通报正文" in digest["message"] for i in range(1, 6))
    with org.session() as s:
        yang = _rows(s, recipient_key="office1")
        assert {r.status for r in yang} == {"sent"} and len({r.digest_key for r in yang}) == 1


def test_file_channel_writes_each_message_once(org, routes_file, tmp_path):
    routes_file(roles={"*": {"channels": ["file"]}})
    with org.session() as s:
        hid = listed(s)
    assert dispatch(org.url).sent == 4
    folder = tmp_path / "home" / "outbox-files"
    files = sorted(folder.glob("*.json"))
    assert len(files) == 4
    docs = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert sum("【挂牌督办】" in d["title"] for d in docs) == 3
    with org.session() as s:
        admin.retry(s, ids=[r.id for r in _rows(s, hazard_id=hid)], force=True)  # resend everything
        s.commit()
    assert dispatch(org.url).sent == 4
    assert len(list(folder.glob("*.json"))) == 4  # same keys: the receiver keeps one copy


def test_unknown_url_and_missing_env_fail_with_a_reason_not_a_crash(org, routes_file, monkeypatch):
    monkeypatch.delenv("HL_TEST_GATEWAY", raising=False)
    routes_file(channels={"bogus": {"url": "nosuchscheme://x"}, "gw": {"url": "json://${HL_TEST_GATEWAY}/sms"}},
                roles={"*": {"channels": ["bogus", "gw"]}})
    with org.session() as s:
        enqueue(s, event="listed", hazard_id=None, recipients=[Recipient("committee", "杨志远", username="office1")],
                subject="s", body="b")
        s.commit()
    report = dispatch(org.url)
    assert report.retried == 2 and report.sent == 0
    with org.session() as s:
        errors = {r.channel: r.last_error for r in _rows(s)}
    assert "无法识别" in errors["bogus"]
    assert "HL_TEST_GATEWAY" in errors["gw"] and "未设置" in errors["gw"]


def test_packaged_routes_with_smtp_from_the_environment(org, smtp_server, monkeypatch):
    """The shipped config: e-mail switches on when SMTP_HOST is set; secrets come from the environment."""
    monkeypatch.delenv("HAZARDLOOP_ROUTES", raising=False)
    monkeypatch.delenv("SMS_GATEWAY", raising=False)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_FROM", "anweiban@feicheng.example")
    with org.session() as s:
        enqueue(s, event="closed", hazard_id=None,
                recipients=[Recipient("township", "卫红梅", email="wei@shiheng.example", username="town_shiheng")],
                subject="【隐患已销号】测试", body=BODY)
        s.commit()
        assert sorted(r.channel for r in _rows(s)) == ["email", "file"]  # no phone gateway configured: no sms
    assert dispatch(org.url).sent == 2
    assert [m.rcpt_tos for m in smtp_server.mails] == [["wei@shiheng.example"]]
    assert "anweiban@feicheng.example" in smtp_server.mails[0].mail_from
