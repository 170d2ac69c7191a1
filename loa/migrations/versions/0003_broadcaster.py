"""broadcaster

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Tables of issue 5 (station side of the device protocol): device credentials and enrollments, heartbeat
reports and alerts, proof of play with its acknowledgements, cached signed manifests, audio grants and the
village nudge serials.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('device_enroll_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_enroll_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_device_enroll_attempts_ip_at', ['ip', 'at'], unique=False)

    op.create_table('device_play_acks',
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('acked_through', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('uid')
    )
    op.create_table('village_nudges',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], ),
    sa.PrimaryKeyConstraint('village_id')
    )
    op.create_table('device_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('open_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('raised_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    with op.batch_alter_table('device_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_alerts_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_alerts_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_alerts_raised_at'), ['raised_at'], unique=False)

    op.create_table('device_audio_grants',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('listed_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('device_id', 'sha256')
    )
    op.create_table('device_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('mqtt_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('hardware', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('hostname', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    sa.UniqueConstraint('uid')
    )
    with op.batch_alter_table('device_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_credentials_device_id'), ['device_id'], unique=False)

    op.create_table('device_enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('poll_secret_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('agent_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('hardware', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('hostname', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('device_enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_enrollments_code_hash'), ['code_hash'], unique=False)

    op.create_table('device_manifests',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('built_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('device_plays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('play_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('priority', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('planned_start', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actual_start', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('actual_end', loa.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('received_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid', 'seq', name='uq_device_plays_uid_seq')
    )
    with op.batch_alter_table('device_plays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_plays_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index('ix_device_plays_device_planned', ['device_id', 'planned_start'], unique=False)
        batch_op.create_index('ix_device_plays_village_planned', ['village_id', 'planned_start'], unique=False)

    op.create_table('device_reports',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('received_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('clock_offset_s', sa.Float(), nullable=False),
    sa.Column('manifest_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('playing', sa.JSON(), nullable=True),
    sa.Column('cache', sa.JSON(), nullable=False),
    sa.Column('disk_free_bytes', sa.BigInteger(), nullable=True),
    sa.Column('temperature_c', sa.Float(), nullable=True),
    sa.Column('uptime_s', sa.Integer(), nullable=True),
    sa.Column('hardware', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('local_volume', sa.Integer(), nullable=True),
    sa.Column('playlog', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('device_id')
    )


def downgrade() -> None:
    op.drop_table('device_reports')
    with op.batch_alter_table('device_plays', schema=None) as batch_op:
        batch_op.drop_index('ix_device_plays_village_planned')
        batch_op.drop_index('ix_device_plays_device_planned')
        batch_op.drop_index(batch_op.f('ix_device_plays_commune_id'))

    op.drop_table('device_plays')
    op.drop_table('device_manifests')
    with op.batch_alter_table('device_enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_enrollments_code_hash'))

    op.drop_table('device_enrollments')
    with op.batch_alter_table('device_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_credentials_device_id'))

    op.drop_table('device_credentials')
    op.drop_table('device_audio_grants')
    with op.batch_alter_table('device_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_alerts_raised_at'))
        batch_op.drop_index(batch_op.f('ix_device_alerts_device_id'))
        batch_op.drop_index(batch_op.f('ix_device_alerts_commune_id'))

    op.drop_table('device_alerts')
    op.drop_table('village_nudges')
    op.drop_table('device_play_acks')
    with op.batch_alter_table('device_enroll_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_device_enroll_attempts_ip_at')

    op.drop_table('device_enroll_attempts')
