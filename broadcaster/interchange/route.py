"""The outbox as the bulletins domain's `RemoteRoute` (schedules.bulletins.service.send): a commune that a
registered lower peer runs gets the bulletin through the interchange; the others are delivered locally."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from broadcaster.interchange import adapter, outbox


class OutboxRoute:
    """`origin.station` is filled in at each attempt with this station's id (outbox.send_one)."""

    def is_remote(self, session: Session, commune) -> bool:
        return bool(commune.code) and bool(outbox.remote_communes(session, [commune.code]))

    def enqueue(self, session: Session, bulletin, commune, now: datetime) -> None:
        outbox.enqueue_bulletin(session, adapter.from_received_bulletin("-", bulletin), now)
