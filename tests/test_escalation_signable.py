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


# --- (5) the basis must apply to the hazard's industry --------------------------------------------


def test_a_basis_for_another_industry_is_refused_unless_the_office_overrides_with_a_reason(org, capsys, monkeypatch):
    from hazardloop.states.errors import PermissionDenied

    with org.session() as s:
        hid = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=HD, title="液氨储罐区未设置泄漏报警装置",
                            channel="inspection").id
        s.commit()
    with org.session() as s:
        with pytest.raises(ValidationError, match="GAS4《城镇燃气经营安全重大隐患判定标准》适用于城镇燃气，"
                                                  "不适用于该隐患所属行业“化工和危险化学品”"):
            ledger.confirm(s, ledger.get_user(s, "sup_yingji"), hid, basis_code="GAS4", basis_clause="第三条",
                           level="city")
        s.rollback()
        with pytest.raises(PermissionDenied, match="市安委办"):  # a supervisor may not override
            ledger.confirm(s, ledger.get_user(s, "sup_yingji"), hid, basis_code="GAS4", basis_clause="第三条",
                           level="city", basis_override="企业兼营燃气")
        s.rollback()
    run = cli_runner(org.url, capsys, monkeypatch)
    code, _out, err = run("hazard", "confirm", str(hid), "--actor", "office1", "--basis", "GAS4", "--clause", "第三条",
                          "--level", "city")
    assert code == 1 and "不适用于该隐患所属行业" in err and "--override-reason" in err
    code, _out, err = run("hazard", "confirm", str(hid), "--actor", "office1", "--basis", "GAS4", "--clause", "第三条",
                          "--level", "city", "--override-reason", "该企业兼营瓶装液化气充装，隐患位于充装区")
    assert code == 0, err
    with org.session() as s:
        assert ledger.get_hazard(s, hid).basis_code == "GAS4"
        ev = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid, AuditEvent.action == "confirm")).one()
        assert ev.reason == "该企业兼营瓶装液化气充装，隐患位于充装区" and ev.after["basis_override"] is True


# --- (7) the calendar: the office's file, 2027, and the warning from November -----------------------

GOOD_2027 = """\
2027:
  source: 测试用安排（非真实通知）
  holidays:
    - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
    - {name: 春节, from: 2027-02-05, to: 2027-02-12}
    - {name: 清明节, from: 2027-04-03, to: 2027-04-05}
    - {name: 劳动节, from: 2027-05-01, to: 2027-05-05}
    - {name: 端午节, from: 2027-06-09, to: 2027-06-11}
    - {name: 中秋节, from: 2027-09-15, to: 2027-09-17}
    - {name: 国庆节, from: 2027-10-01, to: 2027-10-07}
  workdays: [2027-02-20, 2027-10-09]
"""


@pytest.fixture
def calendar_file(tmp_path, monkeypatch):
    path = tmp_path / "workdays.yaml"
    monkeypatch.setenv("HAZARDLOOP_WORKDAYS", str(path))
    calendar.reset()
    yield path
    monkeypatch.delenv("HAZARDLOOP_WORKDAYS")
    calendar.reset()


def test_2027_without_a_file_keeps_the_statutory_holidays():
    """holidays 0.109 has no 2027 调休: the old code counted 元旦, 除夕 … as working days."""
    calendar.reset()
    assert not calendar.covered(2027)
    for day in (date(2027, 1, 1), date(2027, 2, 5), date(2027, 4, 5), date(2027, 6, 9), date(2027, 9, 15),
                date(2027, 10, 1)):
        assert not calendar.is_workday(day), day
    assert len(calendar.statutory(2027)) == 13
    assert calendar.missing_next_year(date(2026, 11, 1)) == 2027
    assert calendar.missing_next_year(date(2026, 10, 31)) is None  # loud from November on
    assert calendar.missing_next_year(date(2025, 11, 20)) is None  # 2026 is in the package


