"""livecmd

Revision ID: livecmd
Revises: bulletin_versions
Create Date: 2026-12-03

Live sessions keep the signed `live` command they sent (and the `stop` that ended them), exactly as issued: a
loudspeaker that comes (back) online while the session is on air is handed that original command in the reply
to its heartbeat, and one that comes online after the stop is handed the stop (docs/device-protocol.md §4a).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "livecmd"
down_revision = "bulletin_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("live_sessions") as batch:
        batch.add_column(sa.Column("command", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("stop_command", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("live_sessions") as batch:
        batch.drop_column("stop_command")
        batch.drop_column("command")
