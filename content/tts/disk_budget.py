"""A byte budget for the TTS caches (rendered speech `.npz`, gTTS chunks `.mp3`) under one directory.

Rendered speech is kept as float32 samples: about 5 MB a minute. A station rendering ten notices a day would
add ~20 GB a year to a small box's SD card; the cache must forget. Least recently used files go first: a cache
hit touches its file (mtime), and after writes have added a twentieth of the budget the tree is scanned and
trimmed to 80 % of it. The scan is per process and cheap (a few hundred files at the default budget); several
processes sharing the directory each trim it, and a file deleted under a reader is simply rendered again.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

CACHE_SUFFIXES = (".npz", ".mp3")


def prune(root: str | os.PathLike[str], max_bytes: int, keep_fraction: float = 0.8) -> int:
    """Delete the least recently used cache files under `root` until they total at most `keep_fraction` of
    `max_bytes` (nothing if they are within `max_bytes`). Returns the bytes freed."""
    files: list[tuple[float, int, str]] = []
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if not name.endswith(CACHE_SUFFIXES):
                continue  # `.tmp` files of a write in progress, anything else: not ours to delete
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, path))
            total += st.st_size
    if total <= max_bytes:
        return 0
    target = int(max_bytes * keep_fraction)
    freed = 0
    for _mtime, size, path in sorted(files):
        if total - freed <= target:
            break
        try:
            os.unlink(path)
            freed += size
        except OSError:
            pass  # another process pruned it first
    return freed


def touch(path: str | os.PathLike[str]) -> None:
    """Mark a cache hit as recently used."""
    try:
        os.utime(path)
    except OSError:
        pass


class DiskBudget:
    """Counts what this process writes under `root` and prunes when a twentieth of the budget was added."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("Hạn mức bộ nhớ đệm phải dương / the cache budget must be positive")
        self.root, self.max_bytes = Path(root), max_bytes
        self._written = max_bytes  # the first write of the process checks: the tree may be over already
        self._lock = threading.Lock()

    def wrote(self, nbytes: int) -> int:
        """Call after writing a cache file of `nbytes`. Returns the bytes pruned (usually 0)."""
        with self._lock:
            self._written += nbytes
            if self._written < self.max_bytes // 20:
                return 0
            self._written = 0
        return prune(self.root, self.max_bytes)
