"""interchange between stations

Revision ID: interchange16
Revises: orgpages
Create Date: 2026-12-03

Issue 16 point 4: this station's interchange id, peers an admin registered (pinned keys, address), the outbox of messages to them, the shared
audio they may fetch, and the record of messages received (idempotency by sender, kind, object, version).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
import loa.db  # noqa: F401  (autogenerate renders loa.db.UtcDateTime)


revision = 'interchange16'
down_revision = 'province16'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('interchange_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('interchange_peers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('base_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('communes', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('last_delivery_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_received_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('status_cursor', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('station_id')
    )
    op.create_table('interchange_received',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('received_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender', 'kind', 'object_id', 'version', name='uq_interchange_received_message')
    )
    with op.batch_alter_table('interchange_received', schema=None) as batch_op:
        batch_op.create_index('ix_interchange_received_object', ['sender', 'kind', 'object_id'], unique=False)

    op.create_table('interchange_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('receipt', sa.JSON(), nullable=True),
    sa.Column('created_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['peer_id'], ['interchange_peers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('peer_id', 'kind', 'object_id', 'version', name='uq_interchange_outbox_message')
    )
    with op.batch_alter_table('interchange_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_interchange_outbox_due', ['status', 'peer_id', 'id'], unique=False)

    op.create_table('interchange_shared_audio',
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['interchange_peers.id'], ),
    sa.PrimaryKeyConstraint('peer_id', 'sha256')
    )


def downgrade() -> None:
    op.drop_table('interchange_shared_audio')
    with op.batch_alter_table('interchange_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_interchange_outbox_due')

    op.drop_table('interchange_outbox')
    with op.batch_alter_table('interchange_received', schema=None) as batch_op:
        batch_op.drop_index('ix_interchange_received_object')

    op.drop_table('interchange_received')
    op.drop_table('interchange_peers')
    op.drop_table('interchange_identity')
