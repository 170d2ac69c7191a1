"""The outbox as the bulletins domain's `RemoteRoute` (schedules.bulletins.service.send): a commune that a
registered lower peer runs gets the bulletin through the interchange; the others are delivered locally."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from broadcaster.interchange import adapter, outbox


class OutboxRoute:
    def __init__(self, station_id: str) -> None:
        self.station_id = station_id

    def is_remote(self, session: Session, commune) -> bool:
        return bool(commune.code) and bool(outbox.remote_communes(session, [commune.code]))

    def enqueue(self, session: Session, bulletin, commune, now: datetime) -> None:
        outbox.enqueue_bulletin(session, adapter.from_received_bulletin(self.station_id, bulletin), now)
