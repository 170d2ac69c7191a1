"""The background job that masters an upload which waited for a mastering slot (content.library.upload).

It takes a slot like any upload (so at most `max_concurrent_masterings` run in the process), masters the kept
file into the store and puts the facts on the item. Idempotent: the store is content-addressed and the facts
are applied only while the item has the generation the job was made for; a rerun after success (a lease that
ran out) finds the item ready and does nothing."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from content.library.models import ContentItem, RenderState
from content.library.service import apply_render
from content.library.upload import master_upload, waiting_path
from loa.db import session_scope

from loa.settings import Settings
from loa.errors import DomainError, LoaError, split_bilingual


class MasteringRefused(LoaError):
    """The kept upload cannot be mastered (it vanished, or ingest refused it): retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        vi, en = split_bilingual(message)
        self._describe("mastering_refused", vi, en, retryable=False)


def master_item_job(engine: Engine, settings: Settings, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    from content.slots import slots_for

    item_id, generation = int(payload["item_id"]), int(payload["generation"])
    path = waiting_path(settings.tmp_dir, str(payload["upload"]))
    with session_scope(engine) as session:
        item = session.get(ContentItem, item_id)
        stale = item is None or item.render_generation != generation
        done = item is not None and not stale and item.render_state == RenderState.ready.value
    if stale or done:
        path.unlink(missing_ok=True)
        return {"skipped": "stale" if stale else "done"}
    if not path.exists():
        _fail(engine, item_id, generation, now, "Bản ghi tải lên không còn / The uploaded file is gone")
    with slots_for(settings.max_concurrent_masterings).held():
        try:
            facts = master_upload(path, settings.audio_dir, settings.max_upload_bytes, payload.get("max_duration_s"))
        except DomainError as exc:  # checked at upload already; only a changed file gets here
            path.unlink(missing_ok=True)
            _fail(engine, item_id, generation, now, f"{exc.message_vi} / {exc.message_en}")
    with session_scope(engine) as session:
        applied = apply_render(session, item_id, generation, facts, now)
    path.unlink(missing_ok=True)
    return {"sha256": facts.sha256, "duration_s": facts.duration_s, "applied": applied}


def _fail(engine: Engine, item_id: int, generation: int, now: datetime, message: str) -> None:
    with session_scope(engine) as session:
        apply_render(session, item_id, generation, None, now, error=message)
    raise MasteringRefused(message)
