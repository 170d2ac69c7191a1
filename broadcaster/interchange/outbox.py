"""The outbox: messages to other stations, kept in the database until the peer signs a receipt for them.

Enqueueing writes a row in the caller's transaction (the message exists if and only if the change that makes
it commits) and makes sure a `interchange.pump` job is queued (loa/jobs: persistent, survives restarts). The pump
collects what goes up (status updates, daily reports) into the outbox, then delivers what is due, peer by peer,
oldest first. A peer that cannot be reached (or answers with a retryable refusal) is retried after
base × 2^(failures−1) seconds, at most LOA_INTERCHANGE_RETRY_MAX_S: a station offline for hours is reached within
that bound of coming back. The receiver is idempotent by (sender, kind, object, version), so a message sent
twice (a pump killed after sending, before recording the receipt) is taken once: exactly once in effect.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.interchange import envelope, peers, schemas
from broadcaster.interchange.errors import Refused
from broadcaster.interchange.identity import Identity
from broadcaster.interchange.models import (DELIVERED, EXPIRED, PENDING, REFUSED, UPPER, InterchangePeer,
                                            OutboxMessage, SharedAudio, existing)
from loa.db import session_scope
from loa.jobs import service as job_queue
from loa.jobs.models import QUEUED, SUCCEEDED, Job
from loa.settings import Settings
from schedules.tables import saved_id

if TYPE_CHECKING:
    from broadcaster.interchange.route import OutboxRoute

log = logging.getLogger("loa.interchange")

PUMP_JOB = "interchange.pump"
MESSAGES_PATH = "/api/interchange/v1/messages"
CURSOR_OVERLAP = timedelta(minutes=5)
BATCH = 200  # messages per peer per pump run (the next run continues at once)


# ------------------------------------------------------------------ enqueueing
def ensure_pump(session: Session, at: datetime) -> None:
    """One queued pump job runs no later than `at` (moved earlier, or added)."""
    first = session.exec(select(Job).where(Job.kind == PUMP_JOB, Job.status == QUEUED)
                         .order_by(col(Job.run_after))).first()
    if first is None:
        job = job_queue.enqueue(session, PUMP_JOB, {}, at)
        job.run_after = at
    elif first.run_after > at:
        first.run_after = at
        session.add(first)


def enqueue(session: Session, peer: InterchangePeer, kind: str, payload: schemas.Payload, now: datetime, *,
            expires_at: datetime | None = None, audio: tuple[str, ...] = ()) -> OutboxMessage:
    """The message for `peer`, once: the same (peer, kind, object, version) again returns the row there."""
    version = schemas.version_of(payload)
    peer_id = saved_id(peer)
    row = session.exec(select(OutboxMessage).where(
        OutboxMessage.peer_id == peer_id, OutboxMessage.kind == kind,
        OutboxMessage.object_id == payload.object_id, OutboxMessage.version == version)).first()
    if row is not None:
        return row
    row = OutboxMessage(peer_id=peer_id, kind=kind, object_id=payload.object_id, version=version,
                        body=payload.to_dict(), expires_at=expires_at, created_at=now)
    session.add(row)
    for sha in audio:
        if session.get(SharedAudio, (peer_id, sha)) is None:
            session.add(SharedAudio(peer_id=peer_id, sha256=sha))
    session.flush()
    ensure_pump(session, now)
    return row


def remote_communes(session: Session, commune_codes: list[str]) -> set[str]:
    """Which of these communes run on other stations (registered lower peers); the rest are delivered locally."""
    return {code for codes in peers.serving(session, commune_codes).values() for code in codes}


def enqueue_bulletin(session: Session, bulletin: schemas.BulletinMessage, now: datetime) -> dict[str, int]:
    """A bulletin to every lower peer running one of its communes (each gets only its own communes).
    Returns {peer station id: outbox id}. Communes no peer runs are not this module's business."""
    out: dict[str, int] = {}
    for peer_id, codes in peers.serving(session, list(bulletin.communes)).items():
        peer = existing(session, InterchangePeer, peer_id)
        row = enqueue(session, peer, "bulletin", replace(bulletin, communes=tuple(codes)), now,
                      expires_at=bulletin.expires_at, audio=tuple(a.sha256 for a in bulletin.audio))
        merged = sorted(set(row.body["communes"]) | set(codes))
        if merged != row.body["communes"] and row.status == PENDING:
            # the sender adds its communes one call at a time: one message per peer carries them all
            row.body = {**row.body, "communes": merged}
            session.add(row)
        out[peer.station_id] = saved_id(row)
    return out


def bulletin_route() -> OutboxRoute:
    """The bulletins domain's `RemoteRoute` (api/bulletins/views.py asks for it by this name)."""
    from broadcaster.interchange.route import OutboxRoute

    return OutboxRoute()


