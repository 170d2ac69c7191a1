"""Who changed the words or the audio of an item: the record behind the two-person rule.

Every change to what an item says or sounds like (creating it, a new text, transcript or voice, a pack
import, a CAP alert) bumps `item.version` and adds a `Contribution` for that version. An approval records the
version it approved (`item.approved_version`). The rule: nobody who contributed after the last approved
version may approve (so the author may not approve what they wrote, but may review a later change by someone
else once their own version was approved). Metadata (title, kind, dates, village, pair) is not words or
audio: changing it sends an approved item back to review but does not make the editor a contributor.
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from content.library.models import ContentItem, Contribution

# Fields whose change alters what listeners hear or read, and the contribution kind each makes.
WORD_FIELDS = {"text": "edit_text", "transcript": "edit_transcript"}
AUDIO_FIELDS = {"engine": "edit_voice", "voice": "edit_voice", "speed": "edit_voice"}
CONTENT_FIELDS = {**WORD_FIELDS, **AUDIO_FIELDS}

# How each kind reads on the review page (Vietnamese, English).
KIND_LABELS: dict[str, tuple[str, str]] = {
    "create_text": ("soạn văn bản", "wrote the text"),
    "create_recording": ("tải bản ghi âm", "uploaded the recording"),
    "import_pack": ("nhập từ gói bản tin", "imported from a pack"),
    "cap_alert": ("nhận cảnh báo CAP", "received the CAP alert"),
    "edit_text": ("sửa văn bản", "changed the text"),
    "edit_transcript": ("sửa lời ghi", "changed the transcript"),
    "edit_voice": ("đổi giọng đọc", "changed the voice"),
}


def record(session: Session, item: ContentItem, user_id: int, kind: str, now: datetime,
           fields: list[str] | None = None, new_version: bool = True) -> Contribution:
    """Note that `user_id` changed the item's words or audio; bumps the version unless this is the first one."""
    if new_version:
        item.version = (item.version or 1) + 1
        session.add(item)
    if item.id is None:
        raise ValueError("record a contribution after the item is flushed (it needs its id)")
    row = Contribution(item_id=item.id, version=item.version, user_id=user_id, kind=kind,
                       fields=sorted(fields or []), created_at=now)
    session.add(row)
    return row


def since_approval(session: Session, item: ContentItem) -> list[Contribution]:
    """Contributions not yet covered by an approval, oldest first."""
    query = select(Contribution).where(Contribution.item_id == item.id)
    if item.approved_version is not None:
        query = query.where(Contribution.version > item.approved_version)
    return list(session.exec(query.order_by(col(Contribution.id))))


def all_of(session: Session, item_id: int) -> list[Contribution]:
    return list(session.exec(select(Contribution).where(Contribution.item_id == item_id)
                             .order_by(col(Contribution.id))))


def barred_reviewers(session: Session, item: ContentItem) -> set[int]:
    """Users who may not approve the item now: everyone who changed its words or audio since the last approval
    (before any approval, that includes the author)."""
    barred = {c.user_id for c in since_approval(session, item)}
    if item.approved_version is None:
        barred.add(item.author_id)  # also for rows older than the contribution records
    return barred
