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


# Rates libopus takes as they are. Fed the 24 kHz master directly (measured on a 65 s announcement at
# 24 kb/s): no resampling to 48 kHz first, ~10 % less encoder time, and the encoder codes super-wideband
# (to 12 kHz, all there is) instead of fullband over an empty 12–20 kHz: a 7 % smaller file with the same
# wideband PESQ (3.54 vs 3.52). Devices still decode Opus at 48 kHz.
OPUS_INPUT_RATES = (8000, 12000, 16000, 24000, 48000)


def encoder_rate(pcm: Pcm, fmt: str, out_rate: int) -> int:
    """The rate the encoder is fed: the master's own when Opus takes it as is, else `out_rate`."""
    if OUTPUT_FORMATS[fmt].codec == "opus" and pcm.rate in OPUS_INPUT_RATES:
        return pcm.rate
    return out_rate


def _encoder_args(pcm: Pcm, fmt: str, bitrate_kbps: int, out_rate: int) -> list[str]:
    spec = OUTPUT_FORMATS[fmt]
    return [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "f32le", "-ar", str(pcm.rate), "-ac", str(pcm.channels), "-i", "pipe:0",
        "-ar", str(encoder_rate(pcm, fmt, out_rate)), *spec.encoder_args, "-b:a", f"{bitrate_kbps}k",
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
    """Encode `pcm` to `out_path` (MP3 at `out_rate`; Opus from the master's own rate when libopus takes it,
    see encoder_rate); return the decoded encoding (mono, at `decoded_rate`, default `out_rate`) and its true
    peak in dBTP, which ebur128 measures at the decoder's own rate (ffmpeg resamples to `decoded_rate` only
    after the filters). Raises FfmpegError if either ffmpeg fails or the whole takes over `timeout` s."""
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
    # A watchdog kills both on timeout, so the waits below can block in waitpid: Popen.wait(timeout) polls
    # with growing sleeps and returned up to ~0.1 s after the decoder had finished.
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        enc.kill()
        dec.kill()

    watchdog = threading.Timer(timeout, expire)
    watchdog.start()
    try:
        with Path(out_path).open("wb") as fh:
            # read1: pass on each page as the encoder writes it. read() would wait for 64 KB (a third of a
            # one-minute item), leaving the decoder idle and then with a long tail after the encoder ends.
            for block in iter(lambda: enc.stdout.read1(_CHUNK), b""):
                fh.write(block)
                try:
                    dec.stdin.write(block)
                except BrokenPipeError:
                    pass
        dec.stdin.close()
        feeder.join()
        enc_rc, dec_rc = enc.wait(), dec.wait()
        for thread in readers:
            thread.join()
    except BaseException:
        enc.kill()
        dec.kill()
        enc.wait()
        dec.wait()
        raise
    finally:
        watchdog.cancel()
    if timed_out.is_set():
        raise FfmpegError(f"encoding took over {timeout:.0f} s")
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
