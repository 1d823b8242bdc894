"""Issuing the monthly bulletin: 文号 once per month, stored with its hash, reproducible after the ledger
moved on, one notice per member unit delivered to real SMTP/HTTP receivers, the first-working-day
schedule (with 调休), the Prefect flow, the CLI and the PDF."""

from __future__ import annotations

import re
import sys
import unicodedata
import zlib
from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hazardloop.config import calendar, clock
from hazardloop.models import audit
from hazardloop.models.tables import AuditEvent
from hazardloop.errors import ValidationError
from hazardloop.models.escalation import Document, DocumentCounter, EscalationStep
from hazardloop.models.tables import AppUser, Department, Notification, Region
from hazardloop.escalation import hazards as escalation
from hazardloop.notifications.dispatcher import dispatch
from hazardloop.reports import bulletin
from hazardloop.reports import bulletin_issue as bi
from hazardloop.states import ledger
from tests.fixtures_notify import http_receiver, routes_file, smtp_server  # noqa: F401
from tests.fixtures_stats import AT, HD, ledger_sept  # noqa: F401  (fixture)
from tests.test_bulletin import _chromium, _move_on

TITLE_11 = "关于2024年11月全市重大事故隐患排查整治情况的通报"


def _units(s) -> int:
    regions = s.execute(select(func.count()).select_from(Region)).scalar_one()
    depts = s.execute(select(func.count()).select_from(Department).where(Department.committee == False)).scalar_one()  # noqa: E712
    return regions + depts


def _sweep_to_bulletin_step(db, tmp_path) -> str:
    """H9 (deadline 2024-10-15) runs late; the daily sweeps of Oct/Nov issue its letters and,
    at +15 working days (2024-11-06), its 通报 step with a 肥安办通〔2024〕N号 document."""
    code = _move_on(db, tmp_path)
    escalation.run_sweeps(db.session, date(2024, 10, 16), date(2024, 11, 8))
    with db.session() as s:
        hid = ledger.get_hazard(s, code).id
        step = s.execute(select(EscalationStep).where(EscalationStep.hazard_id == hid,
                                                      EscalationStep.kind == "bulletin")).scalar_one()
        assert clock.local_date(step.created_at).month == 11
    return code


def _issue(db, month: str, day: date, **kw) -> bi.Issued:
    with db.session() as s, clock.frozen(datetime.combine(day, time(9, 0), tzinfo=clock.SHANGHAI)):
        issued = bi.issue(s, month, issue_date=day, **kw)
        s.commit()
        return issued