def enqueue_up(session: Session, kind: str, payload: schemas.Payload, now: datetime) -> OutboxMessage | None:
    """A status update or report for the upper station (None when this station has none)."""
    upper = peers.upper(session)
    return enqueue(session, upper, kind, payload, now) if upper is not None else None


# ------------------------------------------------------------------ delivering
@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | refused | retry
    detail: str = ""
    receipt: dict[str, Any] | None = None


def backoff(failures: int, base_s: float, max_s: float) -> timedelta:
    return timedelta(seconds=min(max_s, base_s * 2 ** max(0, failures - 1)))


GENERIC_CODES = {"not_found", "method_not_allowed", "bad_request", "http_error"}


def _problem(reply: httpx.Response) -> tuple[str, bool, str]:
    """(code, retryable, text) of a refusal reply."""
    try:
        data = reply.json()
    except ValueError:
        data = {}
    code = str(data.get("code") or f"http_{reply.status_code}") if isinstance(data, dict) else f"http_{reply.status_code}"
    # Given up only on a refusal the receiving station itself explains (its code): a bare 404 or an HTML page is
    # a wrong address, a proxy, or a station not upgraded yet — worth retrying once an admin fixes it.
    explained = isinstance(data, dict) and bool(data.get("code")) and code not in GENERIC_CODES
    retry = reply.status_code >= 500 or reply.status_code == 429 or not explained or bool(data.get("retryable"))
    text = data.get("message_en") if isinstance(data, dict) else None
    return code, retry, f"{code}: {text or reply.text[:300]}"


def _check_receipt(peer: InterchangePeer, row: OutboxMessage, me: str, data: Any) -> dict[str, Any]:
    body, key_id, signature = envelope.signed_part(data)
    envelope.verify(body, key_id, signature, peer.keys)
    if (body.get("schema") != schemas.RECEIPT or body.get("sender") != peer.station_id
            or body.get("recipient") != me or body.get("kind") != row.kind or body.get("object_id") != row.object_id
            or body.get("version") != row.version):
        raise Refused("interchange_receipt_invalid", 502, "Biên nhận không khớp thông điệp",
                      "The receipt does not match the message", retryable=True)
    return dict(body)


def send_one(client: httpx.Client, me: Identity, peer: InterchangePeer, row: OutboxMessage,
             now: datetime) -> Outcome:
    header = schemas.Header(schemas.ACCEPTED[row.kind], me.station_id, peer.station_id, now)
    body = {**row.body, **header.to_dict()}
    if row.kind == "bulletin":  # the composing station is this one (the domain's send path does not know our id)
        body["origin"] = {**body["origin"], "station": me.station_id}
    signed = envelope.sign(body, me.key())
    try:
        reply = client.post(peer.base_url + MESSAGES_PATH, json=signed)
    except httpx.HTTPError as exc:
        return Outcome("retry", f"{type(exc).__name__}: {exc}"[:500])
    if reply.status_code == 200:
        try:
            return Outcome(DELIVERED, receipt=_check_receipt(peer, row, me.station_id, reply.json()))
        except (Refused, ValueError) as exc:
            return Outcome("retry", f"receipt: {exc}"[:500])
    code, retry, text = _problem(reply)
    return Outcome("retry" if retry else REFUSED, text[:2000])


def _deliver_peer(engine: Engine, me: Identity, settings: Settings, peer_id: int, now: datetime) -> dict[str, int]:
    counts = {DELIVERED: 0, REFUSED: 0, EXPIRED: 0, "retry": 0}
    with session_scope(engine) as s:
        peer = existing(s, InterchangePeer, peer_id)
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.peer_id == peer_id,
                                                       OutboxMessage.status == PENDING)
                           .order_by(col(OutboxMessage.id)).limit(BATCH)))
        s.expunge(peer)
        for r in rows:
            s.expunge(r)
    with httpx.Client(timeout=settings.interchange_timeout_s) as client:
        for row in rows:
            if row.expires_at is not None and row.expires_at <= now:
                outcome = Outcome(EXPIRED, "expired before it could be delivered")
            else:
                outcome = send_one(client, me, peer, row, now)
            counts[outcome.status] += 1
            with session_scope(engine) as s:
                stored = existing(s, OutboxMessage, saved_id(row))
                p = existing(s, InterchangePeer, peer_id)
                stored.attempts += 1
                if outcome.status == "retry":
                    stored.last_error = outcome.detail
                    p.failures += 1
                    p.next_attempt_at = now + backoff(p.failures, settings.interchange_retry_base_s,
                                                      settings.interchange_retry_max_s)
                    p.last_error = outcome.detail
                    log.info("interchange: %s unreachable (%s); next try %s", p.station_id, outcome.detail,
                             p.next_attempt_at)
                else:
                    stored.status, stored.last_error, stored.receipt = outcome.status, outcome.detail or None, \
                        outcome.receipt
                    if outcome.status == DELIVERED:
                        stored.delivered_at = now
                        p.failures, p.next_attempt_at, p.last_error, p.last_delivery_at = 0, None, None, now
                s.add(stored)
                s.add(p)
            if outcome.status == "retry":
                break  # the peer is down (or refusing for now): its other messages wait with it
    return counts


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """A peer whose backoff is over (or that never failed)."""
    at = col(InterchangePeer.next_attempt_at)
    return sa.or_(at.is_(None), at <= now)


