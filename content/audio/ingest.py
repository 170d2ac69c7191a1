"""Ingest of recordings made on phones and in browsers: accept what they produce, refuse the rest clearly.

Accepted: m4a/aac, mp3, ogg/opus, webm/opus, amr, 3gp, wav, flac (anything ffmpeg decodes, in fact).
Refused with an `IngestError` carrying a stable `code` and a Vietnamese-first message. Ingest only reads: it
never writes a file, so a refusal leaves nothing behind.

How truncation is caught (measured on files cut at 60 %): decoding with `-xerror` fails on the partial last
packet of m4a, 3gp, amr, wav, flac and ADTS aac; an MP3 with a Xing header, a WebM with a duration and an
m4a with its index first decode "fine" but shorter than their headers say, so decoded duration is compared
with the container's (unless ffmpeg only estimated it from the bitrate: raw AMR, ADTS, plain CBR MP3); an
Ogg cut on a page boundary passes both, so its last page must carry end-of-stream. Not caught: a raw AMR
or Xing-less MP3 cut exactly on a frame boundary (it is simply a shorter, valid recording).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from content.audio.ffmpeg import FfmpegError, probe, upload_input
from content.audio.stream.pipes import FfmpegStream
from content.audio.stream.running import RunningLoudness
from content.types import Pcm
from loa.errors import LoaError

SILENCE_LUFS = -60.0  # quieter than any real phone recording of speech (a whisper at arm's length is ~−45)

_MESSAGES = {
    "empty_file": ("Tệp rỗng", "The file is empty"),
    "too_large": ("Tệp quá lớn (tối đa {limit})", "The file is too large (limit {limit})"),
    "not_audio": ("Tệp không phải là âm thanh", "The file is not audio"),
    "corrupt_audio": ("Tệp âm thanh bị hỏng hoặc không đầy đủ", "The audio file is corrupt or incomplete"),
    "silent_recording": ("Bản ghi chỉ có im lặng", "The recording contains only silence"),
    "too_long": ("Bản ghi quá dài (tối đa {limit})", "The recording is too long (limit {limit})"),
}

# The HTTP status of each refusal, as content/library/upload.py answers an upload with it.
_STATUS = {"too_large": 413, "not_audio": 415}

# First bytes of the containers phones and browsers write: a file that starts like audio but will not
# decode is corrupt (e.g. an m4a cut before its index), anything else is not audio at all.
_AUDIO_MAGIC = (b"ID3", b"OggS", b"fLaC", b"#!AMR", b"\x1a\x45\xdf\xa3", b"RIFF", b"FORM", b"caff")


class IngestError(LoaError, ValueError):
    """A recording we refuse (permanent: the same file is refused again). `code` is stable (API clients switch
    on it); `message` is Vietnamese first."""

    def __init__(self, code: str, detail: str = "", **fmt: object) -> None:
        vi, en = _MESSAGES[code]
        self._describe(code, vi.format(**fmt), en.format(**fmt))
        self.detail = detail
        self.status = _STATUS.get(code, 422)
        super().__init__(f"{self.message_vi} / {self.message_en}")

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class IngestLimits:
    max_duration_s: float = 1800.0
    max_size_bytes: int = 200 * 1024 * 1024


def _looks_like_audio(head: bytes) -> bool:
    if head.startswith(_AUDIO_MAGIC):
        return True
    if head[4:8] == b"ftyp":  # MP4 family: m4a, 3gp
        return True
    # MPEG audio / ADTS frame sync: 11 (mp3) or 12 (aac) set bits.
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _ogg_has_end_of_stream(path: Path) -> bool:
    """The last Ogg page must be complete and flagged end-of-stream (header_type bit 0x04)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 128 * 1024))
        tail = fh.read()
    pos = tail.rfind(b"OggS")
    if pos < 0 or len(tail) - pos < 27:
        return False
    header_type = tail[pos + 5]
    segments = tail[pos + 26]
    table = tail[pos + 27: pos + 27 + segments]
    if len(table) < segments:
        return False
    page_end = pos + 27 + segments + sum(table)
    return bool(header_type & 0x04) and page_end == len(tail)


def _human_duration(seconds: float) -> str:
    return f"{int(seconds // 60)} phút / {int(seconds // 60)} min" if seconds >= 60 else f"{seconds:g} s"


