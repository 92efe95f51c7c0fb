"""The claims the `claims` parameter asked for, kept with codes and tokens for the ID token and
userinfo

Revision ID: 3d7e5a9c1b20
Revises: 5f2d8c1a9e47
Create Date: 2026-12-08 00:45:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "3d7e5a9c1b20"
down_revision = "5f2d8c1a9e47"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_claims", sa.JSON(), nullable=True))
    with op.batch_alter_table("issued_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_claims", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("issued_token", schema=None) as batch_op:
        batch_op.drop_column("requested_claims")
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.drop_column("requested_claims")
