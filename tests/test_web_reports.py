"""Public reports (举报) on the console and the API: the whole lifecycle through the pages,
every step through the API, refusals that change nothing, Chinese errors for bad input, the
queue, and the reporter's identity (a planted name searched for in every response)."""

from __future__ import annotations

import logging
import re

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from hazardloop.intake import reports
from hazardloop.models.intake import PublicReport
from hazardloop.models.tables import AuditEvent, Hazard
from tests.fixtures_intake import SECRET_NAME, SECRET_PHONE, _fresh_rules, accepted, submitted, verified  # noqa: F401
from tests.fixtures_web import browser, browser_sign_in, csrf_of, live, screenshot_dir, web, web_sqlite  # noqa: F401
from tests.helpers import ENT_HD

CONTENT = "恒达化工液氨储罐区泄漏报警装置长期损坏未修复"
ALL_USERS = ["hd_safety", "hd_staff", "xy_safety", "inspector1", "citizen1", "town_shiheng", "sup_yingji",
             "sup_yingji2", "sup_zhujian", "office1", "office2"]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())


def _version(web, rid: int) -> int:  # noqa: ANN001
    with web.db.session() as s:
        return s.get(PublicReport, rid).version


def _state(web, rid: int) -> str:  # noqa: ANN001
    with web.db.session() as s:
        return s.get(PublicReport, rid).state


def _audit_count(web) -> int:  # noqa: ANN001
    with web.db.session() as s:
        return len(s.exec(select(AuditEvent)).all())


def _post(client, url: str, **fields):  # noqa: ANN001, ANN003, ANN202
    token = csrf_of(client.get("/queue").text)
    return client.post(url, data={"csrf_token": token, **fields})


def _submit_on_page(web, username: str = "citizen1", **fields) -> tuple[int, str]:  # noqa: ANN001, ANN003
    client = web.login(username)
    form = client.get("/reports/new")
    assert form.status_code == 200 and 'id="form-submit"' in form.text
    data = {"content": CONTENT, "enterprise": ENT_HD, "location": "储罐区", "reporter_name": SECRET_NAME,
            "reporter_contact": SECRET_PHONE, **fields}
    done = client.post("/reports/new", data={"csrf_token": csrf_of(form.text), **data})
    assert done.status_code == 303, done.text[:400]
    code = re.search(r"done=(JB-\d{4}-\d{6})", done.headers["location"]).group(1)
    page = client.get(done.headers["location"])
    assert code in page.text and "已登记" in page.text
    with web.db.session() as s:
        return s.exec(select(PublicReport).where(PublicReport.code == code)).one().id, code


# --- the lifecycle on the pages -------------------------------------------------------------------------


