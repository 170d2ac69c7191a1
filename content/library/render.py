"""The background job that renders a text item: TTS, mastering, then the facts onto the item.

Idempotent: the store is content-addressed (rendering twice writes the same file once) and the result is only
applied while the item still has the generation the job was made for.

A failure always ends somewhere the author can see: a permanent one (no such voice, nothing speakable) marks
the item `failed` at once with its reason; a passing one (the network voice is unreachable) leaves the item
pending with a note and lets the job queue retry with backoff, and the last attempt marks it `failed` too.
See content.library.render_errors for the reasons and the fixes offered."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from content.library.models import ContentItem, RenderState
from content.library.render_errors import classify
from content.library.service import apply_render
from content.slots import slots_for
from loa.db import session_scope
from loa.settings import Settings
from loa.errors import LoaError, split_bilingual


class RenderRefused(LoaError):
    """The render failed for good (or on its last attempt): the job must not be retried (permanent)."""

    def __init__(self, message: str, code: str = "render_failed") -> None:
        super().__init__(message)
        vi, en = split_bilingual(message)
        self._describe(code, vi, en, retryable=False)


def render_item_job(engine: Engine, settings: Settings, payload: dict[str, Any], now: datetime, attempt: int = 1,
                    max_attempts: int = 1) -> dict[str, Any]:
    from content.pipeline import render_text  # the pipeline loads TTS engines: import only when needed
    from content.store import AudioStore

    item_id, generation = int(payload["item_id"]), int(payload["generation"])
    with session_scope(engine) as session:
        item = session.get(ContentItem, item_id)
        if item is None or item.render_generation != generation or item.text is None:
            return {"skipped": "stale"}
        text, voice, speed = item.text, item.voice, item.speed or 1.0
        tts_engine = item.engine or "auto"
    store = AudioStore(settings.audio_dir)
    try:
        with slots_for(settings.max_concurrent_masterings).held():  # a render is a mastering too
            facts = render_text(text, store, engine=tts_engine, voice=voice, speed=speed,
                                cache_dir=settings.tts_cache_dir)
    except Exception as exc:  # noqa: BLE001 — every failure is classified and reported on the item
        failure = classify(exc)
        if failure.retryable and attempt < max_attempts:
            _note_retry(engine, item_id, generation, failure.message, failure.code, attempt, max_attempts)
            raise
        with session_scope(engine) as session:
            apply_render(session, item_id, generation, None, now, error=failure.message, error_code=failure.code)
        raise RenderRefused(failure.message, failure.code) from exc
    with session_scope(engine) as session:
        applied = apply_render(session, item_id, generation, facts, now)
    return {"sha256": facts.sha256, "duration_s": facts.duration_s, "engine": facts.engine, "applied": applied}


def _note_retry(engine: Engine, item_id: int, generation: int, message: str, code: str, attempt: int,
                max_attempts: int) -> None:
    """Still pending, but say why it is taking long (the page shows it next to "being made…")."""
    with session_scope(engine) as session:
        item = session.get(ContentItem, item_id)
        if item is None or item.render_generation != generation or item.render_state != RenderState.pending.value:
            return
        vi, _, en = message.partition(" / ")
        item.render_error = (f"Lần {attempt}/{max_attempts} chưa được, sẽ thử lại: {vi} / "
                             f"Attempt {attempt}/{max_attempts} failed, retrying: {en or vi}")[:2000]
        item.render_error_code = code
        session.add(item)


def mark_render_died(engine: Engine, payload: dict[str, Any], now: datetime, error: str) -> bool:
    """The render job failed for good without marking the item (its worker died during the last attempt, or
    an unexpected error): the item ends `failed` so the author sees it and can retry. No-op when the item
    already moved on (a newer generation, or the failure was already applied)."""
    from content.library.render_errors import INTERRUPTED_CODE, interrupted_message

    with session_scope(engine) as session:
        return apply_render(session, int(payload["item_id"]), int(payload["generation"]), None, now,
                            error=interrupted_message(error), error_code=INTERRUPTED_CODE)