def _waiting() -> sa.Exists:
    """A peer with pending messages."""
    return sa.exists().where(col(OutboxMessage.peer_id) == col(InterchangePeer.id), col(OutboxMessage.status) == PENDING)


def deliver_due(engine: Engine, me: Identity, settings: Settings, now: datetime, parallel: int = 8) -> dict[str, int]:
    """Deliver every due peer's pending messages (peers side by side, each peer's messages in order)."""
    with session_scope(engine) as s:
        due = [pid for pid in s.exec(select(InterchangePeer.id).where(InterchangePeer.enabled, _due(now), _waiting()))
               if pid is not None]
    totals = {DELIVERED: 0, REFUSED: 0, EXPIRED: 0, "retry": 0}
    if not due:
        return totals
    with ThreadPoolExecutor(max_workers=min(parallel, len(due))) as pool:
        for counts in pool.map(lambda pid: _deliver_peer(engine, me, settings, pid, now), due):
            for k, v in counts.items():
                totals[k] += v
    return totals


# ------------------------------------------------------------------ collecting what goes up
def collect(engine: Engine, now: datetime) -> int:
    """Status updates and daily reports since the upper peer's cursor, into its outbox. Read first, then written
    100 messages per transaction: computing a thousand statuses must not hold SQLite's write lock."""
    return len(_collect(engine, now))


def _collect(engine: Engine, now: datetime) -> list[tuple[str, schemas.Payload]]:
    """`collect`, returning what it collected as (kind, payload)."""
    from broadcaster.interchange import adapter

    with session_scope(engine) as s:
        upper = peers.upper(s)
        if upper is None:
            return []
        upper_id, station = saved_id(upper), upper.station_id
        # an overlap, so an update committed just after the last run's query is not missed (enqueue dedups)
        since = upper.status_cursor - CURSOR_OVERLAP if upper.status_cursor is not None else None
        news: list[tuple[str, schemas.Payload]] = [("status", m) for m in adapter.status_updates(s, station, since, now)]
        news += [("report", r) for r in adapter.daily_reports(s, since, now)]
        s.rollback()  # nothing written: end the read before the writes below
    for i in range(0, len(news), 100):
        with session_scope(engine) as s:
            upper = existing(s, InterchangePeer, upper_id)
            for kind, payload in news[i:i + 100]:
                enqueue(s, upper, kind, payload, now)
    with session_scope(engine) as s:
        upper = existing(s, InterchangePeer, upper_id)
        upper.status_cursor = now
        s.add(upper)
    return news


# ------------------------------------------------------------------ retention
PRUNE_CHUNK = 500


def prune_delivered(session: Session, now: datetime, retention: timedelta,
                    keep: Collection[tuple[str, str, int]] = frozenset()) -> int:
    """Delete delivered messages whose receipt came more than `retention` before `now`. Never a pending,
    refused or expired one (an admin reads those in `loa interchange outbox`). Kept regardless of age:
    a bulletin not expired yet, and every (kind, object id, version) in `keep` — what the collection just
    found again (a scheduled bulletin's status is re-collected until it expires, a report for a week): its
    row is what makes `enqueue` see it as sent, so deleting it would send it once more. (A message sent again
    anyway is harmless: the receiver keeps its own record, `interchange_received`, and answers with the stored
    receipt.) Returns how many rows were deleted."""
    cutoff = now - retention
    delivered_at, expires_at = col(OutboxMessage.delivered_at), col(OutboxMessage.expires_at)
    rows = session.exec(select(col(OutboxMessage.id), col(OutboxMessage.kind), col(OutboxMessage.object_id),
                               col(OutboxMessage.version))
                        .where(col(OutboxMessage.status) == DELIVERED, delivered_at.is_not(None),
                               delivered_at < cutoff, sa.or_(expires_at.is_(None), expires_at <= now))).all()
    ids = [row_id for row_id, kind, object_id, version in rows
           if row_id is not None and (kind, object_id, version) not in keep]
    for i in range(0, len(ids), PRUNE_CHUNK):
        session.execute(sa.delete(OutboxMessage).where(col(OutboxMessage.id).in_(ids[i:i + PRUNE_CHUNK])))
    return len(ids)


