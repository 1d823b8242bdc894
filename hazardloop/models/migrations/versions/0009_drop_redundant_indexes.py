"""drop two indexes that others already cover; SQLite moves the audit head by trigger

Revision ID: 0009
Revises: 0001
Depends on: 0006
Create Date: 2026-11-29

ix_hazard_state is the leading column of ix_hazard_state_deadline, and
ix_audit_event_hazard_id of ix_audit_event_hazard_action_ts (0006): every query
they served is served by the wider index, and each costs a write on every
transition (the state changes; each audit event is inserted).

On SQLite the audit head follows each inserted event by trigger, in the same
statement as the INSERT (PostgreSQL does both in one statement already, a CTE):
one statement less per append, and no way to insert an event without moving the
head.
"""
from alembic import op
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0009'
down_revision = '0001'
branch_labels = None
depends_on = ('0006',)


HEAD_TRIGGER = """CREATE TRIGGER audit_event_moves_head AFTER INSERT ON audit_event
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END"""


def upgrade() -> None:
    with op.batch_alter_table('hazard', schema=None) as batch_op:
        batch_op.drop_index('ix_hazard_state')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_hazard_id')
    if op.get_bind().dialect.name == "sqlite":
        op.execute(HEAD_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_moves_head")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_hazard_id', ['hazard_id'], unique=False)
    with op.batch_alter_table('hazard', schema=None) as batch_op:
        batch_op.create_index('ix_hazard_state', ['state'], unique=False)
