"""Issue 17's "done when", in a real browser (Debian's chromium driven by Playwright): a
committee-office clerk runs a whole month without the command line -- reads the dashboard,
approves a close-out, approves an 曝光, imports a township's 明细表, issues the monthly
bulletin, reads a 公文 and sees what failed to deliver (and queues it again).

The failed deliveries are real: the dispatcher tried an SMTP server on 127.0.0.1 that was
down.  Screenshots of every page at desktop and phone width go to $HAZARDLOOP_TEST_OUTPUT
(default test-output/)/office-month/."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from hazardloop.config import clock
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import Hazard, Notification
from hazardloop.notifications.dispatcher import dispatch
from tests.fixtures_escalation import rectifying_with_deadline, sweep_on
from tests.fixtures_intake import row, write_sheet
from tests.fixtures_notify import routes_file, smtp_down  # noqa: F401
from tests.fixtures_web import PASSWORD, browser, browser_sign_in, live, screenshot_dir, web_sqlite  # noqa: F401
from tests.helpers import reviewed

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def _month_of_data(db, tmp_path, smtp_down, routes_file):  # noqa: ANN001
    """A close-out waiting for review, a hazard so late that its 曝光 awaits approval, and the
    notices the dispatcher could not deliver (the SMTP server is down)."""
    routes_file(smtp_port=smtp_down.port, roles={"*": {"channels": ["email"]}}, policy_={"max_attempts": 1})
    today = clock.today()
    with db.session() as s:
        review_id = reviewed(s, tmp_path)
        late_id = rectifying_with_deadline(s, today - timedelta(days=120), today - timedelta(days=70),
                                           title="二氧化硫储罐未设置紧急切断装置")
    sweep_on(db, today)
    dispatch(db.url)
    with db.session() as s:
        step = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == late_id,
                                                   EscalationStep.status == "proposed")).one()
        failed = s.exec(select(Notification).where(Notification.status.in_(("dead", "undeliverable")))).all()
        assert failed, "the dispatcher should have failed to deliver something"
        return review_id, late_id, step.id, len(failed)


def test_a_clerk_runs_the_month_in_the_browser(browser, live, tmp_path, smtp_down, routes_file):
    base, db = live
    out = screenshot_dir("office-month")
    review_id, late_id, step_id, failed = _month_of_data(db, tmp_path, smtp_down, routes_file)
    sheet = write_sheet(tmp_path / "石横镇10月明细表.xlsx", [
        row(seq=1, desc="液氯钢瓶库未设置有毒气体报警", date="2026-10-08"),
        row(seq=2, desc="反应釜未设置紧急冷却系统", date="2026-10-12"),
        row(seq=3, desc="日期写错的一行", date="下个月")])
    desk = browser.new_context(**DESK)
    clerk = desk.new_page()
    problems: list[str] = []
    clerk.on("pageerror", lambda e: problems.append(str(e)))
    clerk.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    # 1. The dashboard: the numbers, the lagging units, each number a link to the 台账.
    browser_sign_in(clerk, base, "office1")
    clerk.click("#nav-dashboard")
    clerk.wait_for_selector("#kpi-overdue")
    assert clerk.inner_text("#kpi-overdue b") == "1"
    assert clerk.locator("svg.chart").count() == 4
    clerk.screenshot(path=out / "01-dashboard-desktop.png", full_page=True)
    clerk.click("#kpi-overdue")
    clerk.wait_for_url(f"{base}/hazards?overdue=1")
    assert "二氧化硫储罐" in clerk.inner_text("main")

    # 2. A close-out: the password again.
    clerk.goto(f"{base}/hazards/{review_id}")
    clerk.fill("#form-approve input[name=password]", PASSWORD)
    clerk.click("#form-approve button")
    assert "已审核销号" in clerk.inner_text("#notice")

    # 3. The 曝光 the ladder proposes: approved, with the password again; its 公文 is issued.
    clerk.goto(f"{base}/hazards/{late_id}")
    clerk.fill(f"#form-exposure-approve-{step_id} input[name=password]", PASSWORD)
    clerk.click(f"#form-exposure-approve-{step_id} button")
    clerk.wait_for_selector("#notice")
    assert "已批准曝光" in clerk.inner_text("#notice")
    with db.session() as s:
        exposure = s.exec(select(Document).where(Document.step_id == step_id)).one()

    # 4. A township's 明细表: the row-by-row report, then the valid rows in.
    clerk.click("#nav-sheets")
    clerk.set_input_files("#sheet-file", str(sheet))
    clerk.click("#check-submit")
    clerk.wait_for_selector("#check-report")
    assert "2</b> 行通过" in clerk.inner_html("#check-summary")
    assert "不是可识别的日期" in clerk.inner_text("#check-rows")
    clerk.screenshot(path=out / "04-sheet-check-desktop.png", full_page=True)
    clerk.click("#form-import-valid button")
    clerk.wait_for_selector("#import-report")
    assert "新建隐患 2 条" in clerk.inner_text("#import-report")

    # 5. The monthly bulletin for last month: preview, then issue with the password again.
    month = (clock.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    clerk.click("#nav-bulletins")
    clerk.fill("#issue-month", month)
    clerk.fill("#issue-password", PASSWORD)
    # Issuing renders the bulletin's charts and PDF: seconds alone, over 30 s on a loaded 2-core machine.
    clerk.click("#issue-submit", timeout=120_000)
    clerk.wait_for_selector("#doc-number")
    bulletin_number = clerk.inner_text("#doc-number")
    assert "通〔" in bulletin_number or "〔" in bulletin_number
    clerk.screenshot(path=out / "05-bulletin-issued-desktop.png", full_page=True)

    # 6. Any 公文: find the 曝光 by its 文号, read it as issued.
    clerk.click("#nav-documents")
    clerk.fill("input[name=number]", exposure.number)
    clerk.click("#doc-search-submit")
    assert clerk.inner_text("#doc-count").startswith("1 份")
    clerk.click(f"#doc-list a:has-text('{exposure.number}')")
    clerk.wait_for_selector("#deliveries")
    clerk.screenshot(path=out / "06-document-desktop.png", full_page=True)
    clerk.click("#doc-original")
    clerk.wait_for_load_state()
    assert exposure.number in clerk.inner_text("body") and "曝光" in clerk.inner_text("body")
    clerk.screenshot(path=out / "06-document-original-desktop.png", full_page=True)

    # 7. What failed to deliver, and sending it again.
    clerk.goto(f"{base}/outbox")
    dead = int(clerk.inner_text("#count-dead b")) + int(clerk.inner_text("#count-undeliverable b"))
    assert dead >= failed
    which = "dead" if int(clerk.inner_text("#count-dead b")) else "undeliverable"
    clerk.click(f"#count-{which}")
    assert "电子邮件" in clerk.inner_text("#outbox-list") and ">email<" not in clerk.inner_html("#outbox-list")
    clerk.screenshot(path=out / "07-outbox-failed-desktop.png", full_page=True)
    clerk.locator("#outbox-list input[type=checkbox]").first.check()
    clerk.click("#retry-selected")
    assert "已重新排队 1 条" in clerk.inner_text("#notice")

    # Every office page at desktop and phone width, nothing broken, nothing blocked by the CSP.
    with db.session() as s:
        bulletin_id = s.exec(select(Document.id).where(Document.period == month)).one()
        assert s.get(Hazard, review_id).state == "closed"
    pages = {"dashboard": "/dashboard", "documents": "/documents", "document": f"/documents/hazard/{exposure.id}",
             "bulletins": "/bulletins", "bulletin": f"/documents/bulletin/{bulletin_id}", "sheets": "/sheets",
             "outbox": "/outbox", "lagging": "/lagging", "redblack": "/redblack", "inspections": "/inspections",
             "admin": "/admin", "policy": "/admin/policy"}
    phone_ctx = browser.new_context(**PHONE)
    phone = phone_ctx.new_page()
    phone.on("pageerror", lambda e: problems.append(str(e)))
    phone.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    browser_sign_in(phone, base, "office2")
    for name, path in pages.items():
        for label, page in (("desktop", clerk), ("phone", phone)):
            page.goto(base + path)
            assert page.locator("h1").count() == 1
            if label == "phone":  # usable at 390 px: nothing wider than the screen
                assert page.evaluate("document.documentElement.scrollWidth") <= 392, (name, "too wide")
            page.screenshot(path=out / f"page-{name}-{label}.png", full_page=True)
    assert problems == []
    desk.close()
    phone_ctx.close()
