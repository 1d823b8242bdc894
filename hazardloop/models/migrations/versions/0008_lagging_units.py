"""lagging units: monthly evaluations, unit ladder steps, unit documents

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0008'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lag_evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('missed', sa.JSON(), nullable=False),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('evaluated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_kind', 'unit_code', 'month', name='uq_lag_evaluation')
    )
    with op.batch_alter_table('lag_evaluation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lag_evaluation_month'), ['month'], unique=False)

    op.create_table('lag_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['evaluation_id'], ['lag_evaluation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_kind', 'unit_code', 'cycle', 'step', name='uq_lag_step')
    )
    with op.batch_alter_table('lag_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lag_step_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_lag_step_status'), ['status'], unique=False)

    op.create_table('lag_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('doc_type', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('text_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['lag_step.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('doc_type', 'year', 'serial', name='uq_lag_document_serial'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('step_id')
    )


def downgrade() -> None:
    op.drop_table('lag_document')
    with op.batch_alter_table('lag_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lag_step_status'))
        batch_op.drop_index(batch_op.f('ix_lag_step_month'))
    op.drop_table('lag_step')
    with op.batch_alter_table('lag_evaluation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lag_evaluation_month'))
    op.drop_table('lag_evaluation')
