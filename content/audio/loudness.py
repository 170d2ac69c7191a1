"""Loudness normalization under a true-peak ceiling: gain, a 4x-oversampled limiter, measure, correct.

Gain alone cannot do it for speech (peak-to-loudness ratio 19–23 dB: −16 LUFS would peak near +7 dBTP), and
ffmpeg's two-pass `loudnorm` lands ~1 LU low on speech. So: apply the gain that reaches the target, limit peaks
with `alimiter` running at 4x the sample rate (so inter-sample peaks are caught), measure what came out, and
correct the gain — and the limiter's ceiling, if the resampling back let a peak overshoot — for a few rounds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from content.audio.ebur128 import filter_with_true_peak
from content.audio.ffmpeg import filter_pcm
from content.audio.meter import (
    _binnable, bin_power, integrated_from_bins, integrated_from_power, integrated_lufs, k_weighted_power,
    sample_peak_db, true_peak_dbtp,
)
from content.types import Pcm

TOLERANCE_LU = 0.2
OVERSAMPLE = 4
# Below this distance from the limit, sample peaks cannot hide a true peak over it in real audio (speech's
# inter-sample overshoot is well under 1 dB); the limiter is skipped. The measured true peak still decides.
_SKIP_LIMITER_BELOW_DB = 3.0


@dataclass(frozen=True)
class NormalizeReport:
    integrated_lufs: float
    true_peak_dbtp: float
    gain_db: float
    limit_dbtp: float
    rounds: int


def apply_gain(pcm: Pcm, gain_db: float) -> Pcm:
    return Pcm((pcm.samples * np.float32(10 ** (gain_db / 20))).astype(np.float32), pcm.rate)


def _limiter_graph(rate: int, ceiling_dbtp: float) -> str:
    limit = min(1.0, max(0.0625, 10 ** (ceiling_dbtp / 20)))
    up = rate * OVERSAMPLE
    return (f"aresample={up},"
            f"alimiter=limit={limit:.6f}:level=false:attack=5:release=50:latency=true,"
            f"aresample={rate}")


def _same_length(out: Pcm, like: Pcm) -> Pcm:
    # alimiter's latency compensation can leave the length a few samples off; keep the timeline exact.
    samples = out.samples[: len(like.samples)]
    if len(samples) < len(like.samples):
        pad = np.zeros((len(like.samples) - len(samples),) + samples.shape[1:], np.float32)
        samples = np.concatenate([samples, pad])
    return Pcm(samples, like.rate)


def limit_true_peak(pcm: Pcm, ceiling_dbtp: float) -> Pcm:
    """ffmpeg `alimiter` at 4x oversampling with its automatic make-up level off (we set levels ourselves)."""
    return _same_length(filter_pcm(pcm, _limiter_graph(pcm.rate, ceiling_dbtp), out_rate=pcm.rate), pcm)


def limit_true_peak_measured(pcm: Pcm, ceiling_dbtp: float) -> tuple[Pcm, float]:
    """limit_true_peak, plus the result's true peak measured by ffmpeg's ebur128 in the same pass."""
    out, peak = filter_with_true_peak(pcm, _limiter_graph(pcm.rate, ceiling_dbtp))
    return _same_length(out, pcm), peak


def predict_gain_db(pcm: Pcm, target_lufs: float, limit_dbtp: float, iterations: int = 4) -> float:
    """The gain that should land on `target_lufs` once the limiter has taken its share.

    A cheap model of the limiter (per-sample gain reduction from a 5 ms peak-hold envelope, smoothed over
    10 ms) applied to the K-weighted power: measured within ~0.25 LU of the real alimiter on speech, so the
    first real round usually lands inside the tolerance instead of three or four rounds of trial.
    """
    power = k_weighted_power(pcm)
    mono = np.abs(pcm.samples if pcm.samples.ndim == 1 else np.abs(pcm.samples).max(axis=1)).astype(np.float32)
    envelope = np.maximum(ndimage.maximum_filter1d(mono, size=2 * int(0.005 * pcm.rate) + 1), np.float32(1e-9))
    del mono
    smooth = max(1, int(0.01 * pcm.rate))
    n = len(power)
    gain_db = target_lufs - integrated_from_power(power, pcm.rate)
    if not _binnable(pcm.rate):
        return gain_db  # no whole 100 ms bins at this rate: the measured rounds will do the work
    hop = int(round(0.1 * pcm.rate))
    chunk = hop * 200  # 20 s: the model's 10 ms smoothing barely notices the chunk edges
    limit = np.float32(10 ** (limit_dbtp / 20))
    for _ in range(iterations):
        g = np.float32(10 ** (gain_db / 20))
        bins = []
        for start in range(0, n, chunk):  # chunked: half an hour of audio costs a few MB per step
            ratio = np.minimum(np.float32(1.0), limit / (g * envelope[start:start + chunk]))
            reduction = ndimage.uniform_filter1d(ratio, size=smooth)
            bins.append(bin_power(power[start:start + chunk] * (g * reduction) ** 2, hop))
        predicted = integrated_from_bins(np.concatenate(bins), n, pcm.rate)
        gain_db += target_lufs - predicted
    return float(gain_db)


def normalize_loudness_report(
    pcm: Pcm, target_lufs: float = -16.0, ceiling_dbtp: float = -1.0, rounds: int = 4,
    tolerance_lu: float = TOLERANCE_LU,
) -> tuple[Pcm, NormalizeReport]:
    measured = integrated_lufs(pcm)
    if measured <= -70.0:
        raise ValueError("cannot normalize silence")
    limit = ceiling_dbtp - 0.1  # a hair of headroom for the resampler's ripple
    gain = target_lufs - measured
    if sample_peak_db(pcm) + gain > limit - _SKIP_LIMITER_BELOW_DB:
        gain = predict_gain_db(pcm, target_lufs, limit)
    out, lufs, peak = pcm, measured, 0.0
    input_peak: float | None = None  # measured only if some round needs no limiter
    force_limiter = False
    previous: tuple[float, float] | None = None  # (gain, loudness) of the last round
    used_gain = gain
    for n in range(1, rounds + 1):
        used_gain = gain
        out = apply_gain(pcm, gain)
        if force_limiter or sample_peak_db(out) > limit - _SKIP_LIMITER_BELOW_DB:
            out, peak = limit_true_peak_measured(out, limit)
        else:
            if input_peak is None:
                input_peak = true_peak_dbtp(pcm)
            peak = input_peak + gain
        lufs = integrated_lufs(out)
        if peak > ceiling_dbtp:
            limit -= peak - ceiling_dbtp + 0.05
            force_limiter = True
            previous = None  # a new limit changes the curve: start the slope afresh
        elif abs(lufs - target_lufs) <= tolerance_lu:
            break
        # The limiter eats part of each extra dB of gain, so step along the measured slope (secant method)
        # rather than by the raw shortfall.
        slope = 1.0
        if previous is not None and abs(gain - previous[0]) > 1e-3:
            slope = min(1.0, max(0.2, (lufs - previous[1]) / (gain - previous[0])))
        previous = (gain, lufs)
        gain += (target_lufs - lufs) / slope
    return out, NormalizeReport(lufs, peak, used_gain, limit, n)


def normalize_loudness(pcm: Pcm, target_lufs: float = -16.0, ceiling_dbtp: float = -1.0, rounds: int = 4,
                       tolerance_lu: float = TOLERANCE_LU) -> Pcm:
    """Bring integrated loudness to `target_lufs` with true peak at or under `ceiling_dbtp`."""
    return normalize_loudness_report(pcm, target_lufs, ceiling_dbtp, rounds, tolerance_lu)[0]


def correct_after_codec(
    pcm: Pcm, decoded_peaks: np.ndarray, block_s: float, decoded_lufs: float, target_lufs: float,
    ceiling_dbtp: float, margin_db: float = 0.3,
) -> Pcm:
    """Adjust pre-encode audio from what its encoding measured: a global gain for the loudness miss, and a
    local, smooth dip wherever the codec pushed a true peak over the ceiling (lossy coding adds noise that
    overshoots here and there; a lower limiter ceiling everywhere would cost the whole item its punch).

    `decoded_peaks`: true peak (linear) per `block_s` block of the decoded encoding, same timeline as `pcm`.
    """
    gain_db = target_lufs - decoded_lufs
    with np.errstate(divide="ignore"):
        peaks_db = 20 * np.log10(np.maximum(decoded_peaks, 1e-9))
    excess = np.maximum(0.0, peaks_db + gain_db - (ceiling_dbtp - margin_db))
    # Widen each dip to ±30 ms and smooth it; a max filter wider than the smoothing keeps every block's
    # reduction at least what it needs.
    excess = ndimage.uniform_filter1d(ndimage.maximum_filter1d(excess, size=7), size=5)
    per_block = max(1, int(round(block_s * pcm.rate)))
    n = len(pcm.samples)
    curve = np.repeat(excess.astype(np.float32), per_block)[:n]
    if len(curve) < n:
        curve = np.concatenate([curve, np.zeros(n - len(curve), np.float32)])
    curve = ndimage.uniform_filter1d(ndimage.maximum_filter1d(curve, size=per_block + 1), size=per_block)
    gains = np.power(np.float32(10), (np.float32(gain_db) - curve) / np.float32(20))  # float32: long items
    del curve
    samples = pcm.samples * (gains if pcm.samples.ndim == 1 else gains[:, None])
    return Pcm(samples.astype(np.float32), pcm.rate)
