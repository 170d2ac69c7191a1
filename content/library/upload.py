"""An uploaded recording: type check, copy to a private temp file in chunks, master into the store — or, when
every mastering slot is busy (content.slots), check it and keep it for a job.

Nothing is left behind on failure: the temp file is removed in every case (a kept upload is renamed away first,
and its job removes it), and the pipeline writes to the store only when mastering succeeded. The client's file
name is kept only as a label (its base name, cleaned): it never becomes part of a path, so names like
../../etc/passwd are harmless."""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from content.types import AudioFacts
from loa.errors import Invalid, TooLarge, UnsupportedMediaType
from loa.settings import Settings

if TYPE_CHECKING:  # both load the audio stack: imported where they are used
    from content.audio.ingest import IngestError
    from content.pipeline import MasteringSettings

# What phones and browsers label recordings with; application/octet-stream is common on Android uploads.
ACCEPTED_TYPES = ("audio/", "video/webm", "video/mp4", "video/3gpp", "video/ogg", "application/ogg",
                  "application/octet-stream")


def clean_filename(name: str | None) -> str | None:
    if not name:
        return None
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    return base[:255] or None


def check_declared_type(content_type: str | None) -> None:
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not ctype.startswith(ACCEPTED_TYPES):
        raise UnsupportedMediaType("unsupported_type", f"Không nhận loại tệp {ctype}: hãy gửi tệp âm thanh",
                                   f"File type {ctype} is not accepted: send an audio file", content_type=ctype)


def _too_large(limit: int) -> TooLarge:
    mb = limit // (1024 * 1024)
    return TooLarge("too_large", f"Tệp quá lớn (tối đa {mb} MB)", f"The file is too large (limit {mb} MB)",
                    limit_bytes=limit)


def copy_to_temp(src: BinaryIO, tmp_dir: Path, limit: int, chunk: int) -> Path:
    """Streams the upload to a new temp file, refusing it (413) as soon as it passes `limit` bytes."""
    path = tmp_dir / f"upload-{uuid.uuid4().hex}.part"
    written = 0
    try:
        with path.open("xb") as out:
            while block := src.read(chunk):
                written += len(block)
                if written > limit:
                    raise _too_large(limit)
                out.write(block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _refusal(exc: IngestError) -> Exception:
    """An ingest refusal as the API's error: 415 (not audio), 413 (too large) or 422, with its code."""
    error = {"not_audio": UnsupportedMediaType, "too_large": TooLarge}.get(exc.code, Invalid)
    return error(exc.code, exc.message_vi, exc.message_en)


def _mastering_settings(limit: int, max_duration_s: float | None) -> MasteringSettings:
    from content.pipeline import MasteringSettings

    if max_duration_s is None:
        return MasteringSettings(max_size_bytes=limit)
    return MasteringSettings(max_size_bytes=limit, max_duration_s=max_duration_s)


def master_upload(path: Path, audio_dir: Path, limit: int, max_duration_s: float | None = None) -> AudioFacts:
    """Masters the file into the store; ingest refusals become 415 (not audio), 413 or 422 with their code.
    `max_duration_s`: the station's longest programme (default: MasteringSettings')."""
    from content.audio.ingest import IngestError
    from content.pipeline import master_recording
    from content.store import AudioStore

    if os.path.getsize(path) == 0:
        raise Invalid("empty_file", "Tệp rỗng", "The file is empty")
    try:
        return master_recording(path, AudioStore(audio_dir), _mastering_settings(limit, max_duration_s))
    except IngestError as exc:
        raise _refusal(exc) from exc


def check_upload(path: Path, limit: int, max_duration_s: float | None = None) -> float:
    """Every check master_upload makes, decoding chunk by chunk and keeping nothing (a few MB whatever the
    length): for an upload that will wait for a mastering slot, so a bad file is still refused at once."""
    from content.audio.ingest import IngestError, check_recording

    if os.path.getsize(path) == 0:
        raise Invalid("empty_file", "Tệp rỗng", "The file is empty")
    try:
        return check_recording(path, _mastering_settings(limit, max_duration_s).limits)
    except IngestError as exc:
        raise _refusal(exc) from exc


@dataclass(frozen=True)
class Waiting:
    """An upload kept for a mastering job: `name` is its file in the temp directory."""

    name: str
    duration_s: float


def waiting_path(tmp_dir: Path, name: str) -> Path:
    if not re.fullmatch(r"waiting-[0-9a-f]{32}\.rec", name):
        raise ValueError(f"not a waiting upload: {name!r}")
    return tmp_dir / name


def master_or_wait(path: Path, settings: Settings, max_duration_s: float | None = None) -> AudioFacts | Waiting:
    """Master the upload now if a mastering slot is free (content.slots), else check it (streamed) and keep it
    for a job: a burst of uploads queues instead of running many masterings at once. `path` is consumed
    when kept (renamed), left for the caller to remove otherwise."""
    from content.slots import slots_for

    slots = slots_for(settings.max_concurrent_masterings)
    if slots.try_acquire():
        try:
            return master_upload(path, settings.audio_dir, settings.max_upload_bytes, max_duration_s)
        finally:
            slots.release()
    duration = check_upload(path, settings.max_upload_bytes, max_duration_s)
    name = f"waiting-{uuid.uuid4().hex}.rec"
    os.replace(path, waiting_path(settings.tmp_dir, name))
    return Waiting(name, duration)