def test_issue_once_per_month_stored_queued_audited_and_reproducible(ledger_sept, tmp_path):
    db = ledger_sept
    code = _sweep_to_bulletin_step(db, tmp_path)
    first = _issue(db, "2024-11", date(2024, 12, 2))
    doc = first.document
    assert first.created and doc.number == "肥安办通报〔2024〕1号" and doc.period == "2024-11"
    assert doc.title == TITLE_11 and doc.hazard_id is None and doc.step_id is None
    assert bi.documents.sha256(doc.html) == doc.sha256 and bi.documents.sha256(doc.text) == doc.text_sha256
    assert "肥安办通报〔2024〕1号" in doc.html and "肥安办通报〔2024〕1号" in doc.text

    # The hazard at the 通报 step is named, with its enterprise, region, the step's 文号 and days overdue.
    named = doc.html.split('<table id="named">')[1].split("</table>")[0]
    with db.session() as s:
        step_no = s.execute(select(Document.number).join(EscalationStep, EscalationStep.id == Document.step_id)
                            .where(EscalationStep.kind == "bulletin")).scalar_one()
    assert step_no.startswith("肥安办通〔2024〕")
    assert (f'<td class="name">{code}</td><td class="name">H9 逾期</td><td class="name">肥城市恒达化工有限公司</td>'
            f'<td class="name">石横镇</td><td>2024-10-15</td><td class="name">{step_no}</td><td>46</td>') in named
    assert f"{code} 肥城市恒达化工有限公司（石横镇）" in doc.text and "截至月末逾期 46 天" in doc.text

    with db.session() as s:
        units = _units(s)
        rows = s.execute(select(Notification).where(Notification.event == "bulletin")).scalars().all()
        assert first.units == units == 29 and first.queued == len(rows) >= units
        assert len({r.recipient_name for r in rows}) == units  # one notice per member unit
        assert {"石横镇", "高新区", "市应急管理局", "市住房和城乡建设局"} <= {r.recipient_name for r in rows}
        assert "市安委办" not in {r.recipient_name for r in rows}  # the issuer is not a recipient
        assert all(r.document_id == doc.id and r.step == "2024-11" and "肥安办通报〔2024〕1号" in r.subject
                   and doc.sha256 in r.body for r in rows)
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "bulletin_issued")).scalars().all()
        assert len(events) == 1 and events[0].after["number"] == doc.number
        assert events[0].after["sha256"] == doc.sha256 and events[0].actor == "system"
    assert (tmp_path / "home" / "documents" / f"{doc.sha256}.html").read_bytes() == doc.html.encode("utf-8")

    # Issuing the same month again returns the stored one: no second number, no second notice.
    again = _issue(db, "2024-11", date(2024, 12, 3))
    assert not again.created and again.document.id == doc.id and again.document.number == doc.number
    with db.session() as s:
        assert s.get(DocumentCounter, ("通报", 2024)).last == 1
        assert s.execute(select(func.count()).select_from(Notification)
                         .where(Notification.event == "bulletin")).scalar_one() == first.queued
    assert _issue(db, "2024-10", date(2024, 12, 3)).document.number == "肥安办通报〔2024〕2号"
    with pytest.raises(ValidationError, match="尚未结束"):
        _issue(db, "2024-12", date(2024, 12, 3))

    # The ledger moves on (H9 fixed and closed, a new hazard): November re-rendered equals the stored bytes.
    with db.session() as s:
        u = lambda name: ledger.get_user(s, name)  # noqa: E731
        with clock.frozen(date(2024, 12, 10)):
            p = tmp_path / "h9.jpg"
            p.write_bytes(b"h9")
            ledger.submit(s, u("hd_safety"), ledger.get_hazard(s, code).id, evidence=[p])
            ledger.report(s, u("inspector1"), enterprise=AT, title="H10 新发现", channel="inspection")
            s.commit()
        with clock.frozen(date(2024, 12, 12)):
            ledger.approve(s, u("sup_yingji"), ledger.get_hazard(s, code).id)
            s.commit()
    with db.session(write=False) as s:
        assert bulletin.render(s, "2024-11", doc.number) == doc.html
        assert bi.get_stored(s, "2024-11").html == doc.html
        assert audit.verify(s).ok


def test_first_working_day_follows_the_holiday_calendar(ledger_sept):
    # 2026: National Day 10-01..07 off (10-08 works); Spring Festival leaves 02-02 the first working day;
    # 2026-01-04 is a Sunday worked in lieu (调休) after New Year's Day.
    assert calendar.first_workday(2026, 10) == date(2026, 10, 8)
    assert bi.due_month(date(2026, 10, 8)) == "2026-09"
    assert all(bi.due_month(date(2026, 10, d)) is None for d in (1, 2, 5, 7, 9, 12))
    assert calendar.first_workday(2026, 2) == date(2026, 2, 2) and bi.due_month(date(2026, 2, 2)) == "2026-01"
    assert bi.due_month(date(2026, 2, 1)) is None
    assert calendar.first_workday(2026, 1) == date(2026, 1, 4) and bi.due_month(date(2026, 1, 4)) == "2025-12"
    assert bi.due_month(date(2024, 10, 8)) == "2024-09"  # 2024: 10-01..07 off

    db = ledger_sept
    with db.session() as s:
        assert bi.scheduled(s, date(2024, 10, 7)) is None
        s.commit()
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Document).where(Document.period.is_not(None))).scalar_one() == 0
        done = bi.scheduled(s, date(2024, 10, 8))
        s.commit()
    assert done is not None and done.created and done.document.period == "2024-09"
    with db.session() as s:
        rerun = bi.scheduled(s, date(2024, 10, 8))
        s.commit()
    assert rerun is not None and not rerun.created and rerun.document.number == done.document.number