def test_the_offices_file_is_used_first_and_checked(calendar_file):
    calendar_file.write_text(GOOD_2027, encoding="utf-8")
    calendar.reset()
    assert calendar.covered(2027) and calendar.missing_next_year(date(2026, 11, 29)) is None
    assert not calendar.is_workday(date(2027, 2, 11)) and calendar.is_workday(date(2027, 2, 20))  # a worked Saturday
    assert calendar.add_workdays(date(2027, 9, 30), 1) == date(2027, 10, 8)
    bad = [
        (GOOD_2027.replace("    - {name: 端午节, from: 2027-06-09, to: 2027-06-11}\n", ""), 4, "缺少法定节假日：端午节（2027-06-09）"),
        (GOOD_2027.replace("to: 2027-01-03}", "to: 2027-02-06}"), 4, "不合理"),
        (GOOD_2027.replace("to: 2027-06-11}\n", "to: 2027-06-11}\n    - {name: 调休, from: 2027-06-11, to: 2027-06-12}\n"),
         9, "已在“端午节”的放假区间内（区间重叠）"),
        (GOOD_2027.replace("[2027-02-20, 2027-10-09]", "[2027-02-20, 2027-10-06]"), 11, "既是放假日又是调休上班日"),
        (GOOD_2027.replace("[2027-02-20, 2027-10-09]", "[2027-02-22]"), 11, "调休上班日应为周六或周日"),
        (GOOD_2027.replace("2027-05-05}", "2027-5-5}"), 7, "YYYY-MM-DD"),
    ]
    for text, line, words in bad:
        with pytest.raises(calendar.CalendarError) as exc:
            calendar.parse_calendar(text, "workdays.yaml")
        assert f"节假日安排文件 workdays.yaml 第 {line} 行：" in str(exc.value) and words in str(exc.value), str(exc.value)


def test_from_november_the_sweep_tells_the_office_once_and_the_cli_warns(org, capsys, monkeypatch):
    calendar.reset()
    for day in (date(2026, 11, 2), date(2026, 11, 3)):
        sweep_on(org, day)
    with org.session() as s:
        rows = s.exec(select(Notification).where(Notification.event == "calendar")).all()
        assert {r.recipient_key for r in rows} == {"office1", "office2"}  # once, to each committee officer
        assert "2027 年节假日安排" in rows[0].subject and "workdays.yaml" in rows[0].body
        assert len(_audits(s, "calendar_missing_warned")) == 1
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(at(date(2026, 11, 4), 8)):
        code, out, err = run("sweep")
    assert code == 0, err
    assert "【警告】尚未录入 2027 年节假日安排" in out.replace("\n", "")


# --- done-when: two years day by day, all three ladders ---------------------------------------------


