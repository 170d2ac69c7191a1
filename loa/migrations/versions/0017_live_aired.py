"""live aired

Revision ID: live_aired
Revises: manifestseq
Create Date: 2026-12-04

Which loudspeakers reported airing a live session, kept from their first heartbeat that said so: the count of
loudspeakers that joined must never drop when the beat after the stop says idle and the play record is still
on its way (or never comes, for a box cut by its own restart).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loa.db  # noqa: F401  (UtcDateTime, by name)

revision = "live_aired"
down_revision = "manifestseq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_aired",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("first_heard_at", loa.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["live_sessions.id"]),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.PrimaryKeyConstraint("session_id", "device_id"),
    )


def downgrade() -> None:
    op.drop_table("live_aired")
