"""A pending establishment choice names the HM that answered, for the audit trail

Revision ID: 9c2f4e1a7b3d
Revises: 5b1e0c7d9a42
Create Date: 2026-12-08 00:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9c2f4e1a7b3d"
down_revision = "5b1e0c7d9a42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pending_choice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hm", sa.String(length=1000), nullable=True))


def downgrade():
    with op.batch_alter_table("pending_choice", schema=None) as batch_op:
        batch_op.drop_column("hm")
