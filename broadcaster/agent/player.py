"""What to play now: a pure decision function over (manifest, now, state), and the loop that applies it.

`decide` returns one action at a time; the loop applies it and asks again until the answer is "wait until T".
Rules (docs/device-protocol.md §4): handled entries never restart; an entry is due from its start until
start + grace (emergency: until its end); the highest level wins, ties to the earliest start; a higher level
pre-empts a lower one (logged interrupted); nothing due → fallback inside its window, else silence.
"""
from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Protocol

from broadcaster.agent.clock import Clock
from broadcaster.agent.playlog import AGENT_STOPPED, PlayLog
from broadcaster.agent.sinks import Sink, SinkItem
from broadcaster.protocol.manifest import Entry, Manifest
from broadcaster.protocol.wire import LEVELS, format_time

GRACE = timedelta(seconds=120)


@dataclass
class Playing:
    entry: Entry
    started_at: datetime
    is_fallback: bool = False

    @property
    def level(self) -> float:
        return LEVELS["fallback"] if self.is_fallback else self.entry.level


@dataclass
class PlayerState:
    current: Playing | None = None
    handled: set[str] = field(default_factory=set)
    # Entries that ended before the device's first run are not this device's business (not logged skipped).
    not_before: datetime | None = None
    # Plays on air when the agent was last stopped (logged interrupted, `AGENT_STOPPED`): due again within their
    # grace, as if never started; past it, not logged skipped (they did air, and their record says so).
    stopped: set[str] = field(default_factory=set)


class Store(Protocol):
    def locate(self, sha256: str) -> Path | None: ...

    def touch(self, sha256: str) -> None: ...


# -- actions -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    entry: Entry
    interrupt: Playing | None = None


@dataclass(frozen=True)
class StartFallback:
    entry: Entry


@dataclass(frozen=True)
class Stop:
    reason: str


@dataclass(frozen=True)
class Skip:
    entry: Entry
    reason: str


@dataclass(frozen=True)
class Wait:
    until: datetime | None


Action = Start | StartFallback | Stop | Skip | Wait


def deadline(entry: Entry, grace: timedelta = GRACE) -> datetime:
    # emergency and live are due until their end: joining a live session late still beats missing it
    return entry.end if entry.priority in ("emergency", "live") else entry.start + grace


def decide(manifest: Manifest | None, now: datetime, state: PlayerState, available: Callable[[Entry], bool],
           grace: timedelta = GRACE) -> Action:
    current = state.current
    if manifest is None:
        return Stop("no_manifest") if current else Wait(None)
    if current is not None:
        # The station withdrew what is playing (a cancelled item, a replaced fallback): stop it now.
        if current.is_fallback and current.entry != manifest.fallback:
            return Stop("fallback_changed")
        if not current.is_fallback:
            now_listed = _listed(manifest, current.entry)
            if now_listed is None:
                return Stop("cancelled")
            # A cancel or stop keeps the play id and hash but ends the play at the cadre's tap: cut it then;
            # unless what cut it is a higher entry starting now (an emergency): that pre-empts it, below.
            if now_listed.end < current.entry.end and now >= now_listed.end and not any(
                    e.level > current.level and e.start <= now <= deadline(e, grace) and e.play_id not in state.handled
                    and available(e) for e in manifest.entries):
                return Stop("cancelled")
            if manifest.muted and current.entry.priority != "emergency":
                return Stop("muted")
    pending = [e for e in manifest.entries if e.play_id not in state.handled and e.start <= now
               and (state.not_before is None or e.end > state.not_before)
               and not (e.play_id in state.stopped and now > deadline(e, grace))]
    for e in pending:
        if manifest.muted and e.priority != "emergency":
            return Skip(e, "muted")
        if now > deadline(e, grace) and not (current and current.entry.play_id == e.play_id):
            return Skip(e, "missed_start" if available(e) else "content_missing")
    due = [e for e in pending if available(e)]
    best = min(due, key=lambda e: (-e.level, e.start, e.play_id)) if due else None
    if best is not None and (current is None or best.level > current.level):
        return Start(best, interrupt=current)
    if current is not None:
        if current.is_fallback and not _fallback_open(manifest, now, available):
            return Stop("fallback_window_closed")
        return Wait(_next_change(manifest, now, state, grace))
    if manifest.fallback is not None and _fallback_open(manifest, now, available):
        return StartFallback(manifest.fallback)
    return Wait(_next_change(manifest, now, state, grace))


