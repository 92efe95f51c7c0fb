"""Pushed authorization requests (RFC 9126): validated parameters waiting for their request_uri

Revision ID: 5f2d8c1a9e47
Revises: 9c2f4e1a7b3d
Create Date: 2026-12-07 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5f2d8c1a9e47'
down_revision = '9c2f4e1a7b3d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pushed_authorization',
    sa.Column('reference_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('reference_hash')
    )
    with op.batch_alter_table('pushed_authorization', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pushed_authorization_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('pushed_authorization', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pushed_authorization_expires_at'))

    op.drop_table('pushed_authorization')
