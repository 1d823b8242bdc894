"""Statistics as of a date, against a hand-counted ledger (tests/fixtures_stats.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.helpers import cli_runner

from hazardloop.reports import stats
from tests.fixtures_stats import build, phase1, phase2


def _by(db, as_of: date, by: str = "region") -> stats.Stats:
    with db.session(write=False) as s:
        return stats.compute(s, as_of, by)


def _rows(result: stats.Stats) -> dict[str, stats.Row]:
    return {r.key: r for r in result.rows}


def test_hand_counted_end_of_june(org, tmp_path):
    phase1(org, tmp_path)
    june = _by(org, date(2024, 6, 30))
    t = june.total
    assert (t.found, t.confirmed, t.closed, t.open, t.overdue, t.closed_on_time, t.dismissed, t.rejections) == (
        5, 4, 2, 2, 0, 2, 1, 1)
    assert t.median_days_to_close == 43.5  # median of 24.0 (H1) and 63.0 (H2)
    assert t.escalations == 0 and june.escalations_counted and june.notes == []  # no sweep has issued a step
    assert (june.stock.found, june.stock.closed, june.stock.open) == (1, 1, 0)
    assert [(y.year, y.found, y.closed, y.open, y.dismissed) for y in june.by_year] == [(2024, 4, 1, 2, 1)]
    rows = _rows(june)
    assert set(rows) == {"shiheng", "xincheng", "gaoxin"}
    assert (rows["shiheng"].found, rows["shiheng"].closed, rows["shiheng"].closed_on_time,
            rows["shiheng"].rejections, rows["shiheng"].median_days_to_close) == (2, 2, 2, 1, 43.5)
    assert (rows["xincheng"].found, rows["xincheng"].open, rows["xincheng"].dismissed,
            rows["xincheng"].confirmed) == (2, 1, 1, 1)
    assert (rows["gaoxin"].found, rows["gaoxin"].open, rows["gaoxin"].median_days_to_close) == (1, 1, None)


def test_other_dimensions(org, tmp_path):
    phase1(org, tmp_path)
    as_of = date(2024, 6, 30)
    assert {k: r.found for k, r in _rows(_by(org, as_of, "state")).items()} == {
        "closed": 2, "dismissed": 1, "listed": 1, "rectifying": 1}
    assert {k: r.found for k, r in _rows(_by(org, as_of, "level")).items()} == {
        "city": 2, "taian": 1, "province": 1, "": 1}
    assert {k: r.found for k, r in _rows(_by(org, as_of, "channel")).items()} == {
        "inspection": 3, "self_inspection": 2}
    industry = _rows(_by(org, as_of, "industry"))
    assert (industry["chemical"].found, industry["machinery"].found, industry["construction"].found) == (2, 2, 1)


def test_overdue_follows_the_deadline_as_it_stood(org, tmp_path):
    ids = build(org, tmp_path)
    april5 = _by(org, date(2024, 4, 5)).total  # H2 past its first deadline (03-31), still rectifying
    assert (april5.found, april5.open, april5.overdue, april5.closed, april5.dismissed) == (3, 1, 1, 1, 1)
    assert _by(org, date(2024, 4, 11)).total.overdue == 0  # submitted on 04-10: review pauses the clock
    assert _by(org, date(2024, 7, 15)).total.overdue == 0  # H5 extended to 07-31
    aug5 = _rows(_by(org, date(2024, 8, 5), "state"))
    assert aug5["rectifying"].overdue == 1  # H5 past 07-31
    end = _by(org, date(2024, 12, 31))
    t = end.total
    assert (t.found, t.closed, t.closed_on_time, t.open, t.overdue, t.rejections) == (6, 3, 2, 2, 1, 3)
    assert t.median_days_to_close == 63.0  # 24, 63, 72
    assert _rows(end)["shiheng"].rejections == 3
    assert ids["H6"]
    before_anything = _by(org, date(2023, 5, 31))
    assert before_anything.total.found == 0 and before_anything.rows == []


def test_a_past_month_is_reproducible_after_the_ledger_changes(org, tmp_path):
    phase1(org, tmp_path)
    as_of = date(2024, 6, 30)
    first = {by: _by(org, as_of, by).as_dict() for by in stats.DIMENSIONS}
    phase2(org, tmp_path, {"H1": 1, "H2": 2, "H3": 3, "H4": 4, "H5": 5})
    again = {by: _by(org, as_of, by).as_dict() for by in stats.DIMENSIONS}
    assert again == first
    assert _by(org, date(2024, 12, 31)).as_dict() != first["region"]  # and the ledger did move


def make_escalation_table(db, rows: list[tuple]) -> None:
    """Steps in the escalation feature's table (models/escalation.py), as a sweep would have issued them:
    rows of (hazard_id, step, kind, status, created 'YYYY-MM-DD HH:MM:SS' UTC, decided or None)."""
    from datetime import datetime, timezone

    from hazardloop.models.escalation import EscalationStep

    def utc(value):  # noqa: ANN001, ANN202
        return value and datetime.fromisoformat(value).replace(tzinfo=timezone.utc)

    with db.session() as s:
        for hid, step, kind, status, created, decided in rows:
            s.add(EscalationStep(hazard_id=hid, cycle=1, step=step, kind=kind, status=status,
                                 due_date=utc(created).date(), created_at=utc(created), decided_at=utc(decided)))
        s.commit()


def drop_escalation_table(db) -> None:
    """Clear the steps again (the table itself belongs to the schema)."""
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM escalation_step"))


def test_escalation_steps_are_counted_when_the_table_exists(org, tmp_path):
    ids = phase1(org, tmp_path)
    make_escalation_table(org, [
        (ids["H5"], "notice_letter", "letter", "issued", "2024-06-10 02:00:00", None),
        (ids["H5"], "warning_letter", "letter", "issued", "2024-07-10 02:00:00", None),
        (ids["H5"], "exposure", "exposure", "approved", "2024-06-20 02:00:00", "2024-07-20 02:00:00"),
        (ids["H4"], "exposure", "exposure", "proposed", "2024-06-20 02:00:00", None),
    ])
    try:
        june = _by(org, date(2024, 6, 30))
        assert june.escalations_counted and june.total.escalations == 1 and june.notes == []
        assert _rows(june)["xincheng"].escalations == 1
        # July: the second letter, and the exposure once approved (a proposal is not a step issued)
        assert _by(org, date(2024, 7, 31)).total.escalations == 3
    finally:
        drop_escalation_table(org)


@pytest.fixture
def cli(db, capsys, monkeypatch):
    return cli_runner(db.url, capsys, monkeypatch)


def test_cli_stats_json_and_table(org, tmp_path, cli):
    phase1(org, tmp_path)
    code, out, _ = cli("stats", "--as-of", "2024-06-30", "--by", "region", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["total"]["found"] == 5 and data["stock"]["found"] == 1
    code, out, _ = cli("stats", "--as-of", "2024-06-30", "--by", "level")
    assert code == 0 and "省级" in out and "未确认" in out and "存量" in out
    code, _, err = cli("stats", "--by", "colour")
    assert code == 2 and "region" in err


def test_series_agrees_with_compute_at_every_month_end(org, tmp_path):
    build(org, tmp_path)
    days = [date(2023, 5, 31), date(2023, 6, 20), date(2023, 6, 30), date(2024, 3, 31), date(2024, 4, 5),
            date(2024, 4, 11), date(2024, 6, 30), date(2024, 8, 5), date(2024, 9, 11), date(2024, 12, 31)]
    with org.session(write=False) as s:
        got = stats.series(s, days)
        want = [stats.compute(s, d) for d in days]
    assert [(p["open"], p["overdue"], p["stock_open"]) for p in got] == [
        (w.total.open, w.total.overdue, w.stock.open) for w in want]
    assert [p["overdue"] for p in got] == [0, 0, 0, 0, 1, 0, 0, 1, 0, 1]
