"""A public reporter who chose a channel receives the feedback and the reward decision there.

Real receivers on 127.0.0.1 (aiosmtpd, an HTTP server for the SMS gateway's json:// API).
The reporter's address is confidential: the outbox row names the report, never the address;
the dispatcher decrypts it only when it sends.  Each test searches the database, the CLI's
and the pages' output and the captured logs (Apprise logs recipients at INFO and DEBUG) for it.
"""

from __future__ import annotations

import logging
import os
import re

import pytest
from cryptography.fernet import Fernet
from sqlmodel import SQLModel, func, select
from typer.testing import CliRunner

from hazardloop.cli import app
from hazardloop.errors import ValidationError
from hazardloop.intake import reports
from hazardloop.models.intake import PublicReport
from hazardloop.models.notify import NotificationAttempt
from hazardloop.models.tables import AuditEvent, Notification
from hazardloop.notifications import admin, sealed
from hazardloop.notifications.dispatcher import dispatch
from hazardloop.states import ledger
from hazardloop.states.confidential import MASKED_REPORTER
from tests.fixtures_intake import SECRET_NAME, SECRET_PHONE, _fresh_rules  # noqa: F401
from tests.fixtures_notify import SmtpServer, http_receiver, routes_file, smtp_server  # noqa: F401
from tests.fixtures_web import csrf_of, web  # noqa: F401
from tests.helpers import ENT_HD

SECRET_EMAIL = "ouyang.mimi@reporter.example"
FEEDBACK = "经核查，举报属实，已责令企业立即停用并更换泄漏报警装置，感谢您的监督。"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())


def _verified(s, *, contact: str | None, channel: str | None, name: str | None = SECRET_NAME) -> tuple[int, str]:  # noqa: ANN001
    r = reports.submit(s, ledger.get_user(s, "citizen1"), content="恒达化工液氨储罐区泄漏报警装置长期损坏未修复",
                       enterprise=ENT_HD, reporter_name=name, reporter_contact=contact, feedback_channel=channel)
    s.commit()
    office, sup = ledger.get_user(s, "office1"), ledger.get_user(s, "sup_yingji")
    reports.accept(s, office, r.id)
    reports.start_verification(s, sup, r.id)
    reports.verify(s, sup, r.id, verdict="true", note="现场核查与举报一致")
    s.commit()
    return r.id, r.code


def _feedback_and_reward(s, rid: int) -> None:  # noqa: ANN001
    office = ledger.get_user(s, "office1")
    reports.give_feedback(s, office, rid, text=FEEDBACK)
    s.commit()
    reports.decide_reward(s, office, rid, fine=200000)
    s.commit()


def _to_reporter(s) -> list[Notification]:  # noqa: ANN001
    return list(s.exec(select(Notification).where(Notification.recipient_role == "reporter")
                       .order_by(Notification.id)).all())


def _everything_in_db(engine) -> str:  # noqa: ANN001
    out = []
    with engine.connect() as conn:
        for t in SQLModel.metadata.sorted_tables:
            out += [repr(tuple(r)) for r in conn.execute(t.select()).all()]
    return "\n".join(out)