def test_submission_to_payment_on_the_pages(web):
    rid, code = _submit_on_page(web)
    office, sup, office2 = web.login("office1"), web.login("sup_yingji"), web.login("office2")

    queue = office.get("/queue").text
    assert 'id="queue-report-accept"' in queue and code in queue
    page = office.get(f"/reports/{rid}").text
    assert 'id="form-accept"' in page and 'id="form-reject"' in page and 'id="form-verify"' not in page
    assert 'id="form-reveal"' in page and SECRET_NAME not in page
    r = _post(office, f"/reports/{rid}/accept", enterprise=ENT_HD, department="", expected_version=_version(web, rid))
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{rid}?done=accept"
    assert "已受理" in office.get(r.headers["location"]).text
    assert _state(web, rid) == "accepted"

    # The assigned department's supervisor has it in the queue; the accepting office does not (routing).
    assert code in sup.get("/queue").text
    assert 'id="queue-report-verify"' not in office.get("/queue").text
    page = sup.get(f"/reports/{rid}").text
    assert 'id="form-verify"' in page and 'id="form-accept"' not in page and 'id="form-reveal"' not in page
    r = _post(sup, f"/reports/{rid}/verify", verdict="true", note="现场核查属实，报警装置损坏",
              expected_version=_version(web, rid))
    assert r.status_code == 303, r.text[:400]
    page = sup.get(f"/reports/{rid}").text
    assert "属实" in page and 'id="hazard-link"' in page
    with web.db.session() as s:
        report = s.get(PublicReport, rid)
        hazard = s.get(Hazard, report.hazard_id)
        assert report.state == "verified" and hazard.channel == "public_report" and hazard.state == "found"

    assert code in office.get("/queue").text  # feedback is the accepting office's again
    r = _post(office, f"/reports/{rid}/feedback", text="经核查属实，已责令企业整改。", expected_version=_version(web, rid))
    assert r.status_code == 303
    r = _post(office, f"/reports/{rid}/reward", rule="shandong", kind="major", fine="200000",
              expected_version=_version(web, rid))
    assert r.status_code == 303
    page = office.get(f"/reports/{rid}").text
    assert "100000 元" in page and "山东省安全生产领域举报奖励办法" in page and "鲁应急发〔2021〕3号" in page
    # The decider may not pay: no form, and a forged POST is refused by the guard, changing nothing.
    assert 'id="form-pay"' not in page
    before = _audit_count(web)
    r = _post(office, f"/reports/{rid}/pay", payment_ref="ZF-1", expected_version=_version(web, rid))
    assert r.status_code == 403 and "另一名工作人员" in r.text
    assert _state(web, rid) == "reward_decided" and _audit_count(web) == before
    assert code in office2.get("/queue").text
    r = _post(office2, f"/reports/{rid}/pay", payment_ref="ZF-2026-001", expected_version=_version(web, rid))
    assert r.status_code == 303 and _state(web, rid) == "paid"
    page = office2.get(f"/reports/{rid}").text
    assert "ZF-2026-001" in page and 'id="actions"' not in page
    for words in ("登记举报", "受理", "开始核查", "核查结论", "关联隐患", "反馈举报人", "核定奖励", "兑付奖励"):
        assert words in page, words
    assert "举报人（身份保密）" in page  # the submission's actor on the trail
    with web.db.session() as s:
        hid = s.get(PublicReport, rid).hazard_id
    hazard_page = sup.get(f"/hazards/{hid}").text
    assert "举报：关联隐患" in hazard_page and "举报：兑付奖励" in hazard_page  # the report's steps, by name


def test_decline_and_extension_on_the_pages(web):
    with web.db.session() as s:
        first, second = submitted(s), accepted(s, name=None, contact=None)
    office = web.login("office1")
    r = _post(office, f"/reports/{first}/reject", reason="", expected_version=_version(web, first))
    assert r.status_code == 422 and "不予受理缺少不予受理的理由" in r.text and _state(web, first) == "received"
    r = _post(office, f"/reports/{first}/reject", reason="不属于安全生产举报范围", expected_version=_version(web, first))
    assert r.status_code == 303 and _state(web, first) == "not_accepted"
    assert 'id="actions"' not in office.get(f"/reports/{first}").text

    assert 'id="form-extend"' in office.get(f"/reports/{second}").text
    assert 'id="form-extend"' not in web.login("sup_yingji").get(f"/reports/{second}").text  # committee approves
    r = _post(office, f"/reports/{second}/extend", days="abc", reason="情况复杂", expected_version=_version(web, second))
    assert r.status_code == 422 and "延长天数须为" in r.text
    r = _post(office, f"/reports/{second}/extend", days="20", reason="情况复杂", expected_version=_version(web, second))
    assert r.status_code == 303
    assert 'id="form-extend"' not in office.get(f"/reports/{second}").text  # once only (the engine's rule)
    with web.db.session() as s:
        assert s.get(PublicReport, second).verify_extended


# --- refusals and bad input --------------------------------------------------------------------------------


