"""Checks shared by the TTS tests: is this real, audible speech?"""
from __future__ import annotations

import numpy as np

from content.types import Pcm


def rms(pcm: Pcm) -> float:
    return float(np.sqrt(np.mean(np.square(pcm.samples, dtype=np.float64))))


def assert_speech(pcm: Pcm, min_s: float, max_s: float) -> None:
    """Plausible duration, audible level, and real variation (speech has loud and quiet 50 ms frames)."""
    assert min_s <= pcm.duration_s <= max_s, pcm.duration_s
    assert pcm.samples.dtype == np.float32 and pcm.samples.ndim == 1
    assert rms(pcm) > 0.02, rms(pcm)
    frame = int(pcm.rate * 0.05)
    n = len(pcm.samples) // frame
    energies = np.sqrt(np.mean(pcm.samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    voiced = float(np.mean(energies > 0.02))
    assert 0.3 < voiced < 0.98, voiced  # mostly voiced, with pauses
