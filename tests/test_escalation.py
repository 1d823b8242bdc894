"""The escalation ladder on SQLite and PostgreSQL: semantics, documents, approval, policy, CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from hazardloop.config import calendar, clock
from hazardloop.config.escalation import ROLES, PolicyError, load_policy, parse_policy
from hazardloop.models import audit
from hazardloop.errors import ValidationError
from hazardloop.models.escalation import Document, DocumentCounter, EscalationCycle, EscalationStep
from hazardloop.models.tables import AuditEvent, Notification
from hazardloop.escalation import documents, hazards as esc
from hazardloop.notifications.recipients import RECIPIENT_ROLES
from hazardloop.states import ledger
from hazardloop.states.errors import MissingData, PermissionDenied
from tests.fixtures_escalation import (
    ENT_XY, at, documents_of, notices, policy_file, rectifying_with_deadline, steps_of, sweep_on,
)
from tests.helpers import evidence_file

__all__ = ["policy_file"]

PLANNED = date(2024, 9, 2)
DEADLINE = date(2024, 9, 20)  # a Friday just after 中秋 (9/15–17 off, Saturday 9/14 worked)
LADDER = ["reminder", "notice_letter", "warning_letter", "supervision_letter", "bulletin", "interview", "exposure"]


def _count(s, model) -> int:  # noqa: ANN001
    return s.exec(select(func.count()).select_from(model)).one()


def test_roles_in_policy_match_recipients():
    assert set(ROLES) == set(RECIPIENT_ROLES)


def test_day_by_day_each_step_fires_once_on_its_working_day(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    day = PLANNED
    while day <= date(2024, 11, 15):
        sweep_on(org, day)
        day += timedelta(days=1)
    policy = load_policy()
    expected = {st.code: calendar.add_workdays(DEADLINE, st.offset) for st in policy.steps}
    # Spot-check the calendar against the 2024 arrangement: 9/14 (Saturday) and 9/29 (Sunday) were worked.
    assert expected["reminder"] == date(2024, 9, 14)
    assert expected["notice_letter"] == date(2024, 9, 23)
    assert expected["supervision_letter"] == date(2024, 10, 10)
    with org.session() as s:
        rows = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hid).order_by(EscalationStep.id)).all()
        assert [r.step for r in rows] == LADDER
        for r in rows:
            assert r.cycle == 1 and r.due_date == expected[r.step]
            assert clock.local_date(r.created_at) == expected[r.step], r.step  # issued on the day it came due
        assert rows[-1].status == "proposed" and all(r.status == "issued" for r in rows[:-1])
        docs = documents_of(s, hid)
        assert [d.number for d in docs] == ["肥安办函〔2024〕1号", "肥安办函〔2024〕2号", "肥安办函〔2024〕3号",
                                            "肥安办通〔2024〕1号", "肥安办约〔2024〕1号"]
        # one notice per step per recipient: reminder 2, letters 2+3+(township+department), bulletin 3, ...
        keys = [n.key for n in notices(s, hid)]
        assert len(keys) == len(set(keys))
        assert {n.step for n in notices(s, hid)} == set(LADDER[:-1]) | {"exposure:proposed"}
        assert audit.verify(s).ok


def test_sweep_twice_issues_nothing_twice(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    first = sweep_on(org, date(2024, 10, 11))
    with org.session() as s:
        before = (_count(s, EscalationStep), _count(s, Document), _count(s, Notification), _count(s, AuditEvent))
    second = sweep_on(org, date(2024, 10, 11))
    with org.session() as s:
        after = (_count(s, EscalationStep), _count(s, Document), _count(s, Notification), _count(s, AuditEvent))
        # The first sweep comes after the deadline: the 到期提醒 would be false, so it is kept as skipped.
        assert steps_of(s, hid) == [(1, "reminder", "skipped")] + [(1, c, "issued") for c in LADDER[1:4]]
    assert sum(first.issued.values()) == 3 and sum(second.issued.values()) == 0
    assert before == after


def test_catch_up_fires_each_due_step_once(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    res = sweep_on(org, date(2024, 10, 18))  # first sweep in weeks: reminder .. bulletin all came due
    assert res.issued == {c: 1 for c in LADDER[1:5]}  # the 到期提醒 is past its deadline: not sent
    assert res.documents == {"函": 3, "通": 1}
    for day in (date(2024, 10, 21), date(2024, 10, 22)):
        assert sum(sweep_on(org, day).issued.values()) == 0
    assert sweep_on(org, date(2024, 10, 23)).issued == {"interview": 1}
    with org.session() as s:
        assert [c for _, c, _ in steps_of(s, hid)] == LADDER[:6]


def test_extension_starts_a_new_cycle(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 9, 27))  # reminder, 提示函, 警示函 in cycle 1
    new_deadline = date(2024, 10, 31)
    with org.session() as s, clock.frozen(at(date(2024, 9, 27), 10)):
        ext = ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=new_deadline, reason="设备到货延迟")
        ledger.decide_extension(s, ledger.get_user(s, "sup_yingji"), ext.id, approve=True, reason="同意")
        s.commit()
    assert sum(sweep_on(org, date(2024, 10, 10)).issued.values()) == 0  # cycle 1's 督办函 is not issued any more
    assert sweep_on(org, date(2024, 11, 1)).issued == {"notice_letter": 1}  # the 到期提醒 came too late
    with org.session() as s:
        assert steps_of(s, hid) == [(1, "reminder", "skipped"), (1, "notice_letter", "issued"),
                                    (1, "warning_letter", "issued"), (2, "reminder", "skipped"),
                                    (2, "notice_letter", "issued")]
        cycles = s.exec(select(EscalationCycle).where(EscalationCycle.hazard_id == hid)
                        .order_by(EscalationCycle.cycle)).all()
        assert [(c.cycle, c.status) for c in cycles] == [(1, "ended"), (2, "active")]
        assert clock.local_date(cycles[1].deadline) == new_deadline
        assert len({n.key for n in notices(s, hid)}) == len(notices(s, hid))


def test_reviewed_is_paused_and_rejection_starts_a_new_cycle(org, tmp_path):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 9, 23))  # reminder + 提示函
    with org.session() as s, clock.frozen(at(date(2024, 9, 24), 10)):
        ledger.submit(s, ledger.get_user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
        s.commit()
    for day in (date(2024, 9, 27), date(2024, 10, 10), date(2024, 11, 20)):
        assert sum(sweep_on(org, day).issued.values()) == 0  # paused while under review
    with org.session() as s, clock.frozen(at(date(2024, 11, 20), 10)):
        ledger.reject(s, ledger.get_user(s, "sup_yingji"), hid, reason="报警器未联锁", deadline=date(2024, 11, 29))
        s.commit()
    assert sweep_on(org, date(2024, 12, 2)).issued == {"notice_letter": 1}  # 到期提醒 past its deadline
    with org.session() as s:
        assert [(c, st) for c, st, _ in steps_of(s, hid)] == [
            (1, "reminder"), (1, "notice_letter"), (2, "reminder"), (2, "notice_letter")]


def test_closed_dismissed_and_unplanned_hazards_are_not_escalated(org, tmp_path):
    with org.session() as s:
        closed = rectifying_with_deadline(s, PLANNED, DEADLINE)
        with clock.frozen(at(date(2024, 9, 10))):
            ledger.submit(s, ledger.get_user(s, "hd_safety"), closed, evidence=[evidence_file(tmp_path)])
            ledger.approve(s, ledger.get_user(s, "sup_yingji"), closed, reason="已整改")
            found = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="冲压机光电保护失效",
                                  channel="inspection")
            dismissed = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="误报",
                                      channel="inspection")
            ledger.dismiss(s, ledger.get_user(s, "office1"), dismissed.id, reason="不属于重大事故隐患")
            s.commit()
    res = sweep_on(org, date(2024, 12, 31), stage_timeouts=False)
    assert sum(res.issued.values()) == 0
    with org.session() as s:
        assert _count(s, EscalationStep) == 0 and _count(s, Document) == 0
        assert s.exec(select(func.count()).select_from(Notification)
                      .where(Notification.event == "escalation")).one() == 0
        assert steps_of(s, found.id) == [] and steps_of(s, dismissed.id) == []
        cycles = s.exec(select(EscalationCycle).where(EscalationCycle.hazard_id == closed)).all()
        assert [(c.cycle, c.status) for c in cycles] == [(1, "ended")]  # started at plan, ended once closed


def test_policy_in_force_when_the_cycle_started_is_the_one_it_uses(org, policy_file):
    with org.session() as s:
        old = rectifying_with_deadline(s, PLANNED, DEADLINE, title="旧规则下开始的周期")
    text = policy_file.read_text(encoding="utf-8")
    policy_file.write_text(text.replace("name: 提示函\n    offset: 1", "name: 提示函\n    offset: 2"), encoding="utf-8")
    assert load_policy().step("notice_letter").offset == 2
    with org.session() as s:
        new = rectifying_with_deadline(s, date(2024, 9, 3), DEADLINE, title="新规则下开始的周期")
    res = sweep_on(org, date(2024, 9, 23))  # deadline + 1 working day
    assert res.issued == {"notice_letter": 1}  # both 到期提醒 came due before the deadline, swept after it
    with org.session() as s:
        assert [c for _, c, _ in steps_of(s, old)] == ["reminder", "notice_letter"]
        assert [c for _, c, _ in steps_of(s, new)] == ["reminder"]
        versions = {c.hazard_id: c.policy_version for c in s.exec(select(EscalationCycle)).all()}
        assert versions[old] != versions[new]
    assert sweep_on(org, date(2024, 9, 24)).issued == {"notice_letter": 1}


def test_exposure_is_proposed_then_approved_by_the_committee(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    res = sweep_on(org, date(2024, 11, 6))
    assert res.proposed == 1 and "exposure" in res.issued
    with org.session() as s:
        step = s.exec(select(EscalationStep).where(EscalationStep.step == "exposure")).one()
        assert step.status == "proposed"
        step_id = step.id
        assert not s.exec(select(Document).where(Document.step == "exposure")).all()
        assert {n.recipient_role for n in notices(s, hid) if n.step == "exposure:proposed"} == {"committee"}
        with pytest.raises(PermissionDenied):
            esc.approve_step(s, ledger.get_user(s, "sup_yingji"), step_id)
        s.rollback()
    with org.session() as s, clock.frozen(at(date(2024, 11, 7), 10)):
        row, doc = esc.approve_step(s, ledger.get_user(s, "office1"), step_id)
        s.commit()
        assert row.status == "approved" and row.decided_by == "office1"
        assert doc.number == "肥安办曝〔2024〕1号" and "予以公开曝光" in doc.text
        sent = [n for n in notices(s, hid) if n.step == "exposure"]
        assert {n.recipient_role for n in sent} == {"principal", "controller", "township", "department"}
        assert all(n.document_id == doc.id for n in sent)
        with pytest.raises(ValidationError, match="不是待审批"):
            esc.approve_step(s, ledger.get_user(s, "office1"), step_id)
        s.rollback()
        assert "escalation_approved" in [e.action for e in s.exec(select(AuditEvent)).all()]


def test_exposure_can_be_declined_with_a_reason(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 11, 6))
    with org.session() as s:
        step_id = s.exec(select(EscalationStep).where(EscalationStep.step == "exposure")).one().id
        with pytest.raises(MissingData, match="理由"):
            esc.decline_step(s, ledger.get_user(s, "office1"), step_id, reason="  ")
        s.rollback()
        row = esc.decline_step(s, ledger.get_user(s, "office1"), step_id, reason="企业已停产整改，暂不曝光")
        s.commit()
        assert (row.status, row.decision_reason) == ("declined", "企业已停产整改，暂不曝光")
        assert not s.exec(select(Document).where(Document.step == "exposure")).all()
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "escalation_declined")).one()
        assert ev.hazard_id == hid and ev.reason == "企业已停产整改，暂不曝光"
    assert sum(sweep_on(org, date(2024, 11, 20)).issued.values()) == 0  # declined is final for this cycle


def test_document_is_a_complete_official_letter_stored_with_its_hash(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 9, 23))
    with org.session() as s:
        doc = documents_of(s, hid)[0]
        h = ledger.get_hazard(s, hid)
        for part in ("肥城市安全生产委员会办公室", "肥安办函〔2024〕1号", "提示函", "肥城市恒达化工有限公司",
                     h.code, h.title, "第十三条", "2024年9月20日", "已逾期 3 天（1 个工作日）", "2024年9月23日",
                     "（盖章）", "前完成整改"):
            assert part in doc.text, part
            assert part in doc.html, part
        assert doc.html.startswith("<!DOCTYPE html>") and "red-header" in doc.html
        import hashlib

        assert doc.sha256 == hashlib.sha256(doc.html.encode()).hexdigest()
        assert doc.text_sha256 == hashlib.sha256(doc.text.encode()).hexdigest()
        ev = [e for e in s.exec(select(AuditEvent).where(AuditEvent.action == "escalation_issued")).all()
              if (e.after or {}).get("number") == doc.number]
        assert ev and ev[0].after["sha256"] == doc.sha256
        note = [n for n in notices(s, hid) if n.step == "notice_letter"]
        assert note and all(n.body == doc.text and n.document_id == doc.id for n in note)


def test_documents_rendered_before_numbering_carry_their_own_number(org):
    # The sweep renders a batch's 公文 first and takes the 文号 last (the counter stays locked only for
    # the inserts): every stored byte, hash, notice and audit event must still carry the document's own number.
    with org.session() as s:
        hids = [rectifying_with_deadline(s, PLANNED, DEADLINE, title=f"储罐区隐患{i}") for i in range(2)]
    sweep_on(org, date(2024, 10, 11))
    with org.session() as s:
        docs = documents_of(s)
        assert [(d.hazard_id, d.number) for d in docs] == [
            (hid, f"肥安办函〔2024〕{n}号") for hid, n in zip([hids[0]] * 3 + [hids[1]] * 3, range(1, 7))]
        events = {e.after["number"]: e.after for e in s.exec(
            select(AuditEvent).where(AuditEvent.action == "escalation_issued")).all() if e.after.get("number")}
        for d in docs:
            others = [o.number for o in docs if o.number != d.number and o.number not in d.number]
            assert d.html.count(d.number) == 2 and d.text.count(d.number) == 1  # <title>, the red header; text
            assert "\x00" not in d.html + d.text and not any(o in d.html + d.text for o in others)
            assert d.sha256 == documents.sha256(d.html) and events[d.number]["sha256"] == d.sha256
            sent = [n for n in notices(s, d.hazard_id) if n.document_id == d.id]
            assert sent and all(n.subject.endswith(d.number) and n.body == d.text for n in sent)
        assert s.exec(select(DocumentCounter.last).where(DocumentCounter.doc_type == "函")).one() == 6
        assert audit.verify(s).ok


def test_html_escapes_hazard_text(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE, title="<script>alert(1)</script> 储罐")
    sweep_on(org, date(2024, 9, 23))
    with org.session() as s:
        doc = documents_of(s, hid)[0]
        assert "<script>" not in doc.html and "&lt;script&gt;" in doc.html
        assert "<script>alert(1)</script>" in doc.text


def test_dry_run_writes_nothing_and_shows_what_would_be_issued(org):
    with org.session() as s:
        rectifying_with_deadline(s, PLANNED, DEADLINE)
        before = {m.__name__: _count(s, m) for m in (EscalationStep, Document, Notification, AuditEvent,
                                                      DocumentCounter, EscalationCycle)}
    res = sweep_on(org, date(2024, 10, 11), dry_run=True)
    assert [(i["step"], i["number"]) for i in res.items] == [
        ("reminder", None), ("notice_letter", "肥安办函〔2024〕1号"), ("warning_letter", "肥安办函〔2024〕2号"),
        ("supervision_letter", "肥安办函〔2024〕3号")]
    with org.session() as s:
        assert before == {m.__name__: _count(s, m) for m in (EscalationStep, Document, Notification, AuditEvent,
                                                             DocumentCounter, EscalationCycle)}
    assert sum(sweep_on(org, date(2024, 10, 11)).issued.values()) == 3  # the real run still does it all (the late 到期提醒 is not sent)


def _first_rungs_only():
    """The default policy with each stage's ladder cut to its reminder (the rungs have their own test)."""
    import re as _re

    from hazardloop.config.escalation import DEFAULT_FILE

    text = _re.sub(r"\n    then:\n(      - .*\n)+", "\n", DEFAULT_FILE.read_text(encoding="utf-8"))
    policy = parse_policy(text)
    assert all(not t.steps for t in policy.stage_timeouts)
    return policy


