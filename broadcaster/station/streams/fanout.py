"""Listeners of a mount: each gets the bytes from the moment it joined (plus a small head start), and one that
cannot keep up is dropped, never buffered without bound (a slow loudspeaker must not hold the station's memory)."""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
import queue
import threading
from collections import deque
from typing import AsyncIterator, Iterator, TypeVar

L = TypeVar("L", bound="Listener")

END = b""  # the end-of-stream marker in a listener's queue


class Listener(ABC):
    """A bounded queue of chunks. `offer` is called from the mount's reader thread."""

    def __init__(self, max_chunks: int) -> None:
        self.max_chunks = max_chunks
        self.dropped = False   # fell behind by more than max_chunks: the mount let it go
        self.ended = False

    @abstractmethod
    def offer(self, chunk: bytes) -> None: ...

    @abstractmethod
    def end(self) -> None: ...


class AsyncListener(Listener):
    """For an HTTP response on the event loop: the reader thread hands chunks over with call_soon_threadsafe."""

    def __init__(self, max_chunks: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(max_chunks)
        self.loop = loop
        self.q: asyncio.Queue[bytes] = asyncio.Queue()

    def _put(self, chunk: bytes) -> None:
        if self.ended:
            return
        if chunk == END:
            self.ended = True
        elif self.q.qsize() >= self.max_chunks:
            self.dropped = self.ended = True
            chunk = END
        self.q.put_nowait(chunk)

    def offer(self, chunk: bytes) -> None:
        try:
            self.loop.call_soon_threadsafe(self._put, chunk)
        except RuntimeError:  # that loop is closed: its listener is gone
            self.ended = True

    def end(self) -> None:
        self.offer(END)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.q.get()
            if chunk == END:
                return
            yield chunk


class ThreadListener(Listener):
    """For a thread (the recording writer, tests): a plain blocking iterator."""

    def __init__(self, max_chunks: int) -> None:
        super().__init__(max_chunks)
        self.q: queue.Queue[bytes] = queue.Queue()

    def offer(self, chunk: bytes) -> None:
        if self.ended:
            return
        if chunk != END and self.q.qsize() >= self.max_chunks:
            self.dropped = True
            chunk = END
        if chunk == END:
            self.ended = True
        self.q.put(chunk)

    def end(self) -> None:
        self.offer(END)

    def chunks(self, timeout: float | None = None) -> Iterator[bytes]:
        while True:
            try:
                chunk = self.q.get(timeout=timeout)
            except queue.Empty:
                return
            if chunk == END:
                return
            yield chunk


class Fanout:
    """Every chunk the mount produces goes to every listener; a few recent chunks wait for a newcomer so its
    decoder finds an MP3 frame header at once instead of silence until the next chunk."""

    def __init__(self, head_chunks: int = 4, max_chunks: int = 256) -> None:
        self.head: deque[bytes] = deque(maxlen=head_chunks)
        self.max_chunks = max_chunks
        self.listeners: list[Listener] = []
        self.closed = False
        self._lock = threading.Lock()

    def add(self, listener: L) -> L:  # the listener back, as its own kind (async or thread chunks())
        with self._lock:
            for chunk in self.head:
                listener.offer(chunk)
            if self.closed:
                listener.end()
            else:
                self.listeners.append(listener)
        return listener

    def remove(self, listener: Listener) -> None:
        with self._lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    def publish(self, chunk: bytes) -> None:
        with self._lock:
            self.head.append(chunk)
            for listener in self.listeners:
                listener.offer(chunk)
            self.listeners = [x for x in self.listeners if not x.ended]

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for listener in self.listeners:
                listener.end()
            self.listeners = []

    @property
    def count(self) -> int:
        return len(self.listeners)
