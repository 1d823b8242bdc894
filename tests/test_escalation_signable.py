"""Issue 14: escalation a regulator can sign -- no stale, premature or contradictory 公文.

Each test here fails on the code before issue 14: proposals left 待审批 after their cycle
ended, a sweep dated ahead issuing real 文号, a stage timeout never escalated past its
reminder, a catch-up 函告 announcing for "next month" a 通报 issued the same day, a 到期提醒
sent after its deadline, "公司（，地址…）" in the documents."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from helpers import cli_runner, evidence_file
from hazardloop.config import calendar, clock
from hazardloop.config.escalation import load_policy
from hazardloop.config.lagging import parse_policy as parse_lag_policy
from hazardloop.errors import ValidationError
from hazardloop.escalation import hazards as esc
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.lagging import LagDocument, LagStep
from hazardloop.models.tables import AuditEvent, Notification
from hazardloop.models import audit
from hazardloop.reports import lagging
from hazardloop.states import ledger
from tests.fixtures_escalation import ENT_XY, at, documents_of, notices, rectifying_with_deadline, steps_of, sweep_on

PLANNED = date(2024, 9, 2)
DEADLINE = date(2024, 9, 20)
EXPOSED_BY = date(2024, 11, 6)  # deadline + 30 working days: the 曝光 is proposed


def _proposal(s, hid: int) -> EscalationStep:  # noqa: ANN001
    return s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hid,
                                               EscalationStep.step == "exposure")).one()


def _audits(s, action: str) -> list[AuditEvent]:  # noqa: ANN001
    return list(s.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all())


# --- (1) a cycle that ends withdraws its undecided proposals ------------------------------------


def test_closing_withdraws_the_pending_exposure_with_its_reason(org, tmp_path):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, EXPOSED_BY)
    with org.session() as s:
        assert _proposal(s, hid).status == "proposed"
    with org.session() as s:
        with clock.frozen(at(date(2024, 11, 7), 10)):
            ledger.submit(s, ledger.get_user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
            s.commit()
        with clock.frozen(at(date(2024, 11, 8), 10)):
            ledger.approve(s, ledger.get_user(s, "sup_yingji"), hid, reason="整改到位")
            s.commit()
    with org.session() as s:
        row = _proposal(s, hid)
        assert (row.status, row.decided_by, row.decision_reason) == ("withdrawn", "system", "隐患已销号，本督办周期结束")
        # the office's queue (proposed only) no longer holds it, and it cannot be decided any more
        assert s.exec(select(func.count()).select_from(EscalationStep)
                      .where(EscalationStep.status == "proposed")).one() == 0
        with pytest.raises(ValidationError, match="已撤回"):
            esc.approve_step(s, ledger.get_user(s, "office1"), row.id)
        s.rollback()
        ev = _audits(s, "escalation_withdrawn")
        assert len(ev) == 1 and ev[0].after["step_id"] == row.id and ev[0].reason == "隐患已销号，本督办周期结束"
        assert audit.verify(s).ok


def test_an_approved_extension_withdraws_the_old_cycles_proposal(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, EXPOSED_BY)
    with org.session() as s, clock.frozen(at(date(2024, 11, 7), 10)):
        ext = ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=date(2024, 12, 31),
                                       reason="设备到货延迟")
        ledger.decide_extension(s, ledger.get_user(s, "sup_yingji"), ext.id, approve=True, reason="同意")
        s.commit()
    with org.session() as s:
        row = _proposal(s, hid)
        assert row.status == "withdrawn" and "延期" in row.decision_reason


def test_a_denied_extension_keeps_the_proposal_live(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, EXPOSED_BY)
    with org.session() as s, clock.frozen(at(date(2024, 11, 7), 10)):
        ext = ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=date(2024, 12, 31),
                                       reason="设备到货延迟")
        ledger.decide_extension(s, ledger.get_user(s, "sup_yingji"), ext.id, approve=False, reason="理由不足")
        s.commit()
    with org.session() as s:
        assert _proposal(s, hid).status == "proposed"


def test_the_sweep_withdraws_proposals_left_from_before(org, tmp_path):
    """Ledgers from before this rule (the demo had 39 on closed hazards): the next sweep withdraws them."""
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, EXPOSED_BY)
    with org.session() as s:
        with clock.frozen(at(date(2024, 11, 7), 10)):
            ledger.submit(s, ledger.get_user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
            ledger.approve(s, ledger.get_user(s, "sup_yingji"), hid, reason="整改到位")
        row = _proposal(s, hid)
        row.status, row.decided_by, row.decision_reason = "proposed", None, None  # as an old ledger left it
        s.add(row)
        s.commit()
    res = sweep_on(org, date(2024, 11, 11))
    assert res.withdrawn == 1
    with org.session() as s:
        assert _proposal(s, hid).status == "withdrawn"
        assert _proposal(s, hid).decision_reason == "隐患已销号，本督办周期结束"


# --- (2) a date after today is a dry run unless forced -----------------------------------------------


def test_a_sweep_dated_after_today_is_a_dry_run_unless_forced(org, capsys, monkeypatch):
    with org.session() as s:
        rectifying_with_deadline(s, PLANNED, DEADLINE)
    today = date(2024, 9, 27)
    with clock.frozen(at(today, 8)):
        res = esc.sweep(lambda: org.session(), EXPOSED_BY)
    assert res.dry_run and res.future and not res.forced and res.documents  # worked out, not written
    with org.session() as s:
        assert s.exec(select(func.count()).select_from(Document)).one() == 0
        assert s.exec(select(func.count()).select_from(EscalationStep)).one() == 0
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(at(today, 8)):
        code, out, err = run("sweep", "--as-of", EXPOSED_BY.isoformat())
    assert code == 0, err
    assert "晚于今天" in out and "--force" in out and "试运行" in out
    with org.session() as s:
        assert s.exec(select(func.count()).select_from(Document)).one() == 0
    with clock.frozen(at(today, 8)):
        code, out, err = run("sweep", "--as-of", EXPOSED_BY.isoformat(), "--force")
    assert code == 0, err
    with org.session() as s:
        assert s.exec(select(func.count()).select_from(Document)).one() == 5
        (ev,) = _audits(s, "future_run_forced")
        assert ev.actor == "cli" and ev.after == {"command": "sweep", "as_of": "2024-11-06", "today": "2024-09-27"}


def test_lagging_run_and_bulletin_on_a_month_not_over_are_dry_runs_unless_forced(org, capsys, monkeypatch):
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(date(2025, 3, 14)):
        code, out, err = run("lagging", "run", "--month", "2025-03")
        assert code == 0 and "尚未结束" in out and "试运行" in out, err
        code, out, err = run("bulletin", "--month", "2025-03")
        assert code == 0 and "尚未结束" in out and "预览" in out, err
    with org.session() as s:
        assert s.exec(select(func.count()).select_from(Document)).one() == 0
        assert _audits(s, "lag_evaluated") == []
    with clock.frozen(date(2025, 3, 14)):
        code, out, err = run("lagging", "run", "--month", "2025-03", "--force")
        assert code == 0 and "试运行" not in out, err
    with org.session() as s:
        (ev,) = _audits(s, "future_run_forced")
        assert ev.after["command"] == "lagging run" and ev.after["as_of"] == "2025-03"


# --- (3) the stage-timeout ladder --------------------------------------------------------------------


def test_a_hazard_listed_without_a_plan_climbs_its_own_ladder(org):
    """Listed and never planned: reminder, 提示函, 督办函, then 立案查处建议, each once, on its working day."""
    with org.session() as s, clock.frozen(at(PLANNED)):
        h = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="行车制动失灵",
                          channel="inspection")
        ledger.confirm(s, ledger.get_user(s, "office1"), h.id, basis_code="MEM10", basis_clause="第三条",
                       level="city")
        s.commit()
        hid = h.id
    day = PLANNED
    while day <= date(2024, 12, 31):
        if calendar.is_workday(day):
            sweep_on(org, day)
        day += timedelta(days=1)
    timeout = next(t for t in load_policy().stage_timeouts if t.state == "listed")
    with org.session() as s:
        rows = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hid).order_by(EscalationStep.id)).all()
        assert [r.step for r in rows] == ["timeout_listed", "timeout_listed_notice", "timeout_listed_supervision",
                                          "timeout_listed_referral"]
        for r, rung in zip(rows, timeout.ladder):
            assert r.due_date == calendar.add_workdays(PLANNED, rung.workdays)
            assert clock.local_date(r.created_at) == r.due_date  # issued on the day it came due
        docs = documents_of(s, hid)
        assert [d.number for d in docs] == ["肥安办函〔2024〕1号", "肥安办函〔2024〕2号", "肥安办建〔2024〕1号"]
        referral = docs[-1]
        assert "立案查处" in referral.text and "参照事故调查处理" in referral.text
        assert "此前已发出整改方案超时提醒、提示函（肥安办函〔2024〕1号）、督办函（肥安办函〔2024〕2号）" in referral.text
        sent = {n.step for n in notices(s, hid)}
        assert sent == {r.step for r in rows}


# --- (4) catch-up: months in order, documents true to what was issued -------------------------------

SIM_POLICY = """
start: 2025-01
consecutive: 2
thresholds:
  - {metric: overdue_share, max: 10}
  - {metric: closure_rate, min: 80}
