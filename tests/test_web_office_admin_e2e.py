"""Issue 17's 管理 and the rest, in a real browser (Debian's chromium via Playwright): the
committee clerk opens a sign-in for a new enterprise user (and is stopped from opening a
市安委办 one without ticking the box), issues and revokes an API token, edits an enterprise's
principal, loads an org file (the report first: nothing written while a record is wrong),
records a principal-led inspection with its record file and downloads it, filters the 台账 by
监管部门.  Then every new page at 390 px (nothing wider than the phone), and the new
enterprise user, on a phone, fetches its own inspection's record and is refused 管理.

Screenshots at desktop and phone width go to $HAZARDLOOP_TEST_OUTPUT (default
test-output/)/office-admin/."""

from __future__ import annotations

from sqlmodel import select

from hazardloop.config import clock
from hazardloop.models.inspections import PrincipalInspection
from hazardloop.models.tables import Enterprise
from hazardloop.models.web import ApiToken
from hazardloop.states import ledger
from tests.fixtures_web import PASSWORD, browser, browser_sign_in, live, screenshot_dir, web_sqlite  # noqa: F401
from tests.helpers import ENT_HD, rectifying

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
ORG_FILE = """enterprises:
  - name: 肥城市泰和建筑工程有限公司
    credit_code: 91370983MA3C0003C7
    region: 高新区
    industry: construction
    principal: {name: 郑光明, phone: "13805380021"}
    controller: 王振华
    safety_manager: 冯晓军
users:
  - {username: th_safety, name: 冯晓军, role: enterprise, enterprise: 91370983MA3C0003C7}
"""


def _watch(page, problems: list[str]) -> None:  # noqa: ANN001
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)


