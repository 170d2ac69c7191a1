"""The device protocol's fast path: the two requests every device makes in bulk, answered on the event loop,
before FastAPI.

- `GET /api/device/v1/manifest`: most are a device asking "still version X?" and the answer is `304`.
- `GET /api/device/v1/audio/{sha256}` (whole file, no Range): after an emergency every device of the commune
  fetches the same new file at once.
- `POST /api/device/v1/heartbeat` and `POST /api/device/v1/plays`: every device, every 5 minutes. Here only the
  framework's share is skipped (routing over ~300 routes, middleware layers, dependency solving, a second thread
  hop): the body is parsed and validated as FastAPI does (`json.loads`, then the route's model), and the reply is
  the route's own, from the same function (api/devices/beats.py), with the headers the full stack adds. A body
  that is not JSON, not valid, too big or of another content type, or any error, goes to the route: the body
  read here is handed on unchanged. An error inside the function rolls its transaction back before the route
  runs it again (both are safe to repeat: a device resends them after any lost reply).

The device's identity comes from the process's identity cache (broadcaster/station/identities.py); on a miss
one indexed lookup runs in a worker thread and fills it. Its manifest must be in the manifest cache for its
current source (timetable version, sound, day, key, standby set). Audio is served from memory only when this
process granted the hash to the device (`manifest_cache.GrantCache`: a manifest it stored, a start command's files,
each written to the database first) or the cached manifest lists it (the grant the route checks in the database
is a superset: recent manifests too, other replicas) and the file is small; files are immutable (named by their hash), so the memory copy cannot go stale. Anything else (unknown
or revoked token, no cached manifest, a new day, a Range request, a big file) falls through to the regular
routes, which are the truth and fill the caches. The replies are byte-for-byte those of the routes."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.devices import beats
from api.devices.middleware import _millis as millis
from api.devices.schemas import HeartbeatIn, PlaysIn
from api.devices.station import Station
from api.security_headers import FAST_PATH_HEADERS, add_security_headers
from broadcaster.protocol.wire import API_PREFIX, SERVER_TIME_HEADER, is_sha256
from broadcaster.station import deviceauth, manifests
from broadcaster.station.secrets import TOKEN_PREFIX
from loa.errors import Unauthenticated

MANIFEST = API_PREFIX + "/manifest"
AUDIO = API_PREFIX + "/audio/"
# POST path → (the route's body model, the route's function): api/devices/protocol.py
POSTS: dict[str, tuple[type[BaseModel], Callable[..., Any]]] = {
    API_PREFIX + "/heartbeat": (HeartbeatIn, beats.heartbeat),
    API_PREFIX + "/plays": (PlaysIn, beats.upload_plays),
}
_PREFIX = b"bearer " + TOKEN_PREFIX.encode()
MEDIA_TYPES = {".ogg": b"audio/ogg", ".mp3": b"audio/mpeg"}


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header == etag:  # what devices send: the one ETag they hold
        return True
    return any(t.strip().removeprefix("W/") == etag for t in header.split(",")) or header.strip() == "*"


class SmallFiles:
    """sha256 → (bytes, media type) of small audio files, least recently used out first, bounded in bytes."""

    def __init__(self, max_file: int = 2 * 1024 * 1024, max_total: int = 64 * 1024 * 1024) -> None:
        self.max_file, self.max_total = max_file, max_total
        self._data: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def cached(self, sha256: str) -> tuple[bytes, bytes] | None:
        """A memory hit only (no disk): cheap enough for the event loop itself."""
        with self._lock:
            hit = self._data.get(sha256)
            if hit is not None:
                self._data.move_to_end(sha256)
            return hit

    def get(self, audio_dir, sha256: str) -> tuple[bytes, bytes] | None:  # noqa: ANN001
        hit = self.cached(sha256)
        if hit is not None:
            return hit
        from content.store import AudioStore, StoreError

        try:
            path = AudioStore(audio_dir).path_for(sha256)
            if path.stat().st_size > self.max_file:
                return None
            data = path.read_bytes()
        except (StoreError, OSError):
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            return None  # a damaged store file: the route decides what to do
        entry = (data, MEDIA_TYPES.get(path.suffix, b"application/octet-stream"))
        with self._lock:
            if sha256 not in self._data:
                self._data[sha256] = entry
                self._total += len(data)
                while self._total > self.max_total and self._data:
                    _, (old, _) = self._data.popitem(last=False)
                    self._total -= len(old)
        return entry


class DeviceFastPath:
    """Called by `api.app.StationApp` before FastAPI itself (api/devices/setup.py): the replies it makes skip the
    framework's layers (error page, telemetry, body limits), so it adds the clock header (§9) itself, and any
    exception before a reply started hands the request to the full stack (`app`)."""

    def __init__(self, app: ASGIApp, station: Station, security_headers: bool = False) -> None:
        self.app, self.station = app, station
        # the full stack adds the security headers (api.app.StationApp; a plain FastAPI does not): a heartbeat
        # or plays reply made here carries what the route's would
        self.security_headers = security_headers
        self.files = SmallFiles()
        self.time_header = SERVER_TIME_HEADER.lower().encode()
        self._bound: tuple | None = None

    def _bind(self) -> tuple:
        """The station's parts, looked up once: they are set when the app is built and never replaced (one tuple
        unpacking instead of four attribute lookups, on the path of every request)."""
        st = self.station
        self._bound = (st.clock, st.identities, st.context, st.engine, st.settings.max_json_bytes)
        return self._bound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if scope.get("method") == "POST" and path in POSTS:
            await self._post(scope, receive, send, path)
            return
        if scope.get("method") != "GET" or (path != MANIFEST and not path.startswith(AUDIO)):
            await self.app(scope, receive, send)
            return
        started = False
        clock = (self._bound or self._bind())[0]

        async def stamped(message) -> None:  # noqa: ANN001
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"].append((self.time_header, millis(clock()).encode()))
                message["headers"].extend(FAST_PATH_HEADERS)  # constant bytes (api/security_headers.py)
            await send(message)

        try:
            if await self._fast(scope, stamped, path):
                return
        except Exception:  # noqa: BLE001 — the full stack answers (and reports) whatever went wrong
            if started:
                raise
        await self.app(scope, receive, send)

    async def _identity(self, headers: dict[bytes, bytes]):  # noqa: ANN202
        """The device of a well-formed device token, from the identity cache (one lookup on a miss); None: the
        route decides (no or another kind of token, unknown, revoked)."""
        auth = headers.get(b"authorization")
        _, cache, _, engine, _ = self._bound or self._bind()
        if cache is None or auth is None or auth[:len(_PREFIX)].lower() != _PREFIX:
            return None
        if cache.due():
            cache.changes(engine)  # at most once per recheck_s: other replicas' changes
        token = auth[7:].strip()
        token_hash = hashlib.sha256(token).hexdigest()
        ident = cache.get(token_hash)
        if ident is None:
            ident = await anyio.to_thread.run_sync(self._lookup, cache, token, token_hash)
        return ident

    async def _post(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """A heartbeat or a plays upload; whatever is not answered here goes to the full stack with the request
        messages read so far replayed first."""
        read: list[Message] = []
        started = False
        clock = (self._bound or self._bind())[0]

        async def stamped(message: Message) -> None:
            # what the full stack adds to the route's reply: the clock sample (ServerTime), then the security
            # headers (StationApp.full_stack); uvicorn adds date and server to both
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (self.time_header, millis(clock()).encode())]
                if self.security_headers:
                    add_security_headers(message, path)
            await send(message)

        try:
            if await self._fast_post(scope, receive, stamped, path, read):
                return
        except Exception:  # noqa: BLE001 — the full stack answers (and reports) whatever went wrong
            if started:
                raise
        pending = list(read)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)

    async def _fast_post(self, scope: Scope, receive: Receive, send: Send, path: str, read: list[Message]) -> bool:
        """True if answered here; False: the full stack must answer (nothing was sent; `read` holds the request
        messages taken from `receive`)."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of repeated headers, as the route's `request.headers` reads
        if headers.get(b"content-type") != b"application/json":
            return False  # FastAPI's own rules for other (or no) content types
        try:
            length = int(headers.get(b"content-length", b""))
        except ValueError:
            return False
        if length > (self._bound or self._bind())[4]:
            return False  # BodyLimit's 413
        ident = await self._identity(headers)
        if ident is None:
            return False
        chunks: list[bytes] = []
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                return False
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            model, handler = POSTS[path]
            body = model.model_validate(json.loads(b"".join(chunks)))  # as FastAPI: json.loads, then the model
        except (ValueError, ValidationError):  # (JSONDecodeError and UnicodeDecodeError are ValueErrors)
            return False
        reply = await anyio.to_thread.run_sync(handler, self.station, ident, body)
        if isinstance(reply, BaseModel):  # the route's response_model, serialized as FastAPI does
            reply = JSONResponse(reply.model_dump(mode="json"))
        await reply(scope, receive, send)
        return True

    async def _fast(self, scope: Scope, send: Send, path: str) -> bool:
        """True if answered here; False: the full stack must answer (nothing was sent)."""
        headers = dict(scope["headers"])  # one value each is all the fast path needs
        clock, _, ctx, _, _ = self._bound or self._bind()
        if b"range" in headers:
            return False
        ident = await self._identity(headers)
        if ident is None:
            return False
        if path == MANIFEST:
            entry = manifests.cached_for(ctx, ident, clock())
            if entry is None:
                return False
            await self._manifest(entry, headers.get(b"if-none-match"), send)
            return True
        sha = path[len(AUDIO):]
        if not is_sha256(sha) or b"if-none-match" in headers or not self._granted(ctx, ident, sha):
            return False
        # After an emergency every device fetches the same file: answered from memory on the loop, without a
        # hop to a worker thread (a thousand hops cost more than the replies); only a miss reads the disk there.
        hit = self.files.cached(sha) or await anyio.to_thread.run_sync(self.files.get, ctx.audio_dir, sha)
        if hit is None:
            return False
        data, media_type = hit
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"etag", f'"{sha}"'.encode()), (b"cache-control", b"private, max-age=31536000, immutable"),
            (b"accept-ranges", b"bytes"), (b"content-length", str(len(data)).encode()),
            (b"content-type", media_type)]})
        await send({"type": "http.response.body", "body": data})
        return True

    def _granted(self, ctx, ident, sha: str) -> bool:  # noqa: ANN001
        """This process granted the file to this device (a manifest it stored, a start command), or its cached
        manifest lists it. Else the route asks the database (another replica's grant) or refuses."""
        grants = ctx.grants
        if grants is not None and grants.allows(ident.device_id, sha, (self._bound or self._bind())[0]()):
            return True
        entry = manifests.cached_for(ctx, ident, (self._bound or self._bind())[0]())
        return entry is not None and sha in entry.hashes

    def _lookup(self, cache, token: bytes, token_hash: str):  # noqa: ANN001, ANN202
        """On a worker thread: the one indexed lookup, cached. None (→ the route answers) for unknown, revoked
        or odd tokens: errors are the route's business."""
        started = cache.monotonic()
        try:
            with (self._bound or self._bind())[3].connect() as conn:
                ident = deviceauth.resolve(conn, "Bearer " + token.decode("ascii"))
        except (Unauthenticated, UnicodeDecodeError):
            return None
        cache.put(token_hash, ident, loaded_at=started)
        return ident

    @staticmethod
    async def _manifest(entry, inm: bytes | None, send: Send) -> None:  # noqa: ANN001
        etag = entry.etag.encode()
        headers = [(b"etag", etag), (b"cache-control", b"no-cache")]
        if inm is not None and etag_matches(inm.decode("latin-1"), entry.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(entry.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})
