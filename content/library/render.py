"""The background job that renders a text item: TTS, mastering, then the facts onto the item.

Idempotent: the store is content-addressed (rendering twice writes the same file once) and the result is only
applied while the item still has the generation the job was made for."""
from __future__ import annotations

from content.library.models import ContentItem
from content.library.service import apply_render
from content.slots import slots_for
from loa.db import session_scope


class RenderRefused(Exception):
    """The text cannot be rendered (no engine can speak it): retrying will not help."""


def render_item_job(engine, settings, payload: dict, now) -> dict:
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
    except (ValueError, LookupError) as exc:  # bad voice, unknown engine, nothing speakable: final
        with session_scope(engine) as session:
            apply_render(session, item_id, generation, None, now, error=str(exc))
        raise RenderRefused(str(exc)) from exc
    with session_scope(engine) as session:
        applied = apply_render(session, item_id, generation, facts, now)
    return {"sha256": facts.sha256, "duration_s": facts.duration_s, "engine": facts.engine, "applied": applied}
