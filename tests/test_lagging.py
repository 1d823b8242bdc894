"""Regions and departments that lag (issue 7): thresholds, the unit ladder across simulated
months, approval of 曝光, the cycle ending, bad config; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fixtures_stats import build
from helpers import cli_runner, evidence_file
from hazardloop.config import calendar, clock
from hazardloop.config.lagging import LaggingPolicyError, parse_policy
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.models.lagging import LagDocument, LagEvaluation, LagStep
from hazardloop.models.tables import AuditEvent, Notification
from hazardloop.models import audit
from hazardloop.escalation import documents
from hazardloop.escalation import units
from hazardloop.reports import lagging, stats
from hazardloop.states import ledger
from hazardloop.states.errors import PermissionDenied

HD = "91370983MA3C0001AY"  # 恒达化工: 石横镇, chemical (市应急管理局)

SIM_POLICY = """
start: 2025-01
consecutive: 2
thresholds:
  - {metric: overdue_share, max: 10}
  - {metric: closure_rate, min: 80}
  - {metric: stock_open, max: 0, from: 2025-01}
steps:
  - {code: letter,    name: 函告, kind: letter,    template: doc_lag_letter,    doc_type: 函}
  - {code: bulletin,  name: 通报, kind: bulletin,  template: doc_lag_bulletin,  doc_type: 通}
  - {code: interview, name: 约谈, kind: interview, template: doc_lag_interview, doc_type: 约}
  - {code: exposure,  name: 曝光, kind: exposure,  template: doc_lag_exposure,  doc_type: 曝, approval: true}
