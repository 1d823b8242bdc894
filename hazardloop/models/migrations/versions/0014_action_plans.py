"""action plans: plans and filing, tasks, monthly reports, plan-work ladder, quarterly reviews

Revision ID: 0014
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0014'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('filing_due', sa.Date(), nullable=True),
    sa.Column('submitted_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reviewed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('review_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['plan.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('unit_kind', 'unit_code', 'year', name='uq_plan_unit_year')
    )
    op.create_index(op.f('ix_plan_year'), 'plan', ['year'], unique=False)
    op.create_table('quarterly_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quarter', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('text_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('issued_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('conclusions', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('measures', sa.JSON(), nullable=False),
    sa.Column('concluded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('concluded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('quarter')
    )
    op.create_table('plan_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('action_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('action_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('paragraph', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('content', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('measure', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('start', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('milestones', sa.JSON(), nullable=False),
    sa.Column('lead_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('lead_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('co_units', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reported_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('verified_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('verified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('return_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], ),
    sa.ForeignKeyConstraint(['review_id'], ['quarterly_review.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'code', name='uq_plan_task_code')
    )
    op.create_index(op.f('ix_plan_task_lead_code'), 'plan_task', ['lead_code'], unique=False)
    op.create_index(op.f('ix_plan_task_state'), 'plan_task', ['state'], unique=False)
    op.create_index(op.f('ix_plan_task_plan_id'), 'plan_task', ['plan_id'], unique=False)
    op.create_index(op.f('ix_plan_task_deadline'), 'plan_task', ['deadline'], unique=False)
    op.create_table('plan_task_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('done', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('problems', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('next_steps', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reported_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['plan_task.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('task_id', 'month', name='uq_plan_task_report')
    )
    op.create_index(op.f('ix_plan_task_report_task_id'), 'plan_task_report', ['task_id'], unique=False)
    op.create_index(op.f('ix_plan_task_report_month'), 'plan_task_report', ['month'], unique=False)
    op.create_table('plan_lag_evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('evaluated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_kind', 'unit_code', 'month', name='uq_plan_lag_evaluation')
    )
    op.create_index(op.f('ix_plan_lag_evaluation_month'), 'plan_lag_evaluation', ['month'], unique=False)
    op.create_table('plan_lag_step',
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
    sa.ForeignKeyConstraint(['evaluation_id'], ['plan_lag_evaluation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_kind', 'unit_code', 'cycle', 'step', name='uq_plan_lag_step')
    )
    op.create_index(op.f('ix_plan_lag_step_month'), 'plan_lag_step', ['month'], unique=False)
    op.create_index(op.f('ix_plan_lag_step_status'), 'plan_lag_step', ['status'], unique=False)
    op.create_table('plan_document',
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
    sa.ForeignKeyConstraint(['step_id'], ['plan_lag_step.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('step_id')
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_plan_lag_step_status'), table_name='plan_lag_step')
    op.drop_index(op.f('ix_plan_lag_step_month'), table_name='plan_lag_step')
    op.drop_index(op.f('ix_plan_lag_evaluation_month'), table_name='plan_lag_evaluation')
    op.drop_index(op.f('ix_plan_task_report_month'), table_name='plan_task_report')
    op.drop_index(op.f('ix_plan_task_report_task_id'), table_name='plan_task_report')
    op.drop_index(op.f('ix_plan_task_deadline'), table_name='plan_task')
    op.drop_index(op.f('ix_plan_task_plan_id'), table_name='plan_task')
    op.drop_index(op.f('ix_plan_task_state'), table_name='plan_task')
    op.drop_index(op.f('ix_plan_task_lead_code'), table_name='plan_task')
    op.drop_index(op.f('ix_plan_year'), table_name='plan')
    op.drop_table('plan_document')
    op.drop_table('plan_lag_step')
    op.drop_table('plan_lag_evaluation')
    op.drop_table('plan_task_report')
    op.drop_table('plan_task')
    op.drop_table('quarterly_review')
    op.drop_table('plan')
