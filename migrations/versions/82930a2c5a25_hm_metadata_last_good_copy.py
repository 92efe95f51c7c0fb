"""The HM's metadata as last fetched well, per source: the copy every worker uses and a restart
starts from, and the last refresh that failed

Revision ID: 82930a2c5a25
Revises: a64779ba6dbd
Create Date: 2026-12-02 01:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "82930a2c5a25"
down_revision = "a64779ba6dbd"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hm_metadata",
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=1000), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade():
    op.drop_table("hm_metadata")