"""


def _by_unit(evals: list[dict]) -> dict[tuple[str, str], dict]:
    return {(e["unit_kind"], e["unit_code"]): e for e in evals}


# --- thresholds against the hand-counted ledger -------------------------------------------------


def test_thresholds_on_hand_counted_ledger(org, tmp_path):
    """fixtures_stats' ledger: at 2024-06-30 新城街道 has H5 open (extended, not overdue) and
    H3 dismissed, so 1 confirmed, 0 closed: closure rate 0% < 80%.  石横镇 has H1 (2023 stock)
    and H2 both closed: 100%, nothing open.  At 2024-11-30 H6 (deadline 2024-10-31) is overdue:
    石横镇 1 open, 1 overdue (100% > 10%), 2 of 3 closed (66.7% < 80%)."""
    build(org, tmp_path)
    policy = lagging.load_policy()  # the packaged defaults: 10%, 80%, stock 0 from 2025-01
    with org.session() as s, clock.frozen(date(2024, 12, 2)):
        june = _by_unit(lagging.evaluate(s, "2024-06", policy=policy))
        s.commit()
        nov = _by_unit(lagging.evaluate(s, "2024-11", policy=policy))
        s.commit()
        # the region figures are stats.compute's, by the same definitions
        ref = {r.key: r for r in stats.compute(s, date(2024, 11, 30), "region").rows}
    xc = june[("region", "xincheng")]
    assert xc["figures"] == {"found": 2, "confirmed": 1, "closed": 0, "open": 1, "overdue": 0, "stock_open": 0}
    assert [(m["metric"], m["value"], m["limit"]) for m in xc["missed"]] == [("closure_rate", 0.0, 80.0)]
    sh = june[("region", "shiheng")]
    assert sh["figures"] == {"found": 2, "confirmed": 2, "closed": 2, "open": 0, "overdue": 0, "stock_open": 0}
    assert sh["missed"] == [] and sh["streak"] == 0
    gx = june[("region", "gaoxin")]  # H4 listed, not closed
    assert gx["figures"]["open"] == 1 and [m["metric"] for m in gx["missed"]] == ["closure_rate"]
    # departments: H1 H2 (chemical) H3 H5 (machinery) are 应急局's, H4 住建局's
    yj = june[("department", "yingji")]
    assert yj["figures"] == {"found": 4, "confirmed": 3, "closed": 2, "open": 1, "overdue": 0, "stock_open": 0}
    assert [m["value"] for m in yj["missed"]] == [66.7]
    assert june[("department", "zhujian")]["figures"]["confirmed"] == 1
    assert june[("region", "wenyang")]["missed"] == []  # no hazards: no base, nothing missed

    sh = nov[("region", "shiheng")]
    assert sh["figures"] == {"found": 3, "confirmed": 3, "closed": 2, "open": 1, "overdue": 1, "stock_open": 0}
    assert {m["metric"]: (m["value"], m["value_text"]) for m in sh["missed"]} == {
        "overdue_share": (100.0, "100%"), "closure_rate": (66.7, "66.7%")}
    # Back-filled 2024-07..10: H6 confirmed 09-02 and open, so 2 of 3 closed since September
    assert sh["streak"] == 3
    xc = nov[("region", "xincheng")]  # H5 closed in August: met since
    assert xc["missed"] == [] and xc["streak"] == 0 and xc["cycle"] == 1
    for key in ("shiheng", "xincheng", "gaoxin"):
        r = ref[key]
        got = nov[("region", key)]["figures"]
        assert (got["found"], got["confirmed"], got["closed"], got["open"], got["overdue"]) == (
            r.found, r.confirmed, r.closed, r.open, r.overdue)
    with org.session() as s:
        # stored once per unit and month, back to the policy's start (2024-01 .. 2024-11)
        months = s.execute(select(LagEvaluation.month).distinct()).scalars().all()
        assert sorted(months) == [f"2024-{m:02d}" for m in range(1, 12)]
        # 新城街道: missed from 2024-03 (H3 found, none confirmed? no: no base) -- its streak in July
        july = s.execute(select(LagEvaluation).where(LagEvaluation.month == "2024-07",
                                                     LagEvaluation.unit_code == "xincheng")).scalar_one()
        assert (july.streak, july.cycle) == (2, 1)  # June and July missed (H5 open, nothing closed)


def test_stock_threshold_counts_from_its_month(org, tmp_path):
    """A 2023 hazard still open: the stock threshold applies only from its `from` month."""
    policy = parse_policy(SIM_POLICY.replace("start: 2025-01", "start: 2024-11")
                          .replace("overdue_share, max: 10", "overdue_share, max: 100")
                          .replace("closure_rate, min: 80", "closure_rate, min: 0"), "test")
    with org.session() as s:
        with clock.frozen(date(2023, 5, 1)):
            ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=HD, title="存量隐患", channel="inspection")
            s.commit()
        with clock.frozen(date(2025, 2, 3)):
            dec = _by_unit(lagging.evaluate(s, "2024-12", policy=policy))
            jan = _by_unit(lagging.evaluate(s, "2025-01", policy=policy))
            s.commit()
    assert dec[("region", "shiheng")]["figures"]["stock_open"] == 1
    assert dec[("region", "shiheng")]["missed"] == []
    assert [m["metric"] for m in jan[("region", "shiheng")]["missed"]] == ["stock_open"]
    assert jan[("region", "shiheng")]["missed"][0]["rule"] == "2023年及以前存量隐患未销号数≤0项"


# --- the ladder across simulated months ---------------------------------------------------------


def _overdue_hazard(s, found: date, deadline: date, title: str) -> int:
    with clock.frozen(found):
        hid = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=HD, title=title, channel="inspection").id
        ledger.confirm(s, ledger.get_user(s, "sup_yingji"), hid, basis_code="CHEM121", basis_clause="第十三条",
                       level="city")
        ledger.plan(s, ledger.get_user(s, "hd_safety"), hid, responsible_person="孙立新", measures="加装报警",
                    funds="8000", deadline=deadline, emergency_plan="专项预案")
        s.commit()
    return hid


def _run(db, month: str, day: date, policy):
    with db.session() as s, clock.frozen(day):
        result = lagging.run(s, month, policy=policy)
        s.commit()
    return result


def _steps(db, unit: str = "shiheng") -> list[tuple[int, str, str, str]]:
    with db.session() as s:
        return [(r.cycle, r.step, r.status, r.month) for r in s.execute(
            select(LagStep).where(LagStep.unit_code == unit).order_by(LagStep.id)).scalars()]


def test_region_climbs_the_ladder_across_months(org, tmp_path, capsys, monkeypatch):
    policy = parse_policy(SIM_POLICY, "sim")
    with org.session() as s:
        hid = _overdue_hazard(s, date(2024, 12, 2), date(2024, 12, 20), "液氨储罐区未设泄漏报警")
    # Each month is run on the next month's first working day -- twice: nothing twice.
    runs = [("2025-01", date(2025, 2, 5)), ("2025-02", date(2025, 3, 3)), ("2025-03", date(2025, 4, 1)),
            ("2025-04", date(2025, 5, 6)), ("2025-05", date(2025, 6, 3))]
    expected = [[], ["letter"], ["letter", "bulletin"], ["letter", "bulletin", "interview"],
                ["letter", "bulletin", "interview", "exposure"]]
    for (month, day), steps in zip(runs, expected):
        first = _run(org, month, day, policy)
        again = _run(org, month, day, policy)
        assert again.steps == [] and again.documents == 0 and again.notifications == 0
        assert [st for _c, st, _s, _m in _steps(org)] == steps
        ev = _by_unit(first.evaluations)[("region", "shiheng")]
        assert ev["streak"] == len(runs[: runs.index((month, day)) + 1]) and ev["cycle"] == 1
    assert _steps(org) == [(1, "letter", "issued", "2025-02"), (1, "bulletin", "issued", "2025-03"),
                           (1, "interview", "issued", "2025-04"), (1, "exposure", "proposed", "2025-05")]
    # the department of the hazard's industry climbs its own ladder too; quiet units do not
    assert [st for _c, st, _s, _m in _steps(org, "yingji")] == ["letter", "bulletin", "interview", "exposure"]
    with org.session() as s:
        assert s.execute(select(func.count()).select_from(LagStep)).scalar() == 8
        docs = s.execute(select(LagDocument).where(LagDocument.unit_code == "shiheng")
                         .order_by(LagDocument.id)).scalars().all()
        assert [d.number for d in docs] == ["肥安办函〔2025〕1号", "肥安办通〔2025〕1号", "肥安办约〔2025〕1号"]
        assert len({d.number for d in s.execute(select(LagDocument)).scalars()}) == 6  # one series, no reuse
        letter = docs[0]
        assert letter.sha256 == documents.sha256(letter.html) and letter.text_sha256 == documents.sha256(letter.text)
        assert "石横镇人民政府：" in letter.text and "逾期隐患占未销号隐患比例为 100%" in letter.text
        assert "已连续 2 个月未达到考核要求" in letter.text
        assert "此前已被函告（" in docs[2].text  # the interview names the earlier documents
        # delivered through the outbox to the township officer (the letter), the committee too (bulletin on)
        rows = s.execute(select(Notification).where(Notification.event == units.EVENT,
                                                    Notification.document_id == letter.id)).scalars().all()
        assert {r.recipient_key for r in rows} == {"town_shiheng"} and rows[0].body == letter.text
        bulletin_to = {r.recipient_key for r in s.execute(select(Notification).where(
            Notification.document_id == docs[1].id, Notification.event == units.EVENT)).scalars()}
        # and, being 抄送 to 市安委会各成员单位, to every member unit (issue 14)
        assert {"town_shiheng", "office1", "office2", "township:石横镇", "department:市应急管理局"} <= bulletin_to
        proposed = s.execute(select(LagStep).where(LagStep.unit_code == "shiheng", LagStep.step == "exposure")
                             ).scalar_one()
        assert set(s.execute(select(Notification.recipient_key).where(
            Notification.event == units.EVENT_PROPOSED, Notification.step == f"lag:{proposed.id}")).scalars()) == {
            "office1", "office2"}
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.action.like("lag_%")))]
        assert actions.count("lag_step_issued") == 6 and actions.count("lag_step_proposed") == 2
        assert actions.count("lag_evaluated") == 5
        # the bulletin's view of May
        may = units.steps_for_month(s, "2025-05")
        assert {(x["unit_name"], x["step"], x["status"]) for x in may} == {
            ("石横镇", "曝光", "待审批"), ("市应急管理局", "曝光", "待审批")}
        assert may[0]["missed"][0]["rule"].startswith("逾期隐患占未销号隐患比例≤10%")

    # 曝光: refused for anyone but the committee office, in Chinese; then approved
    with org.session() as s, clock.frozen(date(2025, 6, 4)):
        with pytest.raises(PermissionDenied, match="市安委办"):
            units.approve(s, ledger.get_user(s, "sup_yingji"), proposed.id, policy=policy)
        s.rollback()
        with pytest.raises(PermissionDenied, match="市安委办"):
            units.approve(s, ledger.get_user(s, "town_shiheng"), proposed.id, policy=policy)
        s.rollback()
    run = cli_runner(org.url, capsys, monkeypatch)
    code, _out, err = run("lagging", "approve", str(proposed.id), "--actor", "sup_yingji")
    assert code == 1 and "市安委办" in err and "Traceback" not in err
    with org.session() as s, clock.frozen(date(2025, 6, 4)):
        row, doc = units.approve(s, ledger.get_user(s, "office1"), proposed.id, policy=policy)
        s.commit()
        assert row.status == "approved" and doc.number == "肥安办曝〔2025〕1号"
        assert "经市安委办批准，现予以公开曝光" in doc.text
        with pytest.raises(ValidationError, match="不是待审批"):
            units.approve(s, ledger.get_user(s, "office2"), proposed.id, policy=policy)
        s.rollback()
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "lag_step_approved")).scalar_one()
        assert ev.actor == "office1" and ev.after["number"] == "肥安办曝〔2025〕1号"
        assert audit.verify(s).ok

    # The hazard is closed in June: June meets every threshold, the cycle ends, and the 曝光 the
    # department still awaited is withdrawn with the reason (it can no longer be decided).
    with org.session() as s:
        with clock.frozen(date(2025, 6, 10)):
            ledger.submit(s, ledger.get_user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
            s.commit()
        with clock.frozen(date(2025, 6, 12)):
            ledger.approve(s, ledger.get_user(s, "sup_yingji"), hid)
            s.commit()
    june = _run(org, "2025-06", date(2025, 7, 1), policy)
    sh = _by_unit(june.evaluations)[("region", "shiheng")]
    assert sh["missed"] == [] and sh["streak"] == 0 and june.steps == []
    with org.session() as s, clock.frozen(date(2025, 7, 2)):
        dept = s.execute(select(LagStep).where(LagStep.unit_code == "yingji", LagStep.step == "exposure")).scalar_one()
        assert (dept.status, dept.decided_by, dept.decision_reason) == (
            "withdrawn", "system", "2025-06 已达到考核要求，本轮督办结束")
        with pytest.raises(ValidationError, match="已撤回"):
            units.approve(s, ledger.get_user(s, "office1"), dept.id, policy=policy)
        s.rollback()
        with pytest.raises(ValidationError, match="不是待审批"):
            units.decline(s, ledger.get_user(s, "office1"), dept.id, reason="已整改完毕")
        s.rollback()
        assert units.list_steps(s, status="proposed") == []  # the queue holds live proposals only
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "lag_step_withdrawn")).scalar_one()
        assert ev.after["step_id"] == dept.id and "已达到考核要求" in ev.reason

    # Missing again later starts a new cycle, from its first step.
    with org.session() as s:
        _overdue_hazard(s, date(2025, 7, 1), date(2025, 7, 15), "反应釜未设联锁")
    _run(org, "2025-07", date(2025, 8, 1), policy)
    aug = _run(org, "2025-08", date(2025, 9, 1), policy)
    sh = _by_unit(aug.evaluations)[("region", "shiheng")]
    assert (sh["streak"], sh["cycle"]) == (2, 2)
    assert _steps(org)[-1] == (2, "letter", "issued", "2025-08")
    assert [(it["unit_code"], it["name"]) for it in aug.steps] == [("shiheng", "函告"), ("yingji", "函告")]


def _two_missed_months(org):  # noqa: ANN001, ANN202
    """One hazard at 石横镇 overdue from December 2024; January and February 2025 run: the second
    missed month issues the 函告 (肥安办函〔2025〕1号 to 石横镇).  Returns the policy used."""
    policy = parse_policy(SIM_POLICY, "sim")
    with org.session() as s:
        _overdue_hazard(s, date(2024, 12, 2), date(2024, 12, 20), "液氨储罐区未设泄漏报警")
    _run(org, "2025-01", date(2025, 2, 5), policy)
    _run(org, "2025-02", date(2025, 3, 3), policy)
    return policy


def test_document_show_finds_unit_letters_and_refuses_a_tampered_one(org, capsys, monkeypatch):
    """`document show` knows every stored 公文 by its 文号, a lagging unit's letter included; a
    stored body that no longer matches its SHA-256 is refused, in Chinese, by both commands."""
    _two_missed_months(org)
    with org.session() as s:
        letter = s.execute(select(LagDocument).where(LagDocument.unit_code == "shiheng")).scalar_one()
    run = cli_runner(org.url, capsys, monkeypatch)
    code, out, err = run("document", "show", letter.number)
    assert code == 0 and out == letter.text, err
    code, out, _err = run("document", "show", letter.number, "--html")
    assert code == 0 and out == letter.html
    code, _out, err = run("document", "show", "肥安办函〔2031〕9号")
    assert code == 1 and "没有文号为 肥安办函〔2031〕9号 的公文" in err and "Traceback" not in err
    with org.engine.begin() as conn:  # behind the application's back
        conn.execute(LagDocument.__table__.update().where(LagDocument.__table__.c.id == letter.id)
                     .values(text=letter.text.replace("石横镇", "某某镇")))
    for cmd in ("document", "lagging"):
        code, out, err = run(cmd, "show", letter.number)
        assert code == 1 and out == "" and "SHA-256 不符" in err and "Traceback" not in err
    code, out, _err = run("document", "show", letter.number, "--html")  # the HTML is untouched
    assert code == 0 and out == letter.html


def test_month_not_ended_and_before_start_refused(org):
    policy = parse_policy(SIM_POLICY, "sim")
    with org.session() as s, clock.frozen(date(2025, 3, 31)):
        with pytest.raises(ValidationError, match="尚未结束"):
            lagging.evaluate(s, "2025-03", policy=policy)
        with pytest.raises(ValidationError, match="早于考核起始月份"):
            lagging.evaluate(s, "2024-12", policy=policy)


def test_dry_run_writes_nothing(org):
    policy = parse_policy(SIM_POLICY, "sim")
    with org.session() as s:
        _overdue_hazard(s, date(2024, 12, 2), date(2024, 12, 20), "液氨储罐区未设泄漏报警")
    with org.session() as s, clock.frozen(date(2025, 3, 3)):
        result = lagging.run(s, "2025-02", policy=policy, dry_run=True)
        s.commit()
    assert [it["name"] for it in result.steps] == ["函告", "函告"] and result.documents == 2
    with org.session() as s:
        assert s.execute(select(func.count()).select_from(LagEvaluation)).scalar() == 0
        assert s.execute(select(func.count()).select_from(LagStep)).scalar() == 0


def test_cli_run_list_and_usage(org, capsys, monkeypatch, tmp_path):
    path = tmp_path / "lagging.yaml"
    path.write_text(SIM_POLICY, encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_LAGGING_POLICY", str(path))
    with org.session() as s:
        _overdue_hazard(s, date(2024, 12, 2), date(2024, 12, 20), "液氨储罐区未设泄漏报警")
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(date(2025, 3, 3)):
        code, out, err = run("lagging", "run", "--month", "2025-02")
        assert code == 0, err
        assert "石横镇" in out and "函告" in out and "肥安办函〔2025〕" in out
        code, out, _ = run("lagging", "list", "--month", "2025-02", "--json")
        assert code == 0 and '"unit_name": "石横镇"' in out and '"status": "issued"' in out
        code, _out, err = run("lagging", "run", "--month", "2025-13")
        assert code == 2
        code, out, err = run("lagging", "run", "--month", "2025-03")  # not over: a dry run, nothing written
        assert code == 0 and "尚未结束" in out and "试运行" in out
        code, _out, err = run("lagging", "approve", "999", "--actor", "office1")
        assert code == 1 and "没有编号为 999" in err


# --- bad config ------------------------------------------------------------------------------


@pytest.mark.parametrize("edit, line, words", [
    (("max: 10}", "max: 120}"), 5, "0–100"),
    (("closure_rate, min: 80", "closure_rate, max: 80"), 6, "只能给出 min"),
    (("metric: stock_open", "metric: stock"), 7, "指标 'stock' 未知"),
    (("consecutive: 2", "consecutive: two"), 3, "应为整数"),
    (("start: 2025-01", "start: 2025-1"), 2, "YYYY-MM"),
    (("doc_lag_bulletin,", "doc_lag_nothing,"), 10, "公文模板 'doc_lag_nothing' 不存在"),
    (("doc_type: 通}", "doc_type: T}"), 10, "汉字"),
    (("doc_type: 曝, approval: true}", "doc_type: 曝, approval: yes please}"), 12, "true 或 false"),
    (("  - {code: letter,", "  - {code: letter, offset: 3,"), 9, "未知的键 'offset'"),
])
def test_bad_config_refused_with_line(edit, line, words):
    bad = SIM_POLICY.replace(*edit)
    assert bad != SIM_POLICY
    with pytest.raises(LaggingPolicyError) as exc:
        parse_policy(bad, "bad.yaml")
    assert f"落后单位督办规则文件 bad.yaml 第 {line} 行：" in str(exc.value) and words in str(exc.value)


def test_bad_config_refused_by_cli(org, capsys, monkeypatch, tmp_path):
    path = tmp_path / "lagging.yaml"
    path.write_text(SIM_POLICY.replace("consecutive: 2", "consecutive: 0"), encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_LAGGING_POLICY", str(path))
    run = cli_runner(org.url, capsys, monkeypatch)
    with clock.frozen(date(2025, 3, 3)):
        code, _out, err = run("lagging", "run", "--month", "2025-02")
    assert code == 1 and "第 3 行" in err and "consecutive" in err and "Traceback" not in err
    with org.session() as s:
        assert s.execute(select(func.count()).select_from(LagEvaluation)).scalar() == 0


def test_run_day_is_first_working_day():
    assert calendar.first_workday(2025, 2) == date(2025, 2, 5)  # after the Spring Festival holiday
    assert lagging.is_run_day(date(2025, 6, 3)) and not lagging.is_run_day(date(2025, 6, 4))
    assert calendar.first_workday(2025, 10) == date(2025, 10, 9)  # after the National Day week


# --- the monthly flow ----------------------------------------------------------------------------


def test_monthly_flow_runs_on_first_working_day_once(org, prefect_harness, monkeypatch, tmp_path):
    from hazardloop.flows.lagging import lagging_flow

    path = tmp_path / "lagging.yaml"
    path.write_text(SIM_POLICY, encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_LAGGING_POLICY", str(path))
    with org.session() as s:
        _overdue_hazard(s, date(2024, 12, 2), date(2024, 12, 20), "液氨储罐区未设泄漏报警")
    with clock.frozen(date(2025, 3, 1)):  # a Saturday: not the first working day
        assert lagging_flow(db_url=org.url)["skipped"] is True
    with clock.frozen(date(2025, 3, 3)):
        first = lagging_flow(db_url=org.url)
        again = lagging_flow(db_url=org.url)
    assert first["month"] == "2025-02" and first["documents"] == 2 and first["lagging"] == 2
    assert again["documents"] == 0 and again["notifications"] == 0
    assert _steps(org) == [(1, "letter", "issued", "2025-02")]


def test_deployment_registered():
    from hazardloop.flows.deployments import all_deployments

    deps = {d.name: d for d in all_deployments()}
    sched = deps["monthly-lagging-units"].schedules[0].schedule
    assert sched.cron == "45 8 * * *" and sched.timezone == "Asia/Shanghai"


def test_bulletin_names_the_units_letters_of_its_month(org):
    """The monthly bulletin lists the unit ladder's issued steps of its month, with 文号; a 曝光
    still awaiting approval is not named (it is decided, and published, later)."""
    from hazardloop.reports import bulletin

    policy = _two_missed_months(org)
    with org.session() as s:
        jan = bulletin.render(s, "2025-01")
        feb = bulletin.render(s, "2025-02")
    assert "本月没有镇街区、部门因工作进展滞后被函告、通报或约谈。" in jan and 'id="lagging"' not in jan
    section = feb[feb.index('<table id="lagging">'):feb.index("九、工作要求")]
    assert "石横镇" in section and "肥安办函〔2025〕1号" in section and "市应急管理局" in section
    assert "逾期隐患占未销号隐患比例" in section
    # later months' steps do not leak back into February's bulletin (reproducible)
    for month, day in [("2025-03", date(2025, 4, 1)), ("2025-04", date(2025, 5, 6)), ("2025-05", date(2025, 6, 3))]:
        _run(org, month, day, policy)
    with org.session() as s:
        assert bulletin.render(s, "2025-02") == feb
        may = bulletin.render(s, "2025-05")
    assert 'id="lagging"' not in may  # only the 曝光 proposals that month: not named until decided


def test_demo_ending_prints_the_unit_ladder_and_the_bulletin(org):
    """The demo's last step (demo._issue_bulletin) on a ledger whose units have climbed the ladder."""
    from rich.console import Console

    from hazardloop import demo

    _two_missed_months(org)
    console = Console(record=True, width=120)
    out = demo._issue_bulletin(org.engine, console, date(2025, 3, 3))
    text = console.export_text()
    assert out["number"] == "肥安办通报〔2025〕1号" and out["units"] > 0
    assert out["lagging_steps"]["函告"] >= 2  # the region and its department
    assert "函告" in text and "2025-02 月通报：肥安办通报〔2025〕1号" in text
