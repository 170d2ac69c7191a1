"""Fixture audio for the ingest/mastering/store tests, generated (never checked in) and cached per session.

Speech comes from espeak (Vietnamese, ~20 s), then is made into the recordings a commune actually receives:
quiet, loud, clipped, noisy, uneven (the speaker walked away: second half −15 dB), stereo, with 50 Hz mains
hum. Each is written in every accepted upload format with the same ffmpeg the product uses.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from content.audio.ffmpeg import ffmpeg_exe
from content.audio.meter import integrated_lufs
from content.tts.espeak import synthesize_pcm
from content.types import Pcm

PARAGRAPH = (
    "Thông báo của Ủy ban nhân dân xã về việc tiêm phòng cho trẻ em dưới năm tuổi. "
    "Đề nghị các gia đình có con nhỏ đưa trẻ đến trạm y tế xã vào sáng thứ bảy tuần này. "
    "Khi đi nhớ mang theo sổ tiêm chủng và căn cước công dân của cha mẹ. "
    "Ban chỉ đạo cũng nhắc bà con cài đặt ứng dụng định danh điện tử. "
    "Mọi thắc mắc xin liên hệ cán bộ y tế thôn."
)

# name -> ffmpeg output options (phones: m4a/aac, 3gp/amr; browsers: webm/opus, ogg/opus)
# The encoders run at their fastest settings (libopus complexity 0, as browsers recording in real time on a
# cheap phone may; AAC's fast coder): what the tests need is a real file of that codec and container, and the
# default searches cost 4-6x the CPU for quality that no test judges (libopus: 0.27 vs 0.04 CPU-s per 20 s).
OPUS_FAST = ("-compression_level", "0")
FORMATS: dict[str, tuple[str, ...]] = {
    "m4a": ("-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-f", "ipod"),
    "mp3": ("-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3"),
    "ogg": ("-c:a", "libopus", "-b:a", "32k", *OPUS_FAST, "-f", "ogg"),
    "webm": ("-c:a", "libopus", "-b:a", "32k", *OPUS_FAST, "-f", "webm"),
    "amr": ("-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", "-b:a", "12.2k", "-f", "amr"),
    "3gp": ("-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", "-b:a", "12.2k", "-f", "3gp"),
    "wav": ("-c:a", "pcm_s16le", "-f", "wav"),
    "flac": ("-c:a", "flac", "-f", "flac"),
}
VARIANTS = ("quiet", "loud", "clipped", "noisy", "uneven", "stereo", "hum")
HUM_HZ = 50.0


# The system temp dir as it was at import: a test that points `tempfile.tempdir` at its own directory (to check
# that a refusal leaves nothing behind) must not find the shared fixture cache created inside it.
_SYSTEM_TMP = tempfile.gettempdir()


@functools.cache
def fixture_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="loa-audio-fixtures-", dir=_SYSTEM_TMP))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def speech(seconds: float = 20.0) -> Pcm:
    """espeak reading PARAGRAPH (repeated as needed) cut to about `seconds`, at 22,050 Hz mono."""
    text = PARAGRAPH
    pcm = synthesize_pcm(text)
    while pcm.duration_s < seconds:
        text += " " + PARAGRAPH
        pcm = synthesize_pcm(text)
    return Pcm(pcm.samples[: int(seconds * pcm.rate)].copy(), pcm.rate)


def at_lufs(pcm: Pcm, lufs: float) -> Pcm:
    gain = 10 ** ((lufs - integrated_lufs(pcm)) / 20)
    return Pcm((pcm.samples * gain).astype(np.float32), pcm.rate)


def _noise(n: int, db: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 10 ** (db / 20)).astype(np.float32)


def variant(name: str, seconds: float = 20.0) -> Pcm:
    """One of VARIANTS as float Pcm (stereo for "stereo", mono otherwise). Deterministic."""
    base = at_lufs(speech(seconds), -20.0)
    x = base.samples
    n = len(x)
    if name == "quiet":
        return at_lufs(base, -40.0)
    if name == "loud":
        return Pcm(np.tanh(at_lufs(base, -9.0).samples * 1.2).astype(np.float32) * 0.99, base.rate)
    if name == "clipped":
        return Pcm(np.clip(at_lufs(base, -8.0).samples * 2.0, -1.0, 1.0).astype(np.float32), base.rate)
    if name == "noisy":
        return Pcm(x + _noise(n, -42.0, 1), base.rate)
    if name == "uneven":
        y = x.copy()
        y[n // 2:] *= np.float32(10 ** (-15 / 20))
        return Pcm(y, base.rate)
    if name == "stereo":
        right = np.concatenate([np.zeros(11, np.float32), x[:-11] * np.float32(0.7)])  # a second mic, farther
        return Pcm(np.stack([x, right], axis=1), base.rate)
    if name == "hum":
        t = np.arange(n) / base.rate
        hum = 0.05 * np.sin(2 * np.pi * HUM_HZ * t) + 0.02 * np.sin(2 * np.pi * 2 * HUM_HZ * t)
        return Pcm((x + hum).astype(np.float32), base.rate)
    raise KeyError(name)


def encode(pcm: Pcm, fmt: str, path: Path) -> Path:
    args = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "f32le", "-ar", str(pcm.rate), "-ac", str(pcm.channels), "-i", "pipe:0",
        *FORMATS[fmt], str(path),
    ]
    subprocess.run(args, input=np.ascontiguousarray(pcm.samples, dtype="<f4").tobytes(), check=True)
    return path


@functools.cache
def recording(name: str, fmt: str, seconds: float = 20.0) -> Path:
    """The `name` variant encoded as `fmt`, cached for the session."""
    return encode(variant(name, seconds), fmt, fixture_dir() / f"{name}-{seconds:g}s.{fmt}")


@functools.cache
def truncated(fmt: str, fraction: float = 0.6) -> Path:
    """A short recording cut to `fraction` of its bytes, as an interrupted upload leaves it."""
    data = recording("noisy", fmt, 6.0).read_bytes()
    path = fixture_dir() / f"truncated-{fraction:g}.{fmt}"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def silent(seconds: float = 5.0, db: float | None = None) -> Pcm:
    """Digital silence, or a faint noise floor at `db` dBFS (a phone left recording in a quiet room)."""
    n = int(seconds * 22050)
    if db is None:
        return Pcm(np.zeros(n, np.float32), 22050)
    return Pcm(_noise(n, db, 7), 22050)


def band_energy_db(pcm: Pcm, hz: float, width_hz: float = 4.0) -> float:
    """Energy near `hz` relative to the whole signal's energy, in dB (a hum detector)."""
    x = pcm.samples if pcm.samples.ndim == 1 else pcm.samples.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / pcm.rate)
    band = spectrum[(freqs > hz - width_hz) & (freqs < hz + width_hz)].sum()
    return float(10 * np.log10(band / spectrum.sum()))