# ------------------------------------------------------------------ the pump job
def next_run(session: Session, now: datetime, poll_s: float) -> datetime:
    """When the pump runs again: the earliest peer retry that is due with messages waiting, else one poll later."""
    retry_at = col(InterchangePeer.next_attempt_at)
    waiting = session.exec(select(sa.func.min(retry_at)).where(
        InterchangePeer.enabled, retry_at.is_not(None), _waiting())).first()
    more = session.exec(select(OutboxMessage.id)
                        .join(InterchangePeer, col(InterchangePeer.id) == col(OutboxMessage.peer_id))
                        .where(OutboxMessage.status == PENDING, InterchangePeer.enabled, _due(now)).limit(1)).first()
    if more is not None:
        return now  # a batch was cut at BATCH messages: continue at once
    at = now + timedelta(seconds=poll_s)
    return min(at, waiting) if waiting is not None else at


def pump(engine: Engine, me: Identity, settings: Settings, now: datetime) -> dict[str, Any]:
    """One run: collect, deliver what is due, queue the next run; old finished pump jobs and delivered messages
    older than LOA_INTERCHANGE_OUTBOX_RETENTION_DAYS are cleared."""
    news = _collect(engine, now)
    delivered = deliver_due(engine, me, settings, now)
    keep = {(kind, payload.object_id, schemas.version_of(payload)) for kind, payload in news}
    with session_scope(engine) as s:
        has_peers = s.exec(select(InterchangePeer.id).where(InterchangePeer.enabled)).first() is not None
        if has_peers:
            ensure_pump(s, next_run(s, now, settings.interchange_poll_s))
        s.execute(sa.delete(Job).where(col(Job.kind) == PUMP_JOB, col(Job.status) == SUCCEEDED,
                                       col(Job.finished_at) < now - timedelta(days=1)))
        pruned = prune_delivered(s, now, timedelta(days=settings.interchange_outbox_retention_days), keep)
    return {"collected": len(news), **delivered, "pruned": pruned}


def start(engine: Engine, now: datetime) -> None:
    """At station start: a pump runs soon if there is anyone to talk to (a restart resumes the outbox)."""
    with session_scope(engine) as s:
        if s.exec(select(InterchangePeer.id).where(InterchangePeer.enabled)).first() is not None:
            ensure_pump(s, now)


def summary(session: Session) -> list[dict[str, Any]]:
    """Per peer: messages by status, failures, next attempt (for `loa interchange outbox` and the admin API)."""
    counts: dict[int, dict[str, int]] = {}
    for peer_id, status, n in session.exec(select(OutboxMessage.peer_id, OutboxMessage.status, sa.func.count())
                                           .group_by(col(OutboxMessage.peer_id), col(OutboxMessage.status))):
        counts.setdefault(peer_id, {})[status] = n
    out: list[dict[str, Any]] = []
    for p in session.exec(select(InterchangePeer).order_by(col(InterchangePeer.station_id))):
        out.append({"station_id": p.station_id, "role": p.role, "enabled": p.enabled, "failures": p.failures,
                    "next_attempt_at": p.next_attempt_at, "last_error": p.last_error,
                    "last_delivery_at": p.last_delivery_at, "messages": counts.get(saved_id(p), {})})
    return out


def undelivered(session: Session, limit: int = 200, station_id: str | None = None) -> list[dict[str, Any]]:
    """The messages not delivered (of one peer, or all), newest first, for the admin's outbox pages: waiting ones
    with the peer's next attempt (the backoff is per peer) and the last error, and those refused or expired."""
    query = (select(OutboxMessage, InterchangePeer)
             .join(InterchangePeer, col(InterchangePeer.id) == col(OutboxMessage.peer_id))
             .where(col(OutboxMessage.status).in_([PENDING, REFUSED, EXPIRED])))
    if station_id is not None:
        query = query.where(InterchangePeer.station_id == station_id)
    out = []
    for row, peer in session.exec(query.order_by(col(OutboxMessage.id).desc()).limit(limit)):
        out.append({"id": row.id, "station_id": peer.station_id, "peer_name": peer.name, "kind": row.kind,
                    "object_id": row.object_id, "version": row.version, "status": row.status,
                    "attempts": row.attempts, "created_at": row.created_at, "expires_at": row.expires_at,
                    "next_attempt_at": peer.next_attempt_at if row.status == PENDING and peer.enabled else None,
                    "peer_enabled": peer.enabled, "last_error": row.last_error or (
                        peer.last_error if row.status == PENDING and row.attempts else None)})
    return out


__all__ = ["PUMP_JOB", "UPPER", "bulletin_route", "enqueue", "enqueue_bulletin", "enqueue_up", "remote_communes", "pump",
           "prune_delivered", "start"]
