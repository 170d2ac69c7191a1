"""The small pure steps of the mastering chain, each Pcm -> Pcm and testable alone.

Order used by content.pipeline: resample → to_mono → trim_silence → highpass → level_speech →
content.audio.loudness.normalize_loudness → content.audio.assembly (chime, repeat) → encode.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from content.audio.ffmpeg import filter_pcm
from content.audio.meter import loudness_range_lu
from content.types import Pcm

WORK_RATE = 24000  # speech and horn loudspeakers need nothing above 12 kHz; half the work of 48 kHz


def resample(pcm: Pcm, rate: int = WORK_RATE) -> Pcm:
    """Change the sample rate with ffmpeg's resampler (band-limited, so no aliasing into the speech band)."""
    if pcm.rate == rate:
        return pcm
    return filter_pcm(pcm, f"aresample={rate}", out_rate=rate)


def to_mono(pcm: Pcm) -> Pcm:
    """Average the channels. A phone recording with one dead channel loses 6 dB, which normalization restores."""
    if pcm.samples.ndim == 1:
        return pcm
    return Pcm(pcm.samples.mean(axis=1, dtype=np.float32).astype(np.float32), pcm.rate)


def _frame_rms_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.array([], dtype=np.float64)
    frames = x[: n * frame].reshape(n, frame)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frame)  # no squared copy
    with np.errstate(divide="ignore"):
        return 20 * np.log10(np.maximum(rms, 1e-12))


def trim_silence(pcm: Pcm, margin_s: float = 0.3, below_speech_db: float = 35.0, floor_db: float = -70.0) -> Pcm:
    """Cut leading and trailing silence, keeping `margin_s` of natural room sound on each side.

    "Silence" is relative to this recording's own speech level (its loud frames' 95th percentile minus
    `below_speech_db`), so a very quiet recording is not mistaken for silence and a hissy one still trims.
    """
    x = pcm.samples
    frame = max(1, int(0.02 * pcm.rate))
    levels = _frame_rms_db(x if x.ndim == 1 else x.mean(axis=1), frame)
    if levels.size == 0:
        return pcm
    threshold = max(floor_db, float(np.percentile(levels, 95)) - below_speech_db)
    voiced = np.flatnonzero(levels > threshold)
    if voiced.size == 0:
        return pcm
    margin = int(margin_s * pcm.rate)
    start = max(0, voiced[0] * frame - margin)
    end = min(len(x), (voiced[-1] + 1) * frame + margin)
    return Pcm(np.ascontiguousarray(x[start:end]), pcm.rate)


def highpass(pcm: Pcm, cutoff_hz: float | None = 150.0, order: int = 6) -> Pcm:
    """Butterworth high-pass: horn loudspeakers reproduce little below ~150 Hz, and 50 Hz mains hum goes too.

    6th order (36 dB/octave) takes 50 Hz down by ~57 dB at a 150 Hz cutoff while leaving voices intact.
    """
    if not cutoff_hz:
        return pcm
    sos = signal.butter(order, cutoff_hz, btype="highpass", fs=pcm.rate, output="sos")
    x = pcm.samples
    out = np.empty_like(x, dtype=np.float32)
    # float64 filtering in chunks that carry the filter state: same result, no full-length float64 copies.
    state = np.zeros((sos.shape[0], 2) + x.shape[1:])
    for start in range(0, len(x), 1 << 18):
        y, state = signal.sosfilt(sos, x[start:start + (1 << 18)].astype(np.float64), axis=0, zi=state)
        out[start:start + (1 << 18)] = y
    return Pcm(out, pcm.rate)


# (frame length ms, Gaussian window in frames): the first follows slow changes (a speaker stepping back from
# the phone over a few seconds); the second is used only when the first leaves the range too wide.
_LEVELING_PASSES = ((200, 15), (150, 9))


LEVELING_HEADROOM_LU = 2.0


def level_speech(pcm: Pcm, max_range_lu: float = 8.0, max_gain_db: float = 30.0) -> Pcm:
    """Even out a speaker who moves towards or away from the microphone, so every sentence carries outdoors.

    Uses ffmpeg's `dynaudnorm` with short frames (measured: a −15 dB second half went from 17 LU of loudness
    range to ~5 LU; `speechnorm` reached ~7 LU and lifted background noise more). Audio already well inside
    the range (≤ max − 2 LU: synthetic speech, a steady speaker) is left alone, keeping its natural dynamics.
    A second, faster pass runs only if the first leaves the range wider than `max_range_lu`.
    """
    if loudness_range_lu(pcm) <= max_range_lu - LEVELING_HEADROOM_LU:
        return pcm
    max_gain = 10 ** (max_gain_db / 20)
    out = pcm
    for frame_ms, window in _LEVELING_PASSES:
        out = filter_pcm(out, f"dynaudnorm=f={frame_ms}:g={window}:m={max_gain:.3f}:p=0.9")
        if loudness_range_lu(out) <= max_range_lu:
            break
    return out
