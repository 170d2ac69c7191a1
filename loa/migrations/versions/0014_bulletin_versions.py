"""bulletin_versions

Revision ID: bulletin_versions
Revises: segsizes
Create Date: 2026-12-03

A newer version of a bulletin withdraws the older one (docs/bulletins.md, "Versions"): the commune's older inbox
item links to the item that replaced it (`bulletin_inbox.superseded_by`), and the sender's tracking row says
which version its state is about (`bulletin_deliveries.version`) and which older version the commune confirmed
withdrawn (`superseded_version`, `superseded_at`). Rows written before are version 1 with nothing superseded,
exactly what they were.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loa.db

revision = "bulletin_versions"
down_revision = "segsizes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulletin_inbox") as batch:
        batch.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))
    with op.batch_alter_table("bulletin_deliveries") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("superseded_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("superseded_at", loa.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bulletin_deliveries") as batch:
        batch.drop_column("superseded_at")
        batch.drop_column("superseded_version")
        batch.drop_column("version")
    with op.batch_alter_table("bulletin_inbox") as batch:
        batch.drop_column("superseded_by")