def test_refusals_change_nothing_and_speak_chinese(web):
    with web.db.session() as s:
        rid = submitted(s)
    office, sup, citizen = web.login("office1"), web.login("sup_yingji"), web.login("citizen1")
    before, version = _audit_count(web), _version(web, rid)
    # No CSRF token: refused before anything is read.
    r = office.post(f"/reports/{rid}/accept", data={"enterprise": ENT_HD})
    assert r.status_code == 403 and "CSRF" in r.text
    # A stale version: conflict with the current state, input kept.
    r = _post(office, f"/reports/{rid}/reject", reason="重复举报", expected_version=str(version + 5))
    assert r.status_code == 409 and "已被他人办理" in r.text and "重复举报" in r.text
    # The report is invisible to supervisors until it is assigned; the public never sees reports.
    assert sup.get(f"/reports/{rid}").status_code == 404
    assert _post(sup, f"/reports/{rid}/accept", enterprise=ENT_HD).status_code == 404
    assert citizen.get(f"/reports/{rid}").status_code == 404
    assert citizen.get("/reports").status_code == 200 and "JB-" not in citizen.get("/reports").text
    # Bad input: Chinese messages, never a 500.
    for url, fields, status, words in [
        (f"/reports/{rid}/accept", {"enterprise": "不存在的企业"}, 404, "没有企业"),
        (f"/reports/{rid}/accept", {"enterprise": ENT_HD, "department": "nope"}, 422, "没有部门"),
        (f"/reports/{rid}/accept", {"enterprise": "²"}, 422, "不是有效的企业编号"),
        (f"/reports/{rid}/accept", {"enterprise": ENT_HD, "expected_version": "x"}, 422, "版本号"),
        (f"/reports/{rid}/verify", {"verdict": "true", "note": "x"}, 409, "不能执行“核查结论”"),
        (f"/reports/{rid}/reject", {"reason": "x" * 3000}, 422, "太长"),
        (f"/reports/{rid}/reject", {"reason": "a\x00b"}, 422, "NUL"),
        (f"/reports/{rid}/nope", {}, 404, "没有这个操作"),
        ("/reports/²/accept", {}, 404, "没有编号"),
        ("/reports/99999999999999/accept", {}, 404, "没有编号"),
    ]:
        r = _post(office, url, **fields)
        assert r.status_code == status and words in r.text, (url, fields, r.status_code, r.text[:300])
    for bad in ("²", "99999999999999", "JB-1%00", "x" * 60):
        assert office.get(f"/reports/{bad}").status_code == 404
    r = _post(citizen, "/reports/new", content="  ")
    assert r.status_code == 422 and "举报内容不能为空" in r.text
    r = _post(citizen, "/reports/new", content="x", via="carrier-pigeon")
    assert r.status_code == 422 and "举报途径" in r.text
    r = _post(web.login("hd_safety"), "/reports/new", content="x")
    assert r.status_code == 403 and "登记举报需要" in r.text
    assert web.login("hd_safety").get("/reports/new").status_code == 403
    assert _version(web, rid) == version and _state(web, rid) == "received" and _audit_count(web) == before


# --- the API -------------------------------------------------------------------------------------------------


