"""A look-ahead true-peak limiter in numpy: the gain curve is computed, not run sample by sample.

Why not ffmpeg's `alimiter`: each pass pipes the audio out, resamples it to 4x and back, and the loudness
can only be known after another measurement — ~0.16 s per round on a one-minute announcement, and two rounds
were common. Here the oversampled peak envelope is computed once; every trial gain afterwards is a few
vectorised filters on a coarse grid, so a search can land on the target loudness almost exactly.

How the gain curve never lets a peak through: `needed[n]` is the gain that keeps sample n's true peak (the
largest 8x-oversampled magnitude from it to the next sample) at the limit. A minimum filter spreading each
dip over `[n - H, n + H]`, then a smoothing kernel whose support lies inside `[-H, H]`, gives a curve that is
at every n a weighted average of values each ≤ `needed[n]` — so it is ≤ `needed[n]` everywhere, yet smooth
(no clicks): the gain starts falling H before a peak (look-ahead) and recovers over H after it.

The curve is built on a grid of GRID samples (each cell holding its smallest `needed`), one cell more of
minimum filter on each side, then interpolated linearly between cell centres: every sample's gain is a mix of
two cells that both covered it, so the guarantee survives, at an eighth of the filtering work.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from content.types import Pcm

# Half-width of the gain dip around a peak. 10 ms: shorter sounds rough on voiced speech (the gain would ride
# individual 100–250 Hz cycles); longer takes more loudness out around every peak.
HALF_WIDTH_S = 0.010
GRID = 8  # samples per grid cell (0.33 ms at 24 kHz: far finer than the 10 ms ramps)


def grid_step(rate: int) -> int:
    """The grid cell size: it must divide the 100 ms loudness bins, so the loudness model can use cells."""
    return math.gcd(GRID, int(round(0.1 * rate))) if abs(0.1 * rate - round(0.1 * rate)) < 1e-6 else 1


def cell_max(values: np.ndarray, step: int) -> np.ndarray:
    """Largest value per cell of `step` samples (the last cell may be partial)."""
    full = len(values) // step
    out = values[: full * step].reshape(full, step).max(axis=1) if full else np.zeros(0, values.dtype)
    if full * step < len(values):
        out = np.append(out, values[full * step:].max())
    return out


def cell_sum(values: np.ndarray, step: int) -> np.ndarray:
    full = len(values) // step
    out = values[: full * step].reshape(full, step).sum(axis=1, dtype=np.float64)
    if full * step < len(values):
        out = np.append(out, values[full * step:].sum(dtype=np.float64))
    return out


def grid_curve(cell_peaks: np.ndarray, gain: float, limit: float, rate: int, step: int) -> np.ndarray:
    """Per-cell linear gain (≤ `gain`) keeping `gain_curve * true peak` ≤ `limit`, from each cell's true peak."""
    half = max(1, int(round(HALF_WIDTH_S * rate / step)))
    needed = np.minimum(np.float32(gain), np.float32(limit) / np.maximum(cell_peaks, np.float32(1e-9)))
    if float(needed.min()) >= gain:  # nothing reaches the limit: a plain gain
        return np.full(len(cell_peaks), np.float32(gain))
    # +1 cell each side: the interpolation to samples mixes neighbouring cells.
    held = ndimage.minimum_filter1d(needed, size=2 * (half + 1) + 1, mode="nearest")
    # Two centred boxes of odd width 2k + 1 make a triangle reaching 2k ≤ `half` each side: inside the
    # minimum filter's span, which is what keeps the curve under `needed`.
    width = 2 * (half // 2) + 1
    smooth = ndimage.uniform_filter1d(held, size=width, mode="nearest")
    smooth = ndimage.uniform_filter1d(smooth, size=width, mode="nearest")
    # Rounding in the running sums can leave a cell a hair above what it needs.
    return np.minimum(smooth, held)


def sample_curve(cells: np.ndarray, n: int, step: int) -> np.ndarray:
    """The per-cell gains interpolated linearly between cell centres to `n` samples (float32 throughout:
    half an hour at 24 kHz is 43 M samples)."""
    cells = cells.astype(np.float32)
    if step == 1:
        return cells[:n]
    offsets = np.arange(step, dtype=np.float32) - np.float32((step - 1) / 2)  # sample position − cell centre
    weight = np.abs(offsets) / np.float32(step)  # share of the neighbouring cell on that side
    keep = np.float32(1) - weight
    left = offsets < 0
    previous = np.concatenate([cells[:1], cells[:-1]])
    following = np.concatenate([cells[1:], cells[-1:]])
    # Written block by block into the one output: done whole, the temporaries were four more arrays of `n`
    # (670 MB for a thirty-minute recording); the arithmetic per sample is the same.
    out = np.empty((len(cells), step), dtype=np.float32)
    for a in range(0, len(cells), _BLOCK_CELLS):
        b = a + _BLOCK_CELLS
        neighbour = np.where(left, previous[a:b, None], following[a:b, None])
        out[a:b] = cells[a:b, None] * keep + neighbour * weight
    return out.reshape(-1)[:n]


_BLOCK_CELLS = 1 << 15


def apply_curve(pcm: Pcm, curve: np.ndarray) -> Pcm:
    """`pcm` times the per-sample gains. The curve's own buffer becomes the result when it can (mono, float32,
    one gain per sample): one array less at the memory peak of a long recording. Do not reuse `curve` after."""
    x = pcm.samples
    if x.ndim == 1 and curve.dtype == np.float32 and x.dtype == np.float32 and curve.shape == x.shape \
            and curve.flags.writeable:
        return Pcm(np.multiply(x, curve, out=curve), pcm.rate)
    samples = x * (curve if x.ndim == 1 else curve[:, None])
    return Pcm(samples.astype(np.float32, copy=False), pcm.rate)
