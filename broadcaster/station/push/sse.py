"""Server-Sent Events hub: the connected devices of this process and a queue per connection.

Publishers may run on any thread (a request, the nudger); each queue lives on its event loop, so messages are
handed over with `call_soon_threadsafe`."""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

PING_EVERY_S = 20.0


class SseHub:
    def __init__(self) -> None:
        self._subs: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}
        self._lock = threading.Lock()

    def connected(self, device_id: int | None = None) -> int:
        with self._lock:
            if device_id is not None:
                return len(self._subs.get(device_id, ()))
            return sum(len(s) for s in self._subs.values())

    def _add(self, device_id: int, sub: tuple[asyncio.AbstractEventLoop, asyncio.Queue]) -> None:
        with self._lock:
            self._subs.setdefault(device_id, set()).add(sub)

    def _remove(self, device_id: int, sub: tuple[asyncio.AbstractEventLoop, asyncio.Queue]) -> None:
        with self._lock:
            subs = self._subs.get(device_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[device_id]

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
                     ping_every: float = PING_EVERY_S) -> AsyncIterator[bytes]:
        """`event: sync` with the current version at once, then on every nudge; `: ping` when idle."""
        sub = (asyncio.get_running_loop(), asyncio.Queue(maxsize=100))
        self._add(device_id, sub)
        try:
            yield _event(await first())
            while True:
                try:
                    message = await asyncio.wait_for(sub[1].get(), timeout=ping_every)
                except asyncio.TimeoutError:
                    yield b": ping\n\n"
                    continue
                yield _event(message)
        finally:
            self._remove(device_id, sub)


COMMAND = "__command__"  # a message {COMMAND: envelope} goes out as `event: command` (§4a)


def _event(message: dict[str, Any]) -> bytes:
    if COMMAND in message:
        return b"event: command\ndata: " + json.dumps(message[COMMAND], ensure_ascii=False,
                                                       separators=(",", ":")).encode() + b"\n\n"
    return b"event: sync\ndata: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n"
