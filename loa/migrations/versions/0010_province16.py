"""province16

Revision ID: province16
Revises: orgpages
Create Date: 2026-12-03

Issue 16: districts between provinces and communes, province and district staff (editor, approver), bulletins
sent down with their per-commune delivery state, the communes' bulletin inbox, and the communes' daily report
rows rolled up to district and province.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = 'province16'
down_revision = "orgpages"
branch_labels = None
depends_on = None


@contextmanager
def _communes_copied_safely() -> Iterator[None]:
    """SQLite alters `communes` by copying it to a new table, dropping the old one and renaming the copy; with
    foreign keys enforced, dropping a table other rows reference fails. The Python driver runs DDL outside a
    transaction, where `PRAGMA foreign_keys=OFF` takes effect (and inside one, where it would not, the deferred
    check does: it runs at commit, when the copy holds every id again under the old name). On again after."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
        op.execute("PRAGMA defer_foreign_keys=ON")
    try:
        yield
    finally:
        if sqlite:
            op.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    op.create_table(
        'districts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('created_at', loa.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['province_id'], ['provinces.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_districts_province_id', 'districts', ['province_id'])
    with _communes_copied_safely(), op.batch_alter_table('communes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('district_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_communes_district_id', ['district_id'])
        batch_op.create_foreign_key('fk_communes_district_id', 'districts', ['district_id'], ['id'])
    op.create_table(
        'area_memberships',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('created_at', loa.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'level', 'area_id', name='uq_area_memberships_user_area'),
    )
    op.create_index('ix_area_memberships_user_id', 'area_memberships', ['user_id'])
    op.create_table(
        'bulletins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=True),
        sa.Column('audio_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('audio_format', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('duration_s', sa.Float(), nullable=True),
        sa.Column('size_bytes', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('reject_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column('changed_by', sa.JSON(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('approved_by', sa.Integer(), nullable=True),
        sa.Column('approved_at', loa.db.UtcDateTime(), nullable=True),
        sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column('expires_at', loa.db.UtcDateTime(), nullable=True),
        sa.Column('target_districts', sa.JSON(), nullable=False),
        sa.Column('target_communes', sa.JSON(), nullable=False),
        sa.Column('sent_by', sa.Integer(), nullable=True),
        sa.Column('sent_at', loa.db.UtcDateTime(), nullable=True),
        sa.Column('created_at', loa.db.UtcDateTime(), nullable=False),
        sa.Column('updated_at', loa.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['users.id']),
        sa.ForeignKeyConstraint(['approved_by'], ['users.id']),
        sa.ForeignKeyConstraint(['sent_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_bulletins_org_id', 'bulletins', ['org_id'])
    op.create_index('ix_bulletins_status', 'bulletins', ['status'])
    op.create_table(
        'bulletin_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('bulletin_id', sa.Integer(), nullable=False),
        sa.Column('commune_id', sa.Integer(), nullable=False),
        sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column('devices', sa.JSON(), nullable=False),
        sa.Column('seconds_aired', sa.Float(), nullable=False),
        sa.Column('state_at', loa.db.UtcDateTime(), nullable=False),
        sa.Column('updated_at', loa.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id']),
        sa.ForeignKeyConstraint(['commune_id'], ['communes.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bulletin_id', 'commune_id', name='uq_bulletin_deliveries_commune'),
    )
    op.create_index('ix_bulletin_deliveries_bulletin_id', 'bulletin_deliveries', ['bulletin_id'])
    op.create_index('ix_bulletin_deliveries_commune_id', 'bulletin_deliveries', ['commune_id'])
    op.create_table(
        'bulletin_inbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('commune_id', sa.Integer(), nullable=False),
        sa.Column('sender_station', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('sender_org', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('sender_level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('bulletin_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('texts', sa.JSON(), nullable=False),
        sa.Column('audio', sa.JSON(), nullable=False),
        sa.Column('issued_at', loa.db.UtcDateTime(), nullable=False),
        sa.Column('expires_at', loa.db.UtcDateTime(), nullable=False),
        sa.Column('received_at', loa.db.UtcDateTime(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column('refuse_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column('content_item_ids', sa.JSON(), nullable=False),
        sa.Column('schedule_id', sa.Integer(), nullable=True),
        sa.Column('emergency_id', sa.Integer(), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', loa.db.UtcDateTime(), nullable=True),
        sa.Column('updated_at', loa.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['commune_id'], ['communes.id']),
        sa.ForeignKeyConstraint(['schedule_id'], ['schedule_rules.id']),
        sa.ForeignKeyConstraint(['emergency_id'], ['emergencies.id']),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('commune_id', 'sender_station', 'bulletin_id', 'version',
                            name='uq_bulletin_inbox_identity'),
    )
    op.create_index('ix_bulletin_inbox_commune_id', 'bulletin_inbox', ['commune_id'])
    op.create_index('ix_bulletin_inbox_state', 'bulletin_inbox', ['state'])
    op.create_index('ix_bulletin_inbox_updated_at', 'bulletin_inbox', ['updated_at'])
    op.create_table(
        'commune_day_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('commune_id', sa.Integer(), nullable=False),
        sa.Column('day', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('seconds_by_kind', sa.JSON(), nullable=False),
        sa.Column('seconds_by_level', sa.JSON(), nullable=False),
        sa.Column('plays', sa.Integer(), nullable=False),
        sa.Column('completed', sa.Integer(), nullable=False),
        sa.Column('interrupted', sa.Integer(), nullable=False),
        sa.Column('failed', sa.Integer(), nullable=False),
        sa.Column('device_seconds', sa.Float(), nullable=False),
        sa.Column('up_seconds', sa.Float(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('computed_at', loa.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['commune_id'], ['communes.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('commune_id', 'day', name='uq_commune_day_reports_day'),
    )
    op.create_index('ix_commune_day_reports_commune_id', 'commune_day_reports', ['commune_id'])
    op.create_index('ix_commune_day_reports_day', 'commune_day_reports', ['day'])


def downgrade() -> None:
    op.drop_table('commune_day_reports')
    op.drop_table('bulletin_inbox')
    op.drop_table('bulletin_deliveries')
    op.drop_table('bulletins')
    op.drop_table('area_memberships')
    with _communes_copied_safely(), op.batch_alter_table('communes', schema=None) as batch_op:
        batch_op.drop_constraint('fk_communes_district_id', type_='foreignkey')
        batch_op.drop_index('ix_communes_district_id')
        batch_op.drop_column('district_id')
    op.drop_table('districts')
