"""Shared test helpers: real audio files (made by the real ffmpeg) and a manifest factory."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from broadcaster.protocol.manifest import Entry, Manifest, with_version

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)  # 07:00 in Hà Nội


def tone_file(path: Path, seconds: float = 1.0, freq: int = 440) -> tuple[str, int]:
    """A real MP3 tone via ffmpeg; returns (sha256, size)."""
    from content.audio.ffmpeg import ffmpeg_exe
    import subprocess

    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:duration={seconds}", "-ac", "1", "-b:a", "32k", "-f", "mp3", str(path)], check=True)
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def entry(play_id: str, start: datetime, seconds: float, priority: str = "normal", sha: str | None = None,
          size: int = 1000, kind: str = "audio", title: str = "Bản tin") -> Entry:
    sha = sha or hashlib.sha256(play_id.encode()).hexdigest()
    return Entry(play_id=play_id, kind=kind, priority=priority, start=start, end=start + timedelta(seconds=seconds),
                 sha256=sha if kind == "audio" else None, size=size if kind == "audio" else 0, duration=seconds,
                 url=f"/api/device/v1/audio/{sha}" if kind == "audio" else "http://radio.example/live",
                 title=title, language="vi")


def manifest(entries: list[Entry], device_id: str = "dev_0000000000000001", fallback: Entry | None = None,
             muted: bool = False, volume: int = 80, now: datetime = T0) -> Manifest:
    return with_version(Manifest(device_id=device_id, version="", generated_at=now,
                                 valid_until=now + timedelta(hours=96), volume=volume, muted=muted,
                                 fallback=fallback, entries=tuple(entries)))
