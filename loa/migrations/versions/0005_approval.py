"""approval

Revision ID: approval
Revises: control
Create Date: 2026-12-03

Issue 13 (what airs is exactly what two people approved): the words-and-audio version of each content item,
the version an approval approved, who contributed to each version (content_contributions), the CAP alert an
item was made from, and a stable code for why its render failed.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401
import loa.db  # noqa: F401


revision = 'approval'
down_revision = "control"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('content_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('render_error_code', sqlmodel.sql.sqltypes.AutoString(length=40),
                                      nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('approved_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cap_alert_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_content_items_cap_alert_id'), ['cap_alert_id'], unique=False)
    # CAP items made before: mark where they came from. Those nobody reviewed (they were created "approved")
    # go to the review queue; they keep airing in their own alert's emergency (content.library.service).
    op.execute("UPDATE content_items SET cap_alert_id = (SELECT cap_alerts.id FROM cap_alerts "
               "WHERE cap_alerts.content_item_id = content_items.id) "
               "WHERE id IN (SELECT content_item_id FROM cap_alerts WHERE content_item_id IS NOT NULL)")
    op.execute("UPDATE content_items SET status = 'submitted', submitted_at = created_at "
               "WHERE cap_alert_id IS NOT NULL AND status = 'approved' AND reviewed_by IS NULL")
    # Items approved by a person before this migration: their approval stands for the version they have now.
    op.execute("UPDATE content_items SET approved_version = version WHERE status = 'approved'")

    op.create_table('content_contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('created_at', loa.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['content_items.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('content_contributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_content_contributions_item_id'), ['item_id'], unique=False)
    # Every existing item: its author made its first version (for a CAP item: the cadre who posted the alert).
    op.execute("INSERT INTO content_contributions (item_id, version, user_id, kind, fields, created_at) "
               "SELECT id, version, author_id, CASE WHEN cap_alert_id IS NULL THEN 'create_' || source "
               "ELSE 'cap_alert' END, '[]', created_at FROM content_items")


def downgrade() -> None:
    with op.batch_alter_table('content_contributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_contributions_item_id'))
    op.drop_table('content_contributions')
    with op.batch_alter_table('content_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_items_cap_alert_id'))
        batch_op.drop_column('cap_alert_id')
        batch_op.drop_column('approved_version')
        batch_op.drop_column('version')
        batch_op.drop_column('render_error_code')
