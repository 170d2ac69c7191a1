"""manifestseq

Revision ID: manifestseq
Revises: livecmd
Create Date: 2026-12-03

Each stored manifest keeps its control seq beside the envelope, so the upsert can refuse to replace it with one
signed earlier: the nudger's batch and a device's own request may finish in either order, and a device that
took the later-signed manifest refuses the earlier one (`manifest_replayed`, docs/device-protocol.md §4a).
Rows stored before this revision read 0: the next manifest replaces them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "manifestseq"
down_revision = "livecmd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_manifests") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("device_manifests") as batch:
        batch.drop_column("seq")
