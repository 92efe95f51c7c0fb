"""Registers kept beside eHerkenning: local mandates, organisation groups, labels per person

Revision ID: 2725a829b24d
Revises: c7c517e25cc7
Create Date: 2026-12-02 12:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "2725a829b24d"
down_revision = "c7c517e25cc7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "local_mandate",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("represented_kvk", sa.String(length=8), nullable=False),
        sa.Column("representative_kvk", sa.String(length=8), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("establishment", sa.String(length=12), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("why", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_local_mandate_pair",
        "local_mandate",
        ["represented_kvk", "representative_kvk", "service"],
        unique=False,
    )
    op.create_table(
        "organisation_group",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "organisation_group_member",
        sa.Column("kvk_number", sa.String(length=8), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["organisation_group.id"],
        ),
        sa.PrimaryKeyConstraint("kvk_number"),
    )
    op.create_index(
        op.f("ix_organisation_group_member_group_id"), "organisation_group_member", ["group_id"], unique=False
    )
    op.create_table(
        "subject_label",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=43), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "subject"),
    )


def downgrade():
    op.drop_table("subject_label")
    op.drop_index(op.f("ix_organisation_group_member_group_id"), table_name="organisation_group_member")
    op.drop_table("organisation_group_member")
    op.drop_table("organisation_group")
    op.drop_index("ix_local_mandate_pair", table_name="local_mandate")
    op.drop_table("local_mandate")
