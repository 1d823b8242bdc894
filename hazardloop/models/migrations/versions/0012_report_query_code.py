"""the reporter's 查询码 on public_report

Revision ID: 0012
Revises: 0001
Depends on: 0005
Create Date: 2026-11-29

A public report gets a 查询码 at submission, shown once and stored only as an argon2id
hash (query_code_hash), with which the reporter — signed in or anonymous — follows the
report's status, feedback and reward decision.  public_report is created by 0005.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0001'
branch_labels = None
depends_on = ('0005',)


def upgrade() -> None:
    with op.batch_alter_table('public_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('query_code_hash', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('public_report', schema=None) as batch_op:
        batch_op.drop_column('query_code_hash')
