"""Loudness to target under a true-peak ceiling, as content.audio.loudness does it, in bounded memory.

The limiter's model works on cells of 8 samples: per cell, the K-weighted power and the largest 8x-oversampled
magnitude. Thirty minutes make 5.4 M cells (65 MB), so they live in work files too; a trial gain is then one
pass over them, chunk by chunk, building the limiter's gain curve (its filters reach 61 cells, so each chunk
is read with 128 cells of context on either side) and summing power x gain² into 100 ms bins, from which the
gated loudness follows exactly. The chosen curve is applied in one more pass that measures the result for
real (K-weighting the output) and writes it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import signal

from content.audio import limiter
from content.audio.loudness import _HEADROOM_DB, _OVERSHOOT_MARGIN_DB, secant_gain
from content.audio.meter import _k_sos, bin_power, integrated_from_bins, true_peak_envelope
from content.audio.stream.passes import RATE, Stage
from content.audio.stream.running import RunningLoudness
from content.audio.stream.spill import CHUNK, Spill
from content.types import Pcm

_CONTEXT_CELLS = 128  # > the limiter curve's reach (minimum filter 31 cells + two 15-cell boxes)
_ENVELOPE_CONTEXT = 1024  # samples: two of the envelope's 512-sample blocks, more than its 64-sample padding


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -120.0


class CellModel:
    """The gain → (loudness, true peak) relation of one input under one limit (see loudness._Search)."""

    def __init__(self, x: Spill, work: Path, power: Spill | None = None) -> None:
        """`power`: the K-weighted power of `x` per cell, when the pass that wrote `x` kept it (RunningLoudness
        with `cells`); the model owns it from here. Else the model K-weights `x` itself."""
        self.x, self.work, self.n = x, work, len(x)
        self.step = limiter.grid_step(RATE)
        self.bin_cells = int(round(0.1 * RATE)) // self.step
        self.ncells = -(-self.n // self.step)
        self.per_chunk = CHUNK // self.step
        if power is not None:
            if len(power) != self.ncells:
                raise ValueError(f"{len(power)} cells of power for {self.ncells} cells of audio")
            self.power = power
        else:
            self.power = Spill(work / "cell-power.f64", "<f8")
            sos = _k_sos(RATE)
            state = np.zeros((sos.shape[0], 2))
            for _, chunk in x.chunks():
                y, state = signal.sosfilt(sos, chunk.astype(np.float64), zi=state)
                self.power.append(limiter.cell_sum((y * y).astype(np.float32), self.step))
        self.peaks: Spill | None = None
        self.envelope_floor = math.inf
        self._envelopes = 0

    def _ensure_envelope(self, gain_db: float, limit_db: float) -> None:
        floor = 10 ** ((limit_db - gain_db - _OVERSHOOT_MARGIN_DB) / 20)
        if floor >= self.envelope_floor:
            return
        # 10 dB more than asked, so the later, higher trial gains reuse it (as loudness._Search).
        self.envelope_floor = floor / 10 ** (10 / 20)
        if self.peaks is not None:
            self.peaks.close()
        self._envelopes += 1
        self.peaks = Spill(self.work / f"cell-peaks{self._envelopes}.f32")
        for lo in range(0, self.n, CHUNK):
            hi = min(self.n, lo + CHUNK)
            a = max(0, lo - _ENVELOPE_CONTEXT)
            seg = self.x.read(a, hi + _ENVELOPE_CONTEXT)
            env = true_peak_envelope(Pcm(seg, RATE), self.envelope_floor)[lo - a: hi - a]
            self.peaks.append(limiter.cell_max(env, self.step))

    def _curve(self, c0: int, c1: int, gain: float, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """limiter.grid_curve for cells c0..c1-1, and those cells' peaks."""
        a, b = max(0, c0 - _CONTEXT_CELLS), min(self.ncells, c1 + _CONTEXT_CELLS)
        assert self.peaks is not None  # made by the envelope pass before any curve
        peaks = self.peaks.read(a, b)
        curve = limiter.grid_curve(peaks, gain, limit, RATE, self.step)
        return curve[c0 - a: c1 - a], peaks[c0 - a: c1 - a]

    def evaluate(self, gain_db: float, limit_db: float) -> tuple[float, float]:
        """The model's loudness (LUFS) and true peak (dBTP) of the limited result at this gain."""
        self._ensure_envelope(gain_db, limit_db)
        gain, limit = 10 ** (gain_db / 20), 10 ** (limit_db / 20)
        bins, peak = [], 0.0
        for c0 in range(0, self.ncells, self.per_chunk):
            c1 = min(self.ncells, c0 + self.per_chunk)
            cells, peaks = self._curve(c0, c1, gain, limit)
            peak = max(peak, float(np.max(peaks * cells)))
            c = cells.astype(np.float64)
            bins.append(bin_power(self.power.read(c0, c1) * c * c, self.bin_cells))
        return integrated_from_bins(np.concatenate(bins), self.n, RATE), _db(peak)

    def gain_for(self, aim: float, gain_db: float, limit_db: float) -> tuple[float, float, float]:
        """loudness._Search.gain_for: the next gain, the gain last evaluated, and its predicted true peak."""
        evaluated, peak = gain_db, -120.0

        def loudness_at(g: float) -> float:
            nonlocal evaluated, peak
            evaluated = g
            lufs, peak = self.evaluate(g, limit_db)
            return lufs

        return secant_gain(loudness_at, gain_db, aim), evaluated, peak

    def apply(self, gain_db: float, limit_db: float, out: Spill) -> float:
        """Write the limited result to `out`; return its loudness measured on the output itself."""
        gain, limit = 10 ** (gain_db / 20), 10 ** (limit_db / 20)
        meter = RunningLoudness(RATE)
        for lo, chunk in self.x.chunks():
            hi = lo + len(chunk)
            c0, c1 = lo // self.step, -(-hi // self.step)
            a, b = max(0, c0 - 1), min(self.ncells, c1 + 1)  # sample_curve mixes neighbouring cells
            cells, _ = self._curve(a, b, gain, limit)
            curve = limiter.sample_curve(cells, (b - a) * self.step, self.step)[lo - a * self.step: hi - a * self.step]
            y = chunk * curve
            meter.add(y)
            out.append(y)
        return meter.integrated()

    def close(self) -> None:
        self.power.close()
        if self.peaks is not None:
            self.peaks.close()


def normalize_loudness(stage: Stage, target_lufs: float, ceiling_dbtp: float, work: Path, rounds: int = 4,
                       tolerance_lu: float = 0.2) -> Spill:
    """content.audio.loudness.normalize_loudness_report's rounds on a work file; returns the result's file."""
    measured = stage.loudness.integrated()
    if measured <= -70.0:
        raise ValueError("cannot normalize silence")
    model = CellModel(stage.audio, work, stage.loudness.cell_power())  # the stage's pass K-weighted it already
    try:
        limit = ceiling_dbtp - _HEADROOM_DB
        aim, gain = target_lufs, target_lufs - measured
        out: Spill | None = None
        for _ in range(rounds):
            gain, applied, peak = model.gain_for(aim, gain, limit)
            if out is not None:
                out.close()
            out = Spill(work / "normalized.f32")
            lufs = model.apply(applied, limit, out)
            if peak > ceiling_dbtp:
                limit -= peak - ceiling_dbtp + 0.05
            elif abs(lufs - target_lufs) <= tolerance_lu:
                break
            aim += target_lufs - lufs
        if out is None:
            raise ValueError("rounds must be at least 1")
        return out
    finally:
        model.close()
