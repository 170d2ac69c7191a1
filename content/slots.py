"""How many masterings run at once in this process: each holds ffmpeg processes and a core, so a burst of
uploads must queue rather than all start together. Uploads that find every slot taken become jobs (the
upload code), and the job worker takes a slot like anyone else before it masters.

One MasteringSlots per limit per process (`slots_for`): the web requests and the job worker of one server
share it. Several server processes each have their own.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class MasteringSlots:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one mastering slot")
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0  # high-water mark since start (or reset_peak): what the tests and metrics read

    def try_acquire(self) -> bool:
        if not self._free.acquire(blocking=False):
            return False
        self._entered()
        return True

    def acquire(self, timeout: float | None = None) -> bool:
        got = self._free.acquire(timeout=timeout) if timeout is not None else self._free.acquire()
        if not got:
            return False
        self._entered()
        return True

    def release(self) -> None:
        with self._lock:
            self.running -= 1
        self._free.release()

    def _entered(self) -> None:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)

    def reset_peak(self) -> None:
        with self._lock:
            self.most_at_once = self.running

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for a slot, hold it for the block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()


_registry: dict[int, MasteringSlots] = {}
_registry_lock = threading.Lock()


def slots_for(limit: int) -> MasteringSlots:
    with _registry_lock:
        if limit not in _registry:
            _registry[limit] = MasteringSlots(limit)
        return _registry[limit]
