"""audit_event's chain check on PostgreSQL looks up the previous event by its key

Revision ID: 0019
Revises: 0001
Depends on: 0010
Create Date: 2026-11-29

0010's trigger found the last event with `ORDER BY seq DESC LIMIT 1`.  The query has no
parameter, so a connection plans it once and keeps the plan; planned while the table's
statistics say it is empty (a new installation after its first ANALYZE, a database made from a
template), that plan is a sequential scan and a sort, and every audited write then reads the
whole table until autoanalyze catches up.  In the 1,000,000-hazard bench the autovacuum workers
were busy elsewhere and a shard crawled at ~100 steps a second, the backend at 80 % CPU in
the scan.  Now the predecessor is looked up by key (`seq = NEW.seq - 1`), which checks the same
thing -- the primary key refuses a seq already used, a seq past the end has no predecessor --
and the function plans with sequential scans off (`SET enable_seqscan = off` on the function):
with statistics that say "empty" even a primary-key lookup is planned as a scan (measured:
one sequential scan per append either way, none with the setting).
"""
from alembic import op


revision = '0019'
down_revision = '0001'
branch_labels = None
depends_on = ('0010',)

GENESIS = "0" * 64
MESSAGE = "审计记录只能按序追加：序号必须紧接上一条、前序哈希必须等于上一条的哈希（拒绝覆盖或重用序号）"

BY_KEY = f"""CREATE OR REPLACE FUNCTION audit_event_continues_chain() RETURNS trigger AS $$
DECLARE last_hash text;
BEGIN
    IF NEW.seq = 1 THEN
        last_hash := '{GENESIS}';
    ELSE
        SELECT hash INTO last_hash FROM audit_event WHERE seq = NEW.seq - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION '{MESSAGE}';
        END IF;
    END IF;
    IF NEW.prev_hash IS DISTINCT FROM last_hash THEN
        RAISE EXCEPTION '{MESSAGE}';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SET enable_seqscan = off"""

# 0010's body, restored by downgrade.
BY_ORDER = f"""CREATE OR REPLACE FUNCTION audit_event_continues_chain() RETURNS trigger AS $$
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
    if op.get_bind().dialect.name == "postgresql":  # SQLite's trigger reads MAX(rowid): no plan to go wrong
        op.execute(BY_KEY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BY_ORDER)  # replaces the body and drops the SET (checked)
