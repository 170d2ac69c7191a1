"""The content item table: what may go to a loudspeaker, its audio facts and its approval state."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class Kind(str, enum.Enum):
    directive = "directive"  # chỉ đạo
    guidance = "guidance"  # hướng dẫn
    emergency = "emergency"  # khẩn cấp
    news = "news"  # tin tức
    chime = "chime"  # nhạc hiệu / jingle
    music = "music"


class Status(str, enum.Enum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    archived = "archived"


class Source(str, enum.Enum):
    text = "text"  # rendered by a TTS engine
    recording = "recording"  # uploaded or recorded in the browser


class RenderState(str, enum.Enum):
    pending = "pending"
    ready = "ready"
    failed = "failed"


class ContentItem(SQLModel, table=True):
    __tablename__ = "content_items"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="villages.id", index=True)
    title: str = Field(max_length=300)
    kind: str = Field(max_length=16, index=True)
    language: str = Field(default="vi", max_length=35, index=True)
    source: str = Field(max_length=16)
    text: str | None = Field(default=None, max_length=20000)  # the text to render, for source=text
    transcript: str | None = Field(default=None, max_length=20000)  # what a recording says
    engine: str | None = Field(default=None, max_length=32)
    voice: str | None = Field(default=None, max_length=100)
    speed: float | None = None
    original_filename: str | None = Field(default=None, max_length=255)
    # The audio, by content hash, and what was measured when it was mastered.
    audio_sha256: str | None = Field(default=None, max_length=64, index=True)
    audio_format: str | None = Field(default=None, max_length=16)
    duration_s: float | None = None
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    loudness_range_lu: float | None = None
    size_bytes: int | None = None
    render_state: str = Field(default=RenderState.pending.value, max_length=16)
    render_error: str | None = Field(default=None, max_length=2000)
    render_generation: int = 0  # bumped on every change that needs a new render; stale jobs do nothing
    # Why the last render failed, as a stable code (see content.library.render_errors) for the fix to offer.
    render_error_code: str | None = Field(default=None, max_length=40)
    # The words-and-audio version: bumped by every change to the text, transcript, voice or audio. Each
    # version's contributors are in content_contributions; an approval names the version it approved.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    approved_version: int | None = None
    # Made from this CAP alert (schedules.cap_service): it may air only in that alert's emergency until a
    # normal two-person review approves it.
    cap_alert_id: int | None = Field(default=None, index=True)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(default=Status.draft.value, max_length=16, index=True)
    reject_reason: str | None = Field(default=None, max_length=2000)
    author_id: int = Field(foreign_key="users.id")
    submitted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reviewed_by: int | None = Field(default=None, foreign_key="users.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # A bilingual pair: this item (usually Vietnamese) is followed on air by its companion in another language.
    pair_item_id: int | None = Field(default=None, foreign_key="content_items.id")
    # Case-folded title + text + transcript: word search that treats Vietnamese letters alike on SQLite and PG.
    search_text: str = Field(default="", max_length=41000)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class Contribution(SQLModel, table=True):
    """Who changed the words or the audio of an item, and how: one row per change, tagged with the version it
    made. Nobody with a contribution after `approved_version` may approve the item (the two-person rule)."""

    __tablename__ = "content_contributions"

    id: int | None = Field(default=None, primary_key=True)
    # The history belongs to its item: removing an item (an operator's purge) removes its contributions.
    item_id: int = Field(foreign_key="content_items.id", index=True, ondelete="CASCADE")
    version: int
    user_id: int = Field(foreign_key="users.id")
    # create_text, create_recording, import_pack, cap_alert, edit_text, edit_transcript, edit_voice
    kind: str = Field(max_length=32)
    fields: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
