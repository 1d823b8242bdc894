"""Exactly-once under concurrency and crashes, and a year of days replayed with a frozen clock."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from hazardloop.config import calendar, clock
from hazardloop.config.escalation import load_policy
from hazardloop.models import audit
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import Hazard, Notification
from hazardloop.escalation import hazards as esc
from hazardloop.states import ledger
from tests.fixtures_escalation import ENT_XY, at, check_gapless, pg_org, rectifying_with_deadline
from tests.helpers import ENT_HD

__all__ = ["pg_org"]


def _expected_steps(deadlines: dict[int, date], as_of: date) -> set[tuple[int, str]]:
    policy = load_policy()
    return {(hid, st.code) for hid, d in deadlines.items() for st in policy.steps
            if calendar.add_workdays(d, st.offset) <= as_of}


def _make_overdue(s, n: int) -> dict[int, date]:  # noqa: ANN001
    deadlines = {}
    for i in range(n):
        deadline = date(2024, 9, 20) + timedelta(days=(i * 3) % 40)
        ent = ENT_HD if i % 2 == 0 else ENT_XY
        deadlines[rectifying_with_deadline(s, date(2024, 9, 2), deadline, enterprise=ent, title=f"隐患{i}")] = deadline
    return deadlines


def _assert_exactly_once(db, expected: set[tuple[int, str]]) -> None:  # noqa: ANN001
    with db.session() as s:
        rows = s.exec(select(EscalationStep.hazard_id, EscalationStep.step)).all()
        assert Counter(rows) == Counter(expected)  # each expected step once, nothing else
        docs = s.exec(select(Document)).all()
        with_doc = {(d.hazard_id, d.step) for d in docs}
        assert len(docs) == len(with_doc)
        letters = {(h, c) for h, c in expected if c not in ("reminder", "exposure")}
        assert with_doc == letters
        check_gapless(s)
        keys = s.exec(select(Notification.key).where(Notification.event == "escalation")).all()
        assert len(keys) == len(set(keys))
        per_step = Counter((n.hazard_id, n.step) for n in s.exec(select(Notification)).all())
        for hid, code in expected:  # every issued step has its notices (a 到期提醒 swept late is not sent)
            if code == "reminder":
                continue
            assert per_step[(hid, code if code != "exposure" else "exposure:proposed")] >= 1
        assert audit.verify(s).ok


@pytest.mark.pg
def test_two_concurrent_sweeps_on_postgresql_issue_everything_once(pg_org):
    with pg_org.session() as s:
        deadlines = _make_overdue(s, 30)
    totals = Counter()
    for as_of in (date(2024, 10, 14), date(2024, 11, 29)):
        barrier = threading.Barrier(4)
        results, errors = [], []

        def run() -> None:
            try:
                barrier.wait()
                results.append(esc.sweep(lambda: pg_org.session(), as_of, batch_size=3))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        with clock.frozen(at(as_of, 8)):
            threads = [threading.Thread(target=run) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        assert not errors, errors
        for r in results:
            totals.update(r.issued)
            totals["skipped"] += r.skipped  # a 到期提醒 swept after its deadline: its row, once, not sent
        _assert_exactly_once(pg_org, _expected_steps(deadlines, as_of))
    # the four sweeps together issued each step exactly once (none claimed it twice)
    assert sum(totals.values()) == len(_expected_steps(deadlines, date(2024, 11, 29)))


_KILL_SCRIPT = r'''
import sys, time
from datetime import date
from hazardloop.escalation import hazards as esc

url, day = sys.argv[1], date.fromisoformat(sys.argv[2])
original, calls = esc._process_batch, [0]

def slow(session, *args, **kwargs):
    calls[0] += 1
    original(session, *args, **kwargs)
    session.flush()  # everything of this batch is written, not committed
    print("HALFWAY" if calls[0] == 3 else f"BATCH {calls[0]}", flush=True)
    if calls[0] == 3:
        time.sleep(300)

esc._process_batch = slow
esc.sweep(esc.factory_for(url), day, batch_size=4)
print("FINISHED", flush=True)
'''


def test_sweep_killed_halfway_leaves_nothing_half_issued(org, tmp_path):
    with org.session() as s:
        deadlines = _make_overdue(s, 16)
    as_of = date(2024, 11, 29)
    script = tmp_path / "kill_me.py"
    script.write_text(_KILL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.getcwd(), HAZARDLOOP_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, str(script), org.url, as_of.isoformat()], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line.strip())
        if line.strip() == "HALFWAY":
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert seen[-1] == "HALFWAY", (seen, proc.stderr.read())
    assert proc.returncode == -signal.SIGKILL
    # Two batches (8 cycles) committed; the third, fully written but uncommitted, is gone.
    with org.session() as s:
        done = {h for (h,) in s.exec(select(EscalationStep.hazard_id)).all()} if False else \
            set(s.exec(select(EscalationStep.hazard_id)).all())
        assert len(done) == 8
        part = {k for k in _expected_steps(deadlines, as_of) if k[0] in done}
        rows = s.exec(select(EscalationStep.hazard_id, EscalationStep.step)).all()
        assert Counter(rows) == Counter(part)
        docs = s.exec(select(Document)).all()
        assert {(d.hazard_id, d.step) for d in docs} == {k for k in part if k[1] not in ("reminder", "exposure")}
        check_gapless(s)
        noticed = {n.hazard_id for n in s.exec(select(Notification).where(Notification.event == "escalation")).all()}
        assert noticed == done
    with clock.frozen(at(as_of, 9)):
        esc.sweep(lambda: org.session(), as_of)
    _assert_exactly_once(org, _expected_steps(deadlines, as_of))


# --- a year, day by day -------------------------------------------------------------------------

_SUP = {ENT_HD: "sup_yingji", ENT_XY: "office1"}
_SAFETY = {ENT_HD: "hd_safety", ENT_XY: "xy_safety"}


@pytest.mark.slow
def test_a_year_day_by_day(org, tmp_path):
    """300 hazards through 2024 with random judgements, plans, extensions, reviews; a sweep every working day."""
    if org.kind != "sqlite":
        pytest.skip("the year-long simulation runs on SQLite (PostgreSQL semantics are covered above)")
    rng = random.Random(20240101)
    policy = load_policy()
    start, end = date(2024, 1, 2), date(2024, 12, 31)
    reports = sorted((start + timedelta(days=rng.randrange(0, 300)), i) for i in range(300))
    ents: dict[int, str] = {}
    evidence = tmp_path / "photo.jpg"
    evidence.write_bytes(b"evidence")
    day, ri, swept = start, 0, 0
    while day <= end:
        with org.session() as s, clock.frozen(at(day, 10)):
            while ri < len(reports) and reports[ri][0] == day:
                ent = ENT_HD if reports[ri][1] % 2 else ENT_XY
                h = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ent, title=f"隐患{reports[ri][1]}",
                                  channel="inspection")
                ents[h.id] = ent
                ri += 1
            if calendar.is_workday(day):
                for h in s.exec(select(Hazard).where(Hazard.state.in_(["found", "listed", "rectifying", "reviewed"]))).all():
                    _act(s, rng, h, ents[h.id], day, evidence)
            s.commit()
        if calendar.is_workday(day):
            _sweep_and_check(org, day, policy)
            swept += 1
        day += timedelta(days=1)
    with org.session() as s:
        counts = check_gapless(s)
        states = Counter(s.exec(select(Hazard.state)).all())
        steps = Counter(s.exec(select(EscalationStep.step)).all())
        assert audit.verify(s).ok
    assert swept > 240 and sum(counts.values()) > 100, counts
    assert states["closed"] > 50 and steps["notice_letter"] > 30 and steps["timeout_found"] > 0, (states, steps)


def _user(s, username: str):  # noqa: ANN001, ANN202
    cache = s.info.setdefault("users", {})
    if username not in cache:
        cache[username] = ledger.get_user(s, username)
    return cache[username]


def _act(s, rng, h, ent, day, evidence) -> None:  # noqa: ANN001
    r = rng.random()
    if r >= 0.3 or (h.state != "reviewed" and r >= 0.15):
        return  # nothing happens to this hazard today
    sup, safety = _user(s, _SUP[ent]), _user(s, _SAFETY[ent])
    if h.state == "found" and r < 0.15:
        if rng.random() < 0.1:
            ledger.dismiss(s, sup, h.id, reason="不属于重大事故隐患")
        else:
            ledger.confirm(s, sup, h.id, basis_code="CHEM121" if ent == ENT_HD else "MEM10", basis_clause="第一条",
                           level="city")
    elif h.state == "listed" and r < 0.1:
        ledger.plan(s, safety, h.id, responsible_person="张三", measures="整改", funds="1000",
                    deadline=day + timedelta(days=rng.randrange(5, 60)), emergency_plan="预案")
    elif h.state == "rectifying" and r < 0.04:
        ledger.submit(s, safety, h.id, evidence=[evidence])
    elif h.state == "rectifying" and r < 0.05:
        ext = ledger.request_extension(s, safety, h.id, deadline=max(day, clock.local_date(h.deadline))
                                       + timedelta(days=rng.randrange(5, 30)), reason="延期")
        ledger.decide_extension(s, sup, ext.id, approve=rng.random() < 0.7, reason="审批")
    elif h.state == "reviewed" and r < 0.3:
        if rng.random() < 0.8:
            ledger.approve(s, sup, h.id, reason="通过")
        else:
            ledger.reject(s, sup, h.id, reason="不到位", deadline=day + timedelta(days=rng.randrange(5, 30)))


def _sweep_and_check(org, day: date, policy) -> None:  # noqa: ANN001
    with org.session() as s:
        before = {h.id: (h.state, h.cycle, h.deadline) for h in s.exec(select(Hazard)).all()}
        last = s.exec(select(func.max(EscalationStep.id))).one() or 0
    with clock.frozen(at(day, 8)):
        esc.sweep(lambda: org.session(), day, policy=policy)
    with org.session() as s:
        new = s.exec(select(EscalationStep).where(EscalationStep.id > last)).all()
        for st in new:  # nothing for a paused, closed, dismissed hazard or an old cycle
            state, cycle, _ = before[st.hazard_id]
            if st.step.startswith("timeout_"):
                assert state == st.step[len("timeout_"):].split("_")[0], (day, st)
            else:
                assert state == "rectifying" and cycle == st.cycle, (day, st, state, cycle)
                assert st.due_date <= day
        have = set(s.exec(select(EscalationStep.hazard_id, EscalationStep.cycle, EscalationStep.step)).all())
        for hid, (state, cycle, deadline) in before.items():  # no due step missed
            if state != "rectifying":
                continue
            for stp in policy.steps:
                if calendar.add_workdays(clock.local_date(deadline), stp.offset) <= day:
                    assert (hid, cycle, stp.code) in have, (day, hid, cycle, stp.code)
