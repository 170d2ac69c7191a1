"""Importing an announcement pack into a commune: every announcement arrives as a draft to be approved.

The importer is the contributor of every imported item (they chose to put these words on air), so another
cadre approves them. Importing twice adds nothing the second time (an item with the same title and text already in the commune
is kept), so a cadre can re-run an import after adding announcements to a pack.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from content.library.models import ContentItem, Kind, Status
from content.library.schemas import Engine, TextItemCreate
from content.library.service import create_text_item
from content.packs import Pack
from loa.accounts.principal import Principal
from loa.jobs.models import Job


@dataclass(frozen=True)
class ImportResult:
    created: list[tuple[ContentItem, Job]]
    already_there: list[ContentItem]


def import_pack(session: Session, actor: Principal, commune_id: int, pack: Pack, now: datetime,
                engine: Engine = "auto", voice: str | None = None) -> ImportResult:
    """Create the pack's announcements as drafts in `commune_id`, each with a render job."""
    # Commune-wide content: village heads request announcements for their own village only.
    actor.require_commune(commune_id)
    actor.require_role(commune_id, "cadre", "secretary")
    existing = {
        (item.title, item.text): item
        for item in session.exec(
            select(ContentItem).where(ContentItem.commune_id == commune_id,
                                      ContentItem.status != Status.archived.value)
        )
    }
    created, kept = [], []
    for entry in pack.items:
        found = existing.get((entry.title, entry.text))
        if found is not None:
            kept.append(found)
            continue
        data = TextItemCreate(title=entry.title, kind=Kind(entry.kind), language=entry.language, text=entry.text,
                              engine=engine, voice=voice)
        created.append(create_text_item(session, actor, commune_id, data, now, contribution="import_pack"))
    return ImportResult(created, kept)
