"""The action plans on the console: the unit's monthly report page (月调度) and the 挂图作战
chart, with TestClient and in a real browser (Playwright, Debian's chromium)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from hazardloop.config import calendar, clock
from hazardloop.models.plans import PlanTaskReport
from hazardloop.models.tables import AuditEvent
from hazardloop.plans import plans
from tests.fixtures_web import PASSWORD, browser, browser_sign_in, csrf_of, live, screenshot_dir, web, web_sqlite  # noqa: F401


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


# --- the committee office's forms for what was CLI-only: the ladder's approvals, the quarterly review ---


def _lagging_units(db) -> tuple[int, int]:  # noqa: ANN001
    """应急局 and 住建局 each with a task overdue two months running; evaluated under a ladder of only the
    two steps that need approval, so each gets 曝光 and 追责问责移交 proposed.  Dates follow today's."""
    from dataclasses import replace

    from hazardloop.escalation import tasks as lag

    today = clock.today()
    month = calendar.previous_month(calendar.month_of(today))
    start = calendar.previous_month(month)
    first, _ = calendar.month_bounds(start)
    text = f"""
tasks:
  - {{code: L1, paragraph: "4", content: 危化品企业专项排查, lead: yingji, deadline: {first.isoformat()}}}
  - {{code: L2, paragraph: "5", content: 建筑施工判定标准宣贯, lead: zhujian, deadline: {first.isoformat()}}}
"""
    policy = lag.load_policy()
    policy = replace(policy, start=start, steps=tuple(s for s in policy.steps if s.approval))
    with db.session() as s:
        plans.load_plan(s, db.user(s, "office1"), text=text)
        result = lag.evaluate(s, month, policy=policy)
        s.commit()
    assert result.proposed == 4 and result.documents == 0
    by = {(st["unit_code"], st["step"]): st["step_id"] for st in result.steps}
    return by[("yingji", "exposure")], by[("yingji", "referral")]


def test_office_decides_the_ladder_proposals_on_the_page(web):
    from hazardloop.models.plans import PlanDocument, PlanLagStep

    exposure, referral = _lagging_units(web.db)
    year = clock.today().year
    sup = web.login("sup_yingji")
    page = sup.get(f"/plans?year={year}")
    assert page.status_code == 200 and "form-step-approve" not in page.text  # the forms are the office's
    forged = sup.post(f"/plans/steps/{exposure}/approve", data={"csrf_token": csrf_of(page.text), "password": PASSWORD})
    assert forged.status_code == 404  # an office page: for anyone else it does not exist
    office = web.login("office1")
    page = office.get(f"/plans?year={year}")
    assert f'id="form-step-approve-{exposure}"' in page.text and f'id="form-step-decline-{referral}"' in page.text
    token = csrf_of(page.text)
    assert office.post(f"/plans/steps/{exposure}/approve", data={"password": PASSWORD}).status_code == 403  # no CSRF
    wrong = office.post(f"/plans/steps/{exposure}/approve", data={"csrf_token": token, "password": "not-it"})
    assert wrong.status_code == 403 and "批准曝光需要再次输入本人密码" in wrong.text
    with web.db.session() as s:
        assert s.get(PlanLagStep, exposure).status == "proposed" and not s.execute(select(PlanDocument)).first()
    ok = office.post(f"/plans/steps/{exposure}/approve", data={"csrf_token": token, "password": PASSWORD,
                                                                 "year": str(year)})
    assert ok.status_code == 303 and ok.headers["location"].startswith(f"/plans?year={year}&done=")
    done = office.get(ok.headers["location"])
    with web.db.session() as s:
        row = s.get(PlanLagStep, exposure)
        doc = s.execute(select(PlanDocument).where(PlanDocument.step_id == exposure)).scalar_one()
        assert (row.status, row.decided_by) == ("approved", "office1") and doc.number.startswith("肥安办曝〔")
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "plan_step_approved",
                                                  AuditEvent.actor == "office1")).first()
    assert f"已批准对市应急管理局曝光，公文 {doc.number} 已出具" in done.text
    assert f'id="form-step-approve-{exposure}"' not in done.text and doc.number in done.text
    again = office.post(f"/plans/steps/{exposure}/approve", data={"csrf_token": token, "password": PASSWORD})
    assert again.status_code == 409 and "不是待审批" in again.text

    empty = office.post(f"/plans/steps/{referral}/decline", data={"csrf_token": token, "reason": "  "})
    assert empty.status_code == 422 and "不予批准须填写理由" in empty.text
    declined = office.post(f"/plans/steps/{referral}/decline", data={"csrf_token": token, "reason": "已约谈，暂不移交"})
    assert declined.status_code == 303
    with web.db.session() as s:
        assert (s.get(PlanLagStep, referral).status, s.get(PlanLagStep, referral).decision_reason) == \
            ("declined", "已约谈，暂不移交")
    assert office.post("/plans/steps/999999/approve", data={"csrf_token": token, "password": PASSWORD}).status_code == 404
    assert office.post(f"/plans/steps/{referral}/explode", data={"csrf_token": token}).status_code == 404
    assert office.post("/plans/steps/x1/decline", data={"csrf_token": token, "reason": "x"}).status_code == 404


