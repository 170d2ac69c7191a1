"""Receiving one signed message: check everything, fetch audio, hand it to the domain once, sign a receipt.

Order of checks (each refusal has its own code, docs/interchange.md): a signature at all → a registered,
enabled sender → a key pinned for it → the signature → the schema → addressed to us → a fresh `sent_at` → the
sender's role may send this kind → not older than a version already taken. Then the audio is fetched from the
sender by hash and checked, outside any database transaction; then the domain call and the idempotency record
commit together. A message taken already is answered with its stored receipt and changes nothing.
Every refusal is written to the audit log (action `interchange.refused`) and the server log.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from broadcaster.interchange import adapter, audio_fetch, envelope, errors, peers, schemas
from broadcaster.interchange.errors import Refused
from broadcaster.interchange.identity import Identity
from broadcaster.interchange.models import LOWER, UPPER, InterchangePeer, ReceivedMessage, existing
from broadcaster.protocol.wire import canonical_json
from content.store import AudioStore
from loa.accounts.principal import SYSTEM
from loa.audit import service as audit
from loa.db import session_scope
from schedules.tables import saved_id

log = logging.getLogger("loa.interchange")

def _now(fn: Callable[..., None], *args: Any) -> None:
    fn(*args)


COMMUNES_PER_TRANSACTION = 50

# Which kinds each side may send: bulletins come down from the upper station, news goes up from lower ones.
MAY_SEND = {"bulletin": UPPER, "status": LOWER, "report": LOWER}


class Budget:
    """At most `per_minute` audited refusals a minute per process (the route needs no login: anyone can post)."""

    def __init__(self, per_minute: int = 60) -> None:
        self.per_minute, self.window, self.used = per_minute, 0.0, 0
        self.lock = threading.Lock()

    def take(self, now_s: float) -> bool:
        with self.lock:
            if now_s - self.window >= 60:
                self.window, self.used = now_s, 0
            self.used += 1
            return self.used <= self.per_minute


@dataclass
class Receiver:
    engine: Engine
    me: Identity
    store: AudioStore
    skew_s: float
    timeout_s: float
    _audit_budget: Budget = field(default_factory=Budget)

    def receive(self, raw: Any, now: datetime, defer: Callable[..., None] | None = None) -> dict[str, Any]:
        """The signed receipt for `raw` (an envelope), or raise `Refused` (logged). `defer(fn, *args)` runs the
        domain's after-commit work (timetables re-materialized) once the receipt is on its way (the HTTP
        route passes its background tasks): the sender's request does not wait for 10,000 timetables."""
        claimed = raw.get("message", {}) if isinstance(raw, Mapping) else {}
        try:
            return self._receive(raw, now, defer)
        except Refused as exc:
            self.log_refusal(exc, claimed if isinstance(claimed, Mapping) else {}, now)
            raise

    # -------------------------------------------------------------- the checks
    def _peer(self, station: Any) -> InterchangePeer:
        with session_scope(self.engine) as s:
            peer = peers.find_enabled(s, str(station))
            if peer is None:
                raise errors.unknown_peer(station)
            s.expunge(peer)
            return peer

    def _receive(self, raw: Any, now: datetime, defer: Callable[..., None] | None) -> dict[str, Any]:
        body, key_id, signature = envelope.signed_part(raw)
        peer = self._peer(body.get("sender"))
        envelope.verify(body, key_id, signature, peer.keys)
        header, payload = schemas.parse(body)
        if header.recipient != self.me.station_id:
            raise Refused("interchange_wrong_recipient", 422,
                          f"Thông điệp gửi cho đài {header.recipient!r}, không phải đài này",
                          f"The message is addressed to {header.recipient!r}, not this station")
        envelope.check_fresh(header.sent_at, now, self.skew_s)
        kind = header.kind
        if MAY_SEND.get(kind) != peer.role:
            raise Refused("interchange_role_refused", 403,
                          f"Đài {peer.station_id} ({peer.role}) không được gửi loại {kind}",
                          f"Station {peer.station_id} ({peer.role}) may not send a {kind}")
        version = schemas.version_of(payload)
        digest = hashlib.sha256(canonical_json({k: v for k, v in body.items() if k != "sent_at"})).hexdigest()
        taken = self._already(peer, kind, payload.object_id, version, digest)
        if taken is not None:
            return self._receipt(peer, kind, payload.object_id, version, "duplicate", taken.result, now)
        if isinstance(payload, schemas.BulletinMessage):  # kind == "bulletin"
            if payload.expires_at <= now:
                raise Refused("interchange_expired", 422, "Bản tin đã hết hạn khi đến nơi",
                              "The bulletin had expired when it arrived")
            for ref in payload.audio:
                audio_fetch.fetch(self.store, peer.base_url, ref, self.me, now, self.timeout_s)
        early: dict[str, Any] | None = None
        if isinstance(payload, schemas.BulletinMessage) and len(payload.communes) > COMMUNES_PER_TRANSACTION:
            early = self._bulletin_in_parts(peer, payload, now)
        try:
            with session_scope(self.engine) as s:
                result = early if early is not None else self._deliver(s, peer, payload, now)
                s.add(ReceivedMessage(sender=peer.station_id, kind=kind, object_id=payload.object_id,
                                      version=version, digest=digest, result=result, received_at=now))
                row = existing(s, InterchangePeer, saved_id(peer))
                row.last_received_at = now
                s.add(row)
                s.flush()
        except IntegrityError:
            # the same message was taken by a concurrent request a moment ago: answer as a duplicate
            taken = self._already(peer, kind, payload.object_id, version, digest)
            if taken is None:
                raise
            return self._receipt(peer, kind, payload.object_id, version, "duplicate", taken.result, now)
        if kind == "bulletin":
            (defer or _now)(adapter.after_bulletin, self.engine, result, now)
        log.info("interchange: %s %s v%s from %s accepted", kind, payload.object_id, version, peer.station_id)
        return self._receipt(peer, kind, payload.object_id, version, "accepted", result, now)

    def _already(self, peer: InterchangePeer, kind: str, object_id: str, version: int,
                 digest: str) -> ReceivedMessage | None:
        with session_scope(self.engine) as s:
            rows = list(s.exec(select(ReceivedMessage).where(
                ReceivedMessage.sender == peer.station_id, ReceivedMessage.kind == kind,
                ReceivedMessage.object_id == object_id)))
            for row in rows:
                s.expunge(row)
        same = next((r for r in rows if r.version == version), None)
        if same is not None:
            if same.digest != digest:
                raise Refused("interchange_version_conflict", 409,
                              f"Phiên bản {version} của {object_id} đã nhận với nội dung khác",
                              f"Version {version} of {object_id} was received with different content")
            return same
        newest = max((r.version for r in rows), default=0)
        if newest > version:
            raise Refused("interchange_version_old", 409,
                          f"Đã nhận phiên bản {newest} của {object_id}; phiên bản {version} cũ hơn bị từ chối",
                          f"Version {newest} of {object_id} was received; the older version {version} is refused",
                          received_version=newest)
        return None

    def _bulletin_in_parts(self, peer: InterchangePeer, payload: schemas.BulletinMessage,
                           now: datetime) -> dict[str, Any]:
        """A bulletin for many communes (a station holding a district's or a province's communes), a few dozen
        communes per transaction: one transaction for 1,000 would hold SQLite's write lock for many seconds
        (loudspeakers' heartbeats and proof of play wait, time out). Safe to cut: the domain takes the same
        (sender, bulletin, version) for a commune once, so a crash part-way and the sender's retry finish the
        rest. A part whose communes are none of this station's is skipped; none at all is the domain's refusal."""
        inbox: list[dict[str, Any]] = []
        missing: Refused | None = None
        codes = list(payload.communes)
        for i in range(0, len(codes), COMMUNES_PER_TRANSACTION):
            part = replace(payload, communes=tuple(codes[i:i + COMMUNES_PER_TRANSACTION]))
            try:
                with session_scope(self.engine) as s:
                    inbox += adapter.deliver_bulletin(s, peer.station_id, part, now)["inbox"]
            except Refused as exc:
                if exc.code != "commune_not_found":
                    raise
                missing = exc
        if not inbox and missing is not None:
            raise missing
        return {"inbox": inbox}

    @staticmethod
    def _deliver(s: Session, peer: InterchangePeer, payload: schemas.Payload, now: datetime) -> dict[str, Any]:
        """The payload's class is its kind's (schemas.PAYLOADS)."""
        if isinstance(payload, schemas.BulletinMessage):
            return adapter.deliver_bulletin(s, peer.station_id, payload, now)
        if isinstance(payload, schemas.StatusMessage):
            return adapter.deliver_status(s, peer.station_id, payload, now)
        return adapter.deliver_report(s, peer.station_id, payload, now)

    def _receipt(self, peer: InterchangePeer, kind: str, object_id: str, version: int, outcome: str,
                 result: dict[str, Any], now: datetime) -> dict[str, Any]:
        header = schemas.Header(schemas.RECEIPT, self.me.station_id, peer.station_id, now)
        body = {**header.to_dict(), "kind": kind, "object_id": object_id, "version": version, "outcome": outcome,
                "result": result}
        return envelope.sign(body, self.me.key())

    # -------------------------------------------------------------- the record of refusals
    def log_refusal(self, exc: Refused, claimed: Mapping[str, Any], now: datetime) -> None:
        """Who claimed to send what, and why it was refused: in the audit log, for the admin to see."""
        def short(key: str) -> str | None:
            value = claimed.get(key)
            return str(value)[:200] if value is not None else None

        log.warning("interchange: refused %s from %s: %s", short("schema"), short("sender"), exc.code)
        if not self._audit_budget.take(time.monotonic()):
            return  # a flood of junk from anyone: the server log has it, the audit log is not filled with it
        try:
            with session_scope(self.engine) as s:
                audit.record(s, SYSTEM, "interchange.refused", "interchange_message",
                             short("bulletin_id") or short("commune"), now, code=exc.code, reason=exc.message_en,
                             sender=short("sender"), schema=short("schema"),
                             version=claimed.get("version") if isinstance(claimed.get("version"), int) else None)
        except Exception:  # noqa: BLE001  (the refusal stands even if its record cannot be written)
            log.exception("interchange: could not record a refusal")