def test_api_mirrors_the_cli(web):
    citizen, office, office2, sup = (web.api(u) for u in ("citizen1", "office1", "office2", "sup_yingji"))
    r = citizen.post("/api/v1/reports", json={"content": CONTENT, "enterprise": ENT_HD, "reporter_name": SECRET_NAME,
                                              "reporter_contact": SECRET_PHONE})
    assert r.status_code == 201, r.text
    body = r.json()
    code, rid = body["code"], body["id"]
    assert body["reporter"] == "实名（身份保密）" and SECRET_NAME not in r.text
    assert citizen.get(f"/api/v1/reports/{code}").status_code == 404
    assert citizen.get("/api/v1/reports").json() == []
    show = office.get(f"/api/v1/reports/{code}").json()
    assert show["allowed_actions"] == ["accept", "reject"] and show["may_reveal"] is True
    assert [x["code"] for x in office.get("/api/v1/reports?state=received").json()] == [code]
    assert office.get("/api/v1/reports?state=paid").json() == []
    queue = {sec["key"]: sec for sec in office.get("/api/v1/queue").json()}
    assert queue["report-accept"]["reports"] == [code]

    # Refusals: the guard's message, the hazard API's error shape, nothing changed.
    before = _audit_count(web)
    r = sup.post(f"/api/v1/reports/{code}/accept", json={})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = office.post(f"/api/v1/reports/{code}/reject", json={"reason": " "})
    assert r.status_code == 422 and r.json() == {"detail": "不予受理缺少不予受理的理由。", "error": "invalid"}
    r = office.post(f"/api/v1/reports/{code}/verify", json={"verdict": "maybe"})
    assert r.status_code == 422 and r.json()["detail"] == "请求参数不正确。"
    r = office.post(f"/api/v1/reports/{code}/accept", json={"expected_version": body["version"] + 1})
    assert r.status_code == 409 and r.json()["state"] == "received" and r.json()["version"] == body["version"]
    r = office.post(f"/api/v1/reports/{code}/start", json={})
    assert r.status_code == 409 and "不能执行“开始核查”" in r.json()["detail"]
    r = sup.post(f"/api/v1/reports/{code}/identity")
    assert r.status_code == 404
    assert _audit_count(web) == before and _state(web, rid) == "received"

    r = office.post(f"/api/v1/reports/{code}/accept", json={"enterprise": ENT_HD, "expected_version": body["version"]})
    assert r.status_code == 200 and r.json()["state"] == "accepted" and r.json()["department_code"] == "yingji"
    r = sup.post(f"/api/v1/reports/{code}/identity")
    assert r.status_code == 403 and "查看举报人身份需要市安委办" in r.json()["detail"]
    assert sup.get(f"/api/v1/reports/{code}").json()["allowed_actions"] == ["start", "verify"]
    assert sup.post(f"/api/v1/reports/{code}/start", json={}).json()["state"] == "verifying"
    r = sup.post(f"/api/v1/reports/{code}/verify", json={"verdict": "partly", "note": "部分属实", "title": "液氨报警损坏"})
    out = r.json()
    assert r.status_code == 200 and out["state"] == "verified" and out["hazard_created"] and out["hazard"].startswith("YH-")
    assert office.post(f"/api/v1/reports/{code}/feedback", json={"text": "已查实"}).json()["state"] == "feedback_given"
    r = office.post(f"/api/v1/reports/{code}/reward", json={"rule": "nope"})
    assert r.status_code == 422 and "没有奖励规则 nope" in r.json()["detail"]
    r = office.post(f"/api/v1/reports/{code}/reward", json={"rule": "national", "fine": "100000"})
    assert r.status_code == 200 and r.json()["reward"]["source"] == "安监总财〔2018〕19号"
    assert r.json()["reward_amount"] == 15000
    assert office.post(f"/api/v1/reports/{code}/pay", json={"payment_ref": "ZF-1"}).status_code == 403
    assert office2.post(f"/api/v1/reports/{code}/pay", json={}).status_code == 422
    assert office2.post(f"/api/v1/reports/{code}/pay", json={"payment_ref": "ZF-1"}).json()["state"] == "paid"
    identity = office.post(f"/api/v1/reports/{code}/identity").json()
    assert identity == {"report": code, "name": SECRET_NAME, "contact": SECRET_PHONE}
    with web.db.session() as s:
        reads = s.exec(select(AuditEvent).where(AuditEvent.action == "report_identity_read")).all()
        assert [(e.actor, e.after["report"]) for e in reads] == [("office1", code)]


def test_extension_and_attach_to_existing_hazard_via_api(web):
    with web.db.session() as s:
        rid = accepted(s)
        code = s.get(PublicReport, rid).code
        other = verified(s)  # created a hazard for the same enterprise
        hazard = s.get(Hazard, s.get(PublicReport, other).hazard_id)
    office, sup = web.api("office1"), web.api("sup_yingji")
    assert sup.post(f"/api/v1/reports/{code}/extend", json={"days": 10, "reason": "复杂"}).status_code == 403
    r = office.post(f"/api/v1/reports/{code}/extend", json={"days": 99, "reason": "复杂"})
    assert r.status_code == 422 and "1–30" in r.json()["detail"]
    assert office.post(f"/api/v1/reports/{code}/extend", json={"days": 10, "reason": "复杂"}).json()["verify_extended"]
    r = office.post(f"/api/v1/reports/{code}/extend", json={"days": 10, "reason": "再延"})
    assert r.status_code == 422 and "已延长过一次" in r.json()["detail"]
    # Verify from accepted (as the CLI), attaching to the hazard the earlier report created.
    r = sup.post(f"/api/v1/reports/{code}/verify", json={"verdict": "true", "note": "同一问题", "hazard": hazard.code})
    assert r.status_code == 200 and r.json()["hazard"] == hazard.code and not r.json()["hazard_created"]
    # A hazard the verifier cannot see is not found (no existence leak through the form).
    with web.db.session() as s:
        rid3 = accepted(s)
    r = web.api("sup_zhujian").post(f"/api/v1/reports/{rid3}/verify", json={"verdict": "true", "note": "x",
                                                                             "hazard": hazard.code})
    assert r.status_code == 404


