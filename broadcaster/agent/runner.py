"""The agent's main loop: sync on startup, on a nudge and periodically; heartbeat; upload plays; play.

Every network step may fail: the player keeps going on the last good manifest, and the next step retries.
"""
from __future__ import annotations

import os
import platform
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from broadcaster.agent import AGENT_VERSION
from broadcaster.agent.client import DeviceRevoked, StationClient, StationError
from broadcaster.agent.clock import Clock, SystemClock
from broadcaster.agent.control import DUPLICATE, Control
from broadcaster.agent.errors import AgentError
from broadcaster.agent.player import Player
from broadcaster.agent.playlog import PlayLog
from broadcaster.agent.relay import DEFAULT_BUDGET_S, RelayRetry
from broadcaster.agent.sinks import Sink
from broadcaster.agent.state import AgentState
from broadcaster.agent.store import AudioStore, CacheError
from broadcaster.agent.verify import Verifier
from broadcaster.protocol.command import CommandRejected, verify_command
from broadcaster.protocol.manifest import Manifest
from broadcaster.protocol.wire import format_time


# docs/device-protocol.md §6: a heartbeat every 5 minutes, and at once when what is playing changes or there is
# a problem to report; the station marks a device offline after three missed beats (15 minutes). The reply
# carries the manifest version, so no separate periodic manifest poll is needed: a safety sync runs hourly.
HEARTBEAT_EVERY_S = 300.0
SYNC_EVERY_S = 3600.0
FULL_BEAT_EVERY_S = 3600.0  # a beat with every field at least this often (disk, uptime, temperature drift)
MIN_BEAT_GAP_S = 10.0       # status-change beats: at most one per 10 s
REJOIN_MAX_GAP_S = 30.0     # a live session left again and again: rejoined at most this often
URGENT_BEAT_GAP_S = 1.0     # a cut play or an applied command: reported at once, at most one such beat a second
STANDBY_RANK = timedelta(hours=1)  # where standby files queue among the downloads (fetch_missing)
VOLATILE = ("local_time", "clock_offset_s", "disk_free_bytes", "temperature_c", "uptime_s")


