"""The outbox as the bulletins domain's `RemoteRoute` (schedules.bulletins.service.send): a commune that a
registered lower peer runs gets the bulletin through the interchange; the others are delivered locally.

`send` asks commune by commune; one route serves one send, so it reads the peers' communes once and keeps one
outbox row per peer, adding each commune to it (one message per peer, whatever the number of its communes).
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from broadcaster.interchange import adapter, outbox
from broadcaster.interchange.models import LOWER, PENDING, InterchangePeer, OutboxMessage, existing
from schedules.tables import saved_id

if TYPE_CHECKING:
    from loa.org.models import Commune
    from schedules.bulletins.schemas import ReceivedBulletin


class OutboxRoute:
    """`origin.station` is filled in at each attempt with this station's id (outbox.send_one)."""

    def __init__(self) -> None:
        self._peer_of: dict[str, int] | None = None
        self._rows: dict[tuple[int, str, int], OutboxMessage] = {}

    def _peers(self, session: Session) -> dict[str, int]:
        if self._peer_of is None:
            self._peer_of = {}
            for peer in session.exec(select(InterchangePeer).where(InterchangePeer.role == LOWER,
                                                                   InterchangePeer.enabled)):
                for code in peer.communes:
                    self._peer_of.setdefault(code, saved_id(peer))
        return self._peer_of

    def is_remote(self, session: Session, commune: Commune) -> bool:
        return bool(commune.code) and commune.code in self._peers(session)

    def enqueue(self, session: Session, bulletin: ReceivedBulletin, commune: Commune, now: datetime) -> None:
        code = commune.code
        if not code:  # send() asks is_remote first, and a commune without a code is never remote
            raise ValueError(f"commune {commune.id} has no code: it cannot be reached through the interchange")
        peer_id = self._peers(session)[code]
        key = (peer_id, bulletin.bulletin_id, bulletin.version)
        row = self._rows.get(key)
        if row is None or row.status != PENDING:
            message = adapter.from_received_bulletin("-", bulletin)
            peer = existing(session, InterchangePeer, peer_id)
            row = outbox.enqueue(session, peer, "bulletin", message, now, expires_at=message.expires_at,
                                 audio=tuple(a.sha256 for a in message.audio))
            self._rows[key] = row
        if code not in row.body["communes"]:
            row.body = {**row.body, "communes": sorted({*row.body["communes"], code})}
            session.add(row)
