"""Service catalogue versions: per HM environment, the last content's digest and its sequence number

Revision ID: c7c517e25cc7
Revises: 4f9828799a7b
Create Date: 2026-12-02 00:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c7c517e25cc7"
down_revision = "4f9828799a7b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "catalogue_version",
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("environment"),
    )


def downgrade():
    op.drop_table("catalogue_version")
