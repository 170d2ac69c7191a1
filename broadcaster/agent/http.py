"""The agent's HTTP/1.1 client, on the standard library's `http.client`.

Why not httpx (which the agent used first): a village box makes few requests, but when an emergency comes all of
them at once matter, and on small ARM boards every millisecond of CPU is latency. Measured on the 2-core
development machine against a local server: httpx spent 455 us of CPU per keep-alive GET, `http.client` 93 us.
The agent also no longer needs httpx's stack (httpcore, h11, anyio, sniffio, idna, certifi) on a box of its own.

What the agent needs, and all this module does:
- keep-alive connections to one station, a small pool (the network thread and the SSE listener each hold one);
- a reused connection the server closed while idle is retried once on a fresh one, before any reply was read
  (what urllib3 and httpx do too); every other failure is a `TransportError` for the caller's retry policy;
- connect and read timeouts; TLS with the system's trust store for `https://` stations;
- streamed bodies (audio is written as it arrives) and SSE lines;
- a `Transport` seam: the simulation harness wraps it to drop or delay requests, a benchmark to count bytes.
The request is written exactly as `Request.headers` lists it (no header added behind the caller's back).
"""
from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from broadcaster.agent.errors import AgentError

CHUNK = 64 * 1024


class TransportError(AgentError):
    """No usable reply: refused, reset, timed out, unreachable, or a reply that is not HTTP (retryable)."""

    retryable = True

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self._describe("transport_failed", f"Không nhận được trả lời từ đài: {detail} / "
                                           f"No usable reply from the station: {detail}")


