"""Request and response shapes of the content library (used by the API and its OpenAPI document)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loa.languages import display_name
from content.library.models import ContentItem, Kind, RenderState, Source, Status

Engine = Literal["auto", "espeak", "piper", "gtts"]


class ItemMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    kind: Kind = Kind.guidance
    language: str = Field(default="vi", max_length=35, description="BCP 47 tag: vi, hnj, tyz, pcc, …")
    expires_at: datetime | None = Field(default=None, description="After this instant the item never airs")
    village_id: int | None = Field(default=None, description="The village this item is for; none = whole commune")
    pair_item_id: int | None = Field(default=None, description="Companion item in another language, aired next")


class TextItemCreate(ItemMeta):
    text: str = Field(min_length=1, max_length=20000)
    engine: Engine = "auto"
    voice: str | None = Field(default=None, max_length=100)
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class ItemUpdate(BaseModel):
    """Only the fields given change. Any change to an approved item sends it back to draft."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    kind: Kind | None = None
    language: str | None = Field(default=None, max_length=35)
    expires_at: datetime | None = None
    village_id: int | None = None
    pair_item_id: int | None = None
    text: str | None = Field(default=None, min_length=1, max_length=20000)
    transcript: str | None = Field(default=None, max_length=20000)
    engine: Engine | None = None
    voice: str | None = Field(default=None, max_length=100)
    speed: float | None = Field(default=None, ge=0.5, le=2.0)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why: the author reads it")


SHA256_PATTERN = "^[0-9a-fA-F]{64}$"


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewed_sha256: str = Field(pattern=SHA256_PATTERN,
                                 description="sha256 of the audio the reviewer listened to (`audio.sha256`)")


class ContributionOut(BaseModel):
    version: int
    user_id: int
    kind: str
    kind_vi: str
    kind_en: str
    fields: list[str]
    created_at: datetime
    since_approval: bool = Field(description="Made after the last approval: this person may not approve now")


class AudioOut(BaseModel):
    sha256: str
    format: str | None
    duration_s: float | None
    integrated_lufs: float | None
    true_peak_dbtp: float | None
    loudness_range_lu: float | None
    size_bytes: int | None
    url: str = Field(description="Names the hash (?v=): cacheable for good, answers 409 once the audio changed")


class ContentItemOut(BaseModel):
    id: int
    commune_id: int
    village_id: int | None
    title: str
    kind: Kind
    language: str
    language_name: str
    source: Source
    text: str | None
    transcript: str | None
    engine: str | None
    voice: str | None
    speed: float | None
    original_filename: str | None
    audio: AudioOut | None
    render_state: RenderState
    render_error: str | None = Field(description="Why the render failed, \"Vietnamese / English\"")
    render_error_code: str | None = Field(
        default=None, description="no_voice, empty_text, engine_unavailable, audio_too_short, render_failed, render_interrupted")
    render_fixes: list[str] = Field(default_factory=list,
                                    description="What fixes a failed render: edit_text, change_voice, retry")
    version: int = Field(description="Bumped by every change to the words, voice or audio")
    approved_version: int | None = Field(default=None, description="The version the last approval approved")
    cap_alert_id: int | None = Field(default=None, description="Made from this CAP alert")
    expires_at: datetime | None
    status: Status
    reject_reason: str | None
    author_id: int
    submitted_at: datetime | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    pair_item_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: ContentItem, lang: str = "vi") -> "ContentItemOut":
        audio = None
        if item.audio_sha256:
            audio = AudioOut(sha256=item.audio_sha256, format=item.audio_format, duration_s=item.duration_s,
                             integrated_lufs=item.integrated_lufs, true_peak_dbtp=item.true_peak_dbtp,
                             loudness_range_lu=item.loudness_range_lu, size_bytes=item.size_bytes,
                             url=f"/api/v1/content/{item.id}/audio?v={item.audio_sha256}")
        data = item.model_dump(exclude={"audio_sha256", "audio_format", "duration_s", "integrated_lufs",
                                        "true_peak_dbtp", "loudness_range_lu", "size_bytes", "render_generation",
                                        "search_text"})
        from content.library.render_errors import fixes_for

        fixes = fixes_for(item.render_error_code) if item.render_state == RenderState.failed.value else []
        return cls(**data, audio=audio, language_name=display_name(item.language, lang), render_fixes=fixes)


class ContentPage(BaseModel):
    items: list[ContentItemOut]
    total: int
    limit: int
    offset: int


class ItemFilter(BaseModel):
    status: Status | None = None
    kind: Kind | None = None
    language: str | None = None
    village_id: int | None = None
    q: str | None = Field(default=None, max_length=200, description="Words that must all appear")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)
