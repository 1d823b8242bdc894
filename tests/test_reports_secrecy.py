"""Confidentiality of public reporters: a planted name and phone never leave the vault.

The whole report lifecycle runs through the real CLI; every output (stdout,
logs, notifications, the audit trail, every table, the Excel export and, on
SQLite, the database file itself) is searched for the planted identity.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlmodel import SQLModel, select
from typer.testing import CliRunner

from hazardloop.cli import app
from hazardloop.config import clock, secrecy
from hazardloop.intake import reports
from hazardloop.errors import ValidationError
from hazardloop.models.intake import PublicReport
from hazardloop.models.tables import AuditEvent
from hazardloop.states import ledger
from hazardloop.states.errors import PermissionDenied
from tests.fixtures_intake import SECRET_NAME, SECRET_PHONE, _fresh_rules, submitted  # noqa: F401

runner = CliRunner()


def _cli(url: str, *args: str, ok: bool = True):
    result = runner.invoke(app, ["--db", url, *args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def _everything_in_db(engine) -> str:  # noqa: ANN001
    out = []
    with engine.connect() as conn:
        for t in SQLModel.metadata.sorted_tables:
            for r in conn.execute(t.select()).all():
                out.append(repr(tuple(r)))
    return "\n".join(out)


def test_planted_reporter_identity_never_leaks(org, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # even SQL statements and parameters
    url, outputs = org.url, []
    try:
        with clock.frozen(date(2026, 9, 1)):
            outputs.append(_cli(url, "report", "submit", "--actor", "citizen1", "--content",
                                "恒达化工液氨储罐区报警装置损坏", "--enterprise", "91370983MA3C0001AY",
                                "--reporter-name", SECRET_NAME, "--reporter-contact", SECRET_PHONE,
                                "--feedback-via", "短信").output)  # the feedback and reward are queued to the reporter
            code = "JB-2026-000001"
            outputs.append(_cli(url, "report", "accept", code, "--actor", "office1").output)
        with clock.frozen(date(2026, 11, 20)):  # late: the sweep writes reminders and escalations
            outputs.append(_cli(url, "report", "sweep", "--actor", "office1").output)
            outputs.append(_cli(url, "report", "verify", code, "--actor", "sup_yingji", "--verdict", "true",
                                "--note", "属实", "--json").output)
            outputs.append(_cli(url, "report", "feedback", code, "--actor", "office1", "--text", "已查实").output)
            outputs.append(_cli(url, "report", "reward", code, "--actor", "office1", "--fine", "200000").output)
            outputs.append(_cli(url, "report", "pay", code, "--actor", "office2", "--payment-ref", "ZF-1").output)
            for args in (["report", "list", "--actor", "office1"], ["report", "list", "--actor", "office1", "--json"],
                         ["report", "show", code, "--actor", "office1"],
                         ["report", "show", code, "--actor", "office1", "--json"],
                         ["report", "show", code, "--actor", "sup_yingji", "--json"],
                         ["hazard", "list", "--json"], ["hazard", "show", "1", "--json"], ["hazard", "sources", "1"],
                         ["audit", "log", "--json"], ["ledger", "export", "--actor", "office1", "--out",
                                                       str(tmp_path / "export.xlsx")]):
                outputs.append(_cli(url, *args).output)
            refused = _cli(url, "report", "show", code, "--actor", "sup_yingji", "--reveal", ok=False)
            assert isinstance(refused.exception, PermissionDenied)
            outputs.append(str(refused.exception))
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    cells = [str(c) for r in openpyxl.load_workbook(tmp_path / "export.xlsx").active.iter_rows(values_only=True)
             for c in r if c is not None]
    assert any("JB-2026-000001" in c for c in cells)  # the report is there, its reporter is not
    haystacks = {"cli": "\n".join(outputs), "logs": caplog.text, "export": "\n".join(cells),
                 "database": _everything_in_db(org.engine)}
    if org.kind == "sqlite":
        db_file = Path(org.engine.url.database)
        raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        haystacks["sqlite file"] = raw.decode("utf-8", errors="replace")
    assert "select" in caplog.text.lower()  # the SQL log really was captured
    for where, hay in haystacks.items():
        assert SECRET_NAME not in hay, f"reporter name leaked into {where}"
        assert SECRET_PHONE not in hay, f"reporter contact leaked into {where}"
    with org.session() as s:
        notes = s.execute(text("select count(*) from notification")).scalar_one()
        assert notes > 0  # reminders were written, and searched above
        to_reporter = s.execute(text("select event from notification where recipient_role = 'reporter'")).scalars()
        assert sorted(to_reporter) == ["reporter_feedback", "reporter_reward"]  # searched above too

    # the accepting office can read it; the read is on the trail, the values are not
    shown = _cli(url, "report", "show", code, "--actor", "office1", "--reveal", "--json").output
    assert SECRET_NAME in shown and SECRET_PHONE in shown
    with org.session() as s:
        reads = s.exec(select(AuditEvent).where(AuditEvent.action == "report_identity_read")).all()
        assert [e.actor for e in reads] == ["office1"]
        assert SECRET_NAME not in repr(reads[0].after) and reads[0].after["report"] == code


def test_identity_encrypted_at_rest_with_key_outside_db(org, monkeypatch, tmp_path):
    key_file = tmp_path / "keys" / "fernet.key"
    key_file.parent.mkdir()
    key_file.write_text(Fernet.generate_key().decode() + "\n")
    monkeypatch.delenv("HAZARDLOOP_FERNET_KEY", raising=False)
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY_FILE", str(key_file))
    with org.session() as s:
        rid = submitted(s)
        r = s.get(PublicReport, rid)
        assert SECRET_NAME not in r.reporter_name_enc
        assert Fernet(key_file.read_text().strip()).decrypt(r.reporter_name_enc.encode()).decode() == SECRET_NAME
        # rotation: a new key first, the old one still decrypts
        old = key_file.read_text().strip()
        monkeypatch.delenv("HAZARDLOOP_FERNET_KEY_FILE")
        monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode() + "," + old)
        assert reports.reveal_identity(s, ledger.get_user(s, "office1"), rid)["name"] == SECRET_NAME
        # a wrong key: a clear refusal, not garbage
        monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())
        with pytest.raises(ValidationError, match="密钥"):
            reports.reveal_identity(s, ledger.get_user(s, "office1"), rid)


def test_missing_key_file_named(monkeypatch, tmp_path):
    monkeypatch.delenv("HAZARDLOOP_FERNET_KEY", raising=False)
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY_FILE", str(tmp_path / "nope.key"))
    with pytest.raises(secrecy.KeyError_, match="nope.key"):
        secrecy.encrypt("x")


def test_default_key_file_created_private(monkeypatch):
    monkeypatch.delenv("HAZARDLOOP_FERNET_KEY", raising=False)
    monkeypatch.delenv("HAZARDLOOP_FERNET_KEY_FILE", raising=False)
    token = secrecy.encrypt("张三")
    path = secrecy.key_file()
    assert path.exists() and (path.stat().st_mode & 0o077) == 0
    assert secrecy.decrypt(token) == "张三"


def test_anonymous_report_stores_nothing(org):
    with org.session() as s:
        rid = submitted(s, name=None, contact=None)
        r = s.get(PublicReport, rid)
        assert r.anonymous and r.reporter_name_enc is None and r.reporter_contact_enc is None
        assert reports.report_dict(r)["reporter"] == "匿名"


def test_identity_only_for_accepting_role(org):
    with org.session() as s:
        rid = submitted(s)
        for who in ("citizen1", "sup_yingji", "hd_safety", "inspector1"):
            with pytest.raises(PermissionDenied):
                reports.reveal_identity(s, ledger.get_user(s, who), rid)
        assert "reporter_name_enc" not in reports.report_dict(s.get(PublicReport, rid))


# --- issue 13: the reporter's account and the report's own events, in every output, for every role ---

from tests.fixtures_web import web  # noqa: E402,F401

ALL_USERS = ("hd_safety", "hd_staff", "xy_safety", "inspector1", "citizen1", "town_shiheng", "sup_yingji",
             "sup_yingji2", "sup_zhujian", "office1", "office2")
# Roles that handle reports see the report's own events on a hazard's trail; nobody else does.
REPORT_HANDLERS = {"sup_yingji", "sup_yingji2", "sup_zhujian", "office1", "office2"}
REPORT_EVENT_WORDS = ("report_", "核定奖励", "兑付奖励", "查看举报人身份", "关联隐患")


def _planted(org, web) -> tuple[str, list[str]]:  # noqa: ANN001
    """citizen1 reports a hazard through the API (channel 群众举报); it is listed and planned; a named
    public report is linked to it, rewarded, paid and its identity read.  Returns the hazard's code and
    the replies of the actions taken on the way (they are outputs too)."""
    replies = []
    r = web.api("citizen1").post("/api/v1/hazards", json={
        "enterprise": ENT_HD_CODE, "title": "储罐区报警装置损坏", "channel": "public_report",
        "description": "群众举报：储罐区泄漏报警装置损坏"})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = web.api("office1").post(f"/api/v1/hazards/{code}/confirm",
                                json={"basis_code": "CHEM121", "basis_clause": "第十三条", "level": "city"})
    assert r.status_code == 200, r.text
    replies.append(r.text)
    r = web.api("hd_safety").post(f"/api/v1/hazards/{code}/plan", json={
        "responsible_person": "孙立新", "measures": "更换报警装置", "funds": "5万元",
        "deadline": str(date.fromordinal(clock.today().toordinal() + 30)), "emergency_plan": "已制定"})
    assert r.status_code == 200, r.text
    replies.append(r.text)
    with org.session() as s:
        rid = submitted(s)
        office, sup = ledger.get_user(s, "office1"), ledger.get_user(s, "sup_yingji")
        reports.accept(s, office, rid)
        reports.start_verification(s, sup, rid)
        reports.verify(s, sup, rid, verdict="true", note="属实", hazard=code)
        reports.give_feedback(s, office, rid, text="已查实")
        reports.decide_reward(s, office, rid, fine=200000)
        reports.pay(s, ledger.get_user(s, "office2"), rid, payment_ref="ZF-1")
        reports.reveal_identity(s, office, rid)
        s.commit()
    return code, replies


ENT_HD_CODE = "91370983MA3C0001AY"


def test_reporter_and_report_events_hidden_in_every_output_for_every_role(org, web, tmp_path, monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())
    from hazardloop.intake import excel

    code, replies = _planted(org, web)
    with org.session() as s:
        hid = ledger.get_hazard(s, code).id
        actions = {e.action for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid)).all()}
        assert {"report", "report_decide_reward", "report_pay", "report_identity_read"} <= actions  # planted
    checked = 0
    for who in ALL_USERS:
        outputs = list(replies) if who != "citizen1" else []
        api, page = web.api(who), web.login(who)
        sees = api.get(f"/api/v1/hazards/{code}").status_code == 200
        for path in ("/api/v1/hazards", "/api/v1/queue", f"/api/v1/hazards/{code}",
                     f"/api/v1/hazards/{code}/audit"):
            outputs.append(api.get(path).text)
        for path in ("/queue", "/hazards", f"/hazards/{code}"):
            outputs.append(page.get(path).text)
        with org.session() as s:
            user = ledger.get_user(s, who)
            try:
                excel.export_sheet(s, user, tmp_path / f"{who}.xlsx")
                outputs.append("\n".join(str(c) for r in openpyxl.load_workbook(tmp_path / f"{who}.xlsx")
                                         .active.iter_rows(values_only=True) for c in r if c is not None))
            except PermissionDenied:
                pass
        hay = "\n".join(outputs)
        if who == "citizen1":
            assert "citizen1" in hay  # the reporter sees their own report: the check can fail
            continue
        assert "citizen1" not in hay, f"the reporter's account reached {who}"
        assert "群众甲" not in hay, f"the reporter's name reached {who}"
        if who not in REPORT_HANDLERS:
            for word in REPORT_EVENT_WORDS:
                assert word not in hay, f"{word!r} (a report's event) reached {who}"
        elif sees:
            assert "核定奖励" in hay  # handlers still see the report's events on the trail
        checked += sees
    assert checked >= 6  # enterprise ×2, township, supervisors ×2, offices ×2 saw the hazard


def test_cli_hazard_views_mask_the_reporter(org, web):
    r = web.api("citizen1").post("/api/v1/hazards", json={
        "enterprise": ENT_HD_CODE, "title": "储罐区报警装置损坏", "channel": "public_report"})
    code = r.json()["code"]
    for args in (["hazard", "list", "--json"], ["hazard", "show", code, "--json"], ["hazard", "show", code]):
        out = _cli(org.url, *args).output
        assert code in out and "citizen1" not in out, args