def test_two_years_day_by_day_hazard_stage_timeout_and_lagging_ladders(org, tmp_path):
    """2025-2026 replayed with the clock frozen each day: the sweep on every working day, the
    lagging run on each month's first working day.  Each step of each ladder fires once, on the
    working day it came due; every 公文 is dated on a working day; 文号 are gapless; a closed
    hazard's pending 曝光 and a unit's pending 曝光 are withdrawn when their cycles end."""
    if org.kind != "sqlite":
        pytest.skip("the replay runs on SQLite; PostgreSQL semantics are covered by the tests above")
    lag_policy = parse_lag_policy(SIM_POLICY, "sim")
    policy = load_policy()
    with org.session() as s:
        late = rectifying_with_deadline(s, date(2025, 1, 6), date(2025, 2, 14))
        with clock.frozen(at(date(2025, 3, 3))):
            listed = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="行车制动失灵",
                                   channel="inspection").id
            ledger.confirm(s, ledger.get_user(s, "office1"), listed, basis_code="MEM10", basis_clause="第三条",
                           level="city")
            s.commit()
        with clock.frozen(at(date(2025, 6, 3))):
            found = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_XY, title="冲压机光电保护失效",
                                  channel="inspection").id
            s.commit()
    later = None
    day = date(2025, 1, 1)
    while day <= date(2026, 12, 31):
        if day == date(2025, 9, 15):  # the late hazard is finally put right: both ladders' cycles end
            with org.session() as s, clock.frozen(at(day, 10)):
                ledger.submit(s, ledger.get_user(s, "hd_safety"), late, evidence=[evidence_file(tmp_path)])
                ledger.approve(s, ledger.get_user(s, "sup_yingji"), late, reason="整改到位")
                s.commit()
        if day == date(2026, 3, 2):  # a new late hazard in 2026: a new unit cycle
            with org.session() as s:
                later = rectifying_with_deadline(s, day, date(2026, 3, 20), title="反应釜未设联锁")
        if calendar.is_workday(day):
            sweep_on(org, day, policy=policy)
            if calendar.is_first_workday_of_month(day) and day >= date(2025, 2, 1):
                with org.session() as s, clock.frozen(at(day, 9)):
                    lagging.run(s, calendar.previous_month(calendar.month_of(day)), policy=lag_policy)
                    s.commit()
        day += timedelta(days=1)

    def due(start: date, offset: int) -> date:
        return calendar.add_workdays(start, offset)

    with org.session() as s:
        rows = s.exec(select(EscalationStep).order_by(EscalationStep.id)).all()
        by_hazard: dict[int, list[EscalationStep]] = {}
        for r in rows:
            by_hazard.setdefault(r.hazard_id, []).append(r)
            assert calendar.is_workday(clock.local_date(r.created_at)), r
        # the hazard ladder: every step once, on its day; the 曝光 withdrawn at closure
        for hid, deadline in ((late, date(2025, 2, 14)), (later, date(2026, 3, 20))):
            got = [(r.step, r.due_date, clock.local_date(r.created_at), r.status) for r in by_hazard[hid]]
            assert [g[0] for g in got] == [st.code for st in policy.steps]
            for (code, due_date, made, _status), st in zip(got, policy.steps):
                assert due_date == made == due(deadline, st.offset), (code, due_date, made)
        assert by_hazard[late][-1].status == "withdrawn" and by_hazard[later][-1].status == "proposed"
        # the stage-timeout ladders: listed (4 rungs), found (3 rungs), from the day the stage began
        for hid, state, since in ((listed, "listed", date(2025, 3, 3)), (found, "found", date(2025, 6, 3))):
            ladder_ = next(t for t in policy.stage_timeouts if t.state == state).ladder
            got = [(r.step, clock.local_date(r.created_at)) for r in by_hazard[hid]]
            assert got == [(rung.code, due(since, rung.workdays)) for rung in ladder_], got
        # the lagging-unit ladder at 石横镇: cycle 1 from 2025-03 (Feb and Mar missed), ended in
        # September; cycle 2 in 2026; months in order, each step once
        lag = s.exec(select(LagStep).where(LagStep.unit_code == "shiheng").order_by(LagStep.id)).all()
        cycles = {}
        for r in lag:
            cycles.setdefault(r.cycle, []).append((r.step, r.month, r.status))
        assert [x[0] for x in cycles[1]] == ["letter", "bulletin", "interview", "exposure"]
        assert [x[1] for x in cycles[1]] == sorted(x[1] for x in cycles[1])
        assert cycles[1][-1][2] == "withdrawn"
        assert cycles[2][0][:2] == ("letter", "2026-04") and all(x[2] in ("issued", "proposed") for x in cycles[2])
        for doc in s.exec(select(LagDocument)).all():
            assert calendar.is_workday(doc.issue_date) and calendar.is_first_workday_of_month(doc.issue_date)
        for doc in s.exec(select(Document)).all():
            assert calendar.is_workday(doc.issue_date), doc.number
        # 文号: one series per (发文字, year) shared by hazard and unit documents, gapless
        from hazardloop.models.escalation import DocumentCounter

        serials: dict[tuple[str, int], list[int]] = {}
        for doc in [*s.exec(select(Document)).all(), *s.exec(select(LagDocument)).all()]:
            serials.setdefault((doc.doc_type, doc.year), []).append(doc.serial)
        for key, found_ in serials.items():
            assert sorted(found_) == list(range(1, len(found_) + 1)), (key, sorted(found_))
        assert {(c.doc_type, c.year): c.last for c in s.exec(select(DocumentCounter)).all()} == {
            k: len(v) for k, v in serials.items()}
        assert audit.verify(s).ok


# --- (6) every addressee gets an outbox row; the 通报 reaches every member unit --------------------------


