"""The append-only, hash-chained audit trail.

Each event's hash is SHA-256 over its previous hash and its canonical JSON form;
the single audit_head row is locked by every append (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so appends from concurrent writers are
serialised into one gapless chain.  There is no function here that updates or
deletes an event, and the database refuses both by trigger.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session

from hazardloop.config.clock import utcnow
from hazardloop.errors import ValidationError
from hazardloop.models import anchor
from hazardloop.models.db import connection
from hazardloop.models.fastsql import Prepared
from hazardloop.models.tables import AuditEvent, AuditHead

GENESIS = "0" * 64


_AS_IS = frozenset((str, int, float, bool))


def jsonable(value: Any) -> Any:
    """The JSON value an audit field is stored (and hashed) as."""
    if value is None or type(value) in _AS_IS:  # most values: nothing to convert
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def canonical(
    seq: int, ts: datetime, actor: str, action: str, hazard_id: int | None,
    before: dict | None, after: dict | None, reason: str | None, prev_hash: str,
) -> bytes:
    doc = {
        "seq": seq, "ts": jsonable(ts), "actor": actor, "action": action,
        "hazard_id": hazard_id, "before": before, "after": after, "reason": reason,
        "prev_hash": prev_hash,
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(event: Any) -> str:
    """The hash an event (ORM object or table row) ought to carry."""
    return hashlib.sha256(canonical(
        event.seq, event.ts, event.actor, event.action, event.hazard_id,
        event.before, event.after, event.reason, event.prev_hash,
    )).hexdigest()


_EVENTS = AuditEvent.__table__
_HEAD = AuditHead.__table__
# Built once: the three statements of an append are plain Core on the session's
# connection (no ORM unit of work, no model validation per event), compiled once
# and served from SQLAlchemy's statement cache after that.
_LOCK_HEAD_STMT = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENT = _EVENTS.insert()
_MOVE_HEAD = _HEAD.update().where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
# PostgreSQL: the INSERT and the head's move in one statement (one round trip less):
#   WITH e AS (INSERT INTO audit_event ... RETURNING seq, hash)
#   UPDATE audit_head SET seq = e.seq, hash = e.hash FROM e WHERE audit_head.id = 1
_COLUMNS = ("seq", "ts", "actor", "action", "hazard_id", "before", "after", "reason", "prev_hash", "hash", "mac")
_NEW_EVENT = (_EVENTS.insert().values({c: bindparam(f"e_{c}", type_=_EVENTS.c[c].type) for c in _COLUMNS})
              .returning(_EVENTS.c.seq, _EVENTS.c.hash).cte("e"))
_INSERT_AND_MOVE = (_HEAD.update().values(seq=_NEW_EVENT.c.seq, hash=_NEW_EVENT.c.hash)
                    .where(_HEAD.c.id == 1, _NEW_EVENT.c.seq == _HEAD.c.seq + 1))
# The single append runs these on the driver's cursor (models/fastsql.py): same SQL,
# same type conversions, without SQLAlchemy's per-call execution context.
_LOCK_HEAD = Prepared(_LOCK_HEAD_STMT)
_FAST_INSERT_EVENT = Prepared(_INSERT_EVENT, column_keys=list(_COLUMNS))
_FAST_INSERT_AND_MOVE = Prepared(_INSERT_AND_MOVE)


@dataclass(frozen=True, slots=True)
class Appended:
    """The event just written (the row itself is in the database already)."""

    seq: int
    ts: datetime
    actor: str
    action: str
    hazard_id: int | None
    before: dict | None
    after: dict | None
    reason: str | None
    prev_hash: str
    hash: str
    mac: str | None = None


def append(
    session: Session, *, actor: str, action: str, hazard_id: int | None = None,
    before: dict | None = None, after: dict | None = None, reason: str | None = None,
) -> Appended:
    """Append one event in the caller's transaction (it commits or rolls back with it).

    The head row is locked first (SELECT ... FOR UPDATE; on SQLite the writing
    unit of work already holds the write lock), so concurrent appends queue up
    behind it and the chain stays gapless."""
    conn = connection(session)
    head = _LOCK_HEAD.first(conn)
    head_seq, head_hash = head["seq"], head["hash"]
    row = {
        "seq": head_seq + 1, "ts": utcnow(), "actor": actor, "action": action, "hazard_id": hazard_id,
        "before": jsonable(before) if before is not None else None,
        "after": jsonable(after) if after is not None else None,
        "reason": reason, "prev_hash": head_hash,
    }
    row["hash"] = hashlib.sha256(canonical(**row)).hexdigest()
    row["mac"] = anchor.event_mac(row["seq"], row["hash"])
    if conn.dialect.name == "postgresql":
        moved = _FAST_INSERT_AND_MOVE.execute(conn, {f"e_{k}": v for k, v in row.items()})
        if moved != 1:  # cannot happen while the head is locked; never leave the two apart
            raise RuntimeError(f"audit head did not move to {row['seq']}")
    else:  # SQLite: the audit_event_moves_head trigger moves the head in the same statement
        _FAST_INSERT_EVENT.execute(conn, row)
    event = Appended(**row)
    return event


def append_many(session: Session, events: list[dict[str, Any]]) -> int:
    """Append several events under one lock of the head (a sweep's batch): the same chain,
    rows and hashes as that many append() calls, in two statements.  Each event is a dict
    with actor, action and optionally hazard_id, before, after, reason."""
    if not events:
        return 0
    conn = session.connection()
    seq, prev = conn.execute(_LOCK_HEAD_STMT).one()
    now = utcnow()
    key = anchor.audit_key()
    rows = []
    for ev in events:
        seq += 1
        row = {
            "seq": seq, "ts": now, "actor": ev["actor"], "action": ev["action"], "hazard_id": ev.get("hazard_id"),
            "before": jsonable(ev["before"]) if ev.get("before") is not None else None,
            "after": jsonable(ev["after"]) if ev.get("after") is not None else None,
            "reason": ev.get("reason"), "prev_hash": prev,
        }
        row["hash"] = prev = hashlib.sha256(canonical(**row)).hexdigest()
        row["mac"] = anchor.event_mac(seq, prev, key)
        rows.append(row)
    conn.execute(_INSERT_EVENT, rows)
    if conn.dialect.name != "sqlite":  # on SQLite the insert trigger has moved it, row by row
        conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    return len(rows)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_seq: int | None = None
    problem: str | None = None
    checkpoints: int = 0  # signed checkpoints the chain was checked against
    anchored_to: int = 0  # the last checkpoint's seq: events after it are not yet anchored
    unsigned: int = 0  # events older than the per-event signature (migration 0010)

    def message(self) -> str:
        if self.ok:
            tail = self.checked - self.anchored_to
            anchored = (f"；与 {self.checkpoints} 个签名检查点一致（最新检查点：第 {self.anchored_to} 条"
                        + (f"，其后 {tail} 条尚待下一检查点" if tail else "") + "）") if self.checkpoints \
                else "；尚无签名检查点（hazardloop audit checkpoint）"
            legacy = f"；其中 {self.unsigned} 条早于逐条签名" if self.unsigned else ""
            return f"审计链完整：共校验 {self.checked} 条记录{anchored}{legacy}。"
        if self.bad_seq is None:
            return f"审计链锚定失败：{self.problem}。"
        return f"审计链被破坏：第 {self.bad_seq} 条记录{self.problem}。"


def verify(session: Session, batch: int = 5000, *, checkpoints: Path | None = None) -> VerifyResult:
    """Recompute the chain in order and name the first event that does not match: its place
    (seq), its link (prev_hash), its content (hash), its signature (mac, with the key kept
    outside the database) and the signed checkpoints written outside it."""
    key = anchor.audit_key() if anchor.key_file().exists() else None
    marks: list[anchor.Checkpoint] = []
    if key is not None:
        marks, problem = anchor.valid_checkpoints(checkpoints)
        if problem:
            return VerifyResult(False, 0, None, problem)
    at_mark = {cp.seq: cp for cp in marks}
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    last_seq, signed_seen, unsigned = 0, False, 0
    table = AuditEvent.__table__
    while True:
        # Plain rows, not ORM objects: nothing piles up in the session's identity map.
        rows = session.execute(
            table.select().where(table.c.seq > last_seq).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, "缺失（序号不连续）")
            if event.prev_hash != prev_hash:
                return VerifyResult(False, checked, event.seq, "的前序哈希与上一条不符")
            if event_hash(event) != event.hash:
                return VerifyResult(False, checked, event.seq, "的内容与其哈希不符（被篡改）")
            if event.mac is None:
                if signed_seen:
                    return VerifyResult(False, checked, event.seq, "缺少签名（在已签名的记录之后：伪造或改写）")
                unsigned += 1
            else:
                signed_seen = True
                if key is None:
                    return VerifyResult(False, checked, event.seq, f"带有签名，但找不到审计签名密钥 {anchor.key_file()}")
                if not hmac.compare_digest(anchor.event_mac(event.seq, event.hash, key), event.mac):
                    return VerifyResult(False, checked, event.seq, "的签名与内容不符（没有密钥的伪造或改写）")
            mark = at_mark.get(event.seq)
            if mark is not None and mark.hash != event.hash:
                return VerifyResult(False, checked, event.seq,
                                    f"与 {mark.ts} 的签名检查点记录的哈希不符（此前的记录被改写）")
            prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
            last_seq = event.seq
    if marks and marks[-1].seq > checked:
        return VerifyResult(False, checked, checked + 1,
                            f"缺失（{marks[-1].ts} 的签名检查点记录链尾为第 {marks[-1].seq} 条，数据库只到第 {checked} 条）")
    # Read the head fresh (not from the session's identity map, which may hold an old copy).
    head = session.connection().execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    if head is not None and (head.seq != checked or head.hash != prev_hash):
        return VerifyResult(False, checked, checked + 1, "缺失（链尾记录被删除）")
    return VerifyResult(True, checked, checkpoints=len(marks), anchored_to=marks[-1].seq if marks else 0,
                        unsigned=unsigned)


def checkpoint(session: Session, path: Path | None = None) -> anchor.Checkpoint:
    """Sign the head as it is now and append it to the checkpoint file (outside the database).
    The chain is verified first: a checkpoint never vouches for a broken chain."""
    result = verify(session, checkpoints=path)
    if not result.ok:
        raise ValidationError("未写入检查点：" + result.message())
    head = session.connection().execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    return anchor.write_checkpoint(head.seq, head.hash, path)
