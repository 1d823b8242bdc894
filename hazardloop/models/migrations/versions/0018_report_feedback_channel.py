"""the reporter's chosen feedback channel on public_report

Revision ID: 0018
Revises: 0001
Depends on: 0005
Create Date: 2026-11-29

A reporter may ask for the office's feedback and reward decision by 短信 (sms) or
电子邮件 (email).  Only the channel's code is stored here; the address stays in the
encrypted reporter_contact_enc and the outbox row names the report, never the address
(notifications/sealed.py).  public_report is created by 0005.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0018'
down_revision = '0001'
branch_labels = None
depends_on = ('0005',)


def upgrade() -> None:
    with op.batch_alter_table('public_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('public_report', schema=None) as batch_op:
        batch_op.drop_column('feedback_channel')
