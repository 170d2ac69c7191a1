"""Fetching a bulletin's audio from the sending station by content hash, checked before it is stored.

The bytes stream into a private temp file in the audio store (same filesystem); the download stops as soon as
it passes the announced size; only a file whose size and sha256 both match is renamed into the store under its
hash. A failed or forged download leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import shutil
from datetime import datetime

import httpx

from broadcaster.interchange import envelope
from broadcaster.interchange.errors import Refused
from broadcaster.interchange.identity import Identity
from broadcaster.interchange.schemas import AudioRef
from content.store import AudioStore

AUDIO_PATH = "/api/interchange/v1/audio/{sha256}"


def _unavailable(ref: AudioRef, why: str) -> Refused:
    return Refused("interchange_audio_unavailable", 503,
                   f"Chưa tải được âm thanh {ref.sha256[:12]}… từ đài gửi: {why}",
                   f"Could not fetch audio {ref.sha256[:12]}… from the sending station: {why}", retryable=True)


def _mismatch(ref: AudioRef, why: str) -> Refused:
    # retryable: a proxy may have cut or altered it on the way; the sender's copy may still be good
    return Refused("interchange_audio_mismatch", 422,
                   f"Âm thanh {ref.sha256[:12]}… không khớp thông điệp ({why}); không lưu",
                   f"Audio {ref.sha256[:12]}… does not match the message ({why}); nothing stored", retryable=True)


def have(store: AudioStore, ref: AudioRef) -> bool:
    """Already in the store under its hash (a file in the store was checked on the way in)."""
    try:
        return store.path_for(ref.sha256).stat().st_size == ref.size
    except (LookupError, OSError):
        return False


def fetch(store: AudioStore, base_url: str, ref: AudioRef, me: Identity, now: datetime, timeout_s: float) -> bool:
    """Make sure `ref` is in the store; True if it was downloaded now, False if it was there already."""
    if have(store, ref):
        return False
    path = AUDIO_PATH.format(sha256=ref.sha256)
    headers = envelope.request_headers("GET", path, me.station_id, me.key(), now)
    work = store.temp_dir()
    target = work / f"download.{ref.extension}"
    digest, count = hashlib.sha256(), 0
    try:
        try:
            with httpx.stream("GET", base_url + path, headers=headers, timeout=timeout_s) as reply:
                if reply.status_code != 200:
                    raise _unavailable(ref, f"HTTP {reply.status_code}")
                with target.open("wb") as fh:
                    for chunk in reply.iter_bytes(1 << 16):
                        count += len(chunk)
                        if count > ref.size:
                            raise _mismatch(ref, f"more than {ref.size} bytes")
                        digest.update(chunk)
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            raise _unavailable(ref, type(exc).__name__) from exc
        if count != ref.size:
            raise _mismatch(ref, f"{count} bytes, expected {ref.size}")
        if digest.hexdigest() != ref.sha256:
            raise _mismatch(ref, "sha256 differs")
        store.put_file(target, ref.extension, move=True)
        return True
    finally:
        shutil.rmtree(work, ignore_errors=True)
