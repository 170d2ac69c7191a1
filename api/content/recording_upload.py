"""Receiving a recording, shared by the API and the web form: copy it in, then master it now (a mastering slot
was free: 201 with the audio) or keep it for a job (every slot busy: 202, the item waits — "đang chờ").

Nothing is left behind on a refusal or a failure: the temp copy, the kept upload and the stored audio go."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO, TypeVar

from sqlmodel import Session

from content.library import service as library
from content.library.models import ContentItem
from content.library.schemas import ItemMeta
from content.library.upload import Waiting, clean_filename, copy_to_temp, master_or_wait, waiting_path
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.jobs.models import Job
from schedules.tables import StationSettingsRow

T = TypeVar("T")


def longest_programme_s(session: Session, commune_id: int) -> float:
    """The station's longest programme: no recording may be longer (schedules' station settings)."""
    row = session.get(StationSettingsRow, commune_id)
    return float(row.max_programme_s if row is not None else StationSettingsRow.model_fields["max_programme_s"].default)


def receive_recording(engine, settings, principal: Principal, commune_id: int, meta: ItemMeta, src: BinaryIO,
                      filename: str | None, transcript: str | None, now: datetime,
                      build: Callable[[Session, ContentItem, Job | None], T]) -> T:
    """Returns `build(session, item, job)`, called inside the creating transaction; `job` is set when the
    upload waits for a mastering slot."""
    with session_scope(engine) as s:
        max_duration_s = longest_programme_s(s, commune_id)
    tmp = copy_to_temp(src, settings.tmp_dir, settings.max_upload_bytes, settings.upload_chunk_bytes)
    try:
        outcome = master_or_wait(tmp, settings, max_duration_s)
    finally:
        tmp.unlink(missing_ok=True)  # kept uploads were renamed away first
    name = clean_filename(filename)
    try:
        with session_scope(engine) as s:
            if isinstance(outcome, Waiting):
                item, job = library.create_waiting_recording_item(s, principal, commune_id, meta, outcome.name,
                                                                  max_duration_s, now, transcript, name)
            else:
                item, job = library.create_recording_item(s, principal, commune_id, meta, outcome, now,
                                                          transcript, name), None
            return build(s, item, job)
    except BaseException:
        if isinstance(outcome, Waiting):
            waiting_path(settings.tmp_dir, outcome.name).unlink(missing_ok=True)
        else:
            from content.store import AudioStore

            with session_scope(engine) as s:
                if not library.audio_in_use(s, outcome.sha256):
                    AudioStore(settings.audio_dir).delete(outcome.sha256)
        raise