def test_every_addressee_of_a_document_gets_a_row_and_undelivered_are_listed(org, capsys, monkeypatch, tmp_path):
    from hazardloop.models.tables import Department, Region
    from hazardloop.notifications.routes import PACKAGED

    # production routing: townships by e-mail or SMS only (no file drop), so a street office
    # nobody is registered for cannot be reached -- its row must say so
    routes = tmp_path / "routes.yaml"
    routes.write_text(PACKAGED.read_text(encoding="utf-8").replace(
        "township: {channels: [email, sms, file]}", "township: {channels: [email, sms]}"), encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_ROUTES", str(routes))

    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE, enterprise=ENT_XY, title="行车制动失灵")  # 新城街道
    sweep_on(org, date(2024, 10, 18))  # 提示函 … 督办函, 通报
    with org.session() as s:
        docs = {d.step: d for d in documents_of(s, hid)}
        supervision, bulletin = docs["supervision_letter"], docs["bulletin"]
        assert supervision.text.splitlines()[5].startswith("新城街道办事处、市应急管理局：")  # full names
        rows = s.exec(select(Notification).where(Notification.document_id == supervision.id)).all()
        town = [r for r in rows if r.recipient_role == "township"]
        assert len(town) == 1 and town[0].recipient_name == "新城街道办事处" and town[0].status == "undeliverable"
        assert "市安委会各成员单位" in bulletin.text
        units = s.exec(select(func.count()).select_from(Region)).one() + s.exec(
            select(func.count()).select_from(Department).where(Department.committee == False)).one()  # noqa: E712
        to_units = {r.recipient_name for r in s.exec(select(Notification).where(
            Notification.document_id == bulletin.id, Notification.recipient_key.not_like("%@%"))).all()}
        names = {r.name for r in s.exec(select(Region)).all()} | {
            d.name for d in s.exec(select(Department).where(Department.committee == False)).all()}  # noqa: E712
        assert names <= {r.recipient_name for r in s.exec(select(Notification).where(
            Notification.document_id == bulletin.id)).all()}, (names, to_units)
        assert units == len(names) > 5
    run = cli_runner(org.url, capsys, monkeypatch)
    code, out, err = run("document", "undelivered", "--json")
    assert code == 0, err
    import json

    listed = json.loads(out)
    assert {"number": supervision.number, "recipient": "新城街道办事处"}.items() <= next(
        x for x in listed if x["number"] == supervision.number).items()
    assert all(x["status"] in ("undeliverable", "dead") for x in listed)


# --- (8) the 约谈会 as a record; not held or a commitment missed moves the ladder on ---------------------


def _interview_step(org) -> tuple[int, int, date]:  # noqa: ANN001
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    called = calendar.add_workdays(DEADLINE, 20)
    sweep_on(org, called)
    with org.session() as s:
        step = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hid,
                                                   EscalationStep.step == "interview")).one()
    return hid, step.id, called


def test_an_interview_not_held_moves_the_ladder_on(org, capsys, monkeypatch):
    hid, step_id, called = _interview_step(org)
    meeting = calendar.add_workdays(called, 2)
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(at(meeting, 16)):
        code, _out, err = run("interview", "record", str(step_id), "--actor", "hd_safety", "--held-at",
                              f"{meeting} 09:30", "--place", "市应急管理局3楼会议室", "--outcome", "not_held",
                              "--regulator-attendee", "杨志远（市安委办）")
        assert code == 1 and "记录约谈会" in err  # the enterprise may not record its own interview
        code, out, err = run("interview", "record", str(step_id), "--actor", "office1", "--held-at",
                             f"{meeting} 09:30", "--place", "市应急管理局3楼会议室", "--outcome", "not_held",
                             "--regulator-attendee", "杨志远（市安委办）", "--regulator-attendee", "蒋国平（市应急管理局）")
    assert code == 0 and "督办阶梯已进入下一步" in out.replace("\n", ""), err
    res = sweep_on(org, calendar.add_workdays(meeting, 1))  # long before the 曝光's own day (deadline + 30)
    assert res.issued == {"exposure": 1}
    with org.session() as s:
        (ev,) = _audits(s, "interview_recorded")
        assert ev.after["outcome"] == "not_held" and ev.actor == "office1"
        assert "未召开" in _audits(s, "interview_commitment_checked")[0].reason


