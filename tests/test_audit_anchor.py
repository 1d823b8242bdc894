"""The audit trail anchored outside the database (issue 13): each attack of someone with write
access to the database, on SQLite and PostgreSQL, is named by `audit verify`."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from hazardloop.cli import app
from hazardloop.models import anchor, audit
from hazardloop.models.tables import AuditEvent
from hazardloop.states import ledger
from tests.helpers import listed

runner = CliRunner()


class Attacker:
    """Write access to the database: every trigger on audit_event off, plain SQL."""

    def __init__(self, db) -> None:  # noqa: ANN001
        self.db = db

    def __enter__(self) -> Attacker:
        with self.db.engine.begin() as conn:
            if self.db.kind == "pg":
                conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            else:
                for (name,) in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                                 "AND tbl_name = 'audit_event'")).all():
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
        return self

    def sql(self, statement: str, **params) -> int:  # noqa: ANN003
        with self.db.engine.begin() as conn:
            return conn.execute(text(statement), params).rowcount

    def rows(self) -> list:
        with self.db.engine.connect() as conn:
            return conn.execute(AuditEvent.__table__.select().order_by(AuditEvent.__table__.c.seq)).all()

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        if self.db.kind == "pg":  # the PostgreSQL database outlives the test
            with self.db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


def _history(org, n: int = 3) -> int:  # noqa: ANN001
    with org.session() as s:
        for i in range(n):
            listed(s, title=f"隐患 {i}")
        return s.connection().execute(text("SELECT max(seq) FROM audit_event")).scalar_one()


def _verify(db) -> audit.VerifyResult:  # noqa: ANN001
    with db.session(write=False) as s:
        return audit.verify(s)


def _checkpoint(db) -> anchor.Checkpoint:  # noqa: ANN001
    with db.session(write=False) as s:
        return audit.checkpoint(s)


def _recomputed(row, **changes) -> dict:  # noqa: ANN001, ANN003
    d = dict(row._mapping) | changes
    d["hash"] = audit.event_hash(type("E", (), d))
    return d


INSERT = ("INSERT INTO audit_event (seq, ts, actor, action, hazard_id, \"before\", \"after\", reason, prev_hash, hash, mac) "
          "VALUES (:seq, :ts, :actor, :action, :hazard_id, :before, :after, :reason, :prev_hash, :hash, :mac)")


def _params(d: dict) -> dict:
    return d | {"before": json.dumps(d["before"]) if d["before"] is not None else None,
                "after": json.dumps(d["after"]) if d["after"] is not None else None}


def test_insert_or_replace_and_sequence_reuse_refused(org):
    last = _history(org, 1)
    with org.engine.connect() as conn:
        victim = conn.execute(AuditEvent.__table__.select().where(AuditEvent.__table__.c.seq == 2)).one()
    forged = _params(dict(victim._mapping) | {"actor": "someone", "hash": "f" * 64})
    replace = "INSERT OR REPLACE" if org.kind == "sqlite" else "INSERT"
    statements = [INSERT.replace("INSERT", replace, 1)]  # reuse seq 2 (SQLite: REPLACE deletes the old row)
    skip = forged | {"seq": last + 5, "prev_hash": "0" * 64}  # skip ahead: not the chain's next
    for sql, params in ((statements[0], forged), (INSERT, skip)):
        with pytest.raises(DBAPIError):
            with org.engine.begin() as conn:
                conn.execute(text(sql), params)
    if org.kind == "pg":  # an upsert is an UPDATE: the append-only trigger refuses it
        with pytest.raises(DBAPIError, match="只能"):
            with org.engine.begin() as conn:
                conn.execute(text(INSERT + " ON CONFLICT (seq) DO UPDATE SET actor = 'someone'"), forged)
    with org.session() as s:  # the head did not move back, and the next write still works
        assert s.connection().execute(text("SELECT seq FROM audit_head")).scalar_one() == last
        listed(s, title="之后的隐患")
        assert audit.verify(s).ok


def test_deleted_tail_with_moved_head_is_caught_by_the_checkpoint(org):
    _history(org)
    cp = _checkpoint(org)
    with Attacker(org) as attacker:
        rows = attacker.rows()
        keep = rows[-4]
        attacker.sql("DELETE FROM audit_event WHERE seq > :s", s=keep.seq)
        attacker.sql("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1", s=keep.seq, h=keep.hash)
    result = _verify(org)
    assert not result.ok and result.bad_seq == keep.seq + 1 and str(cp.seq) in result.message(), result.message()


@pytest.mark.parametrize("mac", ["kept", "dropped"])
def test_rewritten_event_with_every_later_hash_recomputed_is_named(org, mac):
    _history(org)
    _checkpoint(org)
    with Attacker(org) as attacker:
        rows = attacker.rows()
        victim = rows[len(rows) // 2]
        attacker.sql("DELETE FROM audit_event WHERE seq >= :s", s=victim.seq)
        prev = rows[victim.seq - 2].hash
        for row in rows[victim.seq - 1:]:
            changes = {"prev_hash": prev}
            if row.seq == victim.seq:
                changes["reason"] = "改写的理由"
            d = _recomputed(row, **changes)
            if mac == "dropped":
                d["mac"] = None
            attacker.sql(INSERT, **_params(d))
            prev = d["hash"]
        attacker.sql("UPDATE audit_head SET hash = :h WHERE id = 1", h=prev)
    result = _verify(org)
    assert not result.ok and result.bad_seq == victim.seq, result.message()


def test_forged_event_with_a_correct_sha256_is_named(org):
    last = _history(org)
    with Attacker(org) as attacker:
        head = attacker.rows()[-1]
        d = _recomputed(head, seq=last + 1, prev_hash=head.hash, actor="office1", action="approve",
                        reason="伪造的销号", after={"state": "closed"}, before=None)
        d["mac"] = hashlib.sha256(b"guess").hexdigest()
        attacker.sql(INSERT, **_params(d))
        attacker.sql("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1", s=last + 1, h=d["hash"])
    result = _verify(org)
    assert not result.ok and result.bad_seq == last + 1 and "签名" in result.message(), result.message()


def test_checkpoint_file_edits_are_named(org):
    _history(org, 1)
    _checkpoint(org)
    with org.session() as s:
        listed(s, title="第二批")
    _checkpoint(org)
    path = anchor.checkpoint_path()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and _verify(org).ok
    doc = json.loads(lines[1])
    path.write_text(lines[0] + "\n" + json.dumps(doc | {"seq": doc["seq"] - 1}) + "\n")
    assert "第 2 行签名无效" in _verify(org).message()
    path.write_text(lines[1] + "\n")  # the first checkpoint removed
    assert "第 1 行与上一个检查点不衔接" in _verify(org).message()


def test_cli_checkpoint_then_verify_private_files(org):
    _history(org, 1)
    out = runner.invoke(app, ["--db", org.url, "audit", "checkpoint", "--json"])
    assert out.exit_code == 0, out.output
    path = anchor.checkpoint_path()
    assert json.loads(out.output)["file"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(anchor.key_file().stat().st_mode) == 0o600
    ok = runner.invoke(app, ["--db", org.url, "audit", "verify"])
    assert ok.exit_code == 0 and "签名检查点" in ok.output, ok.output
    with org.session() as s:  # a broken chain gets no checkpoint
        s.connection().execute(text("UPDATE audit_head SET seq = seq + 1 WHERE id = 1"))
        s.commit()
    refused = runner.invoke(app, ["--db", org.url, "audit", "checkpoint"])
    assert refused.exit_code == 1 and "未写入检查点" in str(refused.exception)
    assert len(path.read_text().splitlines()) == 1


def test_key_file_elsewhere(org, tmp_path, monkeypatch):
    default = anchor.key_file()
    key = tmp_path / "vault" / "audit.key"
    monkeypatch.setenv("HAZARDLOOP_AUDIT_KEY_FILE", str(key))
    with org.session() as s:  # a named key file that is missing: nothing is written without it
        with pytest.raises(Exception, match="审计签名密钥文件不存在"):
            listed(s)
    key.parent.mkdir()
    key.write_bytes(default.read_bytes())  # the key moved out of the data directory
    default.unlink()
    _history(org, 1)
    assert _verify(org).ok
    key.write_text("z" * 64)  # another key: every signature is refused
    assert "签名与内容不符" in _verify(org).message()


def test_checkpoint_flow_registered_hourly():
    from hazardloop.flows.deployments import all_deployments

    dep = {d.name: d for d in all_deployments()}["hourly-audit-checkpoint"]
    sched = dep.schedules[0].schedule
    assert sched.cron == "0 * * * *" and sched.timezone == "Asia/Shanghai"


def test_skipping_ahead_is_refused_even_with_the_last_hash(org):
    """The chain check finds the predecessor by key (migration 0019): seq last + 2 carrying the last
    event's hash has no predecessor and is refused; seq last + 1 with it is the chain's next."""
    last = _history(org, 1)
    with org.engine.connect() as conn:
        tail = conn.execute(AuditEvent.__table__.select().where(AuditEvent.__table__.c.seq == last)).one()
    ahead = _params(dict(tail._mapping) | {"seq": last + 2, "prev_hash": tail.hash, "hash": "e" * 64})
    with pytest.raises(DBAPIError):
        with org.engine.begin() as conn:
            conn.execute(text(INSERT), ahead)
    with org.session() as s:
        listed(s, title="之后的隐患")
        assert audit.verify(s).ok


def test_the_chain_check_reads_no_table_when_its_statistics_say_empty(db):
    """0010's trigger asked for `ORDER BY seq DESC LIMIT 1`; planned while ANALYZE said audit_event
    was empty (a new installation, a database copied from a template) it kept a sequential scan,
    and every audited write read the whole table.  0019 looks the predecessor up by key."""
    if db.kind != "pg":
        pytest.skip("SQLite's trigger reads MAX(rowid); the plan cache is PostgreSQL's")
    from sqlalchemy import create_engine

    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("TRUNCATE audit_event"))
            conn.execute(text("UPDATE audit_head SET seq = 0, hash = :h"), {"h": "0" * 64})
            conn.execute(text("VACUUM ANALYZE audit_event"))  # statistics: empty
    finally:
        admin.dispose()
    with db.session() as s:
        for i in range(200):
            audit.append(s, actor="system", action="bench", after={"i": i})
        scans = s.connection().execute(text(
            "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'audit_event'")).scalar_one()
        s.commit()
        assert scans < 50, scans  # 0010's function: one per append (211 measured); 0019: 12
        assert audit.verify(s).ok
