"""Live sessions: start (a cadre only), feed the phone's audio, stop, the watchdog, publish the recording.

One `LiveService` per station process (`app.state.live`). A running session lives in the process that holds
its mount (the phone's chunks and the station's stream route must reach it: behind several API replicas the
hub pushes to Icecast, and the proxy should pin /api/v1/live/* of a session to one replica; docs/operations.md).

Order on start: the row and its audit are committed, the mount opens (and the recorder listens), then the
signed `live` command goes out. On end: the `stop` command goes out first (the loudspeakers go quiet within the
time of a push, as every stop must), then the mount closes, the recording moves into the content store and the
row and its audit are committed.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.station.live import late
from broadcaster.station.live.models import LiveSession
from broadcaster.station.live.recorder import Recorder
from broadcaster.station.streams import Mount, MountClosed, StreamHub
from content.store import AudioStore
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.db import session_scope, table_of
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Device, Village

log = logging.getLogger("loa.live")
# Roles that may speak live: only a commune cadre (never a secretary or a village head). Enforced here, not in
# the page: the page only hides the button.
SPEAKERS = ("cadre",)
MAX_CHUNK_BYTES = 256 * 1024   # one MediaRecorder slice; 250 ms of Opus is ~1–4 kB


@dataclass
class _Running:
    session_id: int
    commune_id: int
    user_id: int | None
    mount: Mount
    recorder: Recorder
    device_ids: list[int]
    started_at: datetime
    started_mono: float = field(default_factory=time.monotonic)
    next_seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _missing() -> NotFound:
    return NotFound("live_not_found", "Không có phiên phát trực tiếp này", "No such live session")


class LiveService:
    def __init__(self, engine: Engine, hub: StreamHub, commander: Any, clock: Callable[[], datetime], *,
                 audio_dir: str | Path, max_minutes: float = 120.0, link_timeout_s: float = 3.0,
                 first_input_timeout_s: float = 15.0) -> None:
        self.engine, self.hub, self.commander, self.clock = engine, hub, commander, clock
        self.store = AudioStore(audio_dir)
        self.max_s = max_minutes * 60
        self.link_timeout_s = link_timeout_s
        # Before its first slice a phone is not "quiet": it is still asking for the microphone, starting its
        # recorder and sending the first slice over 3G. The 3 s link timeout from the session's creation ended
        # sessions before they began (seen under load in tests; on a slow link, a cadre's every attempt).
        self.first_input_timeout_s = max(first_input_timeout_s, link_timeout_s)
        self.running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.on_end: list[Callable[[int, str], None]] = []  # (session id, reason): tests and the page's poll

    # -- start ---------------------------------------------------------------------------------------------
    def start(self, actor: Principal, commune_id: int, village_ids: list[int] | None, now: datetime) -> LiveSession:
        actor.require_role(commune_id, *SPEAKERS)
        with session_scope(self.engine) as s:
            villages = self._villages(s, commune_id, village_ids)
            if s.exec(select(LiveSession.id).where(LiveSession.commune_id == commune_id,
                                                   col(LiveSession.ended_at).is_(None))).first() is not None:
                raise Conflict("live_busy", "Xã đang có một phiên phát trực tiếp: hãy dừng phiên đó trước",
                               "A live session is already on air in this commune: stop it first")
            device_ids = self._devices(s, commune_id, village_ids and villages)
            if not device_ids:
                raise Invalid("live_no_devices", "Nơi đã chọn chưa có cụm loa nào", "No loudspeakers there")
            row = LiveSession(commune_id=commune_id, started_by_id=actor.user_id, started_by=actor.username,
                              villages=sorted(villages) if village_ids else [], device_count=len(device_ids),
                              mount="", started_at=now)
            s.add(row)
            s.flush()
            session_id = row.id
            if session_id is None:  # flush() inserted the row, so the database gave it its id
                raise RuntimeError("live session row has no id after flush")
            row.mount = f"live-{session_id}"
            audit.record(s, actor, "live.start", "live", session_id, now, commune_id=commune_id,
                         villages=row.villages or "all", devices=len(device_ids))
            s.flush()
        try:
            mount = self.hub.open(f"live-{session_id}", source=None, commune_id=commune_id)
        except Exception as exc:
            self._close_row(session_id, "failed", now, actor.username, None, 0.0)
            raise Conflict("live_failed", "Không mở được luồng phát", f"The stream could not open: {exc}") from exc
        running = _Running(session_id, commune_id, actor.user_id, mount, Recorder(mount, self.store, mount.name),
                           device_ids, now)
        with self._lock:
            self.running[session_id] = running
        envelope = self.commander.live_started(device_ids, f"l{session_id}", self.hub.url_for(mount.name), now,
                                               now + timedelta(seconds=self.max_s), "Phát trực tiếp / live")
        self._keep_command(session_id, "command", envelope)
        self._ensure_watchdog()
        return self.get(actor, session_id)

    def _villages(self, s: Session, commune_id: int, village_ids: list[int] | None) -> list[int]:
        if not village_ids:
            return []
        wanted = sorted(set(village_ids))
        v = table_of(Village).c
        found = [i for (i,) in s.execute(sa.select(v.id).where(v.commune_id == commune_id, v.id.in_(wanted)))]
        if len(found) != len(wanted):
            raise Invalid("village_not_found", "Có thôn không thuộc xã này", "A village is not in this commune",
                          villages=sorted(set(wanted) - set(found)))
        return found

    def _devices(self, s: Session, commune_id: int, villages: list[int] | None) -> list[int]:
        d = table_of(Device).c
        q = sa.select(d.id).where(d.commune_id == commune_id, d.revoked_at.is_(None))
        if villages:
            q = q.where(d.village_id.in_(villages))
        return [i for (i,) in s.execute(q)]

    # -- audio ---------------------------------------------------------------------------------------------
    def feed(self, actor: Principal, session_id: int, seq: int, data: bytes) -> str:
        """The phone's next slice. `seq` counts slices from 0: a repeat is ignored ("duplicate"), a gap is 409
        (the page starts again), so the hub never gets a garbled stream."""
        running = self.running.get(session_id)
        if running is None:
            row = self._require_visible(actor, session_id)
            actor.require_role(row.commune_id, *SPEAKERS)
            raise Conflict("live_ended", "Phiên phát trực tiếp đã kết thúc", "The live session has ended")
        # Who may speak comes before whose session it is: another commune gets the same 404 as for a session that
        # does not exist (no leak), a member who may not go on air 403; the running entry answers both without a
        # database read on every slice.
        if not actor.sees_commune(running.commune_id):
            raise _missing()
        actor.require_role(running.commune_id, *SPEAKERS)
        if running.user_id != actor.user_id:
            raise Conflict("live_not_yours", "Chỉ người bắt đầu mới gửi được tiếng", "Only its speaker can send")
        if len(data) > MAX_CHUNK_BYTES:
            raise Invalid("chunk_too_large", "Đoạn âm thanh quá lớn", "Audio chunk too large")
        with running.lock:
            if seq < running.next_seq:
                return "duplicate"
            if seq > running.next_seq:
                raise Conflict("live_gap", f"Thiếu đoạn số {running.next_seq}", f"Chunk {running.next_seq} missing",
                               expected=running.next_seq)
            try:
                running.mount.feed(data)
            except MountClosed as exc:
                self._end(session_id, "failed", self.clock(), "system")
                raise Conflict("live_failed", "Luồng phát đã dừng vì lỗi", f"The stream failed: {exc}") from exc
            running.next_seq += 1
        return "fed"

    # -- end -----------------------------------------------------------------------------------------------
    def stop(self, actor: Principal, session_id: int, now: datetime) -> LiveSession:
        row = self._require_visible(actor, session_id)
        actor.require_role(row.commune_id, *SPEAKERS)
        if row.ended_at is None:
            if session_id not in self.running:  # its process is gone (restarted): close the row
                self._close_row(session_id, "restarted", now, actor.username, None, 0.0)
            else:
                self._end(session_id, "stopped", now, actor.username, actor)
        return self.get(actor, session_id)

    def _end(self, session_id: int, reason: str, now: datetime, by: str, actor: Principal | None = None) -> None:
        with self._lock:
            running = self.running.pop(session_id, None)
        if running is None:
            return
        try:  # quiet first: the stop command, then the mount
            stop = self.commander.live_stopped(running.device_ids, f"l{session_id}", now)
            self._keep_command(session_id, "stop_command", stop)
        except Exception:  # noqa: BLE001 — the mount's end also ends every agent's stream
            log.exception("live %s: stop command failed", session_id)
        running.mount.close(grace_s=2)
        sha = running.recorder.finish()
        seconds = max(0.0, (now - running.started_at).total_seconds())
        self._close_row(session_id, reason, now, by, sha, seconds, actor)
        for hook in list(self.on_end):
            hook(session_id, reason)

    def _keep_command(self, session_id: int, column: str, envelope: object) -> None:
        """The signed envelope as issued, for the loudspeakers that come (back) online later (late.py). Stored
        after the push: the devices online hear it at once, the others at their next heartbeat."""
        if not isinstance(envelope, dict):  # no device had a live credential: nothing was signed
            return
        with session_scope(self.engine) as s:
            row = s.get(LiveSession, session_id)
            if row is not None:
                setattr(row, column, envelope)
                s.add(row)

    def _close_row(self, session_id: int, reason: str, now: datetime, by: str, sha: str | None, seconds: float,
                   actor: Principal | None = None) -> None:
        from loa.accounts.principal import SYSTEM

        with session_scope(self.engine) as s:
            row = s.get(LiveSession, session_id)
            if row is None or row.ended_at is not None:
                return
            row.ended_at, row.end_reason, row.ended_by = now, reason, by
            row.recording_sha256 = sha
            row.recording_s = round(seconds, 1) if sha else None
            s.add(row)
            audit.record(s, actor or SYSTEM, "live.end", "live", session_id, now, commune_id=row.commune_id,
                         reason=reason, duration_s=round(seconds, 1), recording=sha)

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._stop.clear()
            self._watchdog = threading.Thread(target=self._watch, daemon=True, name="live-watchdog")
            self._watchdog.start()

    def _watch(self) -> None:
        """The phone went quiet (link dropped; or it never sent its first slice), the session ran too long, or
        its ffmpeg died: end it."""
        while not self._stop.wait(0.25):
            for session_id, running in list(self.running.items()):
                reason = None
                if not running.mount.alive:
                    reason = "failed"
                elif running.mount.idle_seconds() > (self.link_timeout_s if running.mount.bytes_in
                                                     else self.first_input_timeout_s):
                    reason = "link_lost"
                elif time.monotonic() - running.started_mono > self.max_s:
                    reason = "max_duration"
                if reason:
                    try:
                        self._end(session_id, reason, self.clock(), "system")
                    except Exception:  # noqa: BLE001 — the watchdog must keep watching the others
                        log.exception("live %s: ending (%s) failed", session_id, reason)

    def shutdown(self) -> None:
        self._stop.set()
        for session_id in list(self.running):
            self._end(session_id, "restarted", self.clock(), "system")

    # -- reading -------------------------------------------------------------------------------------------
    def _require_visible(self, actor: Principal, session_id: int) -> LiveSession:
        with session_scope(self.engine) as s:
            row = s.get(LiveSession, session_id)
            if row is None or not actor.sees_commune(row.commune_id):
                raise _missing()
            s.expunge(row)
            return row

    def get(self, actor: Principal, session_id: int) -> LiveSession:
        return self._require_visible(actor, session_id)

    def joined(self, row: LiveSession) -> int:
        """How many of the loudspeakers it named reported airing it (their own heartbeat or play record)."""
        if row.id is None:
            return 0
        with session_scope(self.engine) as s:
            running = self.running.get(row.id)
            device_ids = running.device_ids if running is not None else self._devices(
                s, row.commune_id, list(row.villages) or None)
            return late.joined(s, row.id, row.commune_id, device_ids)

    def list(self, actor: Principal, commune_id: int, limit: int = 50) -> list[LiveSession]:
        actor.require_commune(commune_id)
        with session_scope(self.engine) as s:
            rows = list(s.exec(select(LiveSession).where(LiveSession.commune_id == commune_id)
                               .order_by(col(LiveSession.started_at).desc(), col(LiveSession.id).desc())
                               .limit(limit)))
            for r in rows:
                s.expunge(r)
            return rows

    def recording_path(self, actor: Principal, session_id: int) -> Path:
        row = self._require_visible(actor, session_id)
        if not row.recording_sha256:
            raise NotFound("recording_not_found", "Phiên này không có bản ghi", "This session has no recording")
        return self.store.path_for(row.recording_sha256, "mp3")


def publish(engine: Engine, live: LiveService, actor: Principal, session_id: int, title: str, kind: str,
            now: datetime, max_bytes: int) -> int:
    """The session's recording becomes a draft library item of its commune, mastered like any uploaded
    recording, and then follows the library's normal approval flow to the residents' page (docs/operations.md:
    a live recording was already heard, but what stays published is still a cadre's deliberate approval)."""
    from content.library import service as library
    from content.library.schemas import ItemMeta
    from content.library.upload import master_upload

    row = live._require_visible(actor, session_id)
    actor.require_role(row.commune_id, *SPEAKERS)
    if row.ended_at is None:
        raise Conflict("live_on_air", "Phiên vẫn đang phát: hãy dừng trước", "Still on air: stop it first")
    if row.content_item_id is not None:
        raise Conflict("live_published", "Bản ghi này đã được đưa vào thư viện", "Already in the library",
                       content_item_id=row.content_item_id)
    path = live.recording_path(actor, session_id)
    # pydantic validates the kind's text: a bad kind or empty title is 422 before any work
    meta = ItemMeta.model_validate({"title": title, "kind": kind})
    facts = master_upload(path, live.store.root, max_bytes)
    with session_scope(engine) as s:
        item = library.create_recording_item(s, actor, row.commune_id, meta, facts, now,
                                             original_filename=f"{row.mount}.mp3")
        stored = s.get(LiveSession, session_id)
        if stored is None:  # deleted since _require_visible read it
            raise _missing()
        stored.content_item_id = item.id
        s.add(stored)
        audit.record(s, actor, "live.publish", "live", session_id, now, commune_id=row.commune_id,
                     content_item_id=item.id)
        s.flush()
        if item.id is None:  # create_recording_item flushed the new item, so it has its id
            raise RuntimeError("library item has no id after flush")
        return item.id
