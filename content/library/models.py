"""The content item table: what may go to a loudspeaker, its audio facts and its approval state."""
from __future__ import annotations

import enum
from datetime import datetime

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