def test_the_clerk_manages_users_enterprises_inspections_and_filters(browser, live, tmp_path):
    base, db = live
    out = screenshot_dir("office-admin")
    with db.session() as s:
        rectifying(s)  # a hazard under 应急局 for the 台账's 监管部门 filter
        ent_id = s.exec(select(Enterprise.id).where(Enterprise.credit_code == ENT_HD)).one()
    problems: list[str] = []
    desk = browser.new_context(**DESK)
    clerk = desk.new_page()
    _watch(clerk, problems)
    browser_sign_in(clerk, base, "office1")

    # 1. A new user: a 市安委办 account is refused until the box is ticked; an enterprise user is made.
    clerk.click("#nav-admin")
    clerk.fill("#add-username", "boss2")
    clerk.fill("#add-name", "新主任")
    clerk.select_option("#add-role", "committee")
    clerk.fill("#add-new-password", "Boss-Pass-123")
    clerk.fill("#add-password", PASSWORD)
    clerk.click("#add-submit")
    assert "须明确确认" in clerk.inner_text("#error")
    assert clerk.input_value("#add-username") == "boss2"  # what was typed is kept
    clerk.fill("#add-username", "hd_phone")
    clerk.fill("#add-name", "手机用户")
    clerk.select_option("#add-role", "enterprise")
    clerk.fill("#add-enterprise", ENT_HD)
    clerk.fill("#add-new-password", "Phone-Pass-123")
    clerk.fill("#add-password", PASSWORD)
    clerk.click("#add-submit")
    assert "已新建用户并开通登录：hd_phone" in clerk.inner_text("#notice")
    clerk.screenshot(path=out / "01-admin-user-added-desktop.png", full_page=True)

    # 2. A token for it, then revoked.
    clerk.click("#user-hd_phone summary")
    clerk.fill("#form-token-hd_phone input[name=name]", "对接测试")
    clerk.fill("#form-token-hd_phone input[name=password]", PASSWORD)
    clerk.click("#form-token-hd_phone button")
    raw = clerk.inner_text("#new-token")
    with db.session() as s:
        token_id = s.exec(select(ApiToken).where(ApiToken.name == "对接测试")).one().id
    assert desk.request.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status == 200
    clerk.click("#user-hd_phone summary")
    clerk.fill(f"#form-revoke-{token_id} input[name=password]", PASSWORD)
    clerk.click(f"#form-revoke-{token_id} button")
    assert f"已作废 hd_phone 的 API 令牌 {token_id}" in clerk.inner_text("#notice")
    assert desk.request.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status == 401

    # 3. An enterprise's principal edited on its page.
    clerk.click("#orgs-link")
    clerk.fill("#org-filter input[name=q]", "恒达")
    clerk.click("#org-filter button")
    clerk.click(f"#ent-{ent_id} a")
    clerk.fill("#person-principal input[name=principal_phone]", "13900001111")
    clerk.fill("#ent-password", PASSWORD)
    clerk.click("#ent-save")
    assert "企业信息已保存" in clerk.inner_text("#notice")
    clerk.screenshot(path=out / "03-enterprise-saved-desktop.png", full_page=True)
    with db.session() as s:
        assert s.get(Enterprise, ent_id).principal_phone == "13900001111"

    # 4. An org file: a wrong one is reported and nothing written, then the right one loaded.
    wrong, right = tmp_path / "错误.yaml", tmp_path / "企业.yaml"
    wrong.write_text(ORG_FILE.replace("高新区", "不存在的镇"), encoding="utf-8")
    right.write_text(ORG_FILE, encoding="utf-8")
    clerk.goto(f"{base}/admin/enterprises")
    clerk.set_input_files("#org-file", str(wrong))
    clerk.fill("#org-password", PASSWORD)
    clerk.click("#org-submit")
    assert "未知镇街区 不存在的镇" in clerk.inner_text("#org-problems")
    clerk.screenshot(path=out / "04-org-file-report-desktop.png", full_page=True)
    with db.session() as s:
        assert ledger.get_enterprise(s, "91370983MA3C0003C7").principal_phone is None
    clerk.set_input_files("#org-file", str(right))
    clerk.fill("#org-password", PASSWORD)
    clerk.click("#org-submit")
    assert "已载入：企业 1 家、用户 1 人" in clerk.inner_text("#org-loaded")
    with db.session() as s:
        assert ledger.get_enterprise(s, "91370983MA3C0003C7").principal_phone == "13805380021"

    # 5. A principal-led inspection with its record, then downloaded.
    record = tmp_path / "带队检查记录.pdf"
    record.write_bytes(b"%PDF-1.4 record of the inspection\n")
    clerk.click("#nav-inspections")
    clerk.fill("#form-inspection input[name=enterprise]", ENT_HD)
    clerk.fill("#form-inspection input[name=inspected_on]", clock.today().isoformat())
    clerk.fill("#form-inspection textarea[name=findings]", "主要负责人带队检查了液氨储罐区")
    clerk.set_input_files("#inspection-record", str(record))
    clerk.click("#form-inspection button")
    assert "带队检查已登记" in clerk.inner_text("#notice")
    with db.session() as s:
        inspection_id = s.exec(select(PrincipalInspection.id)).one()
    with clerk.expect_download() as got:
        clerk.click(f"#record-{inspection_id}")
    assert got.value.suggested_filename == "带队检查记录.pdf"
    assert open(got.value.path(), "rb").read() == record.read_bytes()
    clerk.screenshot(path=out / "05-inspection-recorded-desktop.png", full_page=True)

    # 6. The 台账 by 监管部门.
    clerk.goto(f"{base}/hazards")
    clerk.select_option("#filter-department", "zhujian")
    clerk.click("form.filters button")
    assert "共 0 条" in clerk.inner_text("#total")
    clerk.select_option("#filter-department", "yingji")
    clerk.click("form.filters button")
    assert "共 1 条" in clerk.inner_text("#total") and "department=yingji" in clerk.url
    clerk.screenshot(path=out / "06-ledger-by-department-desktop.png", full_page=True)

    # Every new page at desktop and phone width.
    pages = {"admin": "/admin", "enterprises": "/admin/enterprises", "enterprise": f"/admin/enterprises/{ent_id}",
             "inspections": "/inspections", "ledger-department": "/hazards?department=yingji"}
    phone_ctx = browser.new_context(**PHONE)
    phone = phone_ctx.new_page()
    _watch(phone, problems)
    browser_sign_in(phone, base, "office2")
    for name, path in pages.items():
        for label, page in (("desktop", clerk), ("phone", phone)):
            page.goto(base + path)
            assert page.locator("h1").count() == 1
            if label == "phone":
                assert page.evaluate("document.documentElement.scrollWidth") <= 392, (name, "too wide", page.evaluate(
                    "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 392)"
                    ".slice(-3).map(e => e.outerHTML.slice(0, 120))"))
            page.screenshot(path=out / f"page-{name}-{label}.png", full_page=True)

    # The new enterprise user on a phone: its own inspection's record, no 管理.
    mine_ctx = browser.new_context(**PHONE)
    mine = mine_ctx.new_page()
    _watch(mine, problems)
    mine.goto(f"{base}/login")
    mine.fill("#username", "hd_phone")
    mine.fill("#password", "Phone-Pass-123")
    mine.click("#login-submit")
    mine.wait_for_url(f"{base}/queue")
    assert mine.evaluate("document.documentElement.scrollWidth") <= 392
    mine.screenshot(path=out / "07-enterprise-user-phone.png", full_page=True)
    assert mine_ctx.request.get(f"{base}/inspections/{inspection_id}/record").body() == record.read_bytes()
    assert mine_ctx.request.get(f"{base}/admin").status == 404
    # The browser logs each deliberate refusal's answer (the 市安委办 account without the box, the wrong
    # org file: both 422); nothing else may be there (no script error, nothing blocked by the CSP).
    refused = [p for p in problems if "status of 422" in p]
    assert len(refused) == 2 and [p for p in problems if p not in refused] == [], problems
    for ctx in (desk, phone_ctx, mine_ctx):
        ctx.close()
