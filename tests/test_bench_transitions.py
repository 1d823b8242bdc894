"""bench/transitions.py measures what it says.

The ratio is only meaningful if the baseline really does the engine's writes: the same
rows, in tables with the same columns and indexes, chained the same way.  These tests run
the bench's own pieces on a few hazards (no timing is asserted anywhere)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hazardloop.models.audit import canonical

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tb():
    spec = importlib.util.spec_from_file_location("bench_transitions", ROOT / "bench" / "transitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _indexes(conn, kind: str, schema: str) -> dict[str, set[str]]:
    """Each written table's index definitions, with its name and schema taken out."""
    found: dict[str, set[str]] = {}
    for table in ("hazard", "rectification_plan", "audit_event"):
        if kind == "sqlite":
            rows = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                                     "AND sql IS NOT NULL"), {"t": table}).scalars()
            defs = {r.split(" ON ", 1)[1] for r in rows}
            defs |= {f"pk/unique {r[2]}" for r in conn.execute(text(f"PRAGMA index_list({table})")) if r[3] != "c"}
        else:
            rows = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = :s AND tablename = :t"),
                                {"s": schema, "t": table}).scalars()
            defs = {r.split(" USING ", 1)[1] for r in rows}
        found[table] = defs
    return found


def test_baseline_writes_the_same_rows_into_a_copy_of_the_engines_tables(db, tb, tmp_path):
    n = 9
    hazards = tb.setup_engine_db(db.url, n)
    ids = [hid for hid, _ in hazards]
    url, prefix = tb.copy_written_tables(db.url, db.kind, "hl_copy_test")
    base = tb.Baseline(url, ids, prefix=prefix)
    head_before, versions = (base.seq, base.prev_hash), dict(base.version)
    try:
        for phase in tb.PHASES:
            base.phase(phase, hazards)
    finally:
        base.close()
    copy = create_engine(url) if db.kind == "sqlite" else db.engine
    try:
        with copy.connect() as conn:
            rows = conn.execute(text(f"SELECT id, state, version, cycle FROM {prefix}hazard ORDER BY id")).all()
            # each row: four version-checked UPDATEs
            assert [tuple(r) for r in rows] == [(hid, "closed", versions[hid] + 4, 1) for hid in sorted(ids)]
            assert conn.execute(text(f"SELECT count(*) FROM {prefix}rectification_plan")).scalar_one() == n
            events = conn.execute(text(f'SELECT seq, ts, actor, action, hazard_id, "before", "after", reason, '
                                       f"prev_hash, hash FROM {prefix}audit_event WHERE seq > :s ORDER BY seq"),
                                  {"s": head_before[0]}).all()
            copy_indexes = _indexes(conn, db.kind, "hl_copy_test")
        # The chain goes on from the engine's head, one event per transition, each hash recomputable.
        assert [e.seq for e in events] == list(range(head_before[0] + 1, head_before[0] + 1 + 4 * n))
        prev = head_before[1]
        for e in events:
            before, after = (v if v is None or isinstance(v, dict) else json.loads(v) for v in (e.before, e.after))
            ts = datetime.fromisoformat(e.ts) if isinstance(e.ts, str) else e.ts  # SQLite: stored as text
            assert e.prev_hash == prev
            assert hashlib.sha256(canonical(e.seq, ts, e.actor, e.action, e.hazard_id, before, after, e.reason,
                                            e.prev_hash)).hexdigest() == e.hash
            prev = e.hash
        assert [e.action for e in events[:: n]] == list(tb.PHASES)
        # The engine's own tables are untouched, and the copy has their indexes.
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM hazard WHERE state = 'found'")).scalar_one() == n
            engine_indexes = _indexes(conn, db.kind, "public")
        assert copy_indexes == engine_indexes and "(state, deadline)" in " ".join(engine_indexes["hazard"])
    finally:
        if db.kind == "sqlite":
            copy.dispose()
        tb.drop_copy(db.url, db.kind, "hl_copy_test")


def test_bench_prints_the_ratio_last_and_checks_the_engine(db, tb, tmp_path, capsys):
    n = 6
    minimal = f"sqlite:///{tmp_path / 'minimal.sqlite'}" if db.kind == "sqlite" else db.url
    try:
        ratio = tb.bench(db.url, minimal, n, None, chunk=4)
    finally:
        if db.kind == "pg":
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS baseline_plan, baseline_audit, baseline_hazard"))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"ratio: {ratio:.2f}" and ratio > 0
    assert any(line.startswith(f"engine check: {n} hazards closed; 审计链完整") for line in lines)
    assert any(line.startswith("engine / minimal-table baseline (for information):") for line in lines)
    if db.kind == "pg":  # the copies were dropped with the run
        with db.engine.connect() as conn:
            assert not conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'hl_copy_%'")).all()