def test_a_missed_commitment_moves_the_ladder_on_and_a_kept_one_does_not(org, capsys, monkeypatch, tmp_path):
    hid, step_id, called = _interview_step(org)
    meeting = calendar.add_workdays(called, 1)
    minutes = tmp_path / "纪要.txt"
    minutes.write_text("约谈会议纪要：企业承诺十日内完成报警器安装并联锁。", encoding="utf-8")
    due = calendar.add_workdays(meeting, 3)
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(at(meeting, 16)):
        code, _out, err = run("interview", "record", str(step_id), "--actor", "sup_yingji", "--held-at",
                              f"{meeting} 09:30", "--place", "市应急管理局", "--outcome", "held",
                              "--enterprise-attendee", "赵建国（主要负责人）", "--regulator-attendee", "蒋国平",
                              "--commitment", f"完成泄漏报警器安装并联锁@{due}")
        assert code == 1 and "会议纪要" in err  # minutes are required for a meeting held
        code, _out, err = run("interview", "record", str(step_id), "--actor", "sup_yingji", "--held-at",
                              f"{meeting} 09:30", "--place", "市应急管理局", "--outcome", "held",
                              "--enterprise-attendee", "赵建国（主要负责人）", "--regulator-attendee", "蒋国平",
                              "--commitment", f"完成泄漏报警器安装并联锁@{due}", "--minutes", str(minutes))
        assert code == 0, err
        code, out, _ = run("interview", "show", "1")
        assert "完成泄漏报警器安装并联锁" in out and "未到期" in out and "约谈会议纪要" in out
    assert sum(sweep_on(org, due).issued.values()) == 0  # due today: not missed yet
    res = sweep_on(org, calendar.add_workdays(due, 1))
    assert res.issued == {"exposure": 1}
    with org.session() as s:
        from hazardloop.models.interviews import InterviewRecord

        row = s.exec(select(InterviewRecord)).one()
        assert row.commitments[0]["status"] == "missed" and row.moved_on
        assert row.minutes_sha256 == __import__("hashlib").sha256(minutes.read_bytes()).hexdigest()


def test_the_interview_api_records_and_lists(org):
    from tests.fixtures_web import Web

    hid, step_id, called = _interview_step(org)
    web = Web(org)
    meeting = calendar.add_workdays(called, 1)
    body = {"held_at": f"{meeting}T09:30:00", "place": "市应急管理局", "outcome": "held",
            "enterprise_attendees": ["赵建国（主要负责人）"], "regulator_attendees": ["蒋国平（市应急管理局）"],
            "commitments": [{"what": "完成报警器安装", "due": str(calendar.add_workdays(meeting, 5))}],
            "minutes": "会议纪要全文", "minutes_name": "纪要.txt"}
    with clock.frozen(at(meeting, 16)):
        assert web.api("hd_safety").post(f"/api/v1/escalation/steps/{step_id}/interview", json=body).status_code == 403
        bad = web.api("sup_yingji").post(f"/api/v1/escalation/steps/{step_id}/interview", json=body | {"minutes": ""})
        assert bad.status_code == 422 and "会议纪要" in bad.json()["detail"]
        r = web.api("sup_yingji").post(f"/api/v1/escalation/steps/{step_id}/interview", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["commitments"][0]["status_name"] == "未到期"
        again = web.api("office1").post(f"/api/v1/escalation/steps/{step_id}/interview", json=body)
        assert again.status_code == 409
        listed = web.api("office1").get(f"/api/v1/hazards/{hid}/interviews")
        assert listed.status_code == 200 and listed.json()[0]["place"] == "市应急管理局"
        ok = web.api("office1").post(f"/api/v1/interviews/{r.json()['id']}/commitments/1", json={"met": True})
        assert ok.status_code == 200 and ok.json()["commitments"][0]["status"] == "met"


# --- (10) the 公文: 版记, contact, 特此通报, and an A4 PDF after GB/T 9704 ------------------------------------


def test_documents_carry_the_record_block_contact_and_closing(org):
    with org.session() as s:
        office = ledger.get_user(s, "office1")
        office.phone = "0538-3221234"
        s.add(office)
        s.commit()
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 10, 18))
    with org.session() as s:
        bulletin = next(d for d in documents_of(s, hid) if d.step == "bulletin")
        text = bulletin.text
        assert "特此通报。" in text
        assert "（联系人：杨志远，联系电话：0538-3221234）" in text
        assert text.rstrip().endswith("肥城市安全生产委员会办公室　　2024年10月18日印发")  # 版记
        assert "石横镇人民政府" in text  # addressees' full names
        assert 'class="record"' in bulletin.html and "2024年10月18日印发" in bulletin.html


