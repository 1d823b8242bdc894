"""bulletin documents

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-29

The monthly bulletin (月通报) is a 公文 like the escalation letters, numbered by
the same counter and stored in the same `document` table, but it belongs to no
hazard: step_id, hazard_id and cycle become nullable, and `period` (the month,
unique) makes "one bulletin per month" the database's rule.

`document` is created by 0002; depends_on keeps this revision after it while
the branch still starts at 0001 (every feature branches from 0001).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0007'
down_revision = '0001'
branch_labels = None
depends_on = ('0002',)


def upgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.alter_column('step_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('hazard_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('cycle', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.create_unique_constraint('uq_document_period', ['period'])


def downgrade() -> None:
    op.execute("DELETE FROM document WHERE period IS NOT NULL")
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_constraint('uq_document_period', type_='unique')
        batch_op.drop_column('period')
        batch_op.alter_column('cycle', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('hazard_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('step_id', existing_type=sa.Integer(), nullable=False)
