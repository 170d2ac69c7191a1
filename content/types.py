"""Data types shared by the content pipeline: raw speech, mastered audio and its measured facts.

Audio moves between steps as `Pcm`: float32 samples in [-1, 1], shape (frames,) for mono or
(frames, channels), plus the sample rate. Every step takes a Pcm and returns a new one, so each can be
tested alone on fixture audio (the LibreTime analyzer style).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Pcm:
    samples: np.ndarray  # float32, (frames,) mono or (frames, channels)
    rate: int

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.rate)

    @classmethod
    def from_int16(cls, data: bytes, rate: int, channels: int = 1) -> "Pcm":
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        if channels > 1:
            samples = samples.reshape(-1, channels)
        return cls(samples, rate)

    def to_int16_bytes(self) -> bytes:
        clipped = np.clip(self.samples, -1.0, 32767.0 / 32768.0)
        return bytes((clipped * 32768.0).astype("<i2").data)


@dataclass(frozen=True)
class SkippedEngine:
    """Why `auto` passed over an engine (offline, no voice file, …): recorded with the item."""

    engine: str
    reason: str


@dataclass(frozen=True)
class Speech:
    """What a TTS engine produced, before mastering."""

    pcm: Pcm
    engine: str
    voice: str
    speed: float
    skipped: tuple[SkippedEngine, ...] = ()
    cached: bool = False


@dataclass(frozen=True)
class AudioFacts:
    """Measured facts stored with every mastered file (what `--json` prints)."""

    sha256: str
    format: str  # "ogg-opus" | "mp3"
    codec: str  # "opus" | "mp3"
    bitrate_kbps: int
    sample_rate: int
    duration_s: float
    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float
    size_bytes: int
    engine: str | None = None
    voice: str | None = None
    speed: float | None = None
    skipped_engines: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
