"""Principal-led inspections: periods, missed periods, reminders queued once, as-of reproducibility."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.helpers import cli_runner
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.errors import HazardLoopError
from hazardloop.models.inspections import PrincipalInspection
from hazardloop.models.tables import AuditEvent, Enterprise, Notification
from hazardloop.reports import inspections as insp
from hazardloop.states import ledger
from tests.fixtures_stats import HD, TH, XY

CFG = insp.InspectionConfig(start=date(2024, 1, 1), remind_days=10)


def test_periods():
    assert insp.period_of(date(2024, 2, 29), monthly=True) == insp.Period("2024-02", date(2024, 2, 1), date(2024, 2, 29))
    assert insp.period_of(date(2024, 11, 3), monthly=False) == insp.Period("2024-Q4", date(2024, 10, 1), date(2024, 12, 31))
    assert [p.label for p in insp.periods_between(date(2024, 1, 15), date(2024, 7, 1), False)] == [
        "2024-Q1", "2024-Q2", "2024-Q3"]
    assert insp.period_name("2024-Q2") == "2024年第2季度" and insp.period_name("2024-03") == "2024年3月"


def _record(db, day: date, actor: str, ent: str, **kw) -> None:
    with db.session() as s, clock.frozen(day):
        insp.record(s, ledger.get_user(s, actor), enterprise=ent, inspected_on=kw.pop("on", day), **kw)
        s.commit()


def _seed(db) -> None:
    _record(db, date(2024, 1, 15), "hd_safety", HD, findings="储罐区检查")
    _record(db, date(2024, 2, 10), "hd_safety", HD)
    _record(db, date(2024, 4, 5), "hd_safety", HD)
    _record(db, date(2024, 2, 1), "xy_safety", XY)
    _record(db, date(2024, 1, 20), "sup_zhujian", TH, led_by="王振华")  # the actual controller may lead


def _gaps(gaps) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(g.enterprise[-8:], g.period) for g in gaps}


def test_missed_periods_and_reminders(org):
    _seed(org)
    with org.session(write=False) as s:
        missed = insp.missing(s, date(2024, 4, 25), config=CFG)
        # HD chemical (monthly): March; TH construction (monthly): Feb, March; XY machinery (quarterly): none yet
        assert {(g.enterprise_id, g.period) for g in missed} == {(1, "2024-03"), (3, "2024-02"), (3, "2024-03")}
        due = insp.reminders(s, date(2024, 4, 25), config=CFG)
        assert [(g.enterprise_id, g.period, g.days_left) for g in due] == [(3, "2024-04", 5)]
        assert insp.reminders(s, date(2024, 4, 19), config=CFG) == []  # 11 days left: not yet
        assert [g.period for g in insp.missing(s, date(2024, 7, 1), config=CFG) if g.enterprise_id == 2] == ["2024-Q2"]


def test_daily_check_queues_each_reminder_once(org):
    _seed(org)
    for _ in range(2):
        with org.session() as s, clock.frozen(date(2024, 4, 25)):
            result = insp.daily_check(s, config=CFG)
            s.commit()
    assert result.queued == 0 and len(result.reminders) == 1 and len(result.missed) == 3
    with org.session(write=False) as s:
        rows = s.exec(select(Notification)).all()
        th = s.exec(select(Enterprise).where(Enterprise.credit_code == TH)).one()
    assert [(n.event, n.step, n.cycle, n.recipient_role, n.recipient_name) for n in rows] == [
        ("inspection_reminder", "2024-04", th.id, "principal", "郑光明")]
    assert "2024年4月" in rows[0].subject and "2024-04-30" in rows[0].body


def test_as_of_counts_only_what_was_recorded_by_then(org):
    _seed(org)
    # A March inspection entered late, in May: the April figures do not change.
    _record(org, date(2024, 5, 3), "hd_safety", HD, on=date(2024, 3, 28))
    with org.session(write=False) as s:
        assert (1, "2024-03") in {(g.enterprise_id, g.period) for g in insp.missing(s, date(2024, 4, 25), config=CFG)}
        assert (1, "2024-03") not in {(g.enterprise_id, g.period) for g in insp.missing(s, date(2024, 5, 5), config=CFG)}
        assert len(insp.list_inspections(s, as_of=date(2024, 4, 25))) == 5
        assert len(insp.list_inspections(s, enterprise=HD)) == 4


@pytest.mark.parametrize("actor,kw,words", [
    ("xy_safety", {"enterprise": HD}, "不属于"),
    ("hd_safety", {"enterprise": HD, "led_by": "路人甲"}, "主要负责人"),
    ("hd_safety", {"enterprise": HD, "inspected_on": date(2024, 5, 1)}, "晚于今天"),
    ("sup_zhujian", {"enterprise": HD}, "监管部门"),
    ("citizen1", {"enterprise": HD}, "角色"),
    ("hd_safety", {"enterprise": HD, "hazard_ids": [999]}, "不是"),
])
def test_refusals_write_nothing(org, actor, kw, words):
    with org.session() as s, clock.frozen(date(2024, 4, 1)):
        kw.setdefault("inspected_on", date(2024, 3, 30))
        with pytest.raises(HazardLoopError) as err:
            insp.record(s, ledger.get_user(s, actor), **kw)
        s.rollback()
        assert words in str(err.value)
        assert s.exec(select(PrincipalInspection)).all() == []


def test_record_is_audited_with_linked_hazards(org):
    with org.session() as s, clock.frozen(date(2024, 4, 1)):
        hid = ledger.report(s, ledger.get_user(s, "hd_safety"), enterprise=HD, title="带队检查发现", channel="self_inspection").id
        row = insp.record(s, ledger.get_user(s, "hd_safety"), enterprise=HD, inspected_on=date(2024, 4, 1),
                          findings="发现 1 处", hazard_ids=[hid])
        s.commit()
        assert (row.hazards_found, row.hazard_ids, row.led_by) == (1, [hid], "赵建国")
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "inspection_recorded")).one()
        assert ev.after["inspection_id"] == row.id and ev.after["hazard_ids"] == [hid]


@pytest.fixture
def cli(db, capsys, monkeypatch):
    return cli_runner(db.url, capsys, monkeypatch)


def test_cli_record_list_missing(org, cli):
    code, out, err = cli("inspection", "record", "--actor", "hd_safety", "--enterprise", HD, "--date", "2024-01-15",
                         "--findings", "储罐区", "--json")
    assert code == 0, err
    assert json.loads(out)["led_by"] == "赵建国"
    code, out, _ = cli("inspection", "list", "--json")
    assert code == 0 and [r["period"] for r in json.loads(out)] == ["2024-01"]
    # Recorded today (real clock): as of 2024-03-05 it was not in the ledger yet, so January counts as missed.
    code, out, _ = cli("inspection", "missing", "--as-of", "2024-03-05", "--json")
    data = json.loads(out)
    assert code == 0 and {(g["enterprise_id"], g["period"]) for g in data["missed"]} == {
        (1, "2024-01"), (1, "2024-02"), (3, "2024-01"), (3, "2024-02")}
    code, out, _ = cli("inspection", "missing", "--json")
    assert ("2024-01" not in {g["period"] for g in json.loads(out)["missed"] if g["enterprise_id"] == 1})
    code, _, err = cli("inspection", "record", "--actor", "hd_safety", "--enterprise", HD, "--date", "2024-01-15",
                       "--led-by", "路人甲")
    assert code == 1 and "主要负责人" in err
    code, _, _ = cli("inspection", "record", "--actor", "hd_safety", "--enterprise", HD, "--date", "15/01/2024")
    assert code == 2


def test_flow_runs_the_daily_check_and_has_a_daily_deployment(org, prefect_harness):
    from hazardloop.flows import inspections as flows

    _seed(org)
    with clock.frozen(date(2024, 4, 25)):
        first = flows.inspection_check_flow(as_of="2024-04-25", db_url=org.url)
        again = flows.inspection_check_flow(as_of="2024-04-25", db_url=org.url)
    # the default config starts on 2024-01-01 too: TH is reminded once, the second run queues nothing
    assert (first["reminders"], first["queued"], again["queued"]) == (1, 1, 0)
    [dep] = flows.deployments()
    assert dep.name == "daily-inspection-check"
    assert dep.schedules[0].schedule.cron == flows.SCHEDULE and dep.schedules[0].schedule.timezone == "Asia/Shanghai"