def _our_logs(caplog) -> str:  # noqa: ANN001
    """Every log record of the process but the test's own SMTP receiver's (aiosmtpd, "mail.log"),
    which stands for the reporter's mail server and of course sees the address."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("mail.log"))


def _cli(url: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", url, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _outbox_cli(url: str, ids: list[int]) -> str:
    out = [_cli(url, "outbox", "list", "--json"), _cli(url, "outbox", "list", "--wide")]
    for nid in ids:
        out += [_cli(url, "outbox", "show", str(nid), "--wide"), _cli(url, "outbox", "show", str(nid), "--json")]
    return "\n".join(out)


def test_reporter_receives_feedback_and_reward_by_email(org, smtp_server, routes_file, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    routes_file(smtp_port=smtp_server.port)
    with org.session() as s:
        rid, code = _verified(s, contact=SECRET_EMAIL, channel="email")
        assert _to_reporter(s) == []  # nothing until the office answers
        _feedback_and_reward(s, rid)
        rows = _to_reporter(s)
        assert [(n.event, n.channel, n.status, n.address, n.hazard_id, n.recipient_name, n.recipient_key, n.step)
                for n in rows] == [
            (event, "email", "pending", None, None, MASKED_REPORTER, f"public_report:{rid}", f"R{rid}")
            for event in ("reporter_feedback", "reporter_reward")]
        trail = s.exec(select(AuditEvent).where(AuditEvent.action == "report_give_feedback")).one()
        assert trail.after["feedback_channel"] == "email"

    result = dispatch(org.url)
    assert result.errors == [] and result.dead == 0
    mails = [m for m in smtp_server.mails if m.rcpt_tos == [SECRET_EMAIL]]
    assert sorted(m.subject for m in mails) == sorted([f"举报 {code} 办理结果反馈", f"举报 {code} 奖励决定"])
    feedback = next(m for m in mails if "反馈" in m.subject).text()
    reward = next(m for m in mails if "奖励" in m.subject).text()
    assert FEEDBACK in feedback and code in feedback and "查询码" in feedback
    assert "100000 元" in reward and "鲁应急发〔2021〕3号" in reward
    for text in (feedback, reward):  # the enterprise's internal data stays out
        assert "现场核查与举报一致" not in text and "YH-" not in text
    with org.session() as s:
        rows = _to_reporter(s)
        assert [n.status for n in rows] == ["sent", "sent"] and all(n.address is None for n in rows)
        ids = [n.id for n in rows]
    assert dispatch(org.url).claimed == 0  # sent once

    # The address is nowhere in clear: not in any table, not in the outbox CLI, not in the logs
    # (where Apprise wrote "Sent Email to …": the record is masked while the message is on the wire).
    logs = _our_logs(caplog)
    assert "Sent Email to" in logs and sealed.MASK in logs
    shown = _outbox_cli(org.url, ids)
    assert sealed.SEALED_ADDRESS in shown and "举报人" in shown and FEEDBACK in shown
    for where, hay in {"database": _everything_in_db(org.engine), "cli": shown, "logs": logs}.items():
        assert SECRET_EMAIL not in hay and SECRET_NAME not in hay, where
        assert SECRET_EMAIL.replace("@", "%40") not in hay, where


def test_reporter_receives_feedback_by_sms_gateway(org, http_receiver, routes_file, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    routes_file(http_port=http_receiver.port)
    spaced = f"{SECRET_PHONE[:3]} {SECRET_PHONE[3:7]}-{SECRET_PHONE[7:]}"  # as a person types it
    with org.session() as s:
        rid, code = _verified(s, contact=spaced, channel="短信")  # the Chinese name is accepted
        assert s.get(PublicReport, rid).feedback_channel == "sms"
        s.commit()
    # What the verification sent to others goes first, so the 500 below is the reporter's SMS
    # (the sends run concurrently: otherwise another row's webhook could draw it).
    dispatch(org.url)
    http_receiver.fail_first = 1  # the gateway's first answer is a 500: a retry, and its error recorded
    with org.session() as s:
        reports.give_feedback(s, ledger.get_user(s, "office1"), rid, text=FEEDBACK)
        s.commit()
        nid = _to_reporter(s)[0].id
    assert dispatch(org.url).retried >= 1
    with org.session() as s:
        row = s.get(Notification, nid)
        assert row.status == "retry" and row.last_error
        admin.retry(s, ids=[nid])
        s.commit()
    dispatch(org.url)
    sms = [h for h in http_receiver.hits if h.path.startswith("/sms")]
    assert len(sms) == 1
    assert sms[0].body["mobile"] == SECRET_PHONE and FEEDBACK in sms[0].body["message"]
    assert sms[0].body["title"] == f"举报 {code} 办理结果反馈" and len(sms[0].headers["x-idempotency-key"]) == 32
    with org.session() as s:
        assert s.get(Notification, nid).status == "sent"
        tries = s.exec(select(NotificationAttempt).where(NotificationAttempt.notification_id == nid)).all()
        assert [t.status for t in tries] == ["FAILURE", "SUCCESS"]
    assert "JSON Payload" in caplog.text  # Apprise logged the payload (with the mobile number) at DEBUG ...
    hay = _everything_in_db(org.engine) + _outbox_cli(org.url, [nid]) + caplog.text
    for secret in (SECRET_PHONE, spaced, SECRET_NAME):  # ... masked, as everywhere else
        assert secret not in hay


def test_nothing_queued_without_a_channel(org, smtp_server, routes_file):  # noqa: F811
    routes_file(smtp_port=smtp_server.port)
    with org.session() as s:
        named, _ = _verified(s, contact=SECRET_EMAIL, channel=None)  # a contact, but no channel chosen
        anonymous, _ = _verified(s, contact=None, channel=None, name=None)
        for rid in (named, anonymous):
            _feedback_and_reward(s, rid)
        assert _to_reporter(s) == []
        assert reports.report_dict(s.get(PublicReport, named))["feedback_channel_name"] == "不需要"
    dispatch(org.url)
    assert not [m for m in smtp_server.mails if SECRET_EMAIL in m.rcpt_tos]


def test_channel_checked_against_the_contact_and_nothing_written(org):
    with org.session() as s:
        citizen = ledger.get_user(s, "citizen1")
        cases = [("sms", SECRET_EMAIL, "手机号码"), ("email", SECRET_PHONE, "电子邮件地址"), ("sms", None, "请填写联系方式"),
                 ("email", "  ", "请填写联系方式"), ("pigeon", SECRET_PHONE, "不认识的反馈方式")]
        for channel, contact, message in cases:
            with pytest.raises(ValidationError, match=message) as err:
                reports.submit(s, citizen, content="有限空间作业无人监护", reporter_contact=contact,
                               feedback_channel=channel)
            assert SECRET_PHONE not in str(err.value) and SECRET_EMAIL not in str(err.value)
            s.rollback()
        assert s.exec(select(func.count()).select_from(PublicReport)).one() == 0
        ok = reports.submit(s, citizen, content="有限空间作业无人监护", reporter_contact="+86 139-9999-0123",
                            feedback_channel="短信")
        assert ok.feedback_channel == "sms"


def test_channel_not_configured_then_configured(org, smtp_server, http_receiver, routes_file):  # noqa: F811
    routes_file(smtp_port=smtp_server.port)  # no sms channel in this config
    with org.session() as s:
        rid, _ = _verified(s, contact=SECRET_PHONE, channel="sms")
        reports.give_feedback(s, ledger.get_user(s, "office1"), rid, text=FEEDBACK)
        s.commit()
        row = _to_reporter(s)[0]
        assert (row.status, row.channel, row.address) == ("undeliverable", "sms", None)
        assert "短信" in row.last_error and "没有定义" in row.last_error  # a finding, not a drop
    routes_file(smtp_port=smtp_server.port, http_port=http_receiver.port)
    with org.session() as s:
        assert admin.retry(s, status="undeliverable")["requeued"] == [row.id]
        s.commit()
    dispatch(org.url)
    assert [h.body["mobile"] for h in http_receiver.hits if h.path.startswith("/sms")] == [SECRET_PHONE]


def test_address_decrypted_only_when_sending(org, http_receiver, routes_file, monkeypatch):  # noqa: F811
    routes_file(http_port=http_receiver.port)
    with org.session() as s:
        rid, _ = _verified(s, contact=SECRET_PHONE, channel="sms")
        reports.give_feedback(s, ledger.get_user(s, "office1"), rid, text=FEEDBACK)
        s.commit()
        nid = _to_reporter(s)[0].id
    good_key = os.environ["HAZARDLOOP_FERNET_KEY"]
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())  # the dispatcher has the wrong key
    dispatch(org.url)
    assert not [h for h in http_receiver.hits if h.path.startswith("/sms")]
    with org.session() as s:
        row = s.get(Notification, nid)
        assert row.status == "retry" and "密钥" in row.last_error
        admin.retry(s, ids=[nid])
        s.commit()
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", f"{Fernet.generate_key().decode()},{good_key}")  # rotated
    dispatch(org.url)
    assert [h.body["mobile"] for h in http_receiver.hits if h.path.startswith("/sms")] == [SECRET_PHONE]


class RefusingSmtp(SmtpServer):
    """A real SMTP server that refuses every recipient (550): Apprise then logs the refusal, address included."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, N802
        return "550 5.1.1 mailbox unavailable"


