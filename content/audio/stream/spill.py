"""Raw float32 work files: a thirty-minute master at 24 kHz is 173 MB, which belongs on disk, not in memory.

Reads go through ordinary file reads (the page cache, not this process's memory), one chunk at a time.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

# 10 s at 24 kHz: a whole number of 20 ms trim frames, 100 ms loudness bins, 10 ms peak blocks and limiter cells.
CHUNK = 240_000


class Spill:
    """A growing array of one dtype in a file. Append chunks; read any range back."""

    def __init__(self, path: Path, dtype: str = "<f4") -> None:
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self._fh = self.path.open("w+b")
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, values: np.ndarray) -> None:
        data = np.ascontiguousarray(values, dtype=self.dtype)
        self._fh.seek(self.n * self.dtype.itemsize)
        self._fh.write(data.data.cast("B"))
        self.n += len(data)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Values start..stop-1 (clipped to what exists), as a new writable array."""
        start, stop = max(0, start), min(self.n, stop)
        if stop <= start:
            return np.zeros(0, self.dtype)
        self._fh.seek(start * self.dtype.itemsize)
        out = np.empty(stop - start, self.dtype)
        self._fh.readinto(out.data.cast("B"))
        return out

    def chunks(self, start: int = 0, stop: int | None = None, size: int = CHUNK) -> Iterator[tuple[int, np.ndarray]]:
        stop = self.n if stop is None else min(stop, self.n)
        for lo in range(start, stop, size):
            yield lo, self.read(lo, min(stop, lo + size))

    def close(self, delete: bool = True) -> None:
        if not self._fh.closed:
            self._fh.close()
        if delete:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