class NotEnrolled(AgentError, RuntimeError):
    """The box has no device identity yet: permanent until it is enrolled."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self._describe("not_enrolled", message or "Thiết bị chưa đăng ký với đài / This device is not enrolled")


class Agent:
    def __init__(self, data_dir: str | os.PathLike[str], sink: Sink, *, clock: Clock | None = None,
                 client: StationClient | None = None, cache_limit: int = 2_000_000_000,
                 sync_every: float = SYNC_EVERY_S, heartbeat_every: float = HEARTBEAT_EVERY_S,
                 relay_retry_s: float = DEFAULT_BUDGET_S, **player_options: Any) -> None:
        self.data_dir = Path(data_dir)
        self.state = AgentState(self.data_dir)
        creds = self.state.credentials()
        if not creds:
            raise NotEnrolled("Thiết bị chưa đăng ký / the device is not enrolled: run with --enroll-code or enroll first")
        self.creds = creds
        self.clock = clock or SystemClock()
        self.client = client or StationClient(creds["station_url"], creds["token"],
                                              estimator=getattr(self.clock, "estimator", None),
                                              raw_now=self.clock.raw_now)
        self.events: list[dict[str, str]] = []
        self._events_lock = threading.Lock()
        self.store = AudioStore(self.data_dir / "audio", limit_bytes=cache_limit)
        self.playlog = PlayLog(self.data_dir / "log")
        self.verifier = Verifier(self.state.pinned_keys(), creds["device_id"], self.report)
        self.control = Control(self.data_dir / "control.json", self.verifier.pinned, creds["device_id"],
                               creds.get("village_id"))
        self._control_lock = threading.RLock()  # commands arrive on the push thread, manifests on this one
        self.urgent = threading.Event()  # something to report at once (a cut play, an applied command)
        self.wake = threading.Event()    # the network loop's doorbell
        self._fetch_first = threading.Event()  # a start command named files: download them before syncing
        # A relayed stream that drops is retried for `relay_retry_s`, then the fallback plays (relay.py).
        sink = RelayRetry(sink, budget_s=relay_retry_s, report=self.report)
        self.player = Player(sink, self.playlog, self.clock, self.store, report=self.report,
                             not_before=self.state.first_run_at(self.clock.now()), on_cut=self._cut,
                             open_stream=self.client.open_stream,
                             **player_options)
        self.sync_every, self.heartbeat_every = sync_every, heartbeat_every
        self.manifest: Manifest | None = None
        self.etag: str | None = None
        self.nudge = threading.Event()
        self.emergency = threading.Event()
        self.revoked = False
        self.started = time.monotonic()
        self._last_offset = 0.0
        self._acked_beat: dict[str, Any] | None = None  # the last status the station acknowledged
        self._full_beat_at = float("-inf")
        self._beat_status: tuple[Any, ...] | None = None
        self._last_sync = self._last_beat = float("-inf")
        self._alive: Callable[[], object] = lambda: None  # run(watchdog=…): systemd's watchdog ping
        self._rejoins: dict[str, tuple[int, float]] = {}  # live play id → (rejoins so far, the last one, monotonic)
        self._rejoin_at: float | None = None  # a paused rejoin: beat then (the reply says if it is still on)
        self._load_last_good()

    # -- reporting ---------------------------------------------------------------------------------------
    def report(self, code: str, detail: str) -> None:
        with self._events_lock:
            self.events = (self.events + [{"at": format_time(self.clock.now()), "code": code, "detail": detail}])[-100:]

    def _load_last_good(self) -> None:
        """Offline start: the persisted envelope is re-verified (a file edited on disk is refused too)."""
        envelope, etag = self.state.load_manifest()
        if envelope is None:
            return
        manifest = self.verifier.manifest(envelope, self.clock.now())
        if manifest is not None:  # the one this device took last (the floor may be higher: a command since)
            self.manifest, self.etag = manifest, etag
            self.player.set_manifest(self.control.effective(manifest))

    def _cut(self) -> None:
        self.urgent.set()
        self.wake.set()

    # -- commands (§4a) --------------------------------------------------------------------------------------
    def on_command(self, envelope: dict[str, Any]) -> str:
        """A signed command pushed by the station: verify, check its seq, act at once. Returns what happened:
        applied | duplicate | <the refusal's event code>."""
        if isinstance(envelope, dict) and envelope.get("key_id") not in self.verifier.pinned:
            self._refresh_keys()
        try:
            cmd = verify_command(envelope, self.verifier.pinned, device_id=self.creds["device_id"],
                                 village_id=self.creds.get("village_id"), now=self.clock.now())
            with self._control_lock:
                if self.control.classify(cmd) == DUPLICATE:
                    return "duplicate"
                self.control.command_taken(envelope, cmd)
                self.player.set_manifest(self.control.effective(self.manifest))
        except CommandRejected as exc:
            self.report(exc.code, exc.message)
            self.wake.set()
            return exc.code
        if cmd.action == "start" and any(e.sha256 and self.store.locate(e.sha256) is None for e in cmd.entries):
            # its audio now; no manifest request (the station is re-building them, and nudges each device once
            # its manifest is stored: then it is a cache hit). Held already (a standby file, §4b): nothing to do.
            self._fetch_first.set()
        self.urgent.set()  # the station learns at once that this seq was applied
        self.wake.set()
        return "applied"

    def late_commands(self, reply: dict[str, Any]) -> list[str]:
        """§4a "Live sessions", late joiners: the heartbeat reply's original signed commands of the live sessions
        that concern this box: `live_ended` (stops: a session ended while it was away) first, then `live` (on
        air: join it, or join it again after a lost link). Each is verified like any command (a pinned key's
        signature, this device or its village among the targets); the station's reply to this box's own
        request stands in for the push expiry and the seq floor, and a session whose stop this box took is
        never joined again. Returns the play ids joined (again)."""
        stops, lives = reply.get("live_ended") or [], reply.get("live") or []
        if not isinstance(stops, list) or not isinstance(lives, list):
            return []
        stops = [e for e in stops if isinstance(e, dict)]  # anything else is not a signed envelope: ignored
        lives = [e for e in lives if isinstance(e, dict)]
        if not (stops or lives):
            return []
        if any(e.get("key_id") not in self.verifier.pinned for e in stops + lives):
            self._refresh_keys()
        now = self.clock.now()
        joined: list[str] = []
        with self._control_lock:
            for envelope in stops:
                try:
                    cmd = verify_command(envelope, self.verifier.pinned, device_id=self.creds["device_id"],
                                         village_id=self.creds.get("village_id"), now=None)
                except CommandRejected as exc:
                    self.report(exc.code, exc.message)
                    continue
                self.control.late_stop(cmd)
            for envelope in lives:
                try:
                    cmd = verify_command(envelope, self.verifier.pinned, device_id=self.creds["device_id"],
                                         village_id=self.creds.get("village_id"), now=None)
                    if cmd.action != "live" or all(e.end <= now for e in cmd.entries):
                        continue  # past its cap (the station's clock and ours disagree): nothing to join
                    self.control.late_live(envelope, cmd)
                except CommandRejected as exc:
                    if exc.code != "live_ended":  # its stop was taken here: quietly not joined again
                        self.report(exc.code, exc.message)
                    continue
                effective = self.control.effective(self.manifest)
                if effective is not None and not effective.muted:
                    joined += [e.play_id for e in cmd.entries if self._rejoin(e.play_id)]
            self.player.set_manifest(self.control.effective(self.manifest))
        return joined

    def _rejoin(self, play_id: str) -> bool:
        """Join a live session again after leaving it, with a growing pause (0, 2, 4 … 30 s) so a stream that
        keeps failing is not retried in a tight loop of heartbeats; a paused rejoin makes its own beat."""
        if play_id not in self.player.state.handled:
            return False
        count, last = self._rejoins.get(play_id, (0, float("-inf")))
        gap = 0.0 if count == 0 else min(REJOIN_MAX_GAP_S, 2.0 ** count)
        now = time.monotonic()
        if now - last < gap:
            due = last + gap
            self._rejoin_at = due if self._rejoin_at is None else min(self._rejoin_at, due)
            return False
        self._rejoins[play_id] = (count + 1, now)
        return self.player.rejoin(play_id)

    def on_push_connected(self) -> None:
        """The push channel (SSE or MQTT) is (back) up: the link was down, so beat now; the reply hands over
        a live session that started meanwhile (§4a "Live sessions")."""
        self.urgent.set()
        self.wake.set()

    # -- sync ----------------------------------------------------------------------------------------------
    def on_nudge(self, version: str, emergency: bool) -> None:
        if emergency:
            self.emergency.set()
        if not self.manifest or version != self.manifest.version or emergency:
            self.nudge.set()
            self.wake.set()

    def sync(self) -> bool:
        """Fetch the manifest if changed, verify it, fetch missing audio, switch. True if a new one was taken."""
        if self._fetch_first.is_set():
            self._fetch_first.clear()
            self.fetch_missing()
        envelope, etag = self.client.get_manifest(self.etag if self.manifest else None)
        self._check_clock()
        changed = False
        if envelope is not None:
            if isinstance(envelope, dict) and envelope.get("key_id") not in self.verifier.pinned:
                self._refresh_keys()  # rotation: learn the new key from a key set signed by a pinned one
            manifest = self.verifier.manifest(envelope, self.clock.now())
            if manifest is not None and not self.control.admits_manifest(manifest):
                # Older than what this device applied: a replay (or a copy built before the newest command).
                self.report("manifest_replayed", f"seq {manifest.seq} < {self.control.floor} ({manifest.version})")
                manifest = None
            if manifest is not None:
                # Switch at once: entries whose file is still missing wait (within their grace) for the download.
                self.state.save_manifest(envelope, etag)
                changed = self.manifest is None or manifest.version != (self.manifest.version if self.manifest else None)
                with self._control_lock:
                    self.control.manifest_taken(manifest)
                    self.manifest, self.etag = manifest, etag
                    self.player.set_manifest(self.control.effective(manifest))
        self.fetch_missing()
        return changed

    def fetch_started(self) -> list[str]:
        """The files a start command named (and any other missing one), without a manifest request."""
        self._fetch_first.clear()
        return self.fetch_missing()

    def _refresh_keys(self) -> None:
        try:
            keys = self.verifier.keyset(self.client.get_keys())
        except StationError as exc:
            if isinstance(exc, DeviceRevoked):
                raise
            return
        if keys:
            self.state.save_pinned_keys(keys)

    def verify_cache(self) -> list[str]:
        """Re-hash every file the manifest needs (SD cards rot): a corrupt one is deleted, reported and fetched
        again. Returns the hashes removed."""
        if self.manifest is None:
            return []
        bad = [sha for sha in sorted(self.manifest.needed_hashes())
               if self.store.locate(sha) is not None and not self.verifier.audio(self.store, sha)]
        if bad:
            self.player.wake.set()
        return bad

    def fetch_missing(self) -> list[str]:
        """Download missing files, the soonest (and emergency) first. Returns the hashes still missing."""
        if self.manifest is None:
            return []
        m = self.player.manifest or self.manifest  # with the commands laid over it: a started emergency's file
        sizes = m.sizes()
        needed = set(sizes)
        # Standby files (§4b) rank as if due in an hour: what airs within the hour first, then the emergency
        # messages held in reserve, then the rest of the 72 hours.
        standby_key = (0, self.clock.now() + STANDBY_RANK)
        order: dict[str, tuple[float, datetime]] = {s.sha256: standby_key for s in m.standby}
        for e in list(m.entries) + ([m.fallback] if m.fallback else []):
            if e.kind == "audio" and e.sha256:
                key = (-e.level if e.priority == "emergency" else 0, e.start)
                order[e.sha256] = min(order.get(e.sha256, key), key)
        urls = m.urls()
        still = []
        for sha in sorted(self.store.missing(sizes), key=lambda s: order[s]):
            self._alive()  # a first fill over 3G takes longer than the watchdog allows: each file is progress
            try:
                self.store.fetch(sha, sizes[sha], self.client.audio_fetcher(urls[sha]), needed=needed)
                self.player.wake.set()  # an emergency's file is first: it starts now, not after the rest
            except CacheError as exc:
                if exc.code != "download_incomplete":
                    self.report(exc.code, f"{sha}: {exc.message}")
                still.append(sha)
            except StationError as exc:
                if isinstance(exc, DeviceRevoked):
                    raise
                if exc.status == 416:  # our .part is longer than the station's file: start again from 0
                    self.store.part_path(sha).unlink(missing_ok=True)
                self.report("download_failed", f"{sha}: {exc.code}")
                still.append(sha)
            except Exception as exc:  # noqa: BLE001 — a dropped link mid-body; the .part resumes next time
                self.report("download_failed", f"{sha}: {exc!r}")
                still.append(sha)
        self.player.wake.set()
        return still

    def _check_clock(self) -> None:
        offset = self.client.estimator.offset
        if abs(offset - self._last_offset) > 1.0:
            self.report("clock_corrected", f"{self._last_offset:+.3f}s -> {offset:+.3f}s")
        self._last_offset = offset

    # -- status --------------------------------------------------------------------------------------------
    def heartbeat_payload(self) -> dict[str, Any]:
        cur = self.player.state.current
        m = self.manifest
        with self._events_lock:
            events = list(self.events)
        return {
            "sent_at": format_time(self.clock.now()),
            "local_time": format_time(self.clock.raw_now()),
            "clock_offset_s": round(self.client.estimator.offset, 3),
            "agent_version": AGENT_VERSION,
            "manifest_version": m.version if m else None,
            "playing": None if cur is None else {
                "play_id": cur.entry.play_id, "sha256": cur.entry.sha256, "title": cur.entry.title,
                "priority": "fallback" if cur.is_fallback else cur.entry.priority,
                "started_at": format_time(cur.started_at)},
            "volume": m.volume if m else None, "muted": m.muted if m else None,
            "local_volume": self.player.local_volume,
            "cache": {"used_bytes": self.store.used_bytes(), "limit_bytes": self.store.limit_bytes,
                      "files": len(self.store.files()), "missing": self.store.missing(m.sizes()) if m else []},
            "disk_free_bytes": self.store.disk_free(),
            "temperature_c": read_temperature(),
            "uptime_s": int(time.monotonic() - self.started),
            "playlog": {"last_seq": self.playlog.last_seq, "acked_seq": self.playlog.acked_seq},
            "applied_seq": self.control.floor,
            "events": events,
            "hardware": platform.machine(),
        }

    def lean_payload(self, full: dict[str, Any], elapsed: float) -> dict[str, Any]:
        """§6: `sent_at` and `manifest_version` always; every other field only when it differs from the last
        acknowledged beat (the station keeps the previous value of an omitted field); the slowly drifting
        ones (`VOLATILE`) only in the hourly full beat, except a clock offset that moved by more than 0.5 s."""
        acked = self._acked_beat
        if acked is None or elapsed - self._full_beat_at >= FULL_BEAT_EVERY_S:
            return full
        lean = {"sent_at": full["sent_at"], "manifest_version": full["manifest_version"]}
        for key, value in full.items():
            if key in lean or key in VOLATILE or key == "events":
                continue
            if acked.get(key) != value:
                lean[key] = value
        if full["events"]:
            lean["events"] = full["events"]
        if abs(full["clock_offset_s"] - acked.get("clock_offset_s", 0.0)) > 0.5:
            lean["clock_offset_s"] = full["clock_offset_s"]
        return lean

    def quick_status(self) -> tuple[Any, ...]:
        """What makes a beat due at once: the item playing changed, or there is a problem to report."""
        cur = self.player.state.current
        with self._events_lock:
            pending = bool(self.events)
        return (None if cur is None else cur.entry.play_id, pending)

    def heartbeat(self, elapsed: float | None = None) -> dict[str, Any]:
        """Send a heartbeat (lean when possible). `elapsed`: seconds on the caller's clock (monotonic)."""
        elapsed = time.monotonic() if elapsed is None else elapsed
        status = self.quick_status()
        full = self.heartbeat_payload()
        payload = self.lean_payload(full, elapsed)
        reply = self.client.heartbeat(payload)
        acked = dict(full)
        if payload is not full:  # the station now holds: the previous values, updated with what was sent
            acked = {**(self._acked_beat or {}), **{k: v for k, v in full.items() if k in payload}}
        else:
            self._full_beat_at = elapsed
        self._acked_beat, self._beat_status = acked, status
        with self._events_lock:  # delivered: drop the events this heartbeat carried
            self.events = [e for e in self.events if e not in full["events"]]
        if self.manifest is None or reply.get("manifest_version") not in (None, self.manifest.version):
            self.nudge.set()
        self.late_commands(reply)
        return reply

    def upload_plays(self) -> int:
        return self.playlog.upload(self.client.upload_plays)

    # -- the loop ------------------------------------------------------------------------------------------
    def revoke_locally(self) -> None:
        """The station said device_revoked: forget the credential and manifest, go silent."""
        self.revoked = True
        self.state.forget()
        self.manifest = None
        self.player.set_manifest(None)

    def network_round(self, do_heartbeat: bool, now: float | None = None) -> None:
        """Sync, heartbeat, upload: each step on its own, so one failing endpoint does not block the others."""
        steps = [self.sync] + ([lambda: self.heartbeat(now)] if do_heartbeat else []) + [self.upload_plays]
        for step in steps:
            try:
                step()
            except DeviceRevoked:
                self.revoke_locally()
                return
            except StationError as exc:
                self.report("offline" if exc.code == "unreachable" else exc.code, exc.message[:200])
                if exc.code == "unreachable":
                    return  # no point trying the other endpoints now

    def network_step(self, now: float) -> bool:
        """One turn of the network schedule at `now` (seconds, any monotonic clock): sync on a nudge or when the
        safety interval passed, heartbeat when due or when the status changed. Returns True if it did anything."""
        if self._fetch_first.is_set() and not self.nudge.is_set():
            self._guarded(self.fetch_started)
        if self._rejoin_at is not None and time.monotonic() >= self._rejoin_at:
            self._rejoin_at = None
            self.urgent.set()
        urgent = self.urgent.is_set() and now - self._last_beat >= URGENT_BEAT_GAP_S
        beat = urgent or now - self._last_beat >= self.heartbeat_every or (
            self.quick_status() != self._beat_status and now - self._last_beat >= MIN_BEAT_GAP_S)
        if beat:
            self.urgent.clear()  # a cut during this beat makes another one
        sync = self.nudge.is_set() or now - self._last_sync >= self.sync_every
        if sync:
            self.nudge.clear()
            self.emergency.clear()
            self.network_round(do_heartbeat=beat, now=now)
            self._last_sync = now
        elif beat:
            self._guarded(lambda: self.heartbeat(now))
            self._guarded(self.upload_plays)
        else:
            return False
        if beat:
            self._last_beat = now
            if self.nudge.is_set():  # the beat's reply named a newer manifest: fetch it now
                self.network_step(now)
        return True

    def _guarded(self, step: Callable[[], object]) -> bool:
        try:
            step()
            return True
        except DeviceRevoked:
            self.revoke_locally()
        except StationError as exc:
            self.report("offline" if exc.code == "unreachable" else exc.code, exc.message[:200])
        return False

    def run(self, stop: threading.Event, watchdog: Callable[[], object] | None = None) -> None:
        """Player on its own thread; this thread syncs on startup, on nudges, on heartbeat replies and hourly.
        `watchdog` (broadcaster/agent/watchdog.py) is called each turn while the player thread lives."""
        player_thread = threading.Thread(target=self.player.run, args=(stop,), name="loa-player", daemon=True)
        player_thread.start()
        if watchdog is not None:
            self._alive = lambda: player_thread.is_alive() and watchdog()
        self.verify_cache()
        while not stop.is_set() and not self.revoked:
            self.wake.clear()
            self.network_step(time.monotonic())
            self._alive()
            if not self.nudge.is_set() and not self._fetch_first.is_set():
                self.wake.wait(timeout=0.25 if self.urgent.is_set() else 1.0)
        stop.set()
        player_thread.join(timeout=10)


def read_temperature() -> float | None:
    path = Path("/sys/class/thermal/thermal_zone0/temp")
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None
