"""The committee office approves or declines a 曝光 proposal on the hazard page and through
the API: the engine's approve_step / decline_step decide (their guard), refusals change nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import func, select

from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import AuditEvent, Notification
from hazardloop.models.web import WebCredential
from tests.fixtures_escalation import ENT_XY, rectifying_with_deadline, sweep_on
from tests.fixtures_web import PASSWORD, csrf_of, web  # noqa: F401


def _proposed(org, *, enterprise: str | None = None) -> tuple[int, int]:  # noqa: ANN001
    """A hazard far past its deadline: the ladder has run up to the 曝光 proposal."""
    kw = {"enterprise": enterprise, "title": "机加工车间粉尘除尘系统未设置泄爆装置"} if enterprise else {}
    with org.session() as s:
        hid = rectifying_with_deadline(s, date(2024, 8, 1), date(2024, 8, 30), **kw)
    sweep_on(org, date(2024, 11, 29))
    with org.session(write=False) as s:
        steps = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hid,
                                                    EscalationStep.status == "proposed")).all()
    assert [st.step for st in steps] == ["exposure"]
    return hid, steps[0].id


def _snapshot(org, step_id: int) -> tuple:  # noqa: ANN001
    with org.session(write=False) as s:
        step = s.get(EscalationStep, step_id)
        return (step.status, step.decided_by, step.decision_reason,
                s.exec(select(func.count()).select_from(AuditEvent)).one(),
                s.exec(select(func.count()).select_from(Document)).one(),
                s.exec(select(func.count()).select_from(Notification)).one())


def _page(client, hid: int) -> str:  # noqa: ANN001
    response = client.get(f"/hazards/{hid}")
    assert response.status_code == 200
    return response.text


def test_committee_approves_on_the_page(org, web):  # noqa: F811
    hid, sid = _proposed(org)
    office = web.login("office1")
    html = _page(office, hid)
    assert f'id="form-exposure-approve-{sid}"' in html and f'id="form-exposure-decline-{sid}"' in html
    assert "待市安委办批准" in html

    # A wrong password is refused like at close-out, and nothing is decided.
    before = _snapshot(org, sid)
    wrong = office.post(f"/escalation/steps/{sid}/approve", data={"csrf_token": csrf_of(html), "password": "nope-nope"})
    assert wrong.status_code == 403 and "批准曝光需要再次输入本人密码" in wrong.text
    after = _snapshot(org, sid)
    assert after[:3] == before[:3] and after[4:] == before[4:]  # only the failed sign-in's count may move
    with org.session(write=False) as s:  # and it counts toward lock-out, as at close-out
        assert s.get(WebCredential, org.user(s, "office1").id).failed_attempts == 1

    response = office.post(f"/escalation/steps/{sid}/approve", data={"csrf_token": csrf_of(html), "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/hazards/{hid}?done=exposure_approve")
    with org.session(write=False) as s:
        step = s.get(EscalationStep, sid)
        assert (step.status, step.decided_by) == ("approved", "office1")
        doc = s.exec(select(Document).where(Document.step_id == sid)).one()
        assert "曝〔" in doc.number and doc.hazard_id == hid
        event = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid,
                                                AuditEvent.action == "escalation_approved")).one()
        assert event.actor == "office1" and event.after["number"] == doc.number
        assert event.after["reauthenticated"] is True  # the password was given again, as for close-out
        sent = s.exec(select(Notification).where(Notification.hazard_id == hid, Notification.step == "exposure",
                                                 Notification.document_id == doc.id)).all()
        assert sent and all(n.subject == f"曝光：{doc.number}" for n in sent)
    html = office.get(response.headers["location"]).text
    assert doc.number in html and "已批准曝光，公文已出具" in html
    assert f'id="form-exposure-approve-{sid}"' not in html  # decided: no more forms
    assert "批准曝光" in html  # the audit trail names the event


def test_decline_needs_a_reason_and_then_is_recorded(org, web):  # noqa: F811
    hid, sid = _proposed(org)
    office = web.login("office1")
    csrf = csrf_of(_page(office, hid))
    before = _snapshot(org, sid)
    response = office.post(f"/escalation/steps/{sid}/decline", data={"csrf_token": csrf, "reason": "  "})
    assert response.status_code == 422 and "不予批准曝光须填写理由" in response.text
    assert _snapshot(org, sid) == before

    response = office.post(f"/escalation/steps/{sid}/decline", data={"csrf_token": csrf, "reason": "企业已完成主体整改，待验收"})
    assert response.status_code == 303
    with org.session(write=False) as s:
        step = s.get(EscalationStep, sid)
        assert (step.status, step.decided_by, step.decision_reason) == ("declined", "office1", "企业已完成主体整改，待验收")
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "escalation_declined")).one()
        assert event.reason == "企业已完成主体整改，待验收" and event.hazard_id == hid
        assert s.exec(select(Document).where(Document.step_id == sid)).first() is None
    html = _page(office, hid)
    assert "未批准" in html and "企业已完成主体整改，待验收" in html


@pytest.mark.parametrize("username", ["sup_yingji", "hd_safety"])
def test_others_see_no_forms_and_a_forged_post_is_refused(org, web, username):  # noqa: F811
    hid, sid = _proposed(org)
    client = web.login(username)
    html = _page(client, hid)  # they see the hazard and its steps ...
    assert "待市安委办批准" in html
    assert "form-exposure-" not in html  # ... but no decision forms
    before = _snapshot(org, sid)
    for action, data in (("approve", {"password": "wrong-password"}), ("decline", {"reason": "不同意"})):
        response = client.post(f"/escalation/steps/{sid}/{action}", data={"csrf_token": csrf_of(html), **data})
        assert response.status_code == 403, response.text[:300]
        assert "市安委办" in response.text
    assert _snapshot(org, sid) == before
    with org.session(write=False) as s:  # the guard refused before the (wrong) password was checked
        assert s.get(WebCredential, org.user(s, username).id).failed_attempts == 0


def test_other_enterprise_gets_not_found(org, web):  # noqa: F811
    _hid, sid = _proposed(org)
    client = web.login("xy_safety")
    csrf = csrf_of(client.get("/queue").text)
    before = _snapshot(org, sid)
    response = client.post(f"/escalation/steps/{sid}/decline", data={"csrf_token": csrf, "reason": "x"})
    assert response.status_code == 404
    assert _snapshot(org, sid) == before


def test_missing_or_wrong_csrf_is_refused(org, web):  # noqa: F811
    hid, sid = _proposed(org)
    office = web.login("office1")
    _page(office, hid)
    before = _snapshot(org, sid)
    for data in ({"password": PASSWORD}, {"password": PASSWORD, "csrf_token": "forged"}):
        response = office.post(f"/escalation/steps/{sid}/approve", data=data)
        assert response.status_code == 403 and "CSRF" in response.text
    assert _snapshot(org, sid) == before
    anonymous = web.client().post(f"/escalation/steps/{sid}/approve", data={"password": PASSWORD})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert _snapshot(org, sid) == before


def test_queue_points_to_the_hazard_page(org, web):  # noqa: F811
    hid, _sid = _proposed(org)
    html = web.login("office1").get("/queue").text
    assert 'id="queue-exposure"' in html and f'href="/hazards/{hid}"' in html
    assert "hazardloop escalation approve" not in html and "打开隐患页面" in html


def test_api_approve_decline_and_refusals(org, web):  # noqa: F811
    hid, sid = _proposed(org)
    hid2, sid2 = _proposed(org, enterprise=ENT_XY)
    office, sup, other = web.api("office1"), web.api("sup_yingji"), web.api("xy_safety")

    before = _snapshot(org, sid)
    refused = sup.post(f"/api/v1/escalation/steps/{sid}/approve", json={})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden" and "市安委办" in refused.json()["detail"]
    assert other.post(f"/api/v1/escalation/steps/{sid}/approve").status_code == 404  # not its hazard: not there
    assert office.post("/api/v1/escalation/steps/999999/approve").json() == {
        "detail": "没有编号为 999999 的督办事项。", "error": "not_found"}
    assert office.post(f"/api/v1/escalation/steps/{sid}/approve", json={"password": "wrong-one"}).status_code == 403
    assert web.client().post(f"/api/v1/escalation/steps/{sid}/approve").status_code == 401
    after = _snapshot(org, sid)
    assert after[:3] == before[:3] and after[4:] == before[4:]

    ok = office.post(f"/api/v1/escalation/steps/{sid}/approve", json={"password": PASSWORD})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (body["status"], body["hazard_id"], body["decided_by"]) == ("approved", hid, "office1")
    assert "曝〔" in body["number"]
    with org.session(write=False) as s:
        assert s.exec(select(Document.number).where(Document.step_id == sid)).one() == body["number"]
        event = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid,
                                                AuditEvent.action == "escalation_approved")).one()
        assert event.after["reauthenticated"] is True

    before = _snapshot(org, sid)
    for action, payload in (("approve", {}), ("decline", {"reason": "重复"})):
        again = office.post(f"/api/v1/escalation/steps/{sid}/{action}", json=payload)
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        assert "不是待审批" in again.json()["detail"]
    assert _snapshot(org, sid) == before

    before = _snapshot(org, sid2)
    missing = office.post(f"/api/v1/escalation/steps/{sid2}/decline", json={})
    assert missing.status_code == 422 and "理由" in missing.json()["detail"]
    assert sup.post(f"/api/v1/escalation/steps/{sid2}/decline", json={"reason": "x"}).status_code in (403, 404)
    assert _snapshot(org, sid2) == before
    declined = office.post(f"/api/v1/escalation/steps/{sid2}/decline", json={"reason": "已约谈，给予整改机会"})
    assert declined.status_code == 200
    assert (declined.json()["status"], declined.json()["decision_reason"], declined.json()["hazard_id"]) == (
        "declined", "已约谈，给予整改机会", hid2)
    assert declined.json()["number"] is None