# --- confidentiality: a planted name searched for everywhere ---------------------------------------------------


def test_planted_reporter_identity_only_for_the_accepting_role(web, caplog):
    caplog.set_level(logging.DEBUG)
    rid, code = _submit_on_page(web)
    office = web.login("office1")
    assert _post(office, f"/reports/{rid}/accept", enterprise=ENT_HD).status_code == 303
    sup = web.login("sup_yingji")
    assert _post(sup, f"/reports/{rid}/verify", verdict="true", note="属实").status_code == 303
    with web.db.session() as s:
        hid = s.get(PublicReport, rid).hazard_id

    pages = ["/queue", "/reports", "/reports?state=verified", f"/reports/{rid}", f"/reports/{code}", "/reports/new",
             "/hazards", f"/hazards/{hid}"]
    apis = ["/api/v1/queue", "/api/v1/reports", f"/api/v1/reports/{code}", "/api/v1/hazards", f"/api/v1/hazards/{hid}",
            f"/api/v1/hazards/{hid}/audit", "/api/v1/openapi.json"]
    seen: list[str] = []
    for username in ALL_USERS:  # including the accepting office, before it asks to see the identity
        client, api = web.login(username), web.api(username)
        for url in pages:
            seen.append(client.get(url).text)
        for url in apis:
            seen.append(api.get(url).text)
        if username not in ("office1", "office2"):  # everyone else is refused, on the page and the API
            for response in (_post(client, f"/reports/{rid}/reveal"), api.post(f"/api/v1/reports/{code}/identity")):
                assert response.status_code in (403, 404), username
                seen.append(response.text)
    everything = "\n".join(seen) + caplog.text
    assert code in everything and "实名（身份保密）" in everything  # the report itself is there
    assert SECRET_NAME not in everything and SECRET_PHONE not in everything
    with web.db.session() as s:
        assert not s.exec(select(AuditEvent).where(AuditEvent.action == "report_identity_read")).all()

    # The accepting office asks for it: shown once, and the read is on the trail (who, not what).
    page = _post(office, f"/reports/{rid}/reveal")
    assert page.status_code == 200 and SECRET_NAME in page.text and SECRET_PHONE in page.text
    assert page.headers["cache-control"] == "no-store"
    assert SECRET_NAME not in office.get(f"/reports/{rid}").text  # a plain view does not show it again
    with web.db.session() as s:
        reads = s.exec(select(AuditEvent).where(AuditEvent.action == "report_identity_read")).all()
        assert [e.actor for e in reads] == ["office1"] and SECRET_NAME not in repr(reads[0].after)
    trail = office.get(f"/reports/{rid}").text
    assert "查看举报人身份" in trail and "杨志远（office1）" in trail
    assert SECRET_NAME not in caplog.text


# --- the queue provider directly -------------------------------------------------------------------------------


def test_queue_sections_follow_the_guards(web):
    from hazardloop.web import reports as web_reports

    with web.db.session() as s:
        received = submitted(s)
        assigned = accepted(s)
        done = verified(s)
        names = {u: {sec.key: [i["report"].id for i in sec.items] for sec in
                     web_reports.queue_sections(s, web.db.user(s, u))} for u in ALL_USERS}
    assert names["office1"] == {"report-accept": [received], "report-feedback": [done]}
    assert names["sup_yingji"] == {"report-verify": [assigned]} == names["sup_yingji2"]
    for u in ("sup_zhujian", "citizen1", "hd_safety", "inspector1", "town_shiheng"):
        assert names[u] == {}, u
    assert reports.list_reports  # the engine's list is what the page and the API use


