"""control

Revision ID: control
Revises: 0003
Create Date: 2026-12-03

Issue 12: the station's control sequence (one row), allocated to every signed manifest and command so a
device refuses an older one (docs/device-protocol.md §4a), and the newest seq each device reports applied.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'control'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('control_seq',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.execute("INSERT INTO control_seq (id, value) VALUES (1, 0)")
    with op.batch_alter_table('device_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_seq', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('device_reports', schema=None) as batch_op:
        batch_op.drop_column('applied_seq')
    op.drop_table('control_seq')
