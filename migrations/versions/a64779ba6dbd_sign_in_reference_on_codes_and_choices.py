"""The sign-in reference kept with codes and pending choices, for the log lines of the token
endpoint and the picker

Revision ID: a64779ba6dbd
Revises: 2725a829b24d
Create Date: 2026-12-02 00:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a64779ba6dbd"
down_revision = "2725a829b24d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_in", sa.String(length=64), nullable=True))
    with op.batch_alter_table("pending_choice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_in", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("pending_choice", schema=None) as batch_op:
        batch_op.drop_column("sign_in")
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.drop_column("sign_in")
