"""principal inspection record file: the uploaded record of a 主要负责人带队检查 (issue 17)

Revision ID: 0016
Revises: 0001
Create Date: 2026-11-29

The file (PDF, image, document) is stored privately under the evidence directory by its
SHA-256, as hazard evidence is; the row keeps its name as uploaded, where it lies, its hash
and size.  All nullable: inspections recorded before (and on the CLI without --file) have none.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)


revision = '0016'
down_revision = '0001'
branch_labels = None
depends_on = ('0006',)


def upgrade() -> None:
    with op.batch_alter_table('principal_inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('record_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('record_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('record_size', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('principal_inspection', schema=None) as batch_op:
        batch_op.drop_column('record_size')
        batch_op.drop_column('record_sha256')
        batch_op.drop_column('record_path')
        batch_op.drop_column('record_name')
