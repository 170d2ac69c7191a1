"""Encode a work file while decoding the encoding, measuring what devices will play; between attempts, the
codec correction (content.audio.loudness.correct_after_codec) applied chunk by chunk.

Ogg/Opus: one ffmpeg process encodes to the file and decodes its own packets as they leave the encoder (a
loopback decoder, `-dec`), with ebur128's true peak on stderr: no second process demuxing the pages again, no
pages pumped through Python. The decoded audio is bit for bit what decoding the stored file gives (the end is
trimmed to the input's length, as the file's last granule position trims it; compared on 33 masterings of the
test recordings: same files, same measured facts, and bench/mastering_processes.py checks the files). MP3 needs a seekable
output (its Xing header is written last) and its decoder delay comes from that header: encoded to the file
first, then decoded from it. The decoded audio is measured as it arrives (running loudness) and kept in a work
file only for the per-block peaks a retry needs.
"""
from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from content.audio.ebur128 import TRUE_PEAK_LINE, TRUE_PEAK_TAP
from content.audio.ffmpeg import OUTPUT_FORMATS, FfmpegError, ffmpeg_exe
from content.audio.meter import true_peak_envelope
from content.audio.stream.pipes import FfmpegStream, f32_input, feed_stdin, reader
from content.audio.stream.running import RunningLoudness
from content.audio.stream.spill import CHUNK, Spill
from content.types import Pcm

# Rates libopus takes as they are. Fed the 24 kHz master directly (measured on a 65 s announcement at
# 24 kb/s): no resampling to 48 kHz first, ~10 % less encoder time, and the encoder codes super-wideband
# (to 12 kHz, all there is) instead of fullband over an empty 12–20 kHz: a 7 % smaller file with the same
# wideband PESQ (3.54 vs 3.52). Devices still decode Opus at 48 kHz.
OPUS_INPUT_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_DECODE_RATE = 48000  # what every Opus decoder (ours, the devices') gives, whatever the encoder was fed


def encoder_rate(rate: int, fmt: str, out_rate: int) -> int:
    """The rate the encoder is fed: the master's own when Opus takes it as is, else `out_rate`."""
    if OUTPUT_FORMATS[fmt].codec == "opus" and rate in OPUS_INPUT_RATES:
        return rate
    return out_rate


class _PeakParser:
    """The running true peak ebur128 prints every 100 ms, parsed as stderr arrives (lines may be split)."""

    def __init__(self) -> None:
        self.peak, self._rest = 0.0, b""

    def __call__(self, block: bytes) -> None:
        data = self._rest + block
        cut = data.rfind(b"\n") + 1
        for m in TRUE_PEAK_LINE.finditer(data, 0, cut):
            self.peak = max(self.peak, float(m.group(1)))
        self._rest = data[cut:][-256:]

    def dbtp(self) -> float:
        self(b"\n")
        peak = self.peak + 0.0005 if self.peak > 0 else 0.0  # printed to 3 decimals: never report less
        return float(20 * np.log10(peak)) if peak > 0.0005 else -120.0


@dataclass
class Attempt:
    path: Path
    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    duration_s: float
    decoded: Spill  # the decoded encoding at `rate`, for the per-block peaks of a retry


def _encoder_cmd(rate: int, fmt: str, bitrate_kbps: int, out_rate: int, output: str) -> list[str]:
    spec = OUTPUT_FORMATS[fmt]
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *f32_input(rate, 1),
            "-ar", str(encoder_rate(rate, fmt, out_rate)), *spec.encoder_args, "-b:a", f"{bitrate_kbps}k",
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", spec.muxer, output]


def _decoder_args(source: str, rate: int) -> list[str]:
    return ["-i", source, "-vn", "-ac", "1", "-ar", str(rate), "-af", TRUE_PEAK_TAP,
            "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]


def _measure(dec: FfmpegStream, rate: int, decoded: Spill) -> RunningLoudness:
    meter = RunningLoudness(rate)
    for chunk in dec.chunks(CHUNK):
        meter.add(chunk)
        decoded.append(chunk)
    return meter


def encode_attempt(candidate: Iterable[np.ndarray], rate: int, out_path: Path, fmt: str, bitrate_kbps: int,
                   out_rate: int, measure_rate: int, work: Path, *, frames: int, timeout: float = 3600) -> Attempt:
    """Encode mono float32 chunks at `rate` (`frames` samples in all) to `out_path`; measure the decoded encoding."""
    decoded = Spill(work / f"decoded-{out_path.stem}.f32")
    peaks = _PeakParser()
    try:
        if OUTPUT_FORMATS[fmt].ext == "ogg":
            meter, tp = _encode_ogg(candidate, frames, rate, out_path, fmt, bitrate_kbps, measure_rate, decoded,
                                    peaks, timeout)
        else:
            meter, tp = _encode_mp3(candidate, rate, out_path, fmt, bitrate_kbps, out_rate, measure_rate, decoded,
                                    peaks, timeout)
    except BaseException:
        decoded.close()
        raise
    return Attempt(out_path, meter.integrated(), meter.range(), tp, meter.n / measure_rate, decoded)


class _Encoder:
    """The encoder process, fed from a thread (the chunks may be computed on the way: a correction)."""

    def __init__(self, cmd: list[str], candidate: Iterable[np.ndarray], stdout: int) -> None:
        """`stdout`: subprocess.PIPE (read it from `proc.stdout`) or subprocess.DEVNULL."""
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE)
        stderr = reader(self.proc.stderr)
        self._err: list[bytes] = []
        self._failure: list[BaseException] = []
        self._threads = [threading.Thread(target=lambda: self._err.append(stderr.read()), daemon=True),
                         threading.Thread(target=self._feed, args=(candidate,), daemon=True)]
        for thread in self._threads:
            thread.start()

    def _feed(self, candidate: Iterable[np.ndarray]) -> None:
        feed_stdin(self.proc, candidate, self._failure)

    def finish(self, timeout: float) -> None:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise FfmpegError("encoding took too long") from None
        for thread in self._threads:
            thread.join()
        if self._failure:
            raise self._failure[0]
        if rc != 0:
            detail = b"".join(self._err).decode("utf-8", "replace").strip()
            raise FfmpegError(detail.splitlines()[-1] if detail else f"encoder exited {rc}", detail)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for thread in self._threads:
            thread.join()