def _listed(manifest: Manifest, entry: Entry) -> Entry | None:
    """The manifest's entry for what is playing (same play id and file), or None if withdrawn."""
    return next((e for e in manifest.entries if e.play_id == entry.play_id and e.sha256 == entry.sha256), None)


def _fallback_open(manifest: Manifest, now: datetime, available: Callable[[Entry], bool]) -> bool:
    fb = manifest.fallback
    return bool(fb and not manifest.muted and fb.start <= now < fb.end and available(fb))


def _next_change(manifest: Manifest, now: datetime, state: PlayerState, grace: timedelta) -> datetime | None:
    """The next instant the decision can change without a sink event: a start, a grace deadline, a window edge."""
    times: list[datetime] = []
    cur = state.current
    if cur is not None and not cur.is_fallback:  # a play the station shortened ends at its new end
        listed = _listed(manifest, cur.entry)
        if listed is not None and now < listed.end < cur.entry.end:
            times.append(listed.end)
    for e in manifest.entries:
        if e.play_id in state.handled or (state.not_before is not None and e.end <= state.not_before):
            continue
        if e.start > now:
            times.append(e.start)
        elif deadline(e, grace) >= now:
            times.append(deadline(e, grace) + timedelta(milliseconds=1))
    if manifest.fallback:
        times += [t for t in (manifest.fallback.start, manifest.fallback.end) if t > now]
    return min(times) if times else None