class Headers(Mapping[str, str]):
    """Header lines in order (`raw`), looked up without regard to case; as a mapping its keys are lower case."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self.raw: list[tuple[str, str]] = list(items or [])
        self._index: dict[str, str] = {}
        for k, v in self.raw:
            self._index.setdefault(k.lower(), v)

    def get(self, name: str, default: Any = None) -> Any:
        return self._index.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


@dataclass
class Request:
    method: str
    url: str                          # absolute: scheme://host[:port]/path?query
    headers: list[tuple[str, str]]    # exactly what goes on the wire (Host included)
    body: bytes | None = None
    read_timeout: float = 30.0

    @property
    def target(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class Response:
    """A reply whose body is read on demand: `read()`/`content`/`json()` for all of it, `iter_raw()` and
    `iter_lines()` as it arrives. `close()` gives the connection back (or drops it) — always call it, or read
    the body to its end."""

    def __init__(self, status_code: int, reason_phrase: str, headers: Headers,
                 stream: Iterator[bytes] | None = None, on_close: Callable[[], None] | None = None,
                 content: bytes | None = None, on_read_timeout: Callable[[float], None] | None = None) -> None:
        self.status_code, self.reason_phrase, self.headers = status_code, reason_phrase, headers
        self._stream = stream
        self._on_close = on_close
        self._on_read_timeout = on_read_timeout
        self._content = content
        self.closed = False

    @classmethod
    def of(cls, status_code: int, content: bytes = b"", headers: list[tuple[str, str]] | None = None,
           reason_phrase: str = "") -> Response:
        """A finished reply (tests, and transports that answer without the network)."""
        return cls(status_code, reason_phrase or http.client.responses.get(status_code, ""), Headers(headers),
                   content=content)

    def iter_raw(self) -> Iterator[bytes]:
        if self._content is not None:
            if self._content:
                yield self._content
            self.close()
            return
        try:
            for chunk in self._stream or ():
                yield chunk
        finally:
            self.close()

    def set_read_timeout(self, seconds: float) -> None:
        """How long each further read of the body may wait for bytes (the request's `read_timeout` until then):
        a live stream waits longer for its first bytes than between two of them (sinks.py)."""
        if self._on_read_timeout is not None and not self.closed:
            self._on_read_timeout(seconds)

    def read(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_raw())
        return self._content

    @property
    def content(self) -> bytes:
        return self.read()

    def json(self) -> Any:
        return json.loads(self.read())

    def iter_lines(self) -> Iterator[str]:
        pending = b""
        for chunk in self.iter_raw():
            pending += chunk
            while True:
                cut = pending.find(b"\n")
                if cut < 0:
                    break
                line, pending = pending[:cut], pending[cut + 1:]
                yield line.rstrip(b"\r").decode("utf-8", "replace")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", "replace")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._on_close is not None:
                self._on_close()


class Transport(Protocol):
    def handle(self, request: Request) -> Response: ...

    def close(self) -> None: ...


@dataclass
class _Conn:
    http: http.client.HTTPConnection
    used: int = 0  # requests made on it: a reused one may have been closed by the server while idle


@dataclass
class HttpTransport:
    """Keep-alive connections to the hosts it is asked for, at most `pool` idle ones kept per host."""

    connect_timeout: float = 10.0
    pool: int = 4
    ssl_context: ssl.SSLContext | None = None
    _idle: dict[tuple[str, str, int], list[_Conn]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"not an http(s) URL: {request.url!r}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        conn = self._take(key)
        try:
            return self._exchange(key, conn, request)
        except _Stale:
            conn.http.close()
            return self._exchange(key, self._new(key), request)  # once, on a fresh connection

    # -- connections --------------------------------------------------------------------------------------
    def _take(self, key: tuple[str, str, int]) -> _Conn:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        return self._new(key)

    def _new(self, key: tuple[str, str, int]) -> _Conn:
        scheme, host, port = key
        if scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            return _Conn(http.client.HTTPSConnection(host, port, timeout=self.connect_timeout, context=context))
        return _Conn(http.client.HTTPConnection(host, port, timeout=self.connect_timeout))

    def _give_back(self, key: tuple[str, str, int], conn: _Conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.pool:
                idle.append(conn)
                return
        conn.http.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.http.close()

    # -- one exchange -------------------------------------------------------------------------------------
    def _exchange(self, key: tuple[str, str, int], conn: _Conn, request: Request) -> Response:
        reused = conn.used > 0
        conn.used += 1
        h = conn.http
        try:
            fresh = h.sock is None
            if fresh:
                h.connect()
                h.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            h.sock.settimeout(request.read_timeout)
            sock = h.sock  # the body reads from it even after http.client lets go of it (a reply that closes)
            h.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers:
                h.putheader(name, value)
            h.endheaders(request.body)
            reply = h.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                ConnectionAbortedError) as exc:
            h.close()
            if reused:
                raise _Stale() from exc
            raise TransportError(repr(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, unreachable, timeout, TLS, bad reply
            h.close()
            raise TransportError(repr(exc)) from exc
        headers = Headers(reply.getheaders())
        done = complete = False

        def finish() -> None:
            nonlocal done
            if done:
                return
            done = True
            reply.close()  # the reply's file, not the socket (http.client needs it closed before the next one)
            if complete and not reply.will_close:
                self._give_back(key, conn)  # body read to its end on a keep-alive connection
            else:
                h.close()

        def body() -> Iterator[bytes]:
            nonlocal done, complete
            try:
                while True:
                    chunk = reply.read1(CHUNK)
                    if chunk:
                        yield chunk
                        continue
                    if reply.length:  # http.client returns b"" when the peer hangs up early: not the end
                        raise http.client.IncompleteRead(b"", reply.length)
                    complete = True
                    return
            except (OSError, http.client.HTTPException) as exc:
                done = True  # the connection is gone, never given back
                reply.close()
                h.close()
                raise TransportError(repr(exc)) from exc

        if request.method == "HEAD" or reply.status in (204, 304) or reply.length == 0:
            reply.read()
            complete = True
            finish()
            return Response(reply.status, reply.reason, headers, content=b"")
        def set_timeout(seconds: float) -> None:
            with contextlib.suppress(OSError):  # already gone: the next read says so
                sock.settimeout(seconds)

        return Response(reply.status, reply.reason, headers, stream=body(), on_close=finish,
                        on_read_timeout=set_timeout)


class _Stale(Exception):
    """A reused keep-alive connection the server had closed: retried on a fresh one."""
