"""segsizes

Revision ID: segsizes
Revises: orgpages
Create Date: 2026-12-03

Issue 17 (typed seams): a stored play's segments carry their file's size (`size_bytes`), so the broadcaster
builds a manifest from the stored plays alone instead of joining back into the content table. Rows stored
before get the size their file has (content_items by sha256; 0 when unknown), exactly what the new code would
write: the next materialization then finds every row unchanged, so no play on air is taken for an edited one
and cut, and no device's timetable version moves.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "segsizes"
down_revision = "live_sessions"
branch_labels = None
depends_on = None

_BATCH = 500


def _rewrite(add: bool) -> None:
    conn = op.get_bind()
    plays = sa.table("timetable_plays", sa.column("id", sa.Integer), sa.column("segments", sa.JSON))
    items = sa.table("content_items", sa.column("audio_sha256", sa.String), sa.column("size_bytes", sa.Integer))
    sizes: dict[str, int] = {}
    if add:
        for sha, size in conn.execute(sa.select(items.c.audio_sha256, items.c.size_bytes).where(
                items.c.audio_sha256.is_not(None), items.c.size_bytes.is_not(None))):
            sizes[sha] = int(size)
    last = 0
    while True:
        rows = conn.execute(sa.select(plays.c.id, plays.c.segments).where(plays.c.id > last)
                            .order_by(plays.c.id).limit(_BATCH)).all()
        if not rows:
            return
        updates = []
        for row_id, segments in rows:
            new = []
            for s in segments or []:
                s = dict(s)
                if add:
                    s["size_bytes"] = sizes.get(s.get("sha256") or "", 0) if s.get("kind") == "item" else 0
                else:
                    s.pop("size_bytes", None)
                new.append(s)
            updates.append({"_id": row_id, "segments": new})
        conn.execute(sa.update(plays).where(plays.c.id == sa.bindparam("_id")), updates)
        last = rows[-1][0]


def upgrade() -> None:
    _rewrite(add=True)


def downgrade() -> None:
    _rewrite(add=False)
