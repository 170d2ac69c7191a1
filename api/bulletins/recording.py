"""A bulletin composed as a recording (any language): the upload is checked and mastered (waiting for a free
mastering slot, as a commune's recording does) before the bulletin exists; a refusal or a failure leaves no
temp file and no audio that nothing uses."""
from __future__ import annotations

from datetime import datetime
from typing import BinaryIO

from sqlmodel import select

from content.library.service import audio_in_use
from content.library.upload import copy_to_temp, master_upload
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.org import areas
from schedules.bulletins import compose
from schedules.bulletins.models import Bulletin

MAX_BULLETIN_S = 2 * 3600.0  # as a commune's longest programme by default


def receive_bulletin_recording(engine, settings, principal: Principal, level: str, area_id: int, title: str,
                               language: str, transcript: str | None, src: BinaryIO, now: datetime) -> Bulletin:
    from content.slots import slots_for

    with session_scope(engine) as s:  # every check first: a refusal costs no mastering
        compose.check_can_compose(s, principal, areas.visible_area(s, principal, level, area_id))
    tmp = copy_to_temp(src, settings.tmp_dir, settings.max_upload_bytes, settings.upload_chunk_bytes)
    try:
        with slots_for(settings.max_concurrent_masterings).held():
            facts = master_upload(tmp, settings.audio_dir, settings.max_upload_bytes, MAX_BULLETIN_S)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        with session_scope(engine) as s:
            area = areas.visible_area(s, principal, level, area_id)
            return compose.create_recording(s, principal, area, title, language, facts, now, transcript)
    except BaseException:
        from content.store import AudioStore

        with session_scope(engine) as s:
            used = audio_in_use(s, facts.sha256) or s.exec(select(Bulletin.id).where(
                Bulletin.audio_sha256 == facts.sha256).limit(1)).first() is not None
        if not used:
            AudioStore(settings.audio_dir).delete(facts.sha256)
        raise
