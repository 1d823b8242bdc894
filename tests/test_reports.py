"""Public reports (举报): lifecycle, guards, deadlines, link to hazards, rewards, reminders."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.config.intake_rules import add_days, compute_reward
from hazardloop.intake import merge as merging
from hazardloop.intake import reports
from hazardloop.models import audit
from hazardloop.errors import ValidationError
from hazardloop.models.intake import HazardSource, PublicReport
from hazardloop.models.tables import AuditEvent, Hazard, Notification
from hazardloop.states import ledger
from hazardloop.states.errors import InvalidTransition, MissingData, PermissionDenied
from tests.fixtures_intake import _fresh_rules, accepted, fed_back, submitted, verified  # noqa: F401
from tests.helpers import listed


def test_full_lifecycle_creates_hazard_and_pays_reward(org):
    with clock.frozen(date(2026, 9, 28)), org.session() as s:
        rid = fed_back(s)
        r = s.get(PublicReport, rid)
        assert r.state == "feedback_given" and r.verdict == "true" and not r.anonymous
        h = s.get(Hazard, r.hazard_id)
        assert h.channel == "public_report" and h.state == "found" and h.enterprise_id is not None
        src = s.exec(select(HazardSource).where(HazardSource.hazard_id == h.id)).one()
        assert (src.channel, src.kind, src.ref) == ("public_report", "report", r.code)
        reports.decide_reward(s, org.user(s, "office1"), rid, fine="300000")
        s.commit()
        assert r.state == "reward_decided" and r.reward_amount == 150000
        assert r.reward["source"] == "鲁应急发〔2021〕3号" and "50%" in r.reward["basis"]
        with pytest.raises(PermissionDenied, match="另一名"):
            reports.pay(s, org.user(s, "office1"), rid, payment_ref="ZF-001")
        s.rollback()
        reports.pay(s, org.user(s, "office2"), rid, payment_ref="ZF-001")
        s.commit()
        assert s.get(PublicReport, rid).state == "paid"
        actions = [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]
        for a in ("report_submit", "report_accept", "report_start_verification", "report_verify", "report",
                  "report_link", "report_give_feedback", "report_decide_reward", "report_pay"):
            assert a in actions
        assert audit.verify(s).ok


def test_guards_refuse_with_reasons_and_change_nothing(org):
    with org.session() as s:
        rid = submitted(s)
        with pytest.raises(PermissionDenied, match="市安委办"):
            reports.accept(s, org.user(s, "sup_yingji"), rid)
        s.rollback()
        with pytest.raises(MissingData, match="理由"):
            reports.decline(s, org.user(s, "office1"), rid, reason=" ")
        s.rollback()
        assert s.get(PublicReport, rid).state == "received"
        with pytest.raises(InvalidTransition, match="已收到"):
            reports.verify(s, org.user(s, "office1"), rid, verdict="true", note="x")
        s.rollback()
        reports.accept(s, org.user(s, "office1"), rid)
        s.commit()
        with pytest.raises(PermissionDenied, match="承办部门"):
            reports.start_verification(s, org.user(s, "sup_zhujian"), rid)
        s.rollback()
        reports.start_verification(s, org.user(s, "sup_yingji"), rid)
        with pytest.raises(MissingData, match="核查结论必须是"):
            reports.verify(s, org.user(s, "sup_yingji"), rid, verdict="maybe", note="x")


def test_decline_is_terminal(org):
    with org.session() as s:
        rid = submitted(s, name=None, contact=None)
        reports.decline(s, org.user(s, "office1"), rid, reason="不属于安全生产领域")
        s.commit()
        r = s.get(PublicReport, rid)
        assert r.state == "not_accepted" and r.anonymous and r.decline_reason == "不属于安全生产领域"
        with pytest.raises(InvalidTransition, match="已办结"):
            reports.accept(s, org.user(s, "office1"), rid)


def test_deadlines_from_config_and_one_extension(org):
    with clock.frozen(date(2026, 9, 28)), org.session() as s:
        rid = accepted(s)
        r = s.get(PublicReport, rid)
        assert clock.local_date(r.verify_deadline) == date(2026, 9, 28) + timedelta(days=60)
        office = org.user(s, "office1")
        with pytest.raises(MissingData, match="1–30"):
            reports.extend_verification(s, office, rid, days=31, reason="情况复杂")
        s.rollback()
        with pytest.raises(PermissionDenied):
            reports.extend_verification(s, org.user(s, "sup_yingji"), rid, days=10, reason="情况复杂")
        s.rollback()
        reports.extend_verification(s, office, rid, days=30, reason="涉及多个部门，情况复杂")
        s.commit()
        assert clock.local_date(r.verify_deadline) == date(2026, 9, 28) + timedelta(days=90) and r.cycle == 2
        with pytest.raises(MissingData, match="已延长过一次"):
            reports.extend_verification(s, office, rid, days=5, reason="再延")
        s.rollback()
        sup = org.user(s, "sup_yingji")
        reports.start_verification(s, sup, rid)
        reports.verify(s, sup, rid, verdict="false", note="现场未发现问题")
        s.commit()
        # 10 working days from 2026-09-28 skip the National Day holiday (Oct 1–7) and weekends.
        assert clock.local_date(r.feedback_deadline) == add_days(date(2026, 9, 28), 10, "working")
        assert clock.local_date(r.feedback_deadline) > date(2026, 10, 12)
        assert r.hazard_id is None  # not true: no hazard


def test_working_days_know_make_up_days():
    # 2026-01-04 is a Sunday worked in lieu of the New Year holiday (调休).
    assert add_days(date(2026, 1, 3), 1, "working") == date(2026, 1, 4)
    assert add_days(date(2026, 1, 5), -1, "working") == date(2026, 1, 4)


def test_report_deadlines_follow_the_offices_calendar_file(tmp_path, monkeypatch):
    """A report's deadline counts the same working days as the hazard ladder: the office's
    workdays.yaml for a year the holidays package does not carry (2027 in holidays 0.109)."""
    from hazardloop.config import calendar
    from tests.test_escalation_signable import GOOD_2027

    path = tmp_path / "workdays.yaml"
    path.write_text(GOOD_2027, encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_WORKDAYS", str(path))
    calendar.reset()
    try:
        # Friday 2027-02-19 + 1 working day: Saturday 2027-02-20 is worked in lieu (调休) in the file.
        assert add_days(date(2027, 2, 19), 1, "working") == date(2027, 2, 20)
        # 2027-02-04 + 1 skips the Spring Festival break (02-05 … 02-12) and the weekend after it.
        assert add_days(date(2027, 2, 4), 1, "working") == calendar.add_workdays(date(2027, 2, 4), 1)
        assert add_days(date(2027, 2, 4), 1, "working") > date(2027, 2, 12)
    finally:
        monkeypatch.delenv("HAZARDLOOP_WORKDAYS")
        calendar.reset()


def test_verified_report_attaches_to_existing_hazard_and_counts_both_channels(org):
    with org.session() as s:
        hid = listed(s)
        rid = verified(s, hazard=hid)
        r = s.get(PublicReport, rid)
        assert r.hazard_id == hid
        assert s.exec(select(Hazard)).all().__len__() == 1  # nothing new
        counts = merging.channel_counts(s)
        assert counts["inspection"] == 1 and counts["public_report"] == 1 and counts["total"] == 1


def test_attach_to_other_enterprise_refused(org):
    with org.session() as s:
        other = ledger.report(s, org.user(s, "office1"), enterprise="91370983MA3C0002B3", title="冲压设备无防护",
                              channel="inspection")
        s.commit()
        with pytest.raises(ValidationError, match="企业不同"):
            verified(s, hazard=other.id)


def test_rewards_national_rule_and_clamps():
    r = compute_reward("national", kind="major", fine=10000)
    assert (r.amount, r.source) == (3000, "安监总财〔2018〕19号")
    assert compute_reward("national", fine=1_000_000).amount == 150000
    assert compute_reward("shandong", fine=2_000_000).amount == 500000
    assert compute_reward(fine=0).amount == 5000
    assert compute_reward(kind="ordinary", amount="2000").amount == 2000
    from hazardloop.config.intake_rules import RuleError

    with pytest.raises(RuleError, match="500–5000"):
        compute_reward(kind="ordinary", amount=6000)
    with pytest.raises(RuleError, match="未规定一般事故隐患"):
        compute_reward("national", kind="ordinary", amount=1000)


def test_only_first_real_name_reporter_is_rewarded(org):
    with org.session() as s:
        first = fed_back(s, name="甲某")
        hid = s.get(PublicReport, first).hazard_id
        anon = fed_back(s, name=None, contact=None, hazard=hid)
        second = fed_back(s, name="乙某", hazard=hid)
        office = org.user(s, "office1")
        reports.decide_reward(s, office, second, fine=50000)
        reports.decide_reward(s, office, anon, fine=50000)
        reports.decide_reward(s, office, first, rule="national", fine=50000)
        s.commit()
        assert s.get(PublicReport, second).reward_amount == 0
        assert s.get(PublicReport, first).code in s.get(PublicReport, second).reward["basis"]
        assert s.get(PublicReport, anon).reward_amount == 0 and "匿名" in s.get(PublicReport, anon).reward["basis"]
        f = s.get(PublicReport, first)
        assert f.reward_amount == 7500 and f.reward["rule"] == "national" and f.reward["source"] == "安监总财〔2018〕19号"
        with pytest.raises(MissingData, match="无需兑付"):
            reports.pay(s, org.user(s, "office2"), second, payment_ref="x")


def test_sweep_reminds_escalates_once_and_catches_up(org):
    with clock.frozen(date(2026, 9, 1)), org.session() as s:
        rid = accepted(s)
        r = s.get(PublicReport, rid)
        due = clock.local_date(r.verify_deadline)
        system = org.user(s, "office1")
    with clock.frozen(add_days(due, -3, "working")), org.session() as s:
        assert reports.sweep(s, system)["queued"] > 0
        s.commit()
        steps = {n.step for n in s.exec(select(Notification)).all()}
        assert steps == {f"R{rid}:verify:reminder"}
        assert reports.sweep(s, system)["queued"] == 0  # idempotent
    # a missed fortnight: overdue and escalated both come due, each once
    with clock.frozen(due + timedelta(days=14)), org.session() as s:
        reports.sweep(s, system)
        s.commit()
        assert reports.sweep(s, system)["queued"] == 0
        notes = s.exec(select(Notification)).all()
        assert {n.step for n in notes} == {f"R{rid}:verify:{x}" for x in ("reminder", "overdue", "escalated")}
        people = {n.recipient_name for n in notes}
        assert "蒋国平" in people and "杨志远" in people  # the handling department and the office
        assert not people & {"赵建国", "钱德明", "孙立新"}  # never the enterprise being reported
        # a verdict ends the verification phase: nothing more for it
        sup = org.user(s, "sup_yingji")
        reports.start_verification(s, sup, rid)
        reports.verify(s, sup, rid, verdict="false", note="查无此事")
        s.commit()
        before = len(notes)
        reports.sweep(s, system)
        s.commit()
        assert all(":feedback:" in n.step for n in s.exec(select(Notification)).all()[before:])


def test_sweep_needs_office_or_system(org):
    with org.session() as s:
        with pytest.raises(PermissionDenied):
            reports.sweep(s, org.user(s, "hd_safety"))


def test_optimistic_lock_on_reports(org):
    from hazardloop.errors import ConflictError

    with org.session() as s:
        rid = submitted(s)
        seen = reports.get_report(s, rid).version  # what the first officer's page showed
        s.commit()
    with org.session() as s2:
        reports.accept(s2, org.user(s2, "office2"), rid)
        s2.commit()
    with org.session() as s1:
        with pytest.raises(ConflictError, match="已被他人办理"):
            reports.decline(s1, org.user(s1, "office1"), rid, reason="重复", expected_version=seen)
