"""Tempo change without pitch change, for engines that cannot speak faster or slower themselves (gTTS)."""
from __future__ import annotations

import numpy as np

from content.audio.ffmpeg import run_ffmpeg
from content.types import Pcm


def change_tempo(pcm: Pcm, speed: float) -> Pcm:
    """Return `pcm` played `speed` times faster (duration / speed), pitch kept, via ffmpeg's `atempo`.

    atempo accepts 0.5–100 per instance; Loa's speeds (0.5–2.0) fit in one. Mono float32 in and out.
    """
    if abs(speed - 1.0) < 1e-6 or len(pcm.samples) == 0:
        return pcm
    if not 0.5 <= speed <= 100.0:
        raise ValueError("atempo speed must be between 0.5 and 100")
    raw = np.asarray(pcm.samples, dtype="<f4").reshape(-1).tobytes()
    out = run_ffmpeg(
        ["-f", "f32le", "-ar", str(pcm.rate), "-ac", "1", "-i", "pipe:0",
         "-filter:a", f"atempo={speed:.4f}", "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"],
        stdin=raw, timeout=120,
    )
    return Pcm(np.frombuffer(out, dtype="<f4").copy(), pcm.rate)