def _decode_args(path: Path, rate: int, channels: int, max_seconds: float) -> list[str]:
    # -xerror: any demux or decode error (a truncated packet, a corrupt frame) fails the run; -t: an over-long
    # file costs at most that much work even if we did not stop reading first.
    return ["-xerror", *upload_input(path), "-t", f"{max_seconds:.3f}",
            "-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(rate), "pipe:1"]


def decode_checked(path: str | os.PathLike[str], rate: int, limits: IngestLimits,
                   sink: Callable[[np.ndarray], None], chunk_frames: int = 240_000) -> int:
    """Check one uploaded recording and decode it at `rate` (channels kept, at most 2), handing each chunk of
    float32 samples, (frames,) or (frames, 2), to `sink` as it is decoded: nothing holds the whole recording.
    Decoding stops as soon as the recording passes `limits.max_duration_s`. Returns the number of frames.

    Raises IngestError (the sink may have seen part of the audio: the caller discards what it kept).
    Never writes a file.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty_file")
    if size > limits.max_size_bytes:
        raise IngestError("too_large", limit=f"{limits.max_size_bytes / 1048576:.0f} MB")
    with path.open("rb") as fh:
        head = fh.read(64)
    info = probe(path)
    if not info.opened or not info.has_audio:
        code = "corrupt_audio" if _looks_like_audio(head) else "not_audio"
        raise IngestError(code, info.detail[-500:])
    limit_text = _human_duration(limits.max_duration_s)
    if info.duration_s is not None and not info.duration_estimated and info.duration_s > limits.max_duration_s + 0.5:
        raise IngestError("too_long", limit=limit_text)
    channels = 1 if info.channels == 1 else 2
    max_frames = int((limits.max_duration_s + 0.5) * rate)
    loudness = RunningLoudness(rate, channels)
    frames = 0
    with FfmpegStream(_decode_args(path, rate, channels, limits.max_duration_s + 1.0), channels) as dec:
        for chunk in dec.chunks(chunk_frames):
            frames += len(chunk)
            if frames > max_frames:  # the header said less, or nothing: stop here, decode no more
                raise IngestError("too_long", limit=limit_text)
            loudness.add(chunk)
            sink(chunk)
        try:
            dec.finish()
        except FfmpegError as exc:
            raise IngestError("corrupt_audio", exc.detail[-500:]) from exc
    if frames == 0:
        raise IngestError("corrupt_audio", "no samples decoded")
    decoded_s = frames / rate
    if info.duration_s is not None and not info.duration_estimated:
        # A header that promises more than the stream delivers means the file was cut short. (A duration
        # ffmpeg guessed from the bitrate proves nothing; those formats fail on their cut last frame instead.)
        shortfall = info.duration_s - decoded_s
        if shortfall > max(0.5, 0.02 * info.duration_s):
            raise IngestError("corrupt_audio", f"header says {info.duration_s:.2f} s, decoded {decoded_s:.2f} s")
    if head.startswith(b"OggS") and not _ogg_has_end_of_stream(path):
        raise IngestError("corrupt_audio", "Ogg stream has no end-of-stream page")
    lufs = loudness.integrated()
    if not math.isfinite(lufs) or lufs < SILENCE_LUFS:
        raise IngestError("silent_recording", f"integrated loudness {lufs:.1f} LUFS")
    return frames


def check_recording(path: str | os.PathLike[str], limits: IngestLimits = IngestLimits(), rate: int = 24000) -> float:
    """All of ingest's checks, decoding chunk by chunk and keeping nothing; returns the duration in seconds."""
    return decode_checked(path, rate, limits, lambda chunk: None) / rate


def ingest(path: str | os.PathLike[str], rate: int, limits: IngestLimits = IngestLimits()) -> Pcm:
    """Check and decode one uploaded recording to float Pcm at `rate` (channels kept, at most 2), in memory.

    Raises IngestError; never writes anything. (The mastering chain uses decode_checked, which keeps nothing.)
    """
    parts: list[np.ndarray] = []
    decode_checked(path, rate, limits, lambda chunk: parts.append(chunk.copy()))
    return Pcm(np.concatenate(parts), rate)
