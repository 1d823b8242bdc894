"""Concurrent writers and a tampered audit trail.

PostgreSQL (`pg`): real sessions in real threads — two supervisors approving the
same hazard at once, and many writers appending to the audit chain at once.
Both databases (`db`): someone with database rights alters or deletes audit rows
behind the application's back, and `audit.verify` names the event.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from hazardloop.models import audit
from hazardloop.errors import ConflictError
from hazardloop.models.orgs import load_orgs
from hazardloop.models.tables import AuditEvent, AuditHead, Extension, Hazard
from hazardloop.states import ledger
from hazardloop.states.machine import TRANSITIONS, replay
from tests.conftest import ORG_FILE
from tests.helpers import evidence_file, future, rectifying, reported, reviewed

TRIGGERS = {t["trigger"] for t in TRANSITIONS}
JOIN_TIMEOUT = 60


def _load_org(db) -> None:  # noqa: ANN001
    with db.session() as s:
        load_orgs(s, ORG_FILE)
        s.commit()


def _run_threads(target, args_list) -> list:  # noqa: ANN001
    """Run target(*args) in one thread each; return their results (or exceptions)."""
    results: list = [None] * len(args_list)

    def run(i: int, args: tuple) -> None:
        try:
            results[i] = target(*args)
        except BaseException as exc:  # noqa: BLE001  (reported by the test, not lost in the thread)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a writer hung (lock never released?)"
    return results


def _chain(s) -> list:  # noqa: ANN001
    return s.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()


# --- (a) two supervisors approve the same reviewed hazard at once -------------------


def _approve_after_barrier(db, username: str, hid: int, barrier: threading.Barrier) -> str:  # noqa: ANN001
    with db.session() as s:
        user = ledger.get_user(s, username)
        hazard = ledger.get_hazard(s, hid)  # both have read the hazard (state reviewed) ...
        assert hazard.state == "reviewed"
        barrier.wait(timeout=JOIN_TIMEOUT)  # ... before either writes
        try:
            ledger.approve(s, user, hid, reason=f"{username} 现场核查通过")
            s.commit()
        except BaseException:
            s.rollback()
            raise
    return username


@pytest.mark.parametrize("round_", range(3))
def test_two_supervisors_approving_at_once_one_wins(pg, tmp_path, round_):
    _load_org(pg)
    with pg.session() as s:
        hid = reviewed(s, tmp_path)
        version = s.get(Hazard, hid).version
    barrier = threading.Barrier(2)
    results = _run_threads(_approve_after_barrier, [(pg, "sup_yingji", hid, barrier),
                                                    (pg, "sup_yingji2", hid, barrier)])
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], ConflictError), repr(losers[0])
    assert "已被他人同时修改" in str(losers[0])
    with pg.session(write=False) as s:
        hazard = s.get(Hazard, hid)
        assert hazard.state == "closed" and hazard.closed_by == winners[0]
        assert hazard.version == version + 1  # exactly one UPDATE went through
        approvals = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid,
                                                    AuditEvent.action == "approve")).all()
        assert [e.actor for e in approvals] == winners
        assert audit.verify(s).ok


def _decide_after_barrier(db, username: str, ext_id: int, approve: bool, barrier: threading.Barrier) -> str:  # noqa: ANN001
    with db.session() as s:
        user = ledger.get_user(s, username)
        ext = s.get(Extension, ext_id)
        assert ext.status == "pending"  # both have read the pending request ...
        barrier.wait(timeout=JOIN_TIMEOUT)  # ... before either decides
        try:
            ledger.decide_extension(s, user, ext_id, approve=approve, reason=f"{username} 的决定")
            s.commit()
        except BaseException:
            s.rollback()
            raise
    return username


@pytest.mark.parametrize("decisions", [(False, False), (True, False)], ids=["deny-deny", "approve-deny"])
def test_two_regulators_deciding_one_extension_at_once_one_wins(pg, decisions):
    """Without a guard on the pending status two denials were both recorded."""
    _load_org(pg)
    with pg.session() as s:
        hid = rectifying(s)
        ext_id = ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=future(60),
                                          reason="设备到货延迟").id
        s.commit()
    barrier = threading.Barrier(2)
    results = _run_threads(_decide_after_barrier, [(pg, "sup_yingji", ext_id, decisions[0], barrier),
                                                    (pg, "sup_yingji2", ext_id, decisions[1], barrier)])
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], ConflictError), repr(losers[0])
    with pg.session(write=False) as s:
        ext = s.get(Extension, ext_id)
        assert ext.decided_by == winners[0]
        decided = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid, AuditEvent.action.in_(
            ["extend", "extension_denied"]))).all()
        assert [e.actor for e in decided] == winners  # one decision in the trail, the winner's
        assert audit.verify(s).ok


# --- (b) many writers append to the chain at once --------------------------------------

THREADS = 8
HAZARDS_PER_THREAD = 5
SHARED_EDITS_PER_THREAD = 5
REGULATORS = ["sup_yingji", "sup_yingji2", "office1", "office2"]


def _unit(db, fn) -> None:  # noqa: ANN001
    with db.session() as s:
        try:
            fn(s)
            s.commit()
        except BaseException:
            s.rollback()
            raise


def _walk_hazards(db, k: int, hazard_ids: list[int], shared: int, evidence: Path) -> dict:  # noqa: ANN001
    """Per hazard: confirm, plan, submit (with evidence: two events), approve; then edit the
    shared hazard, retrying on a conflict as a person would after a refresh."""
    sup = REGULATORS[k % len(REGULATORS)]
    approver = REGULATORS[(k + 1) % len(REGULATORS)]
    for hid in hazard_ids:
        _unit(db, lambda s: ledger.confirm(s, ledger.get_user(s, sup), hid, basis_code="CHEM121",
                                           basis_clause="第十三条", level="city"))
        _unit(db, lambda s: ledger.plan(s, ledger.get_user(s, "hd_safety"), hid, responsible_person="孙立新",
                                        measures="加装泄漏报警", funds="5000", deadline=future(20),
                                        emergency_plan="专项预案"))
        # Every thread submits the same evidence content: one content-addressed file.
        _unit(db, lambda s: ledger.submit(s, ledger.get_user(s, "hd_staff"), hid, evidence=[evidence]))
        _unit(db, lambda s: ledger.approve(s, ledger.get_user(s, approver), hid))
    conflicts = 0
    for i in range(SHARED_EDITS_PER_THREAD):
        for _attempt in range(200):
            try:
                _unit(db, lambda s: ledger.edit(s, ledger.get_user(s, sup), shared,
                                                description=f"线程{k}第{i}次修改"))
                break
            except ConflictError:
                conflicts += 1
        else:
            raise AssertionError("an edit never got through")
    return {"conflicts": conflicts}


def test_concurrent_writers_keep_one_gapless_chain(pg, tmp_path):
    _load_org(pg)
    with pg.session() as s:
        ids = [reported(s, title=f"并发隐患 {i}") for i in range(THREADS * HAZARDS_PER_THREAD)]
        shared = reported(s, title="多人同时修改的隐患")
        shared_version = s.get(Hazard, shared).version
        events_before = len(_chain(s))
    evidence = evidence_file(tmp_path, "same.jpg", b"one photo, many uploaders")
    per_thread = [ids[k::THREADS] for k in range(THREADS)]
    results = _run_threads(_walk_hazards, [(pg, k, per_thread[k], shared, evidence) for k in range(THREADS)])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    print("conflicts on the shared hazard:", sum(r["conflicts"] for r in results))

    with pg.session(write=False) as s:
        chain = _chain(s)
        seqs = [e.seq for e in chain]
        assert seqs == list(range(1, len(chain) + 1))  # gapless, no duplicate, in order
        assert len({e.hash for e in chain}) == len(chain)
        head = s.get(AuditHead, 1)
        assert head.seq == len(chain) and head.hash == chain[-1].hash
        assert audit.verify(s).ok
        edits = THREADS * SHARED_EDITS_PER_THREAD
        # 5 events per walked hazard (confirm, start_rectification, evidence, submit, approve) + the edits.
        assert len(chain) == events_before + len(ids) * 5 + edits
        by_hazard: dict[int, list[str]] = {}
        for e in chain:
            by_hazard.setdefault(e.hazard_id, []).append(e.action)
        for hid in ids:
            assert by_hazard[hid] == ["report", "confirm", "start_rectification", "evidence", "submit", "approve"]
            assert s.get(Hazard, hid).state == "closed"
        assert Counter(by_hazard[shared]) == {"report": 1, "edit": edits}
        hazard = s.get(Hazard, shared)
        assert hazard.version == shared_version + edits  # every edit won exactly once
        last_edit = [e for e in chain if e.hazard_id == shared][-1]
        assert last_edit.after == {"description": hazard.description}
        for hid, actions in by_hazard.items():
            if hid is not None:
                assert s.get(Hazard, hid).state == replay([a for a in actions if a in TRIGGERS])


# --- (c) tampering behind the application's back (both databases) ------------------------


def _some_history(db, tmp_path) -> list:  # noqa: ANN001
    _load_org(db)
    with db.session() as s:
        hid = reviewed(s, tmp_path)
        ledger.approve(s, ledger.get_user(s, "sup_yingji"), hid, reason="整改到位")
        s.commit()
        chain = _chain(s)
        assert audit.verify(s).ok
    assert len(chain) >= 8
    return chain


class Attacker:
    """Someone with database rights: switches off the append-only trigger first."""

    def __init__(self, db) -> None:  # noqa: ANN001
        self.db = db

    def __enter__(self) -> Attacker:
        with self.db.engine.begin() as conn:
            if self.db.kind == "pg":
                conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
            else:
                conn.execute(text("DROP TRIGGER audit_event_no_update"))
                conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        return self

    def sql(self, statement: str, **params) -> int:
        with self.db.engine.begin() as conn:
            return conn.execute(text(statement), params).rowcount

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        # The PostgreSQL test database outlives this test: put the trigger back.
        if self.db.kind == "pg":
            with self.db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change"))


def _verify(db):  # noqa: ANN001, ANN202
    with db.session(write=False) as s:
        return audit.verify(s)


def test_altered_event_is_named(db, tmp_path):
    chain = _some_history(db, tmp_path)
    victim = next(e for e in chain if e.action == "approve")
    with Attacker(db) as attacker:
        assert attacker.sql("UPDATE audit_event SET actor = 'office1' WHERE seq = :seq", seq=victim.seq) == 1
    result = _verify(db)
    assert not result.ok and result.bad_seq == victim.seq and "篡改" in result.message()
    assert result.checked == victim.seq - 1


def test_altered_event_with_recomputed_hash_breaks_the_next_link(db, tmp_path):
    chain = _some_history(db, tmp_path)
    victim = chain[len(chain) // 2]
    forged = AuditEvent(**{**victim.model_dump(), "reason": "改过的理由"})
    with Attacker(db) as attacker:
        attacker.sql("UPDATE audit_event SET reason = :r, hash = :h WHERE seq = :seq",
                     r=forged.reason, h=audit.event_hash(forged), seq=victim.seq)
    result = _verify(db)
    # Its signature (HMAC, key outside the database) no longer matches: the rewritten event is named.
    assert not result.ok and result.bad_seq == victim.seq and "签名" in result.message()


def test_deleted_middle_event_is_a_gap(db, tmp_path):
    chain = _some_history(db, tmp_path)
    victim = chain[len(chain) // 2]
    with Attacker(db) as attacker:
        assert attacker.sql("DELETE FROM audit_event WHERE seq = :seq", seq=victim.seq) == 1
    result = _verify(db)
    assert not result.ok and result.bad_seq == victim.seq and "缺失" in result.message()


def test_deleted_tail_event_is_noticed(db, tmp_path):
    chain = _some_history(db, tmp_path)
    with Attacker(db) as attacker:
        assert attacker.sql("DELETE FROM audit_event WHERE seq = :seq", seq=chain[-1].seq) == 1
    result = _verify(db)
    assert not result.ok and result.bad_seq == chain[-1].seq and "链尾" in result.message()


def test_trigger_refuses_update_and_delete(db, tmp_path):
    chain = _some_history(db, tmp_path)
    seq = chain[3].seq
    for statement in ("UPDATE audit_event SET actor = 'someone' WHERE seq = :seq",
                      "DELETE FROM audit_event WHERE seq = :seq"):
        with pytest.raises(DBAPIError, match="审计记录只能追加"):
            with db.engine.begin() as conn:
                conn.execute(text(statement), {"seq": seq})
    with db.session(write=False) as s:
        assert [(e.seq, e.hash, e.actor) for e in _chain(s)] == [(e.seq, e.hash, e.actor) for e in chain]
        assert audit.verify(s).ok



# --- (d) lock order: the audit head before the hazard row, in every unit of work -------------


def _waiting_on_lock(db, count: int, timeout: float = 20.0) -> None:  # noqa: ANN001
    """Wait until `count` backends of this database wait on a lock."""
    import time

    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            n = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND wait_event_type = 'Lock'")).scalar_one()
            conn.rollback()
            if n >= count:
                return
            time.sleep(0.05)
    raise AssertionError("the other writer never started waiting")


def test_evidence_then_submit_does_not_deadlock_with_an_edit(pg, tmp_path):
    """Unit A stores evidence (an audit append: A holds the head row) and then submits
    (an UPDATE of the hazard row).  Meanwhile unit B edits the same hazard.  Were B to
    lock the hazard row before the head, A and B would wait on each other (PostgreSQL
    aborts one with a deadlock error).  Every unit takes the head first, so B waits for
    A, then finds the hazard changed: a clear conflict, and A's submit stands."""
    from tests.helpers import rectifying

    _load_org(pg)
    with pg.session() as s:
        hid = rectifying(s)
    a = pg.session()
    try:
        ledger.add_evidence(a, ledger.get_user(a, "hd_safety"), hid, evidence_file(tmp_path))  # A holds the head
        outcome = _run_threads_async(lambda: _unit(pg, lambda s: ledger.edit(
            s, ledger.get_user(s, "sup_yingji"), hid, description="监管人员同时修改")))
        _waiting_on_lock(pg, 1)  # B is blocked (on the head: it must not hold the hazard row)
        ledger.submit(a, ledger.get_user(a, "hd_safety"), hid)
        a.commit()
    finally:
        a.close()
    result = outcome()
    assert isinstance(result, ConflictError), repr(result)
    with pg.session(write=False) as s:
        assert s.get(Hazard, hid).state == "reviewed"
        assert [e.action for e in _chain(s) if e.hazard_id == hid][-2:] == ["evidence", "submit"]
        assert audit.verify(s).ok


def _run_threads_async(fn):  # noqa: ANN001, ANN202
    """Start fn in a thread; return a function that joins it and gives its result or exception."""
    box: list = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # noqa: BLE001
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result():  # noqa: ANN202
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), "the other writer hung"
        return box[0]

    return result
