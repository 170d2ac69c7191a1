"""Encode, and at the same time decode what was encoded, so the facts describe what devices will play.

For Ogg/Opus the encoder writes to a pipe; we copy each chunk to the file and into a second ffmpeg that
decodes it (with ebur128 measuring the true peak on the way), so decoding runs on the other core while the
encoder works. MP3 needs a seekable output (its Xing header is written last), so it is encoded to the file
first and decoded after.
"""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import numpy as np

from content.audio.ebur128 import _TP_TAP, _true_peak_from_stderr, decode_with_true_peak
from content.audio.ffmpeg import OUTPUT_FORMATS, FfmpegError, encode_pcm, ffmpeg_exe, pcm_bytes
from content.types import Pcm

_STREAMABLE = {"ogg"}
_CHUNK = 1 << 16


def _encoder_args(pcm: Pcm, fmt: str, bitrate_kbps: int, out_rate: int) -> list[str]:
    spec = OUTPUT_FORMATS[fmt]
    return [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "f32le", "-ar", str(pcm.rate), "-ac", str(pcm.channels), "-i", "pipe:0",
        "-ar", str(out_rate), *spec.encoder_args, "-b:a", f"{bitrate_kbps}k",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-f", spec.muxer, "pipe:1",
    ]


def _decoder_args(out_rate: int) -> list[str]:
    return [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", "pipe:0",
        "-vn", "-ac", "1", "-ar", str(out_rate), "-af", _TP_TAP, "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]


def _drain(stream, sink: list[bytes]) -> threading.Thread:
    def run() -> None:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            sink.append(block)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def encode_and_decode(
    pcm: Pcm, out_path: str | os.PathLike, fmt: str, bitrate_kbps: int, out_rate: int = 48000,
    decoded_rate: int | None = None, timeout: float = 1200,
) -> tuple[Pcm, float]:
    """Encode `pcm` to `out_path` at `out_rate`; return the decoded encoding (mono, at `decoded_rate`,
    default `out_rate`) and its true peak in dBTP, which ebur128 measures at the decoder's own rate (ffmpeg
    resamples to `decoded_rate` only after the filters)."""
    spec = OUTPUT_FORMATS[fmt]
    decoded_rate = decoded_rate or out_rate
    if spec.ext not in _STREAMABLE:
        encode_pcm(pcm, out_path, fmt, bitrate_kbps, out_rate)
        return decode_with_true_peak(out_path, decoded_rate, timeout=timeout)

    data = pcm_bytes(pcm)
    enc = subprocess.Popen(_encoder_args(pcm, fmt, bitrate_kbps, out_rate),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dec = subprocess.Popen(_decoder_args(decoded_rate), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    enc_err: list[bytes] = []
    dec_out: list[bytes] = []
    dec_err: list[bytes] = []
    readers = [_drain(enc.stderr, enc_err), _drain(dec.stdout, dec_out), _drain(dec.stderr, dec_err)]

    def feed() -> None:
        try:
            enc.stdin.write(data)
        except BrokenPipeError:
            pass  # the encoder died; its exit status says why
        finally:
            enc.stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with Path(out_path).open("wb") as fh:
            for block in iter(lambda: enc.stdout.read(_CHUNK), b""):
                fh.write(block)
                try:
                    dec.stdin.write(block)
                except BrokenPipeError:
                    pass
        dec.stdin.close()
        feeder.join(timeout)
        enc_rc, dec_rc = enc.wait(timeout), dec.wait(timeout)
        for thread in readers:
            thread.join(timeout)
    except BaseException:
        enc.kill()
        dec.kill()
        enc.wait()
        dec.wait()
        raise
    if enc_rc != 0:
        detail = b"".join(enc_err).decode("utf-8", "replace").strip()
        raise FfmpegError(detail.splitlines()[-1] if detail else f"encoder exited {enc_rc}", detail)
    if dec_rc != 0:
        detail = b"".join(dec_err).decode("utf-8", "replace").strip()
        raise FfmpegError(detail.splitlines()[-1] if detail else f"decoder exited {dec_rc}", detail)
    raw = b"".join(dec_out)
    dec_out.clear()
    samples = np.frombuffer(raw, dtype="<f4")  # read-only: it is only measured
    return Pcm(samples, decoded_rate), _true_peak_from_stderr(b"".join(dec_err))
