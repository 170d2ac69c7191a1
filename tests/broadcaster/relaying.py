"""Helpers for the relay tests: an ffmpeg sink that records each thing it plays to its own raw file with the
wall-clock instant it started, and a real player on the system clock running on a thread.

`RecordingSink` is the agent's own FfmpegSink (the same ffmpeg command line a box runs) with the ALSA output
swapped for an 8 kHz mono s16le file per start, so a test can measure what really came out and when.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from broadcaster.agent.clock import SystemClock
from broadcaster.agent.player import Player
from broadcaster.agent.playlog import PlayLog
from broadcaster.agent.relay import RelayRetry
from broadcaster.agent.sinks import FfmpegSink, SinkItem
from broadcaster.agent.store import AudioStore
from broadcaster.protocol.manifest import Entry
from tests.broadcaster.helpers import entry, manifest, tone_file

RATE = 8000


@dataclass
class Take:
    play_id: str
    kind: str
    started: datetime
    path: Path

    def samples(self) -> np.ndarray:
        return np.frombuffer(self.path.read_bytes(), dtype="<i2") if self.path.exists() else np.zeros(0, "<i2")

    def seconds(self) -> float:
        return len(self.samples()) / RATE

    def loud_seconds(self) -> float:
        """Seconds of output in 100 ms windows louder than −40 dBFS: sound, not a decoder's silence."""
        s = self.samples().astype(np.float64) / 32768
        n = len(s) // (RATE // 10)
        if n == 0:
            return 0.0
        rms = np.sqrt((s[: n * (RATE // 10)].reshape(n, -1) ** 2).mean(axis=1))
        return float((rms > 0.01).sum()) / 10


class RecordingSink(FfmpegSink):
    def __init__(self, ffmpeg: str, folder: Path) -> None:
        super().__init__(ffmpeg, realtime=True)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.takes: list[Take] = []

    def start(self, item: SinkItem, now: datetime) -> None:
        path = self.folder / f"{len(self.takes):03d}-{item.play_id}.raw"
        self.output = ("-ac", "1", "-ar", str(RATE), "-f", "s16le", "-flush_packets", "1", "-y", str(path))
        self.takes.append(Take(item.play_id, item.kind, datetime.now(timezone.utc), path))
        super().start(item, now)

    def of(self, play_id: str) -> list[Take]:
        return [t for t in self.takes if t.play_id == play_id]


@dataclass
class Rig:
    """A player on the real clock with a recording sink, a fallback tone in its store and its reports."""
    tmp: Path
    budget_s: float = 4.0
    read_timeout_s: float = 2.0
    events: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from content.audio.ffmpeg import ffmpeg_exe

        self.store = AudioStore(self.tmp / "audio")
        sha, size = tone_file(self.tmp / "fallback.mp3", 2.0, 330)
        (self.tmp / "fallback.mp3").rename(self.store.path(sha))
        self.fallback_sha, self.fallback_size = sha, size
        self.sink = RecordingSink(ffmpeg_exe(), self.tmp / "takes")
        self.relay_sink = RelayRetry(self.sink, budget_s=self.budget_s, read_timeout_s=self.read_timeout_s,
                                     report=lambda code, detail: self.events.append((code, detail)))
        self.log = PlayLog(self.tmp / "log")
        self.player = Player(self.relay_sink, self.log, SystemClock(), self.store,
                             report=lambda code, detail: self.events.append((code, detail)))
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.player.run, args=(self.stop_event, 0.2), daemon=True)

    def relay(self, url: str, seconds: float, *, with_fallback: bool = True, play_id: str = "r1") -> Entry:
        now = datetime.now(timezone.utc)
        e = replace(entry(play_id, now, seconds, kind="relay", title="Tiếp âm VOV1"), url=url)
        fb = entry("fb", now - timedelta(hours=1), 86400, "fallback", sha=self.fallback_sha,
                   size=self.fallback_size, title="Nhạc nền") if with_fallback else None
        self.player.set_manifest(manifest([e], fallback=fb, now=now))
        self.started = now
        self.thread.start()
        return e

    def wait_for(self, predicate, timeout: float) -> bool:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return predicate()

    def record(self, play_id: str) -> dict | None:
        return next((r for r in self.log.records() if r["play_id"] == play_id), None)

    def codes(self) -> list[str]:
        return [c for c, _ in self.events]

    def close(self) -> float:
        """Stop the player; returns how long the stop took (seconds)."""
        t = time.monotonic()
        self.stop_event.set()
        self.player.wake.set()
        self.thread.join(timeout=10)
        return time.monotonic() - t
