"""What residents may see without an account: approved announcements that may still air, per commune and village.

One rule (`public_items`) decides it for the pages, the RSS feeds and the audio; nothing else of the station
(drafts, rejected or expired items, people, devices) is reachable from here."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from content.library.models import ContentItem, RenderState, Status
from loa.org.models import Commune, Village

RECENT_DAYS = 90
FORMATS = {"ogg": "audio/ogg", "mp3": "audio/mpeg"}


def public_query(commune_id: int, now: datetime, village_id: int | None = None, language: str | None = None):
    """Approved, with audio, not expired, approved in the last RECENT_DAYS; for a village, its own items and the
    commune-wide ones."""
    query = select(ContentItem).where(
        ContentItem.commune_id == commune_id,
        ContentItem.status == Status.approved.value,
        ContentItem.approved_version == ContentItem.version,  # what is public is what was approved
        ContentItem.audio_sha256.is_not(None),
        ContentItem.render_state == RenderState.ready.value,
        sa.or_(ContentItem.expires_at.is_(None), ContentItem.expires_at > now),
        ContentItem.reviewed_at >= now - timedelta(days=RECENT_DAYS),
    )
    if village_id is not None:
        query = query.where(sa.or_(ContentItem.village_id == village_id, ContentItem.village_id.is_(None)))
    if language:
        query = query.where(ContentItem.language == language)
    return query.order_by(ContentItem.reviewed_at.desc(), ContentItem.id.desc())


def public_items(session: Session, commune_id: int, now: datetime, village_id: int | None = None,
                 language: str | None = None, limit: int = 50) -> list[ContentItem]:
    return list(session.exec(public_query(commune_id, now, village_id, language).limit(limit)))


def public_item_by_sha(session: Session, sha256: str, now: datetime) -> ContentItem | None:
    """A public item whose audio is this file (any commune: the hash names the bytes, not the place)."""
    for item in session.exec(select(ContentItem).where(ContentItem.audio_sha256 == sha256)):
        found = public_item(session, item.id, now)
        if found is not None:
            return found
    return None


def public_item(session: Session, item_id: int, now: datetime) -> ContentItem | None:
    item = session.get(ContentItem, item_id)
    if item is None:
        return None
    found = session.exec(public_query(item.commune_id, now).where(ContentItem.id == item_id)).first()
    return found


def languages_of(session: Session, commune_id: int, now: datetime, village_id: int | None = None) -> list[str]:
    rows = session.exec(public_query(commune_id, now, village_id).with_only_columns(ContentItem.language)
                        .order_by(None).distinct())
    return sorted(set(rows))


def commune_and_village(session: Session, commune_id: int, village_id: int | None
                        ) -> tuple[Commune | None, Village | None]:
    commune = session.get(Commune, commune_id)
    if commune is None:
        return None, None
    village = session.get(Village, village_id) if village_id is not None else None
    if village is not None and village.commune_id != commune_id:
        village = None
    return commune, village


def audio_ext(item: ContentItem) -> str:
    """The file extension of the stored audio ("ogg-opus" → ogg, "mp3" → mp3), for URLs podcast apps like."""
    return "mp3" if "mp3" in (item.audio_format or "") else "ogg"
