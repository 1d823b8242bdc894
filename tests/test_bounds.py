"""Hostile input changes nothing (issue 13): deadlines, funds, invisible text, NUL, old dates,
and every 500 is a Chinese error.  Each case was a 500, a traceback or a stored value before."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from hazardloop.cli import app as cli_app
from hazardloop.config import bounds, clock
from hazardloop.errors import ValidationError
from hazardloop.intake import reports
from hazardloop.models.tables import AuditEvent, Hazard, RectificationPlan
from hazardloop.states import ledger
from hazardloop.states.errors import MissingData
from tests.fixtures_intake import submitted  # noqa: F401
from tests.fixtures_web import csrf_of, web  # noqa: F401
from tests.helpers import ENT_HD, listed, rectifying, reviewed

FAR = "9999-12-31"
NEVER = "2200-01-01"
ZW = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width only
RTL = "\u202e\u202d\u2066"  # direction controls only


def _plan(deadline: str, funds: str = "5万元", **kw) -> dict:  # noqa: ANN003
    return {"responsible_person": "孙立新", "measures": "更换报警装置", "funds": funds, "deadline": deadline,
            "emergency_plan": "已制定"} | kw


def _events(org) -> int:  # noqa: ANN001
    with org.session() as s:
        return len(s.exec(select(AuditEvent)).all())


@pytest.mark.parametrize("deadline", [FAR, NEVER])
def test_api_plan_deadline_too_far_is_a_chinese_422(org, web, deadline):
    with org.session() as s:
        hid = listed(s)
    before = _events(org)
    r = web.api("hd_safety").post(f"/api/v1/hazards/{hid}/plan", json=_plan(deadline))
    assert r.status_code == 422 and "太远" in r.json()["detail"], r.text
    assert _events(org) == before
    ok = (clock.today() + timedelta(days=700)).isoformat()
    assert web.api("hd_safety").post(f"/api/v1/hazards/{hid}/plan", json=_plan(ok)).status_code == 200


@pytest.mark.parametrize("funds", ["-100", "NaN", "abc", "1e309", "0", "0元", "负 5 万元", "－3万", "inf"])
def test_funds_must_be_a_positive_amount(funds):
    with pytest.raises(ValidationError, match="资金"):
        bounds.funds_amount(funds, "资金")


def test_funds_refused_through_the_api_nothing_written(org, web):
    with org.session() as s:
        hid = listed(s)
    ok = (clock.today() + timedelta(days=30)).isoformat()
    for funds in ("-100", ZW):
        r = web.api("hd_safety").post(f"/api/v1/hazards/{hid}/plan", json=_plan(ok, funds=funds))
        assert r.status_code == 422 and "资金" in r.json()["detail"], r.text
    with org.session() as s:
        assert s.exec(select(RectificationPlan)).all() == []


@pytest.mark.parametrize("text", ["5万元", "50,000 元", "企业自筹 3.5 万元", "80000"])
def test_ordinary_funds_pass(text):
    assert bounds.funds_amount(text) > 0


def test_page_plan_far_deadline_and_nul_are_4xx_pages(org, web):
    with org.session() as s:
        hid = listed(s)
    client = web.login("hd_safety")
    csrf = csrf_of(client.get(f"/hazards/{hid}").text)
    r = client.post(f"/hazards/{hid}/plan", data=_plan(FAR) | {"csrf_token": csrf})
    assert r.status_code == 422 and "太远" in r.text
    r = client.post(f"/hazards/{hid}/plan", data=_plan("2027-01-01", measures="更换\x00装置") | {"csrf_token": csrf})
    assert r.status_code == 422 and "NUL" in r.text
    with org.session() as s:
        assert s.get(Hazard, hid).state == "listed"


def test_reject_with_far_deadline_refused(org, web, tmp_path):
    with org.session() as s:
        hid = reviewed(s, tmp_path)
    r = web.api("sup_yingji").post(f"/api/v1/hazards/{hid}/reject", json={"reason": "不合格", "deadline": FAR})
    assert r.status_code == 422 and "太远" in r.json()["detail"], r.text
    r = web.api("sup_yingji").post(f"/api/v1/hazards/{hid}/reject", json={"reason": ZW, "deadline": "2027-01-01"})
    assert r.status_code == 422 and "不可见" in r.json()["detail"], r.text


def test_extension_far_or_earlier_than_the_deadline_refused(org, web):
    with org.session() as s:
        hid = rectifying(s, days=60)
        current = clock.local_date(s.get(Hazard, hid).deadline)
    api = web.api("hd_safety")
    for deadline, word in ((FAR, "太远"), ((current - timedelta(days=10)).isoformat(), "必须晚于")):
        r = api.post(f"/api/v1/hazards/{hid}/extensions", json={"reason": "设备到货延迟", "deadline": deadline})
        assert r.status_code == 422 and word in r.json()["detail"], r.text
    with org.session() as s:
        assert s.get(Hazard, hid).deadline is not None


def test_cli_far_deadline_exit_1_without_traceback(org):
    with org.session() as s:
        hid = listed(s)
    result = CliRunner().invoke(cli_app, ["--db", org.url, "hazard", "plan", str(hid), "--actor", "hd_safety",
                                          "--responsible", "孙立新", "--measures", "更换", "--funds", "5万元",
                                          "--deadline", FAR, "--emergency-plan", "已制定"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("title", [ZW, RTL, "  \u200b "])
def test_invisible_title_refused(org, web, title):
    r = web.api("inspector1").post("/api/v1/hazards", json={"enterprise": ENT_HD, "title": title, "channel": "inspection"})
    assert r.status_code == 422, r.text
    with org.session() as s:
        assert s.exec(select(Hazard)).all() == []


def test_imported_found_date_of_1900_refused(org):
    with org.session() as s:
        with pytest.raises(ValidationError, match="1900-01-01"):
            ledger.report(s, ledger.get_user(s, "office1"), enterprise=ENT_HD, title="旧隐患", channel="inspection",
                          found_at=date(1900, 1, 1), imported={"row": 1})


def test_report_extend_huge_days_is_4xx(org, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())
    with org.session() as s:
        rid = submitted(s)
        reports.accept(s, ledger.get_user(s, "office1"), rid)
        s.commit()
        with pytest.raises(MissingData, match="延长天数"):
            reports.extend_verification(s, ledger.get_user(s, "office1"), rid, days=11_455_704, reason="太忙")


def test_an_unexpected_error_is_a_chinese_500(org, web):
    @web.app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    @web.app.get("/boom")
    def boom_page() -> None:
        raise RuntimeError("boom")

    client = TestClient(web.app, raise_server_exceptions=False)
    r = client.get("/api/v1/boom")
    assert r.status_code == 500 and r.json()["error"] == "internal" and "服务器内部错误" in r.json()["detail"]
    r = client.get("/boom")
    assert r.status_code == 500 and "服务器内部错误" in r.text and "Internal Server Error" not in r.text
