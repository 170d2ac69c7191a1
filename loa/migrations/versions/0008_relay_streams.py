"""relay streams

Revision ID: relay_streams
Revises: command_relay
Create Date: 2026-12-03

Issue 14: the admin-kept list of relay streams (VOV1, the provincial station) the schedule form offers.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = "relay_streams"
down_revision = "command_relay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('relay_streams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_relay_streams_name')
    )
    with op.batch_alter_table('relay_streams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relay_streams_commune_id'), ['commune_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('relay_streams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relay_streams_commune_id'))
    op.drop_table('relay_streams')
