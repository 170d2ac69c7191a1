"""live sessions

Revision ID: live_sessions
Revises: orgpages
Create Date: 2026-12-03

Issue 15: a cadre's live broadcast from a phone — who, where, when, how long, how it ended, its recording.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (the submodule by name: the columns below use it)
import loa.db  # noqa: F401


revision = "live_sessions"
down_revision = "interchange16"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
    sa.Column('villages', sa.JSON(), nullable=False),
    sa.Column('device_count', sa.Integer(), nullable=False),
    sa.Column('mount', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('started_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('ended_by', sqlmodel.sql.sqltypes.AutoString(length=150), nullable=True),
    sa.Column('recording_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('recording_s', sa.Float(), nullable=True),
    sa.Column('content_item_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['content_item_id'], ['content_items.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_sessions_commune_id'), ['commune_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_sessions_commune_id'))
    op.drop_table('live_sessions')
