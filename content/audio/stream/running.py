"""Loudness measured chunk by chunk: the K-weighting filters carry their state across chunks and only the
100 ms sums of K-weighted power are kept (18,000 numbers for thirty minutes). BS.1770 gating, the integrated
loudness and the EBU loudness range all follow from those sums (content.audio.meter), so the figures equal the
whole-array meter's.

A pass whose output the limiter model will read next also keeps the same per-sample power summed per limiter
cell (`cells`): the model then needs no second K-weighting of the same samples (content.audio.stream.normalize).
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from content.audio.limiter import cell_sum
from content.audio.meter import _k_sos, integrated_from_bins, range_from_bins
from content.audio.stream.spill import Spill


class RunningLoudness:
    def __init__(self, rate: int, channels: int = 1, cells: Spill | None = None, cell_step: int = 1) -> None:
        """`cells`: a float64 work file that receives the K-weighted power summed per `cell_step` samples."""
        hop = 0.1 * rate
        if abs(hop - round(hop)) > 1e-6:
            raise ValueError(f"{rate} Hz has no whole 100 ms bins")
        self.rate, self.channels, self.hop = rate, channels, int(round(hop))
        self._sos = _k_sos(rate)
        self._state = np.zeros((channels, self._sos.shape[0], 2))
        self._bins: list[np.ndarray] = []
        self._carry = np.zeros(0, np.float32)  # per-sample power of an unfinished bin
        self.n = 0
        self._cells, self._cell_step = cells, cell_step
        self._cell_carry = np.zeros(0, np.float32)  # per-sample power of an unfinished cell

    def add(self, x: np.ndarray) -> None:
        """Feed the next samples: (frames,) or (frames, channels)."""
        x = x if x.ndim == 2 else x[:, None]
        if not len(x):
            return
        power = np.zeros(len(x), np.float32)
        for c in range(self.channels):
            y, self._state[c] = signal.sosfilt(self._sos, x[:, c].astype(np.float64), zi=self._state[c])
            power += (y * y).astype(np.float32)  # float32 per sample, as meter.k_weighted_power
        self.n += len(x)
        if self._cells is not None:
            self._add_cells(power)
        if len(self._carry):
            power = np.concatenate([self._carry, power])
        full = len(power) // self.hop
        if full:
            self._bins.append(power[: full * self.hop].reshape(full, self.hop).sum(axis=1, dtype=np.float64))
        self._carry = power[full * self.hop:].copy()

    def _add_cells(self, power: np.ndarray) -> None:
        assert self._cells is not None
        x = np.concatenate([self._cell_carry, power]) if len(self._cell_carry) else power
        full = len(x) // self._cell_step * self._cell_step
        if full:
            self._cells.append(cell_sum(x[:full], self._cell_step))
        self._cell_carry = x[full:].copy()

    def cell_power(self) -> Spill | None:
        """The per-cell sums (the last cell may be partial), complete: call it after the last `add`."""
        if self._cells is not None and len(self._cell_carry):
            self._cells.append(cell_sum(self._cell_carry, self._cell_step))
            self._cell_carry = self._cell_carry[:0]
        return self._cells

    def bins(self) -> np.ndarray:
        parts = list(self._bins)
        if len(self._carry):
            parts.append(np.array([self._carry.sum(dtype=np.float64)]))
        return np.concatenate(parts) if parts else np.zeros(0)

    def integrated(self) -> float:
        return integrated_from_bins(self.bins(), self.n, self.rate)

    def range(self) -> float:
        return range_from_bins(self.bins(), self.n, self.rate)
