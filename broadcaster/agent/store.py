"""The agent's audio cache: content-addressed files, resumable downloads, bounded size.

Files are named by their SHA-256. A download goes to `<sha>.part`, resumes from its length, and becomes `<sha>`
only once size and hash match. A file the current manifest needs is never evicted; the rest is evicted least
recently used first (mtime is touched on every use) when the cache would exceed its byte limit.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator

from broadcaster.agent.errors import AgentError

CHUNK = 64 * 1024

# fetch(offset) → (offset the bytes really start at, chunks). A server that ignores Range answers from 0.
Fetcher = Callable[[int], tuple[int, Iterator[bytes]]]


class CacheError(AgentError):
    """A file the cache could not take now (a download cut short): retryable, the next sync resumes it."""

    retryable = True

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.message = message
        self._describe(code, message)


class DiskFull(CacheError):
    """No room for the file: retryable, as old files expire and free the space."""

    def __init__(self, message: str) -> None:
        super().__init__("disk_full", message)


class ContentMismatch(CacheError):
    """The bytes were not the file the manifest signed (wrong size or hash): dropped and fetched again next
    sync, so retryable."""


class AudioStore:
    def __init__(self, directory: str | os.PathLike[str], limit_bytes: int = 2_000_000_000,
                 reserve_bytes: int = 16 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.limit_bytes = limit_bytes
        # Keep this much disk free for the play log and manifest: audio must not starve them.
        self.reserve_bytes = reserve_bytes

    # -- inspection ------------------------------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        return self.directory / sha256

    def part_path(self, sha256: str) -> Path:
        return self.directory / f"{sha256}.part"

    def has(self, sha256: str, size: int | None = None) -> bool:
        try:
            st = self.path(sha256).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def files(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.directory.iterdir():
            if len(p.name) == 64 and p.is_file():
                out[p.name] = p.stat().st_size
        return out

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())

    def missing(self, needed: dict[str, int]) -> list[str]:
        return sorted(sha for sha, size in needed.items() if not self.has(sha, size))

    def locate(self, sha256: str) -> Path | None:
        """The installed file, or None (a `.part` never counts)."""
        path = self.path(sha256)
        return path if path.is_file() else None

    def touch(self, sha256: str) -> None:
        """Mark as used now (LRU order)."""
        try:
            os.utime(self.path(sha256))
        except FileNotFoundError:
            pass

    def disk_free(self) -> int:
        return shutil.disk_usage(self.directory).free

    # -- eviction --------------------------------------------------------------------------------------
    def evict(self, needed: Iterable[str], incoming: int = 0) -> list[str]:
        """Delete unneeded files, oldest use first, until `incoming` more bytes fit under the limit and on disk.
        Stale `.part` files of unneeded content go first. Returns the names removed."""
        keep = set(needed)
        removed: list[str] = []
        for part in self.directory.glob("*.part"):
            if part.name[:-5] not in keep:
                part.unlink(missing_ok=True)
                removed.append(part.name)
        candidates = sorted(
            (p for p in self.directory.iterdir() if len(p.name) == 64 and p.name not in keep),
            key=lambda p: p.stat().st_mtime,
        )
        for p in candidates:
            if self.used_bytes() + incoming <= self.limit_bytes and self.disk_free() - incoming >= self.reserve_bytes:
                break
            p.unlink(missing_ok=True)
            removed.append(p.name)
        return removed

    # -- download --------------------------------------------------------------------------------------
    def fetch(self, sha256: str, size: int, fetcher: Fetcher, needed: Iterable[str] = ()) -> Path:
        """Download (or resume) one file and install it. Raises DiskFull or ContentMismatch; on either, no
        installed file is touched and no partial `<sha>` ever appears."""
        final = self.path(sha256)
        if self.has(sha256, size):
            return final
        part = self.part_path(sha256)
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        remaining = size - have
        keep = set(needed) | {sha256}
        used, stale_parts = self._scan(keep)
        free = self.disk_free()
        # One directory scan when the file fits and nothing is stale (the common case: an emergency reaches a
        # thousand boxes at once, and a simulation runs them in one process); the eviction pass otherwise.
        if stale_parts or used + remaining > self.limit_bytes or free - remaining < self.reserve_bytes:
            self.evict(keep, incoming=remaining)
            used, free = self.used_bytes(), self.disk_free()
        if used + remaining > self.limit_bytes:
            raise DiskFull(f"Bộ nhớ đệm đầy / cache limit {self.limit_bytes} B reached; {remaining} B more needed")
        if free - remaining < self.reserve_bytes:
            raise DiskFull(f"Đĩa đầy / disk full: {free} B free, {remaining} B needed")
        if have < size:
            self._download(part, have, size, fetcher)
        self._install(sha256, size, part, final)
        return final

    def _scan(self, keep: set[str]) -> tuple[int, bool]:
        """(bytes used by the cache, whether a `.part` of content not in `keep` lies around), in one pass."""
        used, stale = 0, False
        with os.scandir(self.directory) as it:
            for entry in it:
                if not entry.is_file(follow_symlinks=False):
                    continue
                used += entry.stat(follow_symlinks=False).st_size
                if entry.name.endswith(".part") and entry.name[:-5] not in keep:
                    stale = True
        return used, stale

    def _download(self, part: Path, have: int, size: int, fetcher: Fetcher) -> None:
        start, chunks = fetcher(have)
        try:
            with open(part, "r+b" if part.exists() else "wb") as fh:
                fh.seek(start)
                fh.truncate(start)  # the server answered from `start` (0 if it ignored Range)
                written = start
                for chunk in chunks:
                    if written + len(chunk) > size:
                        raise ContentMismatch("audio_size_mismatch", f"Tệp lớn hơn khai báo / more than {size} B")
                    fh.write(chunk)
                    written += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                part.unlink(missing_ok=True)
                raise DiskFull(f"Đĩa đầy khi tải / disk full while downloading {part.name}") from exc
            raise
        except ContentMismatch:
            part.unlink(missing_ok=True)
            raise

    def _install(self, sha256: str, size: int, part: Path, final: Path) -> None:
        actual_size = part.stat().st_size
        if actual_size != size:
            if actual_size > size:
                part.unlink(missing_ok=True)
                raise ContentMismatch("audio_size_mismatch", f"Kích thước sai / {actual_size} B, expected {size} B")
            # A short body (connection dropped): keep the .part to resume next time.
            raise CacheError("download_incomplete", f"Tải dở / {actual_size} of {size} B; will resume")
        digest = file_sha256(part)
        if digest != sha256:
            part.unlink(missing_ok=True)
            raise ContentMismatch("audio_hash_mismatch", f"Mã băm sai / got {digest[:12]}…, expected {sha256[:12]}…")
        os.replace(part, final)
        _fsync_dir(self.directory)

    def check(self, sha256: str) -> bool:
        """Re-hash an installed file; a corrupt one is deleted (it will be fetched again)."""
        path = self.path(sha256)
        if not path.exists():
            return False
        if file_sha256(path) != sha256:
            path.unlink(missing_ok=True)
            return False
        return True


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK * 4), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
