"""interview record: the 约谈会 as held (issue 14)

Revision ID: 0011
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0011'
down_revision = '0001'
branch_labels = None
depends_on = ('0002',)


def upgrade() -> None:
    op.create_table('interview_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('held_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('enterprise_attendees', sa.JSON(), nullable=False),
    sa.Column('regulator_attendees', sa.JSON(), nullable=False),
    sa.Column('commitments', sa.JSON(), nullable=False),
    sa.Column('minutes', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('minutes_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('minutes_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('moved_on', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], ),
    sa.ForeignKeyConstraint(['step_id'], ['escalation_step.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('step_id')
    )
    with op.batch_alter_table('interview_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interview_record_hazard_id'), ['hazard_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('interview_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interview_record_hazard_id'))
    op.drop_table('interview_record')
