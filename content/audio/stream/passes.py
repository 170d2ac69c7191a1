"""The chain's first steps as passes from one work file to the next, each chunk by chunk:
decode (with ingest's checks) → mono → trim silence → high-pass → speech leveling.

They do what content.audio.steps does to a whole Pcm (the same filters, thresholds and ffmpeg graphs), with
only chunks and small per-frame or per-bin arrays in memory.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from content.audio import limiter, steps
from content.audio.ingest import IngestLimits, decode_checked
from content.audio.stream.pipes import FfmpegStream, f32_input, f32_output
from content.audio.stream.running import RunningLoudness
from content.audio.stream.spill import CHUNK, Spill
from content.types import Pcm

RATE = steps.WORK_RATE
_TRIM_FRAME = int(0.02 * RATE)  # 20 ms, as steps.trim_silence


@dataclass
class Stage:
    """One step's output: the mono samples in a work file and their running loudness (K-weighted bins)."""

    audio: Spill
    loudness: RunningLoudness

    def close(self) -> None:
        self.audio.close()
        cells = self.loudness.cell_power()
        if cells is not None:
            cells.close()


def _stage(work: Path, name: str) -> Stage:
    """A pass's output; its meter also keeps the limiter model's per-cell power (read if it is the last pass)."""
    cells = Spill(work / f"{name}-cells.f64", "<f8")
    return Stage(Spill(work / f"{name}.f32"), RunningLoudness(RATE, cells=cells, cell_step=limiter.grid_step(RATE)))


class _Decoded:
    """Sink for decoded chunks: mono (the channels averaged, as steps.to_mono), into a work file, with the
    20 ms frame levels that trim_silence judges by."""

    def __init__(self, path: Path) -> None:
        self.audio = Spill(path)
        self._levels: list[np.ndarray] = []
        self._carry = np.zeros(0, np.float32)

    def __call__(self, chunk: np.ndarray) -> None:
        mono = chunk if chunk.ndim == 1 else chunk.mean(axis=1, dtype=np.float32).astype(np.float32)
        self.audio.append(mono)
        x = np.concatenate([self._carry, mono]) if len(self._carry) else mono
        full = len(x) // _TRIM_FRAME * _TRIM_FRAME
        self._levels.append(steps._frame_rms_db(x[:full], _TRIM_FRAME))
        self._carry = x[full:].copy()

    def levels(self) -> np.ndarray:
        return np.concatenate(self._levels) if self._levels else np.zeros(0)


def decode_upload(path: str | os.PathLike[str], limits: IngestLimits, work: Path) -> tuple[Spill, np.ndarray]:
    """Check and decode an upload into a mono work file at the working rate; returns it and its frame levels.
    Raises IngestError (the work file is removed)."""
    sink = _Decoded(work / "decoded.f32")
    try:
        decode_checked(path, RATE, limits, sink)
    except BaseException:
        sink.audio.close()
        raise
    return sink.audio, sink.levels()


def _pcm_chunks(pcm: Pcm) -> Iterator[np.ndarray]:
    for lo in range(0, len(pcm.samples), CHUNK):
        yield pcm.samples[lo:lo + CHUNK]


def decode_pcm(pcm: Pcm, work: Path) -> tuple[Spill, np.ndarray]:
    """A Pcm (speech from a TTS engine) into a mono work file at the working rate, as to_mono then resample."""
    mono = steps.to_mono(pcm)
    sink = _Decoded(work / "decoded.f32")
    if mono.rate == RATE:
        for chunk in _pcm_chunks(mono):
            sink(chunk)
    else:
        args = [*f32_input(mono.rate, 1), "-af", f"aresample={RATE}", *f32_output(RATE, 1)]
        with FfmpegStream(args, 1, feed=_pcm_chunks(mono)) as res:
            for chunk in res.chunks(CHUNK):
                sink(chunk)
            res.finish()
    return sink.audio, sink.levels()


def trim_bounds(levels: np.ndarray, n: int, margin_s: float = 0.3, below_speech_db: float = 35.0,
                floor_db: float = -70.0) -> tuple[int, int]:
    """steps.trim_silence's cut, from the recording's 20 ms frame levels."""
    if levels.size == 0:
        return 0, n
    threshold = max(floor_db, float(np.percentile(levels, 95)) - below_speech_db)
    voiced = np.flatnonzero(levels > threshold)
    if voiced.size == 0:
        return 0, n
    margin = int(margin_s * RATE)
    return max(0, voiced[0] * _TRIM_FRAME - margin), min(n, (voiced[-1] + 1) * _TRIM_FRAME + margin)


def trim_and_highpass(audio: Spill, levels: np.ndarray, cutoff_hz: float | None, work: Path,
                      order: int = 6) -> Stage:
    """Cut the silence at both ends and high-pass what is left (steps.highpass's Butterworth, its state
    carried across chunks), measuring the result's loudness on the way."""
    start, stop = trim_bounds(levels, len(audio))
    out = _stage(work, "highpassed")
    sos = signal.butter(order, cutoff_hz, btype="highpass", fs=RATE, output="sos") if cutoff_hz else None
    state = np.zeros((sos.shape[0], 2)) if sos is not None else None
    for _, chunk in audio.chunks(start, stop):
        if sos is not None:
            y, state = signal.sosfilt(sos, chunk.astype(np.float64), zi=state)
            chunk = y.astype(np.float32)
        out.audio.append(chunk)
        out.loudness.add(chunk)
    return out


def level_speech(stage: Stage, max_range_lu: float, work: Path, max_gain_db: float = 30.0) -> Stage:
    """steps.level_speech through ffmpeg's dynaudnorm, streamed: left alone when already within range."""
    if stage.loudness.range() <= max_range_lu - steps.LEVELING_HEADROOM_LU:
        return stage
    max_gain = 10 ** (max_gain_db / 20)
    out = stage
    for i, (frame_ms, window) in enumerate(steps._LEVELING_PASSES):
        graph = f"dynaudnorm=f={frame_ms}:g={window}:m={max_gain:.3f}:p=0.9"
        leveled = _stage(work, f"leveled{i}")
        args = [*f32_input(RATE, 1), "-af", graph, *f32_output(RATE, 1)]
        with FfmpegStream(args, 1, feed=(chunk for _, chunk in out.audio.chunks())) as proc:
            for chunk in proc.chunks(CHUNK):
                leveled.audio.append(chunk)
                leveled.loudness.add(chunk)
            proc.finish()
        out.close()
        out = leveled
        if out.loudness.range() <= max_range_lu:
            break
    return out