def test_stage_timeouts_remind_once(org):
    policy = _first_rungs_only()
    with org.session() as s, clock.frozen(at(date(2024, 9, 2))):
        found = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="冲压机光电保护失效",
                              channel="inspection")
        listed = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="行车制动失灵",
                               channel="inspection")
        ledger.confirm(s, ledger.get_user(s, "office1"), listed.id, basis_code="MEM10", basis_clause="第一条",
                       level="city")
        s.commit()
    assert sweep_on(org, date(2024, 9, 6), policy=policy).timeouts == 0  # 4 working days
    assert sweep_on(org, date(2024, 9, 9), policy=policy).timeouts == 1  # found for 5 working days
    assert sweep_on(org, date(2024, 9, 10), policy=policy).timeouts == 0
    assert sweep_on(org, date(2024, 9, 19), policy=policy).timeouts == 1  # listed for 10 working days (中秋 skipped)
    assert sweep_on(org, date(2024, 9, 30), policy=policy).timeouts == 0
    with org.session() as s:
        assert [c for _, c, _ in steps_of(s, found.id)] == ["timeout_found"]
        assert [c for _, c, _ in steps_of(s, listed.id)] == ["timeout_listed"]
        assert {n.recipient_role for n in notices(s, found.id)} == {"department"}
        assert {n.recipient_role for n in notices(s, listed.id)} == {"safety_manager", "principal"}
        assert "超过 5 个工作日" in notices(s, found.id)[0].body


