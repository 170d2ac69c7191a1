"""Real audio for the stream tests: espeak speech made loud (a cadre shouting, clipped) or quiet, encoded as a
browser sends it (WebM/Opus), and MP3 decoded back to PCM with the same ffmpeg, metered with pyloudnorm."""
from __future__ import annotations

import functools
import subprocess

import numpy as np
import pyloudnorm

from content.audio.ffmpeg import ffmpeg_exe
from tests.content import fixtures

RATE = 44100


@functools.cache
def speech_webm(name: str, seconds: float = 65.0) -> bytes:
    """fixtures' 'loud' (−9 LUFS, saturated) or 'quiet' (−40 LUFS) speech as WebM/Opus bytes."""
    pcm = fixtures.variant(name, seconds)
    return subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "f32le", "-ar", str(pcm.rate), "-ac", "1", "-i", "pipe:0",
         "-c:a", "libopus", "-b:a", "32k", "-f", "webm", "pipe:1"],
        input=np.ascontiguousarray(pcm.samples, dtype="<f4").tobytes(), capture_output=True, check=True).stdout


def decode(data: bytes, rate: int = RATE) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", "pipe:0", "-ac", "1", "-ar", str(rate),
                          "-f", "f32le", "pipe:1"], input=data, capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32)


def window_loudness(x: np.ndarray, rate: int = RATE, window_s: float = 30.0, step_s: float = 5.0) -> list[float]:
    """Integrated loudness of every `window_s` window, every `step_s`."""
    meter = pyloudnorm.Meter(rate)
    w, step = int(window_s * rate), int(step_s * rate)
    return [meter.integrated_loudness(x[i:i + w]) for i in range(0, len(x) - w + 1, step)]
