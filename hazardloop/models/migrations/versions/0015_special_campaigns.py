"""special campaigns: inventories, checks, photos, problems, problem ladder

Revision ID: 0015
Revises: 0001
Create Date: 2026-11-29

The five special campaigns (五项整治, issue 19): campaign_object (inventories, 赋码),
campaign_baseline (底数), campaign_check and campaign_photo, campaign_problem (问题隐患, its own
machine; hazard_id links one raised to a major hazard) and problem_step (the short ladder).
Needs only 0001's enterprise and hazard tables.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0015'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_baseline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('set_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('set_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign', 'region_code', name='uq_campaign_baseline')
    )
    op.create_table('campaign_object',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('campaign', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('industry_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('department_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign', 'fingerprint', name='uq_campaign_object_key'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('campaign_object', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_object_campaign_region', ['campaign', 'region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_object_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('campaign_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('campaign', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('checked_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('notes', sa.JSON(), nullable=False),
    sa.Column('met', sa.Integer(), nullable=False),
    sa.Column('not_met', sa.Integer(), nullable=False),
    sa.Column('na', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['object_id'], ['campaign_object.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaign_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_check_campaign'), ['campaign'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_check_object_id'), ['object_id'], unique=False)

    op.create_table('campaign_problem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('campaign', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('item_no', sa.Integer(), nullable=False),
    sa.Column('item_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('industry_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('department_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('found_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('found_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('responsible', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('deadline', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('assigned_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('rectified_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('rectified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('rectification', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('rejections', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('raised_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('raised_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['campaign_check.id'], ),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], ),
    sa.ForeignKeyConstraint(['object_id'], ['campaign_object.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('hazard_id')
    )
    with op.batch_alter_table('campaign_problem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_problem_campaign'), ['campaign'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_problem_check_id'), ['check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_problem_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_problem_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_campaign_problem_state_deadline', ['state', 'deadline'], unique=False)

    op.create_table('campaign_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=True),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('item_no', sa.Integer(), nullable=True),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('stored_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('uploaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['campaign_check.id'], ),
    sa.ForeignKeyConstraint(['problem_id'], ['campaign_problem.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaign_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_photo_check_id'), ['check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_photo_problem_id'), ['problem_id'], unique=False)

    op.create_table('problem_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('text_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['problem_id'], ['campaign_problem.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('problem_id', 'cycle', 'step', name='uq_problem_step')
    )
    with op.batch_alter_table('problem_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problem_step_problem_id'), ['problem_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('problem_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_problem_step_problem_id'))

    op.drop_table('problem_step')
    with op.batch_alter_table('campaign_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_photo_problem_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_photo_check_id'))

    op.drop_table('campaign_photo')
    with op.batch_alter_table('campaign_problem', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_problem_state_deadline')
        batch_op.drop_index(batch_op.f('ix_campaign_problem_region_code'))
        batch_op.drop_index(batch_op.f('ix_campaign_problem_object_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_problem_check_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_problem_campaign'))

    op.drop_table('campaign_problem')
    with op.batch_alter_table('campaign_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_check_object_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_check_campaign'))

    op.drop_table('campaign_check')
    with op.batch_alter_table('campaign_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_object_enterprise_id'))
        batch_op.drop_index('ix_campaign_object_campaign_region')

    op.drop_table('campaign_object')
    op.drop_table('campaign_baseline')