def test_refused_address_scrubbed_from_errors_and_logs(org, routes_file, caplog):
    caplog.set_level(logging.DEBUG)
    server = RefusingSmtp()
    server.start()
    try:
        routes_file(smtp_port=server.port)
        with org.session() as s:
            rid, _ = _verified(s, contact=SECRET_EMAIL, channel="email")
            reports.give_feedback(s, ledger.get_user(s, "office1"), rid, text=FEEDBACK)
            s.commit()
            nid = _to_reporter(s)[0].id
        dispatch(org.url)
    finally:
        server.stop()
    with org.session() as s:
        row = s.get(Notification, nid)
        assert row.status == "retry" and row.last_error
    logs = _our_logs(caplog)
    assert re.search(r"550|Recipients|refused", logs)  # the refusal was logged ...
    hay = _everything_in_db(org.engine) + _outbox_cli(org.url, [nid]) + logs
    assert SECRET_EMAIL not in hay and SECRET_EMAIL.replace("@", "%40") not in hay  # ... without the address


def test_pages_and_api_show_the_channel_not_the_address(web, http_receiver, routes_file):  # noqa: F811
    routes_file(http_port=http_receiver.port)
    citizen = web.login("citizen1")
    form = citizen.get("/reports/new")
    assert 'name="feedback_channel"' in form.text and "电子邮件" in form.text
    bad = citizen.post("/reports/new", data={"csrf_token": csrf_of(form.text), "content": "储罐区报警装置损坏",
                                             "reporter_contact": SECRET_PHONE, "feedback_channel": "email"})
    assert bad.status_code == 422 and "电子邮件地址" in bad.text
    done = citizen.post("/reports/new", data={"csrf_token": csrf_of(form.text), "content": "储罐区报警装置损坏",
                                              "enterprise": ENT_HD, "reporter_name": SECRET_NAME,
                                              "reporter_contact": SECRET_PHONE, "feedback_channel": "sms"})
    assert done.status_code == 303, done.text[:300]
    code = re.search(r"done=(JB-\d{4}-\d{6})", done.headers["location"]).group(1)
    api = web.api("citizen1").post("/api/v1/reports", json={"content": "有限空间无人监护", "reporter_contact": SECRET_PHONE,
                                                           "feedback_channel": "email"})
    assert api.status_code in (400, 422) and "电子邮件地址" in api.text
    with web.db.session() as s:
        rid = s.exec(select(PublicReport.id).where(PublicReport.code == code)).one()
        office, sup = ledger.get_user(s, "office1"), ledger.get_user(s, "sup_yingji")
        reports.accept(s, office, rid)
        reports.start_verification(s, sup, rid)
        reports.verify(s, sup, rid, verdict="true", note="属实")
        reports.give_feedback(s, office, rid, text=FEEDBACK)
        s.commit()
        nid = _to_reporter(s)[0].id
    dispatch(web.db.url)
    assert [h.body["mobile"] for h in http_receiver.hits if h.path.startswith("/sms")] == [SECRET_PHONE]
    office_page = web.login("office1")
    seen = [office_page.get("/outbox").text, office_page.get(f"/outbox/{nid}").text,
            web.api("office1").get("/api/v1/outbox").text, office_page.get(f"/reports/{rid}").text,
            web.api("office1").get(f"/api/v1/reports/{code}").text]
    assert f"举报 {code} 办理结果反馈" in seen[0] and MASKED_REPORTER in seen[0] and MASKED_REPORTER in seen[1]
    assert 'id="feedback-channel">短信<' in seen[3]
    assert web.api("office1").get(f"/api/v1/reports/{code}").json()["report"]["feedback_channel"] == "sms"
    for text in seen:
        assert SECRET_PHONE not in text and SECRET_NAME not in text
