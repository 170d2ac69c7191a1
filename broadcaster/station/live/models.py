"""One live session: who spoke, where, when, for how long, how it ended, and what was kept."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime

END_REASONS = ("stopped", "link_lost", "max_duration", "failed", "restarted")


class LiveSession(SQLModel, table=True):
    __tablename__ = "live_sessions"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    started_by_id: int | None = Field(default=None, foreign_key="users.id")
    started_by: str = Field(max_length=150)
    villages: list[int] = Field(default_factory=list, sa_type=sa.JSON)  # village ids; empty = whole commune
    device_count: int = 0                                          # loudspeakers the live command named
    mount: str = Field(max_length=64)
    started_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_reason: str | None = Field(default=None, max_length=16)    # END_REASONS
    ended_by: str | None = Field(default=None, max_length=150)
    recording_sha256: str | None = Field(default=None, max_length=64)
    recording_s: float | None = None
    content_item_id: int | None = Field(default=None, foreign_key="content_items.id")
    # The signed envelopes as issued (§4a "Live sessions"): a late joiner gets the original `live` command while
    # the session is on air, and the `stop` after it (never a re-signed copy).
    command: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    stop_command: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)

    @property
    def on_air(self) -> bool:
        return self.ended_at is None


class LiveAired(SQLModel, table=True):
    """A loudspeaker's own report that it aired a live session: a heartbeat saying it plays `live-l<id>`, kept
    from the first such beat. The beat after the stop says idle, and the play record may come a moment later
    (or never, for a box cut by its own restart), so without this row the count of loudspeakers that joined
    could drop while the cadre watches it (docs/device-protocol.md §4a "Live sessions")."""

    __tablename__ = "live_aired"

    session_id: int = Field(foreign_key="live_sessions.id", primary_key=True)
    device_id: int = Field(foreign_key="devices.id", primary_key=True)
    first_heard_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