def _ink_box(img, pred) -> tuple[int, int, int, int] | None:  # noqa: ANN001
    w, h = img.size
    px = img.load()
    xs, ys = [], []
    for y in range(h):
        for x in range(w):
            if pred(px[x, y]):
                xs.append(x)
                ys.append(y)
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def test_a_document_prints_as_an_a4_page_laid_out_after_gb_t_9704(org, capsys, monkeypatch, tmp_path):
    """Rendered by headless chromium, read back as an image (pdftoppm): A4, the 版心 inside the
    margins (天头 37 mm, 订口 28 mm), the red 版头 at the top, the page number below the 版心."""
    import shutil
    import subprocess

    from PIL import Image

    from hazardloop.reports import pdf as pdf_mod

    if pdf_mod.chromium() is None or shutil.which("pdftoppm") is None:
        pytest.skip("needs chromium and poppler-utils (.ci/install-browser.sh)")
    if org.kind != "sqlite":
        pytest.skip("printing does not depend on the database")
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, date(2024, 10, 11))
    with org.session() as s:
        number = next(d for d in documents_of(s, hid) if d.step == "supervision_letter").number
    run = cli_runner(org.url, capsys, monkeypatch)
    out = tmp_path / "doc.pdf"
    code, _o, err = run("document", "show", number, "--pdf", str(out))
    assert code == 0 and out.is_file(), err
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert "pts (A4)" in info, info  # chromium writes 594.96 x 841.92
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(out), str(tmp_path / "p")], check=True)
    img = Image.open(next(tmp_path.glob("p*.png"))).convert("RGB")
    w, h = img.size
    mm = w / 210.0
    dark = _ink_box(img, lambda p: sum(p) < 300)
    red = _ink_box(img, lambda p: p[0] > 150 and p[1] < 90 and p[2] < 90)
    assert dark and red
    left, top, right, bottom = dark
    assert left >= 26 * mm and right <= w - 24 * mm, (left / mm, (w - right) / mm)  # 订口 28, 翻口 26 (±2)
    assert red[1] >= 35 * mm and red[1] <= 45 * mm, red[1] / mm  # the 版头 starts at the top of the 版心
    # the page number "— 1 —" sits below the 版心 (297 - 35 = 262 mm), centred
    foot = img.crop((0, int(263 * mm), w, h))
    num = _ink_box(foot, lambda p: sum(p) < 300)
    assert num is not None
    centre = (num[0] + num[2]) / 2
    assert abs(centre - w / 2) < 10 * mm, centre / mm


# --- (9) 集中曝光 / 集中挂牌 通告 and the public page ------------------------------------------------------


def test_the_months_exposures_go_out_in_one_notice_published_without_personal_data(org, capsys, monkeypatch):
    from tests.fixtures_web import Web

    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    sweep_on(org, EXPOSED_BY)
    with org.session() as s, clock.frozen(at(date(2024, 11, 7), 10)):
        esc.approve_step(s, ledger.get_user(s, "office1"), _proposal(s, hid).id)
        s.commit()
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(at(date(2024, 11, 20), 10)):
        code, out, err = run("escalation", "notice", "--month", "2024-11", "--kind", "exposure", "--actor", "office1")
        assert code == 1 and "尚未结束" in err
    with clock.frozen(at(date(2024, 12, 2), 10)):
        code, out, err = run("escalation", "notice", "--month", "2024-11", "--kind", "exposure", "--actor",
                             "sup_yingji")
        assert code == 1 and "市安委办" in err
        code, out, err = run("escalation", "notice", "--month", "2024-11", "--kind", "exposure", "--actor", "office1",
                             "--json")
        assert code == 0, err
        import json

        issued = json.loads(out)
        assert issued["number"] == "肥安办告〔2024〕1号" and issued["created"]
        code, out, err = run("escalation", "notice", "--month", "2024-11", "--kind", "exposure", "--actor", "office1",
                             "--json")
        assert json.loads(out)["created"] is False  # once per month and kind
    with org.session() as s:
        doc = s.exec(select(Document).where(Document.number == "肥安办告〔2024〕1号")).one()
        hazard = ledger.get_hazard(s, hid)
        assert hazard.code in doc.text and "肥城市恒达化工有限公司" in doc.text and "特此通告。" in doc.text
        rows = s.exec(select(Notification).where(Notification.document_id == doc.id,
                                                 Notification.event == "notice")).all()
        assert {"石横镇", "市应急管理局"} <= {r.recipient_name for r in rows}
        assert _audits(s, "notice_issued")[0].after["hazards"] == [hazard.code]
    web = Web(org)
    page = web.client().get(f"/notices/{issued['public_path'].rsplit('/', 1)[1]}")
    assert page.status_code == 200 and hazard.code in page.text
    for personal in ("赵建国", "钱德明", "孙立新", "杨志远", "138"):  # principal, controller, safety manager, officer, phones
        assert personal not in page.text
    listing = web.client().get("/notices")
    assert listing.status_code == 200 and "肥安办告〔2024〕1号" in listing.text
