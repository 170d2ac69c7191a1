"""command relay

Revision ID: command_relay
Revises: accounts
Create Date: 2026-12-03

Issue 12: signed commands kept for their lifetime so every API process pushes them to the SSE streams it holds,
whichever process issued them (docs/device-protocol.md §4a, §8).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = 'command_relay'
down_revision = "accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('control_commands',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('issued_at', loa.db.UtcDateTime(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('device_ids', sa.JSON(), nullable=False),
    sa.Column('envelope', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('control_commands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_control_commands_issued_at'), ['issued_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('control_commands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_control_commands_issued_at'))
    op.drop_table('control_commands')
