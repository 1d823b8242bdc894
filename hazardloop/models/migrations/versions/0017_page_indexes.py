"""indexes for the console's pages at 100,000 hazards

Revision ID: 0017
Revises: 0001
Depends on: 0002
Create Date: 2026-11-29

Measured with bench/web_pages.py (docs/web.md):

- notification(document_id): a 公文's page lists the notices that carried it; without an
  index that is a scan of the whole outbox (60,000 rows in the bench: ~150 ms on PostgreSQL
  under load) for every 公文 opened.
- hazard(region_code, state, deadline) replaces hazard(region_code): the 台账 filtered by
  镇街区 counts its hazards by state and its overdue ones (a township's own list is always
  filtered so); with state and deadline in the index those counts read the index alone, not
  ~2,000 heap pages per 镇街区.  region_code alone was its prefix: every query it served is
  served by the wider one, and one index fewer is written on each report.
- hazard(found_at): the 台账 opens newest first; without it every unfiltered view sorted all
  100,000 hazards for its 20 rows.  found_at never changes, so it costs a write only on a report.
- document(issue_date, id, number): the 公文 list is newest first; the index gives that order
  without sorting every document, and a 文号 search reads the index alone (no html rows).

`document` is created by 0002 (depends_on); hazard and notification by 0001.
"""
from alembic import op
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0017'
down_revision = '0001'
branch_labels = None
depends_on = ('0002',)


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_document_id', ['document_id'], unique=False)
    with op.batch_alter_table('hazard', schema=None) as batch_op:
        batch_op.create_index('ix_hazard_region_state_deadline', ['region_code', 'state', 'deadline'], unique=False)
        batch_op.drop_index('ix_hazard_region_code')
        batch_op.create_index('ix_hazard_found_at', ['found_at'], unique=False)
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index('ix_document_issue_date_id_number', ['issue_date', 'id', 'number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index('ix_document_issue_date_id_number')
    with op.batch_alter_table('hazard', schema=None) as batch_op:
        batch_op.drop_index('ix_hazard_found_at')
        batch_op.create_index('ix_hazard_region_code', ['region_code'], unique=False)
        batch_op.drop_index('ix_hazard_region_state_deadline')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_document_id')
