"""The action plans on the console: the unit's monthly report page (月调度) and the 挂图作战
chart, with TestClient and in a real browser (Playwright, Debian's chromium)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from hazardloop.config import calendar, clock
from hazardloop.models.plans import PlanTaskReport
from hazardloop.models.tables import AuditEvent
from hazardloop.plans import plans
from tests.fixtures_web import browser, browser_sign_in, csrf_of, live, screenshot_dir, web, web_sqlite  # noqa: F401


def _plan_text(today: date) -> str:
    y = today.year
    return f"""
tasks:
  - {{code: W1, paragraph: "4", content: 危化品企业专项排查, lead: yingji, deadline: {y}-01-31,
     milestones: [{{date: {y}-01-15, text: 完成摸底}}]}}
  - {{code: W2, paragraph: "12", content: 特种作业人员考核取证, lead: yingji, deadline: {y}-12-31}}
  - {{code: W3, paragraph: "5", content: 建筑施工判定标准宣贯, lead: zhujian, deadline: {y}-12-31}}
"""


def _load(db) -> None:  # noqa: ANN001
    with db.session() as s:
        plans.load_plan(s, db.user(s, "office1"), text=_plan_text(clock.today()))
        s.commit()


def test_monthly_report_page_saves_all_rows_or_none(web):
    _load(web.db)
    month = calendar.month_of(clock.today())
    sup = web.login("sup_yingji")
    page = sup.get(f"/plans/report?month={month}")
    assert page.status_code == 200 and "市应急管理局" in page.text and "W1" in page.text and "W3" not in page.text
    ids = {}
    with web.db.session() as s:
        from hazardloop.plans.tasks import get_task

        ids = {c: get_task(s, c).id for c in ("W1", "W2")}
    token = csrf_of(page.text)
    bad = sup.post("/plans/report", data={"csrf_token": token, "month": month,
                                           f"percent_{ids['W1']}": "30", f"done_{ids['W1']}": "排查 12 家",
                                           f"percent_{ids['W2']}": "abc", f"done_{ids['W2']}": "培训"})
    assert bad.status_code == 422 and "W2 的完成进度应为 0–100 的整数" in bad.text
    assert "排查 12 家" in bad.text  # what was typed is not lost
    with web.db.session() as s:
        assert s.execute(select(PlanTaskReport)).first() is None  # nothing half-written
    ok = sup.post("/plans/report", data={"csrf_token": token, "month": month,
                                          f"percent_{ids['W1']}": "30", f"done_{ids['W1']}": "排查 12 家",
                                          f"problems_{ids['W1']}": "专家力量不足"})
    assert ok.status_code == 303
    with web.db.session() as s:
        rows = s.execute(select(PlanTaskReport)).scalars().all()
        assert [(r.percent, r.problems) for r in rows] == [(30, "专家力量不足")]
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "task_monthly_report")).first()
    # another unit may not report on these tasks; the public may not see the chart
    other = web.login("sup_zhujian")
    forged = other.post("/plans/report", data={"csrf_token": csrf_of(other.get("/plans/report").text), "month": month,
                                               f"percent_{ids['W2']}": "10", f"done_{ids['W2']}": "冒报"})
    assert forged.status_code == 403 and "牵头单位（市应急管理局）" in forged.text
    assert web.login("citizen1").get("/plans").status_code == 403
    no_csrf = sup.post("/plans/report", data={"month": month, f"percent_{ids['W2']}": "10", f"done_{ids['W2']}": "x"})
    assert no_csrf.status_code == 403


def test_chart_page_and_api(web):
    _load(web.db)
    office = web.login("office1")
    page = office.get("/plans")
    assert page.status_code == 200 and "<svg" in page.text and 'data-code="W1" data-status="overdue"' in page.text
    svg = office.get("/plans/chart.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "挂图作战" in svg.text
    api = web.api("sup_yingji").get("/api/v1/plans/tasks", params={"unit": "yingji"})
    assert api.status_code == 200 and [t["code"] for t in api.json()] == ["W1", "W2"]
    assert web.api("citizen1").get("/api/v1/plans/tasks").status_code == 403
    month = calendar.month_of(clock.today())
    sup = web.api("sup_yingji")
    r = sup.post("/api/v1/plans/tasks/W2/reports", json={"month": month, "percent": 40, "done": "考核 3 批"})
    assert r.status_code == 200 and r.json()["state"] == "in_progress" and r.json()["percent"] == 40
    too_much = sup.post("/api/v1/plans/tasks/W2/reports", json={"month": month, "percent": 140, "done": "x"})
    assert too_much.status_code == 422
    r = sup.post("/api/v1/plans/tasks/W2/report_done", json={"summary": "完成", "evidence": ["取证名单.xlsx"]})
    assert r.status_code == 200 and r.json()["state"] == "reported"
    r = sup.post("/api/v1/plans/tasks/W2/verify")
    assert r.status_code == 403 and "市安委办" in r.json()["detail"]
    assert web.api("office1").post("/api/v1/plans/tasks/W2/verify").json()["state"] == "verified"
    assert web.api("office1").post("/api/v1/plans/tasks/W2/explode").status_code == 404


def test_report_page_and_chart_in_a_real_browser(browser, live):  # noqa: F811
    base, db = live
    _load(db)
    shots = screenshot_dir("plans")
    page = browser.new_page(locale="zh-CN")
    browser_sign_in(page, base, "sup_yingji")
    page.click("#nav-plan-report")
    page.wait_for_url(f"{base}/plans/report")
    assert page.locator("fieldset.task").count() == 2 and page.locator("#missing").inner_text() == "2"
    w1 = page.locator("#task-W1")
    assert "已逾期" in w1.inner_text()
    w1.locator("input[name^=percent_]").fill("60")
    w1.locator("textarea[name^=done_]").fill("已排查 20 家企业")
    w1.locator("textarea[name^=problems_]").fill("第三方专家不足")
    page.screenshot(path=str(shots / "report-form.png"), full_page=True)
    page.click("#form-report button[type=submit]")
    page.wait_for_selector("#notice")
    assert "已报送 1 项" in page.locator("#notice").inner_text()
    assert page.locator("#missing").inner_text() == "1"
    assert page.locator("#task-W1 .reported").count() == 1
    assert page.locator("#task-W1 input[name^=percent_]").input_value() == "60"

    page.click("#nav-plans")
    page.wait_for_url(f"{base}/plans")
    bars = page.locator("#gantt svg g.task")
    assert bars.count() == 3
    assert page.locator('#gantt g.task[data-code="W1"]').get_attribute("data-status") == "overdue"
    assert page.locator('#gantt g.task[data-code="W2"]').get_attribute("data-status") == "not_started"
    box = page.locator('#gantt g.task[data-code="W2"] rect').first.bounding_box()
    assert box and box["width"] > 50  # a bar drawn against the year, not a dot
    label = page.locator('#gantt g.task[data-code="W1"] text').first.text_content()
    assert "危化品企业专项排查" in label  # the browser draws the Chinese text; the server needed no font
    row = page.locator('#task-table tr[data-code="W1"]').inner_text()
    assert "第三方专家不足" in row and "60%" in row
    page.screenshot(path=str(shots / "chart.png"), full_page=True)


def test_office_verifies_tasks_and_reviews_filings_on_the_page(web):
    _load(web.db)
    with web.db.session() as s:
        office = web.db.user(s, "office1")
        plans.open_filings(s, office, clock.today().year, clock.today(), units=["yingji"])
        plans.submit_plan(s, web.db.user(s, "sup_yingji"), f"yingji-{clock.today().year}", summary="要点")
        from hazardloop.plans import tasks as plan_tasks

        plan_tasks.fire(s, web.db.user(s, "sup_yingji"), "W2", "report_done", summary="完成", evidence=["名单.xlsx"])
        s.commit()
    sup = web.login("sup_yingji")
    assert "decide-task" not in sup.get("/plans").text  # only the office sees the forms
    forged = sup.post("/plans/task/W2/decide", data={"csrf_token": csrf_of(sup.get("/plans").text), "action": "verify"})
    assert forged.status_code == 403
    client = web.login("office1")
    page = client.get("/plans")
    assert 'action="/plans/task/W2/decide"' in page.text and "decide-filing" in page.text
    token = csrf_of(page.text)
    no_reason = client.post("/plans/task/W2/decide", data={"csrf_token": token, "action": "return", "reason": ""})
    assert no_reason.status_code == 422 and "退回理由" in no_reason.text
    ok = client.post("/plans/task/W2/decide", data={"csrf_token": token, "action": "verify"})
    assert ok.status_code == 303
    assert "任务 W2：已核验办结" in client.get(ok.headers["location"]).text
    back = client.post(f"/plans/filing/yingji-{clock.today().year}/decide",
                       data={"csrf_token": token, "action": "return", "reason": "缺少分工表"})
    assert back.status_code == 303
    with web.db.session() as s:
        p = plans.get_plan(s, f"yingji-{clock.today().year}")
        assert (p.state, p.review_reason) == ("returned", "缺少分工表")


def test_ladder_documents_and_reviews_are_readable_on_the_page(web):
    from dataclasses import replace

    from hazardloop.escalation import tasks as lag
    from hazardloop.reports import quarterly

    _load(web.db)
    today = clock.today()
    month = calendar.previous_month(calendar.month_of(today))
    with web.db.session() as s:
        result = lag.evaluate(s, month, policy=replace(lag.load_policy(), start=month))
        review = quarterly.issue(s, web.db.user(s, "office1"), quarterly.quarter_of(date(today.year, 1, 1)))
        s.commit()
    number = result.steps[0]["number"]
    client = web.login("sup_zhujian")
    page = client.get("/plans")
    assert number in page.text and review.number in page.text
    doc = client.get(f"/plans/documents/{number}")
    assert doc.status_code == 200 and "W1" in doc.text and "提醒函" in doc.text
    rep = client.get(f"/plans/reviews/{review.quarter}")
    assert rep.status_code == 200 and review.number in rep.text
    assert client.get("/plans/reviews/2031-Q1").status_code == 404
    assert web.login("citizen1").get(f"/plans/documents/{number}").status_code == 403