# -- the loop ------------------------------------------------------------------------------------------
class Player:
    """Applies `decide` to a sink, logs every scheduled item's outcome, runs hook commands around programmes."""

    def __init__(self, sink: Sink, playlog: PlayLog, clock: Clock, store: Store, *,
                 grace: timedelta = GRACE, local_volume: int = 100, hook_before: list[str] | None = None,
                 hook_after: list[str] | None = None, not_before: datetime | None = None,
                 report: Callable[[str, str], None] = lambda code, detail: None,
                 on_cut: Callable[[], None] = lambda: None,
                 open_stream: Callable[[str, float], object] | None = None) -> None:
        self.sink, self.playlog, self.clock, self.store = sink, playlog, clock, store
        self.grace = grace
        self.local_volume = local_volume
        self.hook_before, self.hook_after = hook_before, hook_after
        self.report = report
        self.on_cut = on_cut  # a play was cut short: the agent reports at once (heartbeat and play log)
        # A relay or live URL that is a path ("/api/device/v1/streams/…", the station's own hub) is fetched by the
        # agent with its token (StationClient.open_stream) and piped into ffmpeg, so the token is never on
        # ffmpeg's command line; an absolute one (Icecast, a radio) is opened by ffmpeg itself, without it.
        self.open_stream = open_stream
        self.applied_volume: int | None = None  # what the sink plays the current item at
        self.state = PlayerState(handled=playlog.handled_play_ids(), not_before=not_before,
                                 stopped=playlog.stopped_play_ids())
        self.line_open = False  # whether the "before" hook ran (amplifier on)
        self.manifest: Manifest | None = None
        self.wake = threading.Event()
        self._lock = threading.RLock()

    def set_manifest(self, manifest: Manifest | None) -> None:
        with self._lock:
            self.manifest = manifest
        self.wake.set()

    def rejoin(self, play_id: str) -> bool:
        """A live session the station says is still on air, which this box left (its link dropped: `live_lost`,
        or its stream ended before the stop reached it): due again, so the next step joins it. True if it had
        left it (False: on air here, or never left)."""
        with self._lock:
            cur = self.state.current
            if (cur is not None and cur.entry.play_id == play_id) or play_id not in self.state.handled:
                return False
            self.state.handled.discard(play_id)
        self.wake.set()
        return True

    def available(self, entry: Entry) -> bool:
        if entry.kind != "audio":
            return True
        return entry.sha256 is not None and self.store.locate(entry.sha256) is not None

    # one step: absorb sink events, then apply actions until the answer is Wait
    def step(self) -> datetime | None:
        with self._lock:
            now = self.clock.now()
            self._poll_sink(now)
            for _ in range(10_000):
                action = decide(self.manifest, now, self.state, self.available, self.grace)
                if isinstance(action, Wait):
                    self._follow_volume(now)
                    if self.state.current is None and self.line_open:
                        self.line_open = False
                        if self.hook_after:
                            self._hook(self.hook_after, None)
                    return self._earliest(action.until)
                self._apply(action, now)
            raise RuntimeError("player made no progress")

    def volume_for(self, e: Entry) -> int:
        m = self.manifest
        if m and m.muted and e.priority != "emergency":
            return 0
        return round((m.volume if m else 100) * self.local_volume / 100)

    def _follow_volume(self, now: datetime) -> None:
        """A volume change from the station applies to the item on air, not only to the next one."""
        cur = self.state.current
        if cur is None or cur.entry.kind == "silence" or self.applied_volume is None:
            return
        wanted = self.volume_for(cur.entry)
        if wanted != self.applied_volume and hasattr(self.sink, "set_volume"):
            self.sink.set_volume(wanted, now)
            self.applied_volume = wanted

    def _earliest(self, until: datetime | None) -> datetime | None:
        ends = [t for t in (until, self._current_end()) if t is not None]
        return min(ends) if ends else None

    def _current_end(self) -> datetime | None:
        cur = self.state.current
        if cur is None:
            return None
        if cur.entry.kind == "silence":
            return cur.started_at + timedelta(seconds=cur.entry.duration)
        return self.sink.expected_end()

    def _poll_sink(self, now: datetime) -> None:
        cur = self.state.current
        if cur is None:
            return
        if cur.entry.kind == "silence":
            end = cur.started_at + timedelta(seconds=cur.entry.duration)
            if now >= end:
                if cur.is_fallback:
                    self.state.current = None
                else:
                    self._finish(cur, end, "played", None)
            return
        status = self.sink.poll(now)
        if status.state == "finished":
            if cur.is_fallback:
                self.state.current = None  # loops: decide starts it again
            else:
                self._finish(cur, status.at or now, "played", None)
        elif status.state == "failed":
            if cur.is_fallback:
                self.report("sink_failed", f"fallback: {status.detail}")
                self.state.current = None
            else:
                code = status.code or "sink_error"
                if not status.code:  # a coded failure (a relay given up) was reported by whoever coded it
                    self.report("sink_failed", status.detail)
                elif status.code == "live_lost":  # the sink's own finding (the live stream's read timeout)
                    self.report("live_lost", f"{cur.entry.play_id}: {status.detail[:200]}")
                self._finish(cur, status.at or now, "failed", f"{code}:{status.detail[:200]}")
                self.on_cut()  # the station learns at once, not at the next 5-minute beat

    def _finish(self, cur: Playing, at: datetime, result: str, reason: str | None) -> None:
        self._log(cur.entry, cur.started_at, at, result, reason)
        self.state.current = None

    def _log(self, e: Entry, start: datetime | None, end: datetime | None, result: str, reason: str | None) -> None:
        self.state.handled.add(e.play_id)
        self.playlog.append(play_id=e.play_id, sha256=e.sha256, title=e.title, priority=e.priority,
                            planned_start=format_time(e.start), actual_start=format_time(start) if start else None,
                            actual_end=format_time(end) if end else None, result=result, reason=reason)

    def _apply(self, action: Action, now: datetime) -> None:
        if isinstance(action, Skip):
            self._log(action.entry, None, None, "skipped", action.reason)
        elif isinstance(action, Stop):
            cur = self.state.current
            self.sink.stop(now)
            self.state.current = None
            if cur and not cur.is_fallback:
                self._log(cur.entry, cur.started_at, now, "interrupted", action.reason)
                self.on_cut()
        elif isinstance(action, StartFallback):
            self._start(action.entry, now, fallback=True)
        elif isinstance(action, Start):
            if action.interrupt is not None:
                self.sink.stop(now)
                if not action.interrupt.is_fallback:
                    self._log(action.interrupt.entry, action.interrupt.started_at, now, "interrupted",
                              "preempted_by:" + action.entry.play_id)
                self.state.current = None
            self._start(action.entry, now, fallback=False)

    def _start(self, e: Entry, now: datetime, fallback: bool) -> None:
        if not self.line_open:
            self.line_open = True
            if self.hook_before:
                self._hook(self.hook_before, e)
        self.state.current = Playing(e, now, fallback)
        if e.kind == "silence":
            return
        volume = self.volume_for(e)
        self.applied_volume = volume
        source = e.url
        if e.kind == "audio" and e.sha256:
            source = str(self.store.locate(e.sha256))
            self.store.touch(e.sha256)  # LRU: recently played files are evicted last
        duration = e.duration
        feed = None
        if e.kind == "relay":  # a live stream joined late ends at the entry's end, not `duration` after joining
            duration = max(0.1, min(e.duration, (e.end - now).total_seconds()))
        if e.kind in ("relay", "live") and e.url.startswith("/") and self.open_stream is not None:
            opener, path = self.open_stream, e.url
            feed = lambda read_timeout: opener(path, read_timeout)  # noqa: E731
        self.sink.start(SinkItem(e.play_id, e.kind, source, duration, volume, e.title, e.sha256, e.priority,
                                 feed=feed), now)
        if e.kind == "live":  # the station counts a loudspeaker as joined from its own report: send it at once
            self.on_cut()

    def _hook(self, command: list[str], e: Entry | None) -> None:
        """Amplifier relay and the like: a short command with the item in its environment; failures reported."""
        env = {**os.environ, "LOA_HOOK": "before" if e else "after"}
        if e is not None:
            env.update(LOA_PLAY_ID=e.play_id, LOA_TITLE=e.title, LOA_PRIORITY=e.priority)
        try:
            done = subprocess.run(command, env=env, timeout=15, capture_output=True)
            if done.returncode != 0:
                self.report("hook_failed", f"{command[0]} exit {done.returncode}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.report("hook_failed", f"{command[0]}: {exc}")

    # -- drivers -------------------------------------------------------------------------------------
    def run_until(self, end: datetime) -> None:
        """Drive the loop on the player's clock until `end` (virtual clock: instantly)."""
        while self.clock.now() < end:
            until = self.step()
            target = end if until is None or until > end else until
            self.clock.sleep_until(target, None)
        self.step()

    def run(self, stop: threading.Event, max_sleep: float = 1.0) -> None:
        """The real loop: wakes at the next change, on a new manifest, or at least every `max_sleep` s."""
        while not stop.is_set():
            until = self.step()
            self.wake.clear()
            cap = self.clock.now() + timedelta(seconds=max_sleep)
            self.clock.sleep_until(cap if until is None or until > cap else until, self.wake)
        with self._lock:
            cur = self.state.current
            if cur:
                now = self.clock.now()
                self.sink.stop(now)
                self.state.current = None
                if not cur.is_fallback:  # it aired until now: the station hears so (uploaded on the next run)
                    self._log(cur.entry, cur.started_at, now, "interrupted", AGENT_STOPPED)
