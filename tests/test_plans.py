"""The action plan as a closed loop (issue 18): a year walked month by month.

Plans loaded, sub-plans filed (one late, escalated), tasks reported monthly, one task
overdue climbing the unit ladder to 约谈 (and on to the proposals that need approval),
a quarterly review whose numbers are recomputed here from the raw rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from hazardloop.config import clock
from hazardloop.errors import ConflictError, ValidationError
from hazardloop.escalation import documents
from hazardloop.escalation import tasks as lag
from hazardloop.models import audit
from hazardloop.models.plans import PlanDocument, PlanLagEvaluation, PlanLagStep, PlanTask, PlanTaskReport
from hazardloop.models.tables import AuditEvent, Hazard, Notification
from hazardloop.plans import chart, dispatch, plans, tasks
from hazardloop.reports import quarterly
from hazardloop.states import ledger
from hazardloop.states.errors import InvalidTransition, MissingData, PermissionDenied
from tests.helpers import ENT_HD

PLAN_2025 = """
actions:
  - {code: a03, name: 开展重大事故隐患动态清零行动}
tasks:
  - {code: T1, action: a03, paragraph: "4", content: 危险化学品企业重大事故隐患专项排查全覆盖, lead: yingji,
     deadline: 2025-06-30, milestones: [{date: 2025-03-31, text: 完成摸底}], co: [shichang, 市公安局]}
  - {code: T2, action: a03, paragraph: "5", content: 建筑施工领域判定标准宣贯, lead: 市住房和城乡建设局, deadline: 2025-03-31}
  - {code: T3, action: a03, paragraph: "7", content: 石横镇工业园区隐患排查, lead: shiheng, deadline: 2025-09-30}