steps:
  - {code: letter,    name: 函告, kind: letter,    template: doc_lag_letter,    doc_type: 函}
  - {code: bulletin,  name: 通报, kind: bulletin,  template: doc_lag_bulletin,  doc_type: 通}
  - {code: interview, name: 约谈, kind: interview, template: doc_lag_interview, doc_type: 约}
  - {code: exposure,  name: 曝光, kind: exposure,  template: doc_lag_exposure,  doc_type: 曝, approval: true}
"""
HD = "91370983MA3C0001AY"


def test_a_catch_up_run_issues_month_by_month_and_says_what_went_out(org):
    policy = parse_lag_policy(SIM_POLICY, "sim")
    with org.session() as s:
        rectifying_with_deadline(s, date(2024, 12, 2), date(2024, 12, 20))
    with org.session() as s, clock.frozen(date(2025, 5, 6)):  # January to April never run
        result = lagging.run(s, "2025-04", policy=policy)
        s.commit()
    assert [(it["unit_code"], it["name"]) for it in result.steps if it["unit_code"] == "shiheng"] == [
        ("shiheng", "函告"), ("shiheng", "通报"), ("shiheng", "约谈")]
    with org.session() as s:
        steps = s.exec(select(LagStep).where(LagStep.unit_code == "shiheng").order_by(LagStep.id)).all()
        assert [(r.step, r.month) for r in steps] == [("letter", "2025-02"), ("bulletin", "2025-03"),
                                                     ("interview", "2025-04")]
        docs = s.exec(select(LagDocument).where(LagDocument.unit_code == "shiheng").order_by(LagDocument.id)).all()
        letter, bulletin, interview = (d.text for d in docs)
        assert "下月仍未达到要求的，将予以通报" not in letter
        assert "本文系按2025年2月考核结果补发" in letter and "已同日另行通报" in letter
        assert "已连续 2 个月" in letter and "已连续 3 个月" in bulletin and "已连续 4 个月" in interview
        assert f"此前已被函告（{docs[0].number}）" in bulletin and "已同日另行约谈" in bulletin
        assert "下月仍未达到要求的，将约谈" not in bulletin
        assert "下月仍未达到要求的，将提请公开曝光" in interview  # the newest month: a true announcement
    with org.session() as s, clock.frozen(date(2025, 5, 6)):
        again = lagging.run(s, "2025-04", policy=policy)
        assert again.steps == []


# --- the hazard ladder's reminder and the documents' wording ----------------------------------------


def test_a_reminder_swept_after_its_deadline_is_not_sent_and_one_on_the_day_says_today(org):
    with org.session() as s:
        late = rectifying_with_deadline(s, PLANNED, DEADLINE)
        today = rectifying_with_deadline(s, PLANNED, date(2024, 9, 30), enterprise=ENT_XY, title="行车制动失灵")
    res = sweep_on(org, date(2024, 9, 30))
    assert res.issued["reminder"] == 1
    with org.session() as s:
        assert steps_of(s, late)[0] == (1, "reminder", "skipped")
        assert "reminder" not in {n.step for n in notices(s, late)} and notices(s, late)
        body = notices(s, today)[0].body
        assert "今天到期" in body and "还有 0 个工作日" not in body and "在到期前申请延期" not in body
        (ev,) = _audits(s, "escalation_skipped")
        assert ev.hazard_id == late


def test_documents_name_the_enterprise_without_a_stray_comma(org):
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 10, 11))
    with org.session() as s:
        supervision = next(d for d in documents_of(s, hid) if d.step == "supervision_letter")
        assert "（，" not in supervision.text and "（）" not in supervision.text
        assert "肥城市恒达化工有限公司（地址：石横镇工业园区 8 号）存在" in supervision.text
        assert "（，" not in supervision.html