def _encode_mp3(candidate: Iterable[np.ndarray], rate: int, out_path: Path, fmt: str, bitrate_kbps: int,
                out_rate: int, measure_rate: int, decoded: Spill, peaks: _PeakParser,
                timeout: float) -> tuple[RunningLoudness, float]:
    enc = _Encoder(_encoder_cmd(rate, fmt, bitrate_kbps, out_rate, str(out_path)), candidate, subprocess.DEVNULL)
    try:
        enc.finish(timeout)
    except BaseException:
        enc.kill()
        raise
    with FfmpegStream(_decoder_args(str(out_path), measure_rate), 1, stderr_sink=peaks, timeout=timeout) as dec:
        meter = _measure(dec, measure_rate, decoded)
        dec.finish()  # after this the stderr reader has seen every peak line
    return meter, peaks.dbtp()


def _encode_ogg(candidate: Iterable[np.ndarray], frames: int, rate: int, out_path: Path, fmt: str,
                bitrate_kbps: int, measure_rate: int, decoded: Spill, peaks: _PeakParser,
                timeout: float) -> tuple[RunningLoudness, float]:
    if rate not in OPUS_INPUT_RATES:
        raise ValueError(f"Opus is encoded from a rate libopus takes as it is {OPUS_INPUT_RATES}, not {rate}")
    spec = OUTPUT_FORMATS[fmt]
    # The loopback decoder gets the encoder's packets without the Ogg page that ends the stream, so it would
    # also give the padding of the last frame: cut it where the file's last granule position cuts it, at the
    # input's length (before the true-peak tap, which must not see it).
    end = frames * (OPUS_DECODE_RATE // rate)
    args = ["-y", *f32_input(rate, 1), "-map", "0:a", "-ar", str(rate), *spec.encoder_args, "-b:a", f"{bitrate_kbps}k",
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", spec.muxer, str(out_path),
            "-dec", "0:0", "-filter_complex", f"[dec:0]atrim=end_sample={end},{TRUE_PEAK_TAP}[decoded]",
            "-map", "[decoded]", "-ac", "1", "-ar", str(measure_rate), "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    with FfmpegStream(args, 1, feed=candidate, stderr_sink=peaks, timeout=timeout) as proc:
        meter = _measure(proc, measure_rate, decoded)
        proc.finish()  # after this the stderr reader has seen every peak line
    return meter, peaks.dbtp()


def codec_correction(candidate: Spill, decoded: Spill, rate: int, block_s: float, decoded_lufs: float,
                     target_lufs: float, ceiling_dbtp: float, margin_db: float) -> Iterator[np.ndarray]:
    """content.audio.loudness.correct_after_codec, chunk by chunk: a gain for the loudness miss and smooth
    dips where the decoded encoding's true peak (per `block_s` block) came within `margin_db` of the ceiling."""
    per_block = max(1, int(round(block_s * rate)))
    peaks = decoded_block_peaks(decoded, rate, per_block)
    gain_db = target_lufs - decoded_lufs
    with np.errstate(divide="ignore"):
        peaks_db = 20 * np.log10(np.maximum(peaks, 1e-9))
    excess = np.maximum(0.0, peaks_db + gain_db - (ceiling_dbtp - margin_db))
    excess = ndimage.uniform_filter1d(ndimage.maximum_filter1d(excess, size=7), size=5).astype(np.float32)
    n = len(candidate)
    nblocks = -(-n // per_block)
    excess = np.concatenate([excess[:nblocks], np.zeros(max(0, nblocks - len(excess)), np.float32)])
    context = 2  # blocks: the per-sample filters reach one block
    for lo, chunk in candidate.chunks():
        hi = lo + len(chunk)
        b0, b1 = max(0, lo // per_block - context), min(nblocks, -(-hi // per_block) + context)
        a, b = b0 * per_block, min(n, b1 * per_block)
        curve = np.repeat(excess[b0:b1], per_block)[: b - a]
        # ndimage's default edge mode reflects at the ends of the array: only at the ends of the recording
        # do the chunk's edges coincide with them, where the same reflection is wanted.
        curve = ndimage.uniform_filter1d(ndimage.maximum_filter1d(curve, size=per_block + 1), size=per_block)
        curve = curve[lo - a: hi - a]
        gains = np.power(np.float32(10), (np.float32(gain_db) - curve) / np.float32(20))
        yield (chunk * gains).astype(np.float32)


def decoded_block_peaks(decoded: Spill, rate: int, per_block: int, context: int = 1024) -> np.ndarray:
    """True peak (linear) of each `per_block` block of the decoded encoding (meter.true_peak_blocks)."""
    out = []
    n = len(decoded)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        a = max(0, lo - context)
        env = true_peak_envelope(Pcm(decoded.read(a, hi + context), rate))[lo - a: hi - a]
        full = len(env) // per_block * per_block
        part = env[:full].reshape(-1, per_block).max(axis=1).astype(np.float64)
        if full < len(env):
            part = np.append(part, float(env[full:].max()))
        out.append(part)
    return np.concatenate(out) if out else np.zeros(0)