_OK = ("steps:\n  - code: a\n    name: 提示函\n    offset: 1\n    kind: letter\n    template: doc_letter\n"
       "    doc_type: 函\n    recipients: [principal]\n")


@pytest.mark.parametrize("text,line,reason", [
    (_OK.replace("offset: 1", "offset: x"), 4, "整数"),
    (_OK.replace("[principal]", "[principal, boss]"), 8, "boss"),
    (_OK + "  - code: b\n    name: y\n    offset: 1\n    kind: reminder\n    template: doc_reminder\n"
     "    recipients: [principal]\n", 11, "必须大于"),
    (_OK.replace("kind: letter", "kind: fax"), 5, "fax"),
    (_OK.replace("template: doc_letter", "template: doc_nope"), 6, "doc_nope"),
    (_OK.replace("    doc_type: 函\n", ""), 2, "doc_type"),
    (_OK.replace("code: a", "code: A-1"), 2, "A-1"),
    (_OK + "stage_timeouts:\n  - state: rectifying\n    workdays: 5\n    name: x\n    recipients: [department]\n",
     10, "rectifying"),
    ("steps: [\n", 2, "YAML"),
    ("stepz: []\n", 1, "stepz"),
])
def test_bad_policy_is_refused_with_line_and_reason(text, line, reason):
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "bad.yaml")
    assert f"第 {line} 行" in str(err.value) and reason in str(err.value), str(err.value)


