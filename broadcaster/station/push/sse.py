"""Server-Sent Events hub: the connected devices of this process and a queue per connection.

Publishers may run on any thread (a request, the nudger); each queue lives on its event loop, so messages are
handed over with `call_soon_threadsafe`.

Bounds (docs/device-protocol.md §8): a device has at most `max_per_device` open streams; opening one
more closes the oldest (a box whose link died half-open reconnects at once instead of being refused until the
dead stream times out). `close_device` / `close_identities` end streams at once: no further event or ping is
sent, the response ends, and the box's next connection meets the identity check (`401 device_revoked`)."""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

PING_EVERY_S = 20.0
MAX_STREAMS_PER_DEVICE = 3


class _Close:
    """The one value put in a stream's queue to end it."""


_CLOSE = _Close()
# one open stream: the event loop it runs on, and its queue of messages (a dict each) or _CLOSE
_Sub = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[dict[str, Any] | _Close]"]


class SseHub:
    def __init__(self, max_per_device: int = MAX_STREAMS_PER_DEVICE) -> None:
        self._subs: dict[int, set[_Sub]] = {}
        self._lock = threading.Lock()
        self.max_per_device = max_per_device
        # per open stream: (identity uid, opening order); and the streams told to close
        self._meta: dict[_Sub, tuple[str | None, int]] = {}
        self._opened = 0
        self._closing: set[_Sub] = set()
        self.closed_for_limit = self.closed_for_revocation = 0

    def connected(self, device_id: int | None = None) -> int:
        with self._lock:
            if device_id is not None:
                return len(self._subs.get(device_id, ()))
            return sum(len(s) for s in self._subs.values())

    def _add(self, device_id: int, sub: _Sub, uid: str | None) -> None:
        with self._lock:
            subs = self._subs.setdefault(device_id, set())
            self._opened += 1
            self._meta[sub] = (uid, self._opened)
            mine = sorted((s for s in subs if s not in self._closing), key=lambda s: self._meta[s][1])
            over = mine[:max(0, len(mine) + 1 - self.max_per_device)]
            subs.add(sub)
        for old in over:  # the device's oldest streams make room
            self.closed_for_limit += 1
            self._close(old)

    def _remove(self, device_id: int, sub: _Sub) -> None:
        with self._lock:
            self._meta.pop(sub, None)
            self._closing.discard(sub)
            subs = self._subs.get(device_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[device_id]

    def _close(self, sub: _Sub) -> None:
        with self._lock:
            if sub not in self._meta:
                return
            self._closing.add(sub)
        loop, queue = sub

        def wake() -> None:
            try:
                queue.put_nowait(_CLOSE)
            except asyncio.QueueFull:  # busy stream: it sees `_closing` at its next message
                pass

        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # that loop is closed: the connection is gone
            pass

    def close_device(self, device_id: int) -> int:
        """End every open stream of the device (revoked in this process). Returns how many."""
        with self._lock:
            subs = list(self._subs.get(device_id, ()))
        for sub in subs:
            self._close(sub)
        self.closed_for_revocation += len(subs)
        return len(subs)

    def close_identities(self, uids: set[str]) -> int:
        """End the open streams of these identities (found revoked in the database)."""
        with self._lock:
            subs = [sub for sub, (uid, _) in self._meta.items() if uid in uids]
        for sub in subs:
            self._close(sub)
        self.closed_for_revocation += len(subs)
        return len(subs)

    def open_identities(self) -> set[str]:
        with self._lock:
            return {uid for uid, _ in self._meta.values() if uid is not None}

    def publish(self, device_id: int, message: dict[str, Any]) -> int:
        with self._lock:
            subs = list(self._subs.get(device_id, ()))
        for loop, queue in subs:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # that loop is closed: the connection is gone
                pass
        return len(subs)

    async def stream(self, device_id: int, first: Callable[[], Awaitable[dict[str, Any]]],
                     ping_every: float = PING_EVERY_S, uid: str | None = None) -> AsyncIterator[bytes]:
        """`event: sync` with the current version at once, then on every nudge; `: ping` when idle; nothing
        more once the stream is closed (`close_device`, `close_identities`, or a newer stream over the bound)."""
        sub: _Sub = (asyncio.get_running_loop(), asyncio.Queue(maxsize=100))
        self._add(device_id, sub, uid)
        try:
            message = await first()
            if sub in self._closing:
                return
            yield _event(message)
            while True:
                try:
                    queued: dict[str, Any] | _Close | None = await asyncio.wait_for(sub[1].get(), timeout=ping_every)
                except asyncio.TimeoutError:
                    queued = None
                if isinstance(queued, _Close) or sub in self._closing:
                    return
                yield b": ping\n\n" if queued is None else _event(queued)
        finally:
            self._remove(device_id, sub)


COMMAND = "__command__"  # a message {COMMAND: envelope} goes out as `event: command` (§4a)


def _event(message: dict[str, Any]) -> bytes:
    if COMMAND in message:
        return b"event: command\ndata: " + json.dumps(message[COMMAND], ensure_ascii=False,
                                                       separators=(",", ":")).encode() + b"\n\n"
    return b"event: sync\ndata: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n"