def test_member_units_receive_it_by_email_and_webhook(ledger_sept, smtp_server, http_receiver, routes_file):
    db = ledger_sept
    if db.kind == "pg":
        pytest.skip("delivery does not depend on the database (the outbox is tested on both elsewhere)")
    routes_file(smtp_port=smtp_server.port, http_port=http_receiver.port,
                roles={"township": {"channels": ["email"]}, "department": {"channels": ["webhook"]}})
    with db.session() as s:
        user = s.execute(select(AppUser).where(AppUser.username == "town_shiheng")).scalar_one()
        user.email = "shiheng@town.example"
        s.add(user)
        s.commit()
    issued = _issue(db, "2024-09", date(2024, 10, 8))
    doc = issued.document
    assert dispatch(db.url, concurrency=4).dead == 0
    with db.session() as s:
        rows = s.execute(select(Notification).where(Notification.event == "bulletin")).scalars().all()
    sent = [r for r in rows if r.status == "sent"]
    missing = [r for r in rows if r.status == "undeliverable"]
    assert len(sent) == 13 + 1  # 13 departments by webhook, 石横镇 by e-mail (its officer has an address)
    assert len(missing) == 15 and all("无可达渠道" in m.last_error for m in missing)  # towns without an officer
    mails = [m for m in smtp_server.mails if "月通报" in m.subject]
    assert len(mails) == 1
    mail = mails[0]
    assert mail.rcpt_tos == ["shiheng@town.example"]
    assert doc.number in mail.subject and "2024年9月" in mail.subject
    text = mail.text()
    assert doc.number in text and "各镇街区排名" in text
    link = re.search(r"(file://\S+\.html)", text).group(1)
    stored = Path(link.removeprefix("file://")).read_bytes()
    assert stored == doc.html.encode("utf-8") and bi.documents.sha256(stored.decode("utf-8")) == doc.sha256
    hits = [h for h in http_receiver.hits if "月通报" in h.body["title"]]
    assert len(hits) == 13
    assert {h.body["title"] for h in hits} == {f"【月通报】{doc.number} 关于2024年9月全市重大事故隐患排查整治情况的通报"}
    assert all(doc.sha256 in h.body["message"] and doc.number in h.body["message"] for h in hits)
    assert len({h.body["who"] for h in hits}) == 13 and "市应急管理局" in {h.body["who"] for h in hits}


def _cli(monkeypatch, *args: str) -> int:
    from hazardloop import cli as cli_mod

    monkeypatch.setattr(sys, "argv", ["hazardloop", *args])
    with pytest.raises(SystemExit) as exc:
        cli_mod.main()
    return exc.value.code


def test_cli_issue_out_preview_and_refusals(ledger_sept, tmp_path, monkeypatch, capsys):
    db = ledger_sept
    a, b, c = tmp_path / "a.html", tmp_path / "b.html", tmp_path / "c.html"
    with clock.frozen(date(2024, 10, 9)):
        assert _cli(monkeypatch, "--db", db.url, "bulletin", "--month", "2024-09", "--actor", "inspector1",
                    "--out", str(a)) == 1
        assert "市安委办" in capsys.readouterr().err and not a.exists()
        assert _cli(monkeypatch, "--db", db.url, "bulletin", "--month", "2024-09", "--actor", "office1",
                    "--out", str(a)) == 0
        assert "已签发 肥安办通报〔2024〕1号" in capsys.readouterr().out.replace("\n", "")
        assert _cli(monkeypatch, "--db", db.url, "bulletin", "--month", "2024-09", "--out", str(b)) == 0
        assert "未重新编号" in capsys.readouterr().out.replace("\n", "")
        assert _cli(monkeypatch, "--db", db.url, "bulletin", "--month", "2024-09", "--preview", "--out", str(c)) == 0
        # not over yet: a preview, nothing numbered or stored, unless --force (issue 14)
        assert _cli(monkeypatch, "--db", db.url, "bulletin", "--month", "2024-10") == 0
        out = capsys.readouterr().out.replace("\n", "")
        assert "尚未结束" in out and "预览" in out
        with db.session(write=False) as s:
            assert bi.stored(s, "2024-10") is None
        assert _cli(monkeypatch, "--db", db.url, "bulletin", "--month", "2024/09") == 2
    assert a.read_bytes() == b.read_bytes() and "肥安办通报〔2024〕1号".encode() in a.read_bytes()
    assert "文号由发文系统编排".encode() in c.read_bytes()
    with db.session(write=False) as s:
        doc = bi.get_stored(s, "2024-09")
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "bulletin_issued")).scalar_one()
    assert a.read_bytes() == doc.html.encode("utf-8") and ev.actor == "office1"
    capsys.readouterr()
    assert _cli(monkeypatch, "--db", db.url, "document", "show", doc.number, "--html") == 0
    assert capsys.readouterr().out == doc.html


