"""The one ffmpeg we use: the static binary in the `imageio-ffmpeg` wheel (no apt, no ffprobe).

Decoding always goes through ffmpeg itself to raw float32 PCM on a pipe, because pydub's
`from_file` calls ffprobe, which this binary does not ship.
"""
from __future__ import annotations

import functools
import subprocess

import numpy as np

from content.types import Pcm


class FfmpegError(RuntimeError):
    """ffmpeg refused the input; `detail` holds the last lines it printed."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], stdin: bytes | None = None, timeout: float | None = None) -> bytes:
    """Run ffmpeg quietly; return stdout. Raise FfmpegError with ffmpeg's own reason on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise FfmpegError(detail.splitlines()[-1] if detail else f"ffmpeg exited {proc.returncode}", detail)
    return proc.stdout


def decode_to_pcm(
    source: str | bytes, rate: int | None = None, mono: bool = False, timeout: float | None = 600
) -> Pcm:
    """Decode a file path (or encoded bytes) to float32 Pcm. Keeps the source rate and channels unless asked.

    The channel count is not known without ffprobe, so we ask ffmpeg for a fixed layout: mono when
    `mono`, else stereo (a mono source is duplicated to two identical channels, which downmixes back
    exactly).
    """
    out_rate = rate or 48000
    channels = 1 if mono else 2
    if isinstance(source, bytes):
        args = ["-i", "pipe:0"]
        stdin: bytes | None = source
    else:
        args = ["-i", str(source)]
        stdin = None
    args += ["-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(out_rate), "pipe:1"]
    raw = run_ffmpeg(args, stdin=stdin, timeout=timeout)
    samples = np.frombuffer(raw, dtype="<f4").copy()
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return Pcm(samples, out_rate)