def test_report_api_never_answers_500(web):
    """Schemathesis on the report operations, as the accepting office (every step open to it)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    with web.db.session() as s:
        submitted(s)
        accepted(s)
        verified(s)
    headers = {"Authorization": f"Bearer {web.token('office1')}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", web.app)
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().path.startswith("/api/v1/reports")]
    assert len(operations) == 12
    seen: dict[str, set[int]] = {}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):  # noqa: ANN001
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            seen.setdefault(label, set()).add(response.status_code)

        run()
    assert len(seen) == len(operations)
    assert all(code < 500 for codes in seen.values() for code in codes), seen


# --- in a real browser ---------------------------------------------------------------------------------------


def test_report_from_submission_to_verification_in_a_real_browser(browser, live):
    base, db = live
    out = screenshot_dir("web-reports-e2e")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    citizen, office, sup = phone.new_page(), desk.new_page(), browser.new_context(locale="zh-CN").new_page()
    errors: list[str] = []
    for p in (citizen, office, sup):
        p.on("pageerror", lambda e: errors.append(str(e)))

    # A citizen reports on a phone, with a real name.
    browser_sign_in(citizen, base, "citizen1")
    assert citizen.locator("#nav-reports").count() == 0  # the public never lists reports
    citizen.click("#nav-report-new")
    citizen.fill("#form-submit textarea[name=content]", CONTENT)
    citizen.fill("#form-submit input[name=enterprise]", "肥城市恒达化工有限公司")
    citizen.fill("#form-submit input[name=location]", "液氨储罐区")
    citizen.fill("#form-submit input[name=reporter_name]", SECRET_NAME)
    citizen.fill("#form-submit input[name=reporter_contact]", SECRET_PHONE)
    citizen.click("#form-submit button")
    code = citizen.inner_text("#report-code")
    assert re.fullmatch(r"JB-\d{4}-\d{6}", code) and "已登记" in citizen.inner_text("#notice")
    citizen.screenshot(path=out / "01-citizen-submitted-phone.png", full_page=True)

    # The accepting office finds it in its queue, reads the identity (audited) and accepts it.
    browser_sign_in(office, base, "office1")
    assert code in office.inner_text("#queue-report-accept")
    assert SECRET_NAME not in office.content()
    office.click(f"#queue-report-accept a:has-text('{code}')")
    assert office.inner_text("#report-state") == "已收到" and SECRET_NAME not in office.content()
    office.click("#form-reveal button")
    assert office.inner_text("#identity-name") == SECRET_NAME and office.inner_text("#identity-contact") == SECRET_PHONE
    office.screenshot(path=out / "02-office-identity.png", full_page=True)
    office.click("#form-accept button")
    assert "已受理" in office.inner_text("#notice") and office.inner_text("#report-state") == "已受理"
    assert "#identity" not in office.content() and SECRET_NAME not in office.content()
    assert "查看举报人身份" in office.inner_text("#audit")

    # The department's supervisor verifies it: true, a hazard is created (channel 群众举报查实).
    browser_sign_in(sup, base, "sup_yingji")
    assert code in sup.inner_text("#queue-report-verify")
    sup.click(f"#queue-report-verify a:has-text('{code}')")
    assert sup.locator("#form-reveal").count() == 0 and SECRET_NAME not in sup.content()
    sup.check("#form-verify input[name=verdict][value=true]")
    sup.fill("#form-verify textarea[name=note]", "现场核查：报警装置损坏属实，已责令停用储罐并整改")
    sup.click("#form-verify button")
    assert "核查结论已记录" in sup.inner_text("#notice")
    assert sup.inner_text("#report-state") == "已核查" and sup.inner_text("#verdict") == "属实"
    hazard_code = sup.inner_text("#hazard-link")
    sup.screenshot(path=out / "03-supervisor-verified.png", full_page=True)
    sup.click("#hazard-link")
    assert sup.inner_text("#hazard-code") == hazard_code and sup.inner_text("#hazard-state") == "已发现"
    assert SECRET_NAME not in sup.content()
    assert not errors, errors
    with db.session() as s:
        report = s.exec(select(PublicReport).where(PublicReport.code == code)).one()
        assert report.state == "verified" and s.get(Hazard, report.hazard_id).code == hazard_code
        actions = [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
                   if e.action.startswith("report")]
    assert actions == ["report_submit", "report_identity_read", "report_accept", "report_start_verification",
                       "report_verify", "report", "report_link"]