def test_bad_policy_file_stops_the_sweep_and_changes_nothing(org, policy_file):
    with org.session() as s:
        rectifying_with_deadline(s, PLANNED, DEADLINE)
    policy_file.write_text("steps:\n  - code: a\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="第 2 行"):
        sweep_on(org, date(2024, 10, 11))
    with org.session() as s:
        assert _count(s, EscalationStep) == 0


def _cli(url: str, *args: str, home) -> subprocess.CompletedProcess:  # noqa: ANN001
    import os

    env = dict(os.environ, HAZARDLOOP_HOME=str(home), PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-m", "hazardloop", "--db", url, *args], capture_output=True, env=env,
                          timeout=120)


def test_cli_sweep_document_show_and_approve(org, tmp_path):
    with org.session() as s:
        rectifying_with_deadline(s, PLANNED, DEADLINE)
    home = tmp_path / "clihome"
    dry = _cli(org.url, "sweep", "--as-of", "2024-11-06", "--dry-run", home=home)
    assert dry.returncode == 0, dry.stderr.decode()
    assert "试运行" in dry.stdout.decode() and "肥安办函〔2024〕1号" in dry.stdout.decode()
    with org.session() as s:
        assert _count(s, Document) == 0
    run = _cli(org.url, "sweep", "--as-of", "2024-11-06", "--json", home=home)
    assert run.returncode == 0, run.stderr.decode()
    import json

    assert json.loads(run.stdout)["documents"] == {"函": 3, "通": 1, "约": 1}
    with org.session() as s:
        doc = s.exec(select(Document).where(Document.number == "肥安办通〔2024〕1号")).one()
        step = s.exec(select(EscalationStep).where(EscalationStep.step == "exposure")).one()
    shown = _cli(org.url, "document", "show", "肥安办通〔2024〕1号", home=home)
    assert shown.returncode == 0 and shown.stdout == doc.text.encode("utf-8")
    refused = _cli(org.url, "escalation", "approve", str(step.id), "--actor", "sup_yingji", home=home)
    assert refused.returncode == 1 and "市安委办" in refused.stderr.decode()
    ok = _cli(org.url, "escalation", "approve", str(step.id), "--actor", "office1", home=home)
    assert ok.returncode == 0 and "肥安办曝〔" in ok.stdout.decode()


def test_run_sweeps_for_the_demo(org):
    with org.session() as s:
        rectifying_with_deadline(s, PLANNED, DEADLINE)
        rectifying_with_deadline(s, PLANNED, date(2024, 10, 31), enterprise=ENT_XY, title="行车制动失灵")
    counts = esc.run_sweeps(lambda: org.session(), date(2024, 9, 1), date(2024, 11, 8))
    assert counts["提示函"] == 2 and counts["警示函"] == 2 and counts["到期提醒"] == 2
    assert counts["曝光（待审批）"] == 1 and counts["约谈会"] == 1


def test_enqueue_many_writes_the_rows_outbox_enqueue_writes(org):
    from hazardloop.notifications import outbox, recipients

    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
        h = ledger.get_hazard(s, hid)
        people = recipients.resolve(s, h, ["principal", "controller", "township"])
        common = dict(event="escalation", hazard_id=hid, subject="主题", body="正文", document_id=None)
        assert outbox.enqueue(s, cycle=7, step="a", recipients=people, **common) == 3
        assert esc.enqueue_many(s, [dict(cycle=8, step="a", recipients=people, **common)]) == 3
        assert esc.enqueue_many(s, [dict(cycle=8, step="a", recipients=people, **common)]) == 0  # unique key
        rows = s.exec(select(Notification).where(Notification.hazard_id == hid, Notification.step == "a")
                      .order_by(Notification.id)).all()
        skip = {"id", "key", "cycle", "created_at", "next_attempt_at"}
        one = [{k: v for k, v in r.model_dump().items() if k not in skip} for r in rows if r.cycle == 7]
        two = [{k: v for k, v in r.model_dump().items() if k not in skip} for r in rows if r.cycle == 8]
        assert one == two
        assert [r.key.replace("|8|", "|7|") for r in rows if r.cycle == 8] == [r.key for r in rows if r.cycle == 7]
