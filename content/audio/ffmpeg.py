"""The one ffmpeg we use: the static binary in the `imageio-ffmpeg` wheel (no apt, no ffprobe).

Decoding always goes through ffmpeg itself to raw float32 PCM on a pipe, because pydub's
`from_file` calls ffprobe, which this binary does not ship.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass

import numpy as np

from content.types import Pcm
from loa.errors import LoaError


class FfmpegError(LoaError, RuntimeError):
    """ffmpeg failed on audio we made or already checked (an encoder crash, a measurement that printed nothing):
    retryable, as the render job has always treated it; an upload ffmpeg refuses becomes a permanent IngestError.
    `detail` holds the last lines it printed."""

    retryable = True

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
        self._describe("ffmpeg_failed", f"ffmpeg không xử lý được âm thanh: {message}",
                       f"ffmpeg could not process the audio: {message}")


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()  # (untyped library)
    return exe


def pcm_bytes(pcm: Pcm) -> memoryview:
    """The samples as little-endian float32 bytes for a pipe, without a copy when they already are."""
    return np.ascontiguousarray(pcm.samples, dtype="<f4").data.cast("B")


def run_ffmpeg(args: list[str], stdin: bytes | memoryview | None = None, timeout: float | None = None) -> bytes:
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


# --- filtering, probing and encoding (added for the mastering chain) ---------------------------------

def filter_pcm(pcm: Pcm, filtergraph: str, out_rate: int | None = None, timeout: float | None = 600) -> Pcm:
    """Run `pcm` through an ffmpeg audio filtergraph over raw float32 pipes (no temp files).

    The channel count is kept; `out_rate` lets a graph that resamples (e.g. oversampling) say its output rate.
    """
    channels = pcm.channels
    rate_out = out_rate or pcm.rate
    args = [
        "-f", "f32le", "-ar", str(pcm.rate), "-ac", str(channels), "-i", "pipe:0",
        "-af", filtergraph,
        "-f", "f32le", "-acodec", "pcm_f32le", "-ar", str(rate_out), "-ac", str(channels), "pipe:1",
    ]
    raw = run_ffmpeg(args, stdin=pcm_bytes(pcm), timeout=timeout)
    # Read-only view of ffmpeg's output (no copy): every step makes new arrays, none writes in place.
    samples = np.frombuffer(raw, dtype="<f4")
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return Pcm(samples, rate_out)


@dataclass(frozen=True)
class ProbeInfo:
    """What `ffmpeg -i` says about a file (we have no ffprobe): container, duration, first audio stream."""

    container: str | None
    duration_s: float | None  # None when the container does not say (e.g. browser-recorded WebM)
    has_audio: bool
    codec: str | None
    sample_rate: int | None
    channels: int | None
    opened: bool  # False when ffmpeg could not recognise the input at all
    detail: str
    duration_estimated: bool = False  # raw AMR, ADTS, MP3 without a Xing header: guessed from the bitrate


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_INPUT_RE = re.compile(r"Input #0, ([^,]+(?:,[^,\s']+)*), from")
_AUDIO_RE = re.compile(r"Stream #0:\d+[^:]*: Audio: ([A-Za-z0-9_]+)[^,]*(?:\([^)]*\))*.*?, (\d+) Hz, ([^,]+)")


# Uploads are opened as local files only, by the demuxers of the formats we accept: a playlist or a
# concat script disguised as a recording must not make ffmpeg read other files or fetch URLs.
UPLOAD_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,mp3,ogg,matroska,webm,amr,wav,flac,aac"


def upload_input(path: str | os.PathLike[str]) -> list[str]:
    return ["-protocol_whitelist", "file", "-format_whitelist", UPLOAD_DEMUXERS,
            "-i", "file:" + os.path.abspath(path)]


def probe(path: str | os.PathLike[str], timeout: float = 60) -> ProbeInfo:
    """Parse the header summary ffmpeg prints for `-i path` without an output (it exits 1 by design).

    Only the upload demuxers are allowed (UPLOAD_DEMUXERS), and only the local file protocol."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *upload_input(path)]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    text = proc.stderr.decode("utf-8", "replace")
    opened = "Input #0" in text
    container = duration = codec = rate = channels = None
    if m := _INPUT_RE.search(text):
        container = m.group(1)
    if m := _DURATION_RE.search(text):
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    audio = _AUDIO_RE.search(text)
    if audio:
        codec, rate = audio.group(1), int(audio.group(2))
        layout = audio.group(3).strip()
        if layout == "mono":
            channels = 1
        elif layout.startswith("stereo"):
            channels = 2
        elif m := re.match(r"(\d+) channels", layout):
            channels = int(m.group(1))
        else:
            channels = 2  # 5.1, quad, …: anything multichannel is downmixed later
    estimated = "Estimating duration from bitrate" in text
    return ProbeInfo(container, duration, audio is not None, codec, rate, channels, opened, text.strip(), estimated)


@dataclass(frozen=True)
class OutputFormat:
    name: str  # what settings and AudioFacts call it
    ext: str  # file extension in the store
    codec: str
    muxer: str
    encoder_args: tuple[str, ...]


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    # Opus in Ogg: speech at 24 kb/s is clear and small enough for weak village links.
    "ogg-opus": OutputFormat("ogg-opus", "ogg", "opus", "ogg",
                             ("-c:a", "libopus", "-application", "voip", "-vbr", "on", "-frame_duration", "20")),
    # MP3 for players that know nothing newer.
    "mp3": OutputFormat("mp3", "mp3", "mp3", "mp3", ("-c:a", "libmp3lame", "-write_xing", "1")),
}


def encode_pcm(pcm: Pcm, out_path: str | os.PathLike[str], fmt: str, bitrate_kbps: int, out_rate: int = 48000) -> None:
    """Encode mono/stereo float PCM to `out_path` in one of OUTPUT_FORMATS (a real file: MP3's Xing header
    needs a seekable output to record the frame count)."""
    spec = OUTPUT_FORMATS[fmt]
    args = [
        "-y", "-f", "f32le", "-ar", str(pcm.rate), "-ac", str(pcm.channels), "-i", "pipe:0",
        "-ar", str(out_rate), *spec.encoder_args, "-b:a", f"{bitrate_kbps}k",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-f", spec.muxer, str(out_path),
    ]
    run_ffmpeg(args, stdin=pcm_bytes(pcm))
