"""An uploaded recording: type check, copy to a private temp file in chunks, master into the store.

Nothing is left behind on failure: the temp file is removed in every case, and the pipeline writes to the
store only when mastering succeeded. The client's file name is kept only as a label (its base name, cleaned):
it never becomes part of a path, so names like ../../etc/passwd are harmless."""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from content.types import AudioFacts
from loa.errors import Invalid, TooLarge, UnsupportedMediaType

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


def master_upload(path: Path, audio_dir: Path, limit: int) -> AudioFacts:
    """Masters the file into the store; ingest refusals become 415 (not audio), 413 or 422 with their code."""
    from content.audio.ingest import IngestError
    from content.pipeline import MasteringSettings, master_recording
    from content.store import AudioStore

    if os.path.getsize(path) == 0:
        raise Invalid("empty_file", "Tệp rỗng", "The file is empty")
    try:
        return master_recording(path, AudioStore(audio_dir), MasteringSettings(max_size_bytes=limit))
    except IngestError as exc:
        error = {"not_audio": UnsupportedMediaType, "too_large": TooLarge}.get(exc.code, Invalid)
        raise error(exc.code, exc.message_vi, exc.message_en) from exc