def test_office_issues_and_concludes_the_quarterly_review_on_the_page(web):
    from hazardloop.models.plans import PlanTask, QuarterlyReview

    _load(web.db)
    year = clock.today().year - 1  # every quarter of last year has ended, whatever today is
    office = web.login("office1")
    page = office.get(f"/plans?year={year}")
    assert 'id="form-review-issue"' in page.text and f'<option value="{year}-Q4" selected>' in page.text
    token = csrf_of(page.text)
    sup = web.login("sup_yingji")
    assert 'id="form-review-issue"' not in sup.get(f"/plans?year={year}").text
    assert sup.post("/plans/reviews/issue", data={"csrf_token": csrf_of(sup.get("/plans").text),
                                                   "quarter": f"{year}-Q3"}).status_code == 404
    future = office.post("/plans/reviews/issue", data={"csrf_token": token, "quarter": f"{year + 2}-Q1"})
    assert future.status_code == 422 and "尚未结束" in future.text
    issued = office.post("/plans/reviews/issue", data={"csrf_token": token, "quarter": f"{year}-Q3", "year": str(year)})
    assert issued.status_code == 303
    with web.db.session() as s:
        review = s.execute(select(QuarterlyReview)).scalar_one()
        assert (review.quarter, review.issued_by) == (f"{year}-Q3", "office1")
    page = office.get(issued.headers["location"])
    assert f"已签发 {review.number}" in page.text and f'<option value="{year}-Q3"' not in page.text
    assert f'id="form-review-conclude-{year}-Q3"' in page.text
    twice = office.post("/plans/reviews/issue", data={"csrf_token": token, "quarter": f"{year}-Q3"})
    assert twice.status_code == 409 and "已签发" in twice.text

    url = f"/plans/reviews/{year}-Q3/conclude"
    no_text = office.post(url, data={"csrf_token": token, "year": str(year), "conclusions": " ",
                                     "lead_1": "yingji", "deadline_1": f"{year + 1}-06-30", "content_1": "专项督导"})
    assert no_text.status_code == 422 and "请写明会商结论" in no_text.text
    assert 'value="专项督导"' in no_text.text  # what was typed is not lost
    bad = office.post(url, data={"csrf_token": token, "year": str(year), "conclusions": "加强调度",
                                 "lead_1": "yingji", "deadline_1": f"{year + 1}-06-30", "content_1": "专项督导",
                                 "lead_3": "zhujian", "deadline_3": "", "content_3": "宣贯"})
    assert bad.status_code == 422 and "第 2 项措施" in bad.text and "完成时限" in bad.text
    with web.db.session() as s:  # nothing half-written
        assert s.execute(select(QuarterlyReview.concluded_at)).scalar_one() is None
        assert not s.execute(select(PlanTask).where(PlanTask.source == "review")).first()
    ok = office.post(url, data={"csrf_token": token, "year": str(year), "conclusions": "加强调度",
                                "lead_1": "yingji", "deadline_1": f"{year + 1}-06-30", "content_1": "专项督导",
                                "lead_3": "shiheng", "deadline_3": f"{year + 1}-09-30", "content_3": "园区复查"})
    assert ok.status_code == 303
    q = f"{year}Q3"
    assert f"新增任务 HS{q}-01、HS{q}-02" in office.get(ok.headers["location"]).text
    with web.db.session() as s:
        made = s.execute(select(PlanTask).where(PlanTask.source == "review").order_by(PlanTask.code)).scalars().all()
        assert [(t.code, t.lead_kind, t.lead_code) for t in made] == [(f"HS{q}-01", "department", "yingji"),
                                                                      (f"HS{q}-02", "region", "shiheng")]
        assert s.execute(select(QuarterlyReview.conclusions)).scalar_one() == "加强调度"
    again = office.post(url, data={"csrf_token": token, "conclusions": "再记一次"})
    assert again.status_code == 409
    assert office.post("/plans/reviews/2031-Q1/conclude", data={"csrf_token": token, "conclusions": "x"}).status_code == 404


DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def test_office_decides_and_reviews_in_a_real_browser_at_desktop_and_phone_width(browser, live):  # noqa: F811
    """The office's forms clicked in chromium: 应急局's 曝光 approved (password again, a wrong one first)
    and its 追责问责移交 declined at desktop width; 住建局's the same on a 390-px phone; a quarterly
    review issued and concluded on each.  Nothing wider than the phone, nothing blocked by the CSP."""
    from hazardloop.models.plans import PlanLagStep, QuarterlyReview

    base, db = live
    _lagging_units(db)
    with db.session() as s:
        ids = {(r.unit_code, r.step): r.id for r in s.execute(select(PlanLagStep)).scalars()}
    year, last_year = clock.today().year, clock.today().year - 1
    shots = screenshot_dir("plans-office")
    problems: list[str] = []
    for label, ctx, who, unit, quarter in (("desktop", DESK, "office1", "yingji", f"{last_year}-Q1"),
                                           ("phone", PHONE, "office2", "zhujian", f"{last_year}-Q2")):
        context = browser.new_context(**ctx)
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        browser_sign_in(page, base, who)
        page.click("#nav-plans")
        page.wait_for_url(f"{base}/plans")
        page.goto(f"{base}/plans?year={year}")
        exposure, referral = ids[(unit, "exposure")], ids[(unit, "referral")]
        assert page.locator(f"#step-{exposure}").is_visible()

        def fits(name: str) -> None:
            assert page.locator("h1").count() == 1
            if label == "phone":  # usable at 390 px: nothing wider than the screen
                assert page.evaluate("document.documentElement.scrollWidth") <= 392, (name, "too wide")
            page.screenshot(path=str(shots / f"{name}-{label}.png"), full_page=True)

        fits("01-proposals")
        form = page.locator(f"#form-step-approve-{exposure}")
        form.locator("input[name=password]").fill("wrong-password")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#error")
        assert "批准曝光需要再次输入本人密码" in page.inner_text("#error")
        expected = "Failed to load resource: the server responded with a status of 403 (Forbidden)"
        assert expected in problems  # the refusal is a 403 page, which chromium logs; nothing else may be
        problems.remove(expected)
        fits("02-wrong-password")
        form = page.locator(f"#form-step-approve-{exposure}")
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#notice")
        assert "曝光，公文 肥安办曝〔" in page.inner_text("#notice")
        decline = page.locator(f"#form-step-decline-{referral}")
        decline.locator("textarea[name=reason]").fill("已约谈，限期整改，暂不移交")
        decline.locator("button[type=submit]").click()
        page.wait_for_selector("#notice")
        assert "已不予批准" in page.inner_text("#notice") and page.locator(f"#step-{referral}").count() == 0
        row = page.locator(f'#ladder-table tr[data-step="{referral}"]').inner_text()
        assert "未批准" in row or "不予批准" in row
        assert "已约谈，限期整改，暂不移交" in row
        fits("03-decided")

        page.goto(f"{base}/plans?year={last_year}")
        page.select_option("#issue-quarter", quarter)
        page.click("#form-review-issue button[type=submit]")
        page.wait_for_selector("#notice")
        assert "已签发 肥安办研〔" in page.inner_text("#notice")
        conclude = page.locator(f"#form-review-conclude-{quarter}")
        conclude.locator("textarea[name=conclusions]").fill("任务推进总体滞后，加强月调度")
        conclude.locator("select[name=lead_1]").select_option(unit)
        conclude.locator("input[name=deadline_1]").fill(f"{year}-12-31")
        conclude.locator("input[name=content_1]").fill("对滞后任务开展专项督导")
        fits("04-conclude-form")
        conclude.locator("button[type=submit]").click()
        page.wait_for_selector("#notice")
        code = f"HS{quarter.replace('-', '')}-01"
        assert f"新增任务 {code}" in page.inner_text("#notice")
        assert page.locator(f"#form-review-conclude-{quarter}").count() == 0
        fits("05-concluded")
        context.close()
    with db.session() as s:
        steps = {(r.unit_code, r.step): (r.status, r.decided_by) for r in s.execute(select(PlanLagStep)).scalars()}
        assert steps == {("yingji", "exposure"): ("approved", "office1"), ("yingji", "referral"): ("declined", "office1"),
                         ("zhujian", "exposure"): ("approved", "office2"), ("zhujian", "referral"): ("declined", "office2")}
        reviews = {r.quarter: (r.issued_by, r.concluded_by) for r in s.execute(select(QuarterlyReview)).scalars()}
        assert reviews == {f"{last_year}-Q1": ("office1", "office1"), f"{last_year}-Q2": ("office2", "office2")}
    assert problems == []