def _pdf_text_chars(data: bytes) -> set[str]:
    """The characters the PDF's embedded fonts map to (their ToUnicode CMaps)."""
    chars: set[str] = set()
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            s = zlib.decompress(m.group(1))
        except zlib.error:
            continue
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", s, re.S):
            for _, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                chars.add(bytes.fromhex(dst.decode()).decode("utf-16-be", "replace"))
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", s, re.S):
            for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                start = int(dst, 16)
                chars.update(chr(start + i) for i in range(int(hi, 16) - int(lo, 16) + 1))
    # Noto CJK maps 大/⼤ and 月/⽉ (Kangxi radicals) to one glyph, and chromium's ToUnicode may name the
    # radical: NFKC folds those back, as a PDF reader's search does.
    return {unicodedata.normalize("NFKC", c) for c in chars}


def test_pdf_has_pages_and_the_chinese_title(ledger_sept, tmp_path, monkeypatch):
    if ledger_sept.kind == "pg":
        pytest.skip("printing does not depend on the database: runs once, on SQLite")
    if _chromium() is None:
        pytest.skip("no chromium (apt-get install -y chromium fonts-noto-cjk)")
    out = tmp_path / "bulletin.pdf"
    with clock.frozen(date(2024, 10, 9)):
        assert _cli(monkeypatch, "--db", ledger_sept.url, "bulletin", "--month", "2024-09", "--pdf", str(out)) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages >= 2  # tables and two charts do not fit one A4 page
    chars = _pdf_text_chars(data)
    assert set("关于2024年9月全市重大事故隐患排查整治情况的通报") <= chars
    assert set("肥城市安全生产委员会办公室红榜黑榜") <= chars


def test_monthly_flow_under_prefect(ledger_sept, prefect_harness):
    if ledger_sept.kind == "pg":
        pytest.skip("the flow is thin over bulletin_issue.scheduled (tested on both databases): once, on SQLite")
    from hazardloop.flows.bulletin import deployments, monthly_bulletin_flow
    from hazardloop.flows.deployments import all_deployments

    skipped = monthly_bulletin_flow(today="2024-10-07", db_url=ledger_sept.url)
    assert skipped == {"issued": False}
    done = monthly_bulletin_flow(today="2024-10-08", db_url=ledger_sept.url)
    assert done["issued"] and done["number"] == "肥安办通报〔2024〕1号" and done["month"] == "2024-09"
    again = monthly_bulletin_flow(today="2024-10-08", db_url=ledger_sept.url)
    assert again["number"] == done["number"] and again["created"] is False
    assert "monthly-bulletin" in {d.name for d in all_deployments()}
    assert deployments()[0].schedules[0].schedule.cron == "0 9 * * *"


def test_concurrent_issues_of_one_month_take_one_number(pg):
    """Two issuers at once on PostgreSQL: the second waits on the counter row, then finds the first's
    bulletin and returns it -- one 文号, one set of notices."""
    import threading

    day = date(2024, 10, 8)
    first = pg.session()
    a = bi.issue(first, "2024-09", issue_date=day)  # holds the (通报, 2024) counter row until commit
    result: dict[str, bi.Issued] = {}

    def second() -> None:
        with pg.session() as s:
            result["b"] = bi.issue(s, "2024-09", issue_date=day)
            s.commit()

    t = threading.Thread(target=second)
    t.start()
    t.join(1.5)
    assert t.is_alive()  # blocked behind the first transaction's counter lock
    first.commit()
    first.close()
    t.join(30)
    assert a.created and not result["b"].created and result["b"].document.number == a.document.number
    with pg.session(write=False) as s:
        assert s.get(DocumentCounter, ("通报", 2024)).last == 1
        assert s.execute(select(func.count()).select_from(Document).where(Document.period == "2024-09")).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Notification)
                         .where(Notification.event == "bulletin")).scalar_one() == a.queued
