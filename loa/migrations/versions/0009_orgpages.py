"""orgpages

Revision ID: orgpages
Revises: relay_streams
Create Date: 2026-12-03

Issue 14 (organisation pages): a loudspeaker cluster has its own position (latitude, longitude) for the commune
map; clusters made before keep none and are drawn at their village's point.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = 'orgpages'
down_revision = "relay_streams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')