"""
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def _policy():
    return replace(lag.load_policy(), start="2025-01")


def _at(y: int, m: int, d: int):
    return clock.frozen(date(y, m, d))


def _next(month: str) -> date:
    y, m = (int(x) for x in month.split("-"))
    return date(y + m // 12, m % 12 + 1, 2)


def _hazard(s, found: date, deadline: date, close_on: date | None = None, tmp_path=None) -> int:
    u = lambda n: ledger.get_user(s, n)  # noqa: E731
    with clock.frozen(found):
        hid = ledger.report(s, u("inspector1"), enterprise=ENT_HD, title=f"隐患 {found}", channel="inspection").id
        ledger.confirm(s, u("sup_yingji"), hid, basis_code="CHEM121", basis_clause="第十三条", level="city")
        ledger.plan(s, u("hd_safety"), hid, responsible_person="孙立新", measures="整改", funds="1", deadline=deadline,
                    emergency_plan="预案")
        s.commit()
    if close_on:
        with clock.frozen(close_on):
            p = tmp_path / f"e{hid}.jpg"
            p.write_bytes(b"x")
            ledger.submit(s, u("hd_safety"), hid, evidence=[p])
            ledger.approve(s, u("sup_yingji2"), hid)
            s.commit()
    return hid


def _report_month(s, username: str, month: str, day: int, *, percent_of=None, problems: str = "") -> int:
    """The unit reports every open task it leads for `month` (as its page lists them)."""
    user = ledger.get_user(s, username)
    y, m = (int(x) for x in month.split("-"))
    n = 0
    with _at(y, m, day):
        page = tasks.unit_month(s, user, month)
        for t in page["tasks"]:
            pct = percent_of(t) if percent_of else min(100, t["percent"] + 10)
            tasks.monthly_report(s, user, t["id"], month, percent=pct, done=f"{month} 推进", problems=problems,
                                 next_steps="继续推进")
            n += 1
        s.commit()
    return n


def test_a_year_of_the_action_plan(org, tmp_path):
    db = org
    policy = _policy()
    with db.session() as s:
        office, office2 = db.user(s, "office1"), db.user(s, "office2")
        # hazards for the quarterly review: one from Q3 2024, one Q2 2025 left overdue, one Q3 2025 closed
        h_old = _hazard(s, date(2024, 8, 5), date(2024, 12, 20), close_on=date(2025, 8, 20), tmp_path=tmp_path)
        h_overdue = _hazard(s, date(2025, 5, 10), date(2025, 6, 15))
        h_closed = _hazard(s, date(2025, 7, 8), date(2025, 8, 30), close_on=date(2025, 9, 10), tmp_path=tmp_path)

        with _at(2025, 1, 2):
            out = plans.load_plan(s, office, text=PLAN_2025, source="yaml")
            assert out == {"plans": [{"plan": "city-2025", "year": 2025, "tasks": 3}], "added": 3, "updated": 0}
            subs = plans.open_filings(s, office, 2025, date(2025, 3, 15), units=["yingji", "zhujian"])
            assert [p.code for p in subs] == ["yingji-2025", "zhujian-2025"]
            s.commit()
        t1 = tasks.get_task(s, "T1")
        assert (t1.lead_kind, t1.lead_code, t1.co_units) == ("department", "yingji", ["shichang", "市公安局"])
        assert tasks.get_task(s, "T2").lead_code == "zhujian"  # a lead written by name

        steps_by_month: dict[str, list[tuple[str, str, int, str]]] = {}
        for month in MONTHS:
            y, m = (int(x) for x in month.split("-"))
            # 月调度: zhujian and yingji report by the 20th; 石横镇 forgets February
            if month != "2025-02":
                _report_month(s, "town_shiheng", month, 20)
            _report_month(s, "sup_zhujian", month, 18)
            _report_month(s, "sup_yingji", month, 20, percent_of=lambda t: min(80, t["percent"] + 10),
                          problems="专项资金未到位，排查力量不足" if m in (7, 8, 9) else "")
            if month == "2025-03":
                with _at(2025, 3, 10):
                    plans.submit_plan(s, db.user(s, "sup_zhujian"), "zhujian-2025", summary="住建局子方案要点")
                    plans.approve_plan(s, office, "zhujian-2025")
                    s.commit()
                with _at(2025, 3, 20):
                    tasks.fire(s, db.user(s, "sup_zhujian"), "T2", "report_done", summary="已完成宣贯 12 场",
                               evidence=["住建发〔2025〕3号"])
                    tasks.fire(s, office, "T2", "verify")
                    s.commit()
            if month == "2025-04":
                with _at(2025, 4, 10):  # filed late (due 03-15), returned once, then approved
                    plans.submit_plan(s, db.user(s, "sup_yingji"), "yingji-2025", summary="应急局子方案")
                    plans.return_plan(s, office, "yingji-2025", reason="缺少任务分解表")
                    plans.submit_plan(s, db.user(s, "sup_yingji"), "yingji-2025")
                    plans.approve_plan(s, office2, "yingji-2025")
                    s.commit()
            if month == "2025-10":
                with _at(2025, 10, 15):
                    tasks.fire(s, db.user(s, "town_shiheng"), "T3", "report_done", summary="园区排查完成",
                               evidence=["排查台账.xlsx"])
                    s.commit()
            with clock.frozen(_next(month)):
                result = lag.evaluate(s, month, policy=policy)
                s.commit()
            steps_by_month[month] = [(st["unit_code"], st["step"], st["cycle"], st["status"]) for st in result.steps]
            if month == "2025-09":
                with clock.frozen(date(2025, 10, 2)):
                    review = quarterly.issue(s, office, "2025-Q3")
                    s.commit()

        # --- the sub-plan filed late climbed one cycle; the overdue task the next ---------------------
        assert steps_by_month["2025-01"] == []
        assert steps_by_month["2025-02"] == [("shiheng", "remind", 1, "issued")]  # a missing monthly report
        assert steps_by_month["2025-03"] == [("yingji", "remind", 1, "issued")]  # sub-plan not filed by 03-15
        assert steps_by_month["2025-04"] == [("yingji", "letter", 1, "issued")]  # filed late in April
        assert steps_by_month["2025-05"] == steps_by_month["2025-06"] == []  # clean: the cycle ended
        assert steps_by_month["2025-07"] == [("yingji", "remind", 2, "issued")]  # T1 overdue since 06-30
        assert steps_by_month["2025-08"] == [("yingji", "letter", 2, "issued")]
        assert steps_by_month["2025-09"] == [("yingji", "bulletin", 2, "issued")]
        assert steps_by_month["2025-10"] == [("yingji", "interview", 2, "issued")]  # 约谈
        assert steps_by_month["2025-11"] == [("yingji", "exposure", 2, "proposed")]  # awaits the office
        assert steps_by_month["2025-12"][0][:2] == ("yingji", "referral")

        interview = s.execute(select(PlanLagStep).where(PlanLagStep.step == "interview")).scalars().one()
        doc = s.execute(select(PlanDocument).where(PlanDocument.step_id == interview.id)).scalars().one()
        assert doc.number.startswith("肥安办约〔") and "约谈" in doc.title and "T1" in doc.text
        assert documents.stored_body(doc) == doc.html  # stored once with its hash
        ev = s.get(PlanLagEvaluation, interview.evaluation_id)
        assert ev.streak == 4 and [p["kind"] for p in ev.problems] == ["overdue_task"]
        assert "此前已被督促提醒（肥安办督" in doc.text  # names the earlier steps of the cycle
        sent = s.execute(select(func.count()).select_from(Notification).where(
            Notification.event == lag.EVENT, Notification.step == f"plan:{interview.id}",
            Notification.recipient_key.in_(["sup_yingji", "office1"]))).scalar()
        assert sent >= 2  # the department's supervisors and, from 通报 on, the committee office

        # evaluating again issues nothing twice
        with clock.frozen(date(2026, 1, 5)):
            again = lag.evaluate(s, "2025-12", policy=policy)
            assert again.evaluated == 0 and again.steps == []
            # the office decides the proposals: exposure approved (a 公文), referral declined with a reason
            exposure = s.execute(select(PlanLagStep).where(PlanLagStep.step == "exposure")).scalars().one()
            with pytest.raises(PermissionDenied):
                lag.approve(s, db.user(s, "sup_yingji"), exposure.id, policy=policy)
            _, exp_doc = lag.approve(s, office, exposure.id, policy=policy)
            assert exp_doc.number.startswith("肥安办曝〔2026〕")
            referral = s.execute(select(PlanLagStep).where(PlanLagStep.step == "referral")).scalars().one()
            with pytest.raises(MissingData):
                lag.decline(s, office, referral.id, reason=" ")
            lag.decline(s, office, referral.id, reason="已约谈，暂不移交")
            s.commit()

        # --- the quarterly review: numbers recomputed from the raw rows ---------------------------------
        f = review.figures
        end = clock.end_of_day_utc(date(2025, 9, 30))
        start = clock.end_of_day_utc(date(2025, 6, 30))

        def utc(v):
            return v if v is None or v.tzinfo else v.replace(tzinfo=timezone.utc)

        def recount(lo: datetime, hi: datetime) -> dict[str, int]:
            out = {"stock": 0, "increment": 0, "overdue": 0}
            for h in s.execute(select(Hazard)).scalars():
                if h.confirmed_at is None or utc(h.confirmed_at) > hi:
                    continue
                open_ = h.closed_at is None or utc(h.closed_at) > hi
                out["stock"] += open_
                out["increment"] += lo < utc(h.found_at) <= hi
                out["overdue"] += open_ and utc(h.deadline) < hi
            return out

        now = recount(start, end)
        assert f["hazards"]["total"] == now == {"stock": 1, "increment": 1, "overdue": 1}
        prev = recount(clock.end_of_day_utc(date(2025, 3, 31)), start)
        assert f["hazards"]["vs_prev"] == {k: now[k] - prev[k] for k in now}
        last_year = recount(clock.end_of_day_utc(date(2024, 6, 30)), clock.end_of_day_utc(date(2024, 9, 30)))
        assert last_year == {"stock": 1, "increment": 1, "overdue": 0}
        assert f["hazards"]["vs_last_year"] == {k: now[k] - last_year[k] for k in now}
        by_region = {r["key"]: r["now"] for r in f["hazards"]["by"]["region"]}
        assert by_region == {"shiheng": now}  # every test hazard is at 恒达化工 (石横镇)
        units = {u["unit"]: u for u in f["tasks"]["units"]}
        assert units["市应急管理局"]["overdue_open"] == 1  # T1
        assert units["石横镇"] == {"unit": "石横镇", "due": 1, "done_on_time": 0, "done_late": 0, "overdue_open": 0}
        problems = s.execute(select(PlanTaskReport).where(PlanTaskReport.month.in_(["2025-07", "2025-08", "2025-09"]),
                                                          PlanTaskReport.problems != "")).scalars().all()
        assert len(f["problems"]) == len(problems) == 3
        assert review.number.startswith("肥安办研〔2025〕") and "专项资金未到位" in review.text
        with clock.frozen(date(2025, 10, 3)), pytest.raises(ConflictError):
            quarterly.issue(s, office, "2025-Q3")
        s.rollback()

        # the meeting's measures become tasks of the city plan
        with clock.frozen(date(2025, 10, 9)):
            row, created = quarterly.conclude(s, office, "2025-Q3", "应急局危化品专项排查严重滞后，需加强调度。", [
                {"content": "应急局制定危化品专项排查攻坚方案并按周调度", "lead": "yingji", "deadline": "2025-11-30"}])
            s.commit()
        assert [t.code for t in created] == ["HS2025Q3-01"] and created[0].source == "review"
        assert created[0].review_id == row.id and row.measures[0]["task"] == "HS2025Q3-01"

        # every change audited, the chain intact
        actions = {a for (a,) in s.execute(select(AuditEvent.action)).all()}
        assert {"plan_loaded", "plan_task_added", "plan_submit_plan", "plan_return_plan", "plan_approve_plan",
                "task_monthly_report", "task_report_done", "task_verify", "plan_lag_evaluated", "plan_step_issued",
                "plan_step_proposed", "plan_step_approved", "plan_step_declined", "quarterly_issued",
                "quarterly_concluded"} <= actions
        assert audit.verify(s).ok


def test_guards_decide_who_moves_a_task(org):
    db = org
    with db.session() as s, _at(2025, 2, 1):
        office = db.user(s, "office1")
        plans.load_plan(s, office, text=PLAN_2025)
        s.commit()
        with pytest.raises(PermissionDenied, match="牵头单位（市应急管理局）"):
            tasks.fire(s, db.user(s, "sup_zhujian"), "T1", "start")
        with pytest.raises(PermissionDenied):
            tasks.monthly_report(s, db.user(s, "town_shiheng"), "T1", "2025-02", percent=10, done="x")
        with pytest.raises(MissingData, match="佐证材料"):
            tasks.fire(s, db.user(s, "sup_yingji"), "T1", "report_done", summary="完成")
        tasks.fire(s, db.user(s, "sup_yingji"), "T1", "report_done", summary="完成", evidence=["报告.pdf"])
        with pytest.raises(PermissionDenied, match="市安委办角色"):  # the lead unit never verifies its own work
            tasks.fire(s, db.user(s, "sup_yingji"), "T1", "verify")
        with pytest.raises(MissingData, match="退回理由"):
            tasks.fire(s, office, "T1", "return_task")
        tasks.fire(s, office, "T1", "return_task", reason="佐证不足")
        with pytest.raises(InvalidTransition, match="已退回"):
            tasks.fire(s, office, "T1", "verify")
        with pytest.raises(MissingData, match="进度"):
            tasks.monthly_report(s, db.user(s, "sup_yingji"), "T1", "2025-02", percent=101, done="x")
        s.commit()
        assert tasks.get_task(s, "T1").state == "returned"


def test_reference_plan_loads_once_and_refuses_a_bad_file(org):
    db = org
    with db.session() as s, _at(2024, 3, 20):
        office = db.user(s, "office1")
        out = plans.load_plan(s, office)
        assert out["added"] == 112 and [p["plan"] for p in out["plans"]] == ["city-2024", "city-2025", "city-2026"]
        assert plans.load_plan(s, office)["added"] == 0
        s.commit()
        n = s.execute(select(func.count()).select_from(PlanTask)).scalar()
        bad = PLAN_2025.replace("lead: yingji", "lead: 不存在的局").replace("2025-03-31}", "2025-13-31}")
        with pytest.raises(ValidationError) as err:
            plans.load_plan(s, office, text=bad)
        assert "tasks 第 1 条（T1）" in str(err.value) and "tasks 第 2 条（T2）" in str(err.value)
        assert s.execute(select(func.count()).select_from(PlanTask)).scalar() == n
        with pytest.raises(PermissionDenied):
            plans.load_plan(s, db.user(s, "sup_yingji"), text=PLAN_2025)


def test_chart_and_bulletin_section_show_status_without_a_font(org):
    db = org
    with db.session() as s:
        with _at(2025, 1, 2):
            plans.load_plan(s, db.user(s, "office1"), text=PLAN_2025)
            s.commit()
        with _at(2025, 7, 20):
            tasks.monthly_report(s, db.user(s, "town_shiheng"), "T3", "2025-07", percent=40, done="排查过半")
            s.commit()
            svg = chart.svg(tasks.list_tasks(s, year=2025), clock.today(), "2025年度全市任务挂图作战")
        assert svg.startswith("<svg") and "<text" in svg and "挂图作战" in svg
        assert 'data-code="T1" data-status="overdue"' in svg and 'data-code="T3" data-status="in_progress"' in svg
        assert "◆" in svg  # T1's milestone
        with _at(2025, 8, 3):
            sec = dispatch.month_section(s, "2025-07")
        assert sec["overdue"] == 2 and "市应急管理局" in sec["unreported"]  # T1 and T2 overdue; no reports
        assert "石横镇" not in sec["unreported"]
        assert sec["chart_svg"].count('data-status="overdue"') == 2


def test_bulletin_has_the_plan_work_section(org):
    from hazardloop.reports import bulletin

    db = org
    with db.session() as s:
        with _at(2025, 1, 2):
            plans.load_plan(s, db.user(s, "office1"), text=PLAN_2025)
            s.commit()
        with _at(2025, 4, 3):
            html, text = bulletin.render_both(s, "2025-03")
            again, _ = bulletin.render_both(s, "2025-03")
    assert html == again  # still deterministic
    assert "治本攻坚三年行动任务月调度情况" in html and 'id="plan-chart"' in html
    summary = html.split('<p id="plan-work-summary">')[1].split("</p>")[0]
    assert "本月到期任务 1 项，按期完成 0 项；月末逾期未完成 0 项" in summary  # T2 (03-31); T1's milestone is no deadline
    assert all(name in summary.split("未按时报送月调度的单位：")[1] for name in ("市应急管理局", "市住房和城乡建设局", "石横镇"))
    assert "三年行动任务月调度：本月到期" in text


def test_docs_show_the_machines_as_built():
    from pathlib import Path

    from hazardloop.states import task_machine

    doc = (Path(__file__).resolve().parent.parent / "docs" / "plans.md").read_text(encoding="utf-8")
    assert task_machine.TASK.mermaid() in doc and task_machine.FILING.mermaid() in doc


def test_cli_walks_the_loop_and_refuses_in_chinese(org, tmp_path, capsys, monkeypatch):
    import json

    import openpyxl

    from tests.helpers import cli_runner

    run = cli_runner(org.url, capsys, monkeypatch)
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN_2025, encoding="utf-8")
    with _at(2025, 1, 3):
        code, out, _ = run("plan", "load", str(plan_file), "--actor", "office1")
        assert code == 0 and "新增 3 项" in out
        code, _, err = run("plan", "load", str(plan_file), "--actor", "sup_yingji")
        assert code == 1 and "市安委办" in err  # a refusal: exit 1, Chinese reason
        code, out, _ = run("plan", "open-filings", "--year", "2025", "--unit", "yingji", "--actor", "office1")
        assert code == 0 and "2025-03-15" in out
        # an Excel task division into the unit's sub-plan, validated row by row
        xlsx = tmp_path / "division.xlsx"
        code, _, _ = run("plan", "template", str(xlsx))
        wb = openpyxl.load_workbook(xlsx)
        ws = wb.active
        ws.append(["YJ2025-02", "", "12", "特种作业人员考核", "", "", "", "2025-02-30", "", "市应急管理局", "", ""])
        ws.append(["YJ2025-03", "", "12", "", "", "", "", "2025-09-30", "", "不存在的局", "", ""])
        wb.save(xlsx)
        code, _, err = run("plan", "import", str(xlsx), "--plan", "yingji-2025", "--actor", "sup_yingji")
        assert code == 1 and "第 3 行" in err and "第 4 行" in err and "第 2 行" not in err
        ws.delete_rows(3, 2)
        wb.save(xlsx)
        code, out, _ = run("plan", "import", str(xlsx), "--plan", "yingji-2025", "--actor", "sup_yingji")
        assert code == 0 and "新增 1 项" in out
        code, out, _ = run("plan", "report", "T1", "--percent", "20", "--done", "摸底 30 家", "--problems", "人手不足",
                           "--actor", "sup_yingji")
        assert code == 0 and "进度 20%" in out
        code, _, err = run("plan", "report", "T1", "--percent", "20", "--done", "x", "--month", "2025-13",
                           "--actor", "sup_yingji")
        assert code == 2  # bad usage
        code, out, _ = run("plan", "tasks", "--unit", "yingji", "--json")
        rows = json.loads(out)
        assert [r["code"] for r in rows] == ["T1", "YJ2025-01"] and rows[0]["percent"] == 20
    with _at(2025, 3, 12):  # three working days before 15 March: 应急局 has not filed its sub-plan
        code, out, _ = run("plan", "remind")
        assert code == 0 and "子方案：提醒 1 个单位（yingji-2025）" in out
        code, out, _ = run("plan", "remind")
        assert code == 0 and "子方案：提醒 0 个单位（无）" in out  # once
    with _at(2025, 4, 2):
        code, out, _ = run("plan", "evaluate", "--month", "2025-03")
        assert code == 0 and "督促提醒" in out
        code, out, _ = run("plan", "ladder", "list", "--json")
        number = json.loads(out)[0]["number"]
        code, out, _ = run("plan", "ladder", "show", number)
        assert code == 0 and "子方案未按期报送备案" in out
        code, out, _ = run("plan", "chart", "-", "--year", "2025")
        assert code == 0 and out.startswith("<svg")
        code, out, _ = run("plan", "review", "issue", "2025-Q1", "--actor", "office1")
        assert code == 0 and "肥安办研〔2025〕1号" in out
        code, out, _ = run("plan", "review", "conclude", "2025-Q1", "--actor", "office1", "--conclusions", "加强调度",
                           "--measure", "yingji|2025-06-30|制定攻坚方案")
        assert code == 0 and "HS2025Q1-01" in out
        code, _, err = run("plan", "review", "conclude", "2025-Q1", "--actor", "office1", "--conclusions", "x")
        assert code == 1 and "不能重复记录" in err


def test_two_reviewers_at_once_one_wins(pg):
    """Optimistic locking on the task: the second verify/return on a stale row is a conflict."""
    from hazardloop.models.orgs import load_orgs
    from tests.conftest import ORG_FILE

    with pg.session() as s:
        load_orgs(s, ORG_FILE)
        with _at(2025, 2, 1):
            plans.load_plan(s, pg.user(s, "office1"), text=PLAN_2025)
            tasks.fire(s, pg.user(s, "sup_yingji"), "T1", "report_done", summary="完成", evidence=["报告.pdf"])
        s.commit()
    a, b = pg.session(), pg.session()
    try:
        ta, tb = tasks.get_task(a, "T1"), tasks.get_task(b, "T1")
        assert ta.state == tb.state == "reported"
        tasks.fire(b, pg.user(b, "office2"), "T1", "verify")
        b.commit()
        with pytest.raises(ConflictError, match="同时修改"):
            tasks.fire(a, pg.user(a, "office1"), "T1", "return_task", reason="佐证不足")
        a.rollback()
    finally:
        a.close()
        b.close()
    with pg.session() as s:
        assert tasks.get_task(s, "T1").state == "verified"
        assert s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "task_return_task")).scalar() == 0


def test_a_task_reported_done_before_the_report_day_owes_no_report(org):
    db = org
    with db.session() as s:
        with _at(2025, 1, 2):
            plans.load_plan(s, db.user(s, "office1"), text=PLAN_2025)
            s.commit()
        with _at(2025, 3, 10):
            tasks.fire(s, db.user(s, "sup_zhujian"), "T2", "report_done", summary="完成", evidence=["通知.pdf"])
            s.commit()
        with _at(2025, 4, 2):
            problems, duties = lag.unit_problems(s, "2025-03", _policy())
            assert ("department", "zhujian") in duties and ("department", "zhujian") not in problems
            assert [p["kind"] for p in problems[("department", "yingji")]] == ["missing_report"]
            lag.evaluate(s, "2025-03", policy=_policy())
            s.commit()
            assert lag.evaluate(s, "2025-01", policy=_policy()).steps == []  # an old month issues nothing again
