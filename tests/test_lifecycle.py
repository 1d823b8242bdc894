"""The hazard lifecycle through the ledger functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.models import audit
from hazardloop.errors import ConflictError
from hazardloop.models.tables import AuditEvent, Evidence, Hazard
from hazardloop.states import ledger
from hazardloop.states.errors import InvalidTransition, MissingData, PermissionDenied
from tests.helpers import ENT_HD, evidence_file, future, listed, rectifying, reported, reviewed


def test_full_lifecycle_is_audited(org, tmp_path):
    with org.session() as s:
        hid = reviewed(s, tmp_path)
        ledger.approve(s, org.user(s, "sup_yingji"), hid, reason="现场核查已整改到位")
        s.commit()
        h = s.get(Hazard, hid)
        assert h.state == "closed" and h.closed_by == "sup_yingji" and h.submitted_by == "hd_safety"
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid)
                                            .order_by(AuditEvent.seq)).all()]
        assert actions == ["report", "confirm", "start_rectification", "evidence", "submit", "approve"]
        assert audit.verify(s).ok


def test_evidence_is_stored_with_its_sha256(org, tmp_path):
    content = b"rectified tank alarm photo"
    with org.session() as s:
        hid = reviewed(s, tmp_path)
        ev = s.exec(select(Evidence).where(Evidence.hazard_id == hid)).one()
    from pathlib import Path

    assert ev.sha256 != hashlib.sha256(content).hexdigest()  # helper wrote other bytes
    assert Path(ev.stored_path).read_bytes() == evidence_file(tmp_path).read_bytes()
    assert ev.sha256 == hashlib.sha256(Path(ev.stored_path).read_bytes()).hexdigest()
    assert str(tmp_path / "home") in ev.stored_path


def test_invalid_trigger_names_state_and_allowed(org):
    with org.session() as s:
        hid = listed(s)
        with pytest.raises(InvalidTransition) as err:
            ledger.approve(s, org.user(s, "sup_yingji"), hid)
        assert "已挂牌" in str(err.value) and "提交整改方案" in str(err.value)
        assert "start_rectification" not in str(err.value) and "listed" not in str(err.value)


def test_plan_missing_parts_named_and_nothing_written(org):
    with org.session() as s:
        hid = listed(s)
        before = s.exec(select(AuditEvent)).all()
        with pytest.raises(MissingData) as err:
            ledger.plan(s, org.user(s, "hd_safety"), hid, responsible_person="孙立新", measures=" ",
                        funds=None, deadline=future(), emergency_plan="预案")
        s.rollback()
        assert "措施" in str(err.value) and "资金" in str(err.value) and "责任人" not in str(err.value)
        assert s.get(Hazard, hid).state == "listed"
        assert len(s.exec(select(AuditEvent)).all()) == len(before)


def test_plan_deadline_in_past_refused(org):
    with org.session() as s:
        hid = listed(s)
        with pytest.raises(MissingData, match="已经过去"):
            ledger.plan(s, org.user(s, "hd_safety"), hid, responsible_person="a", measures="b", funds="1",
                        deadline=clock.today() - timedelta(days=1), emergency_plan="c")


def test_other_enterprise_cannot_plan(org):
    with org.session() as s:
        hid = listed(s)
        with pytest.raises(PermissionDenied, match="本企业"):
            ledger.plan(s, org.user(s, "xy_safety"), hid, responsible_person="a", measures="b", funds="1",
                        deadline=future(), emergency_plan="c")


def test_role_refusal_names_the_role_needed(org):
    with org.session() as s:
        hid = reported(s)
        with pytest.raises(PermissionDenied, match="行业监管部门或市安委办"):
            ledger.confirm(s, org.user(s, "hd_safety"), hid, basis_code="CHEM121", basis_clause="x", level="city")
        with pytest.raises(PermissionDenied, match="监管部门"):
            ledger.confirm(s, org.user(s, "sup_zhujian"), hid, basis_code="CHEM121", basis_clause="x", level="city")
        ledger.confirm(s, org.user(s, "office1"), hid, basis_code="CHEM121", basis_clause="x", level="province")
        s.commit()


def test_submit_needs_evidence(org):
    with org.session() as s:
        hid = rectifying(s)
        with pytest.raises(MissingData, match="证明材料"):
            ledger.submit(s, org.user(s, "hd_safety"), hid)


def test_submitter_never_approves(org, tmp_path):
    with org.session() as s:
        hid = reviewed(s, tmp_path)
        s.get(Hazard, hid).submitted_by = "sup_yingji"  # a supervisor who submitted (e.g. on the enterprise's behalf)
        s.commit()
        with pytest.raises(PermissionDenied, match="不能审核自己"):
            ledger.approve(s, org.user(s, "sup_yingji"), hid)
        ledger.approve(s, org.user(s, "sup_yingji2"), hid)
        s.commit()


def test_reject_needs_reason_and_deadline_and_starts_new_cycle(org, tmp_path):
    with org.session() as s:
        hid = reviewed(s, tmp_path)
        sup = org.user(s, "sup_yingji")
        with pytest.raises(MissingData, match="驳回理由"):
            ledger.reject(s, sup, hid, reason="", deadline=future(10))
        with pytest.raises(MissingData, match="新的整改时限"):
            ledger.reject(s, sup, hid, reason="报警装置未联锁", deadline=None)
        s.rollback()
        cycle = s.get(Hazard, hid).cycle
        h = ledger.reject(s, sup, hid, reason="报警装置未联锁", deadline=future(10))
        s.commit()
        assert h.state == "rectifying" and h.cycle == cycle + 1 and h.rejections == 1
        assert clock.local_date(h.deadline) == future(10)
        with pytest.raises(MissingData, match="证明材料"):  # the old cycle's evidence does not count
            ledger.submit(s, org.user(s, "hd_safety"), hid)


def test_extension_request_and_decision(org):
    with org.session() as s:
        hid = rectifying(s, days=20)
        ent = org.user(s, "hd_safety")
        ext = ledger.request_extension(s, ent, hid, deadline=future(50), reason="设备到货延迟")
        s.commit()
        with pytest.raises(PermissionDenied):
            ledger.decide_extension(s, ent, ext.id, approve=True)
        ledger.decide_extension(s, org.user(s, "sup_yingji"), ext.id, approve=True, reason="同意")
        s.commit()
        h = s.get(Hazard, hid)
        assert clock.local_date(h.deadline) == future(50) and h.cycle == 2
        ext2 = ledger.request_extension(s, ent, hid, deadline=future(80), reason="再次延期")
        s.commit()
        with pytest.raises(MissingData, match="理由"):
            ledger.decide_extension(s, org.user(s, "sup_yingji"), ext2.id, approve=False)
        s.rollback()
        ledger.decide_extension(s, org.user(s, "sup_yingji"), ext2.id, approve=False, reason="理由不充分")
        s.commit()
        assert s.get(Hazard, hid).cycle == 2


def test_stale_version_is_a_conflict(pg, tmp_path):
    """Two overlapping sessions (PostgreSQL; SQLite serialises writers, see expected_version)."""
    from hazardloop.models.orgs import load_orgs
    from tests.conftest import ORG_FILE

    org = pg
    with org.session() as s:
        load_orgs(s, ORG_FILE)
        s.commit()
    with org.session() as s:
        hid = reviewed(s, tmp_path)
        version = s.get(Hazard, hid).version
    with org.session() as a, org.session() as b:
        ha, hb = a.get(Hazard, hid), b.get(Hazard, hid)
        assert ha.version == hb.version == version
        ledger.approve(a, org.user(a, "sup_yingji"), hid)
        a.commit()
        with pytest.raises(ConflictError):
            ledger.reject(b, org.user(b, "sup_yingji2"), hid, reason="x", deadline=future(5))
            b.commit()


def test_expected_version_mismatch_is_a_conflict(org):
    with org.session() as s:
        hid = reported(s)
        with pytest.raises(ConflictError, match="已被他人修改"):
            ledger.dismiss(s, org.user(s, "sup_yingji"), hid, reason="不构成重大隐患", expected_version=999)


def test_report_channel_must_fit_role(org):
    with org.session() as s:
        with pytest.raises(PermissionDenied):
            ledger.report(s, org.user(s, "hd_safety"), enterprise=ENT_HD, title="x", channel="inspection")
        with pytest.raises(PermissionDenied, match="本企业"):
            ledger.report(s, org.user(s, "xy_safety"), enterprise=ENT_HD, title="x", channel="self_inspection")
        h = ledger.report(s, org.user(s, "hd_safety"), enterprise=ENT_HD, title="自查隐患", channel="self_inspection")
        s.commit()
        assert h.code.startswith("YH-") and h.supervising_department == "yingji"


def test_overdue_is_computed_not_stored(org):
    with org.session() as s:
        hid = rectifying(s, days=3)
        h = s.get(Hazard, hid)
        assert not ledger.is_overdue(h)
        with clock.frozen(clock.today() + timedelta(days=6)):
            assert ledger.is_overdue(h) and ledger.days_overdue(h) == 3
            assert [x.id for x in s.exec(ledger.hazard_query(ledger.HazardFilter(overdue=True))).all()] == [hid]
