"""audit events carry an HMAC (key outside the database); an insert must continue the chain;
server-side sign-outs

Revision ID: 0010
Revises: 0001
Depends on: 0004
Create Date: 2026-11-29

- audit_event.mac: HMAC-SHA256(key, "seq:hash") with a key kept in a file, never in the
  database (models/anchor.py).  Events written before this revision have none; the chain
  carries them (a rewritten old event changes every later hash, and the later MACs).
- A trigger refuses any INSERT into audit_event that does not continue the chain: its seq
  must be the last seq + 1, its prev_hash the last event's hash, its hash new.  On SQLite
  that refuses INSERT OR REPLACE of an existing event (REPLACE deletes without firing the
  delete trigger) and the rewind of audit_head it caused; on PostgreSQL, an INSERT that
  skips or reuses a sequence.
- web_session_revoked: a signed-out session's id, so every web worker refuses its cookie
  until it would have expired anyway.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0001'
branch_labels = None
depends_on = ('0004',)

GENESIS = "0" * 64
MESSAGE = "审计记录只能按序追加：序号必须紧接上一条、前序哈希必须等于上一条的哈希（拒绝覆盖或重用序号）"

SQLITE_TRIGGER = f"""CREATE TRIGGER audit_event_continues_chain BEFORE INSERT ON audit_event
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_event)
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_event WHERE seq = NEW.seq - 1), '{GENESIS}')
  OR EXISTS (SELECT 1 FROM audit_event WHERE hash = NEW.hash)
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""

PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION audit_event_continues_chain() RETURNS trigger AS $$
DECLARE last_seq bigint; last_hash text;
BEGIN
    SELECT seq, hash INTO last_seq, last_hash FROM audit_event ORDER BY seq DESC LIMIT 1;
    IF NEW.seq IS DISTINCT FROM COALESCE(last_seq, 0) + 1
       OR NEW.prev_hash IS DISTINCT FROM COALESCE(last_hash, '{GENESIS}') THEN
        RAISE EXCEPTION '{MESSAGE}';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql"""


def upgrade() -> None:
    op.add_column('audit_event', sa.Column('mac', sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("""CREATE TRIGGER audit_event_continues_chain BEFORE INSERT ON audit_event
                      FOR EACH ROW EXECUTE FUNCTION audit_event_continues_chain()""")
    else:
        op.execute(SQLITE_TRIGGER)
    op.create_table(
        'web_session_revoked',
        sa.Column('sid', sa.String(length=64), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('app_user.id'), nullable=False, index=True),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table('web_session_revoked')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_continues_chain ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_continues_chain()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_continues_chain")
    with op.batch_alter_table('audit_event') as batch_op:
        batch_op.drop_column('mac')
