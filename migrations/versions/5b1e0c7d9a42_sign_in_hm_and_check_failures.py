"""Several HMs: each sign-in names the HM it was sent to. A failed SAML check kept by its
reference, with what was expected and what arrived, for `flask eherkenning explain`

Revision ID: 5b1e0c7d9a42
Revises: 82930a2c5a25
Create Date: 2026-12-08 00:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5b1e0c7d9a42"
down_revision = "82930a2c5a25"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("saml_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hm", sa.String(length=32), nullable=True))
    op.create_table(
        "check_failure",
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("sign_in", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("reference"),
    )
    with op.batch_alter_table("check_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_failure_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_failure_sign_in"), ["sign_in"], unique=False)


def downgrade():
    with op.batch_alter_table("check_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_failure_sign_in"))
        batch_op.drop_index(batch_op.f("ix_check_failure_expires_at"))
    op.drop_table("check_failure")
    with op.batch_alter_table("saml_request", schema=None) as batch_op:
        batch_op.drop_column("hm")
