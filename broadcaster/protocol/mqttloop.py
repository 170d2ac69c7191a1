"""One network thread for any number of paho-mqtt clients, on `selectors` (epoll on Linux).

Why not paho's own `loop_start()`: it runs a thread per client and waits with `select.select()`, which
raises for any file descriptor >= 1024; paho then treats the connection as lost, closes it before even sending
CONNECT and retries later, forever. A station with many open connections (SSE devices, database, files), or a
simulation with a thousand agents in one process, has its MQTT sockets above 1024: nudges then never arrive
(issue 5's fan-out benchmark: 1,000 TCP connections opened, 7 MQTT sessions made). This loop has no such limit
and costs one thread in total.

paho's external-loop API is used as documented: `on_socket_open/close` and `on_socket_(un)register_write`
tell the loop which sockets to watch; the loop calls `loop_read`, `loop_write` and, every second,
`loop_misc` (keepalive pings); it reconnects a lost client itself with backoff (1 s doubling to 30 s, ±20 %).
Selector changes asked for by other threads (a `publish()` that makes a socket writable) are queued and the
loop is woken through a socket pair, so only the loop thread touches the selector.

Shared by the agent and the station (it imports nothing of either).
"""
from __future__ import annotations

import logging
import random
import selectors
import socket
import threading
import time
from typing import Any

log = logging.getLogger("loa.mqtt.loop")


class _Entry:
    __slots__ = ("client", "host", "port", "keepalive", "sock", "retry_at", "delay", "active", "opened_at")

    def __init__(self, client: Any, host: str, port: int, keepalive: int) -> None:
        self.client, self.host, self.port, self.keepalive = client, host, port, keepalive
        self.sock: socket.socket | None = None
        self.retry_at = 0.0
        self.delay = 1.0
        self.active = True
        self.opened_at = 0.0


class MqttLoop:
    def __init__(self, min_delay: float = 1.0, max_delay: float = 30.0, connects_per_tick: int = 200) -> None:
        self.min_delay, self.max_delay, self.connects_per_tick = min_delay, max_delay, connects_per_tick
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._entries: dict[int, _Entry] = {}  # id(client) → entry
        self._ops: list[tuple[str, Any, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- public ----------------------------------------------------------------------------------------------
    def add(self, client: Any, host: str, port: int, keepalive: int = 60) -> None:
        """Connect `client` (soon, on the loop thread) and keep it connected until `remove`."""
        entry = _Entry(client, host, port, keepalive)
        client.on_socket_open = lambda c, u, s: self._op("open", entry, s)
        client.on_socket_close = lambda c, u, s: self._op("close", entry, s)
        client.on_socket_register_write = lambda c, u, s: self._op("write", entry, s)
        client.on_socket_unregister_write = lambda c, u, s: self._op("nowrite", entry, s)
        self._op("add", entry, None)
        self.start()

    def remove(self, client: Any, disconnect: bool = True) -> None:
        entry = self._entries.get(id(client))
        if entry is not None:
            self._op("remove", entry, disconnect)

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="loa-mqtt-loop", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect every client and end the thread."""
        for entry in list(self._entries.values()):
            self._op("remove", entry, True)
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def connected(self) -> int:
        return sum(1 for e in self._entries.values() if e.client.is_connected())

    # -- plumbing --------------------------------------------------------------------------------------------
    def _op(self, kind: str, entry: _Entry, arg: Any) -> None:
        if threading.current_thread() is self._thread:
            self._apply(kind, entry, arg)  # paho calls back from inside loop_read/loop_write: act at once
            return
        with self._lock:
            first = not self._ops
            self._ops.append((kind, entry, arg))
        if first:  # otherwise a wake-up is already on its way, and the loop takes every queued op at once
            self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the loop is awake anyway

    def _watch(self, entry: _Entry, write: bool) -> None:
        if entry.sock is None:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
        try:
            self._sel.modify(entry.sock, events, entry)
        except (KeyError, ValueError, OSError):
            pass

    def _apply(self, kind: str, entry: _Entry, arg: Any) -> None:
        if kind == "add":
            self._entries[id(entry.client)] = entry
        elif kind == "open":
            self._forget_socket(entry)
            entry.sock, entry.opened_at = arg, time.monotonic()
            try:
                self._sel.register(arg, selectors.EVENT_READ, entry)
            except (KeyError, ValueError, OSError):
                entry.sock = None
        elif kind == "close":
            if entry.sock is arg:
                self._forget_socket(entry)
                now = time.monotonic()
                # a connection that lived a while was fine: retry soon; one that died at once (refused, kicked
                # by a client with the same id) backs off, so two such clients do not fight every second
                entry.delay = self.min_delay if now - entry.opened_at > self.max_delay else min(
                    self.max_delay, entry.delay * 2)
                entry.retry_at = now + entry.delay * random.uniform(0.8, 1.2)
        elif kind == "write":
            self._watch(entry, True)
        elif kind == "nowrite":
            self._watch(entry, False)
        elif kind == "remove":
            entry.active = False
            self._entries.pop(id(entry.client), None)
            if arg and entry.client.is_connected():
                try:
                    entry.client.disconnect()
                    entry.client.loop_write()  # flush the DISCONNECT packet
                except Exception:  # noqa: BLE001
                    pass
            self._forget_socket(entry)

    def _forget_socket(self, entry: _Entry) -> None:
        if entry.sock is not None:
            try:
                self._sel.unregister(entry.sock)
            except (KeyError, ValueError, OSError):
                pass
            entry.sock = None

    def _drain(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        with self._lock:
            ops, self._ops = self._ops, []
        for kind, entry, arg in ops:
            self._apply(kind, entry, arg)

    def _connect_due(self, now: float) -> None:
        budget = self.connects_per_tick  # a thousand clients connect over a few ticks, not in one long stall
        for entry in list(self._entries.values()):
            if budget <= 0:
                break
            if not entry.active or entry.sock is not None or now < entry.retry_at:
                continue
            budget -= 1
            try:
                entry.client.connect(entry.host, entry.port, entry.keepalive)  # on_socket_open registers it
            except (OSError, ValueError) as exc:
                log.debug("MQTT connect to %s:%s failed: %r", entry.host, entry.port, exc)
                entry.retry_at = now + entry.delay * random.uniform(0.8, 1.2)
                entry.delay = min(self.max_delay, entry.delay * 2)

    def _run(self) -> None:
        last_misc = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            self._drain()
            self._connect_due(now)
            for key, mask in self._sel.select(timeout=0.25):
                entry = key.data
                if entry is None:
                    continue  # the wake-up pipe: drained next turn
                if mask & selectors.EVENT_READ and entry.sock is not None:
                    entry.client.loop_read()
                if mask & selectors.EVENT_WRITE and entry.sock is not None:
                    entry.client.loop_write()
            if now - last_misc >= 1.0:
                last_misc = now
                for entry in list(self._entries.values()):
                    if entry.sock is not None:
                        entry.client.loop_misc()  # keepalive; notices a dead connection
        self._drain()
        for entry in list(self._entries.values()):
            self._forget_socket(entry)
