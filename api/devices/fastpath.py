"""The manifest's fast path: `GET /api/device/v1/manifest` answered on the event loop, before FastAPI.

Most manifest requests are a device asking "still version X?" and the answer is `304`. When the device's
identity is in the process's identity cache (broadcaster/station/identities.py) and its manifest in the
manifest cache for the same source (timetable version, sound, day, key), this middleware answers at once:
no thread hop, no dependency resolution, no database query. Anything else (unknown or expired token, a
revoked device, no cached manifest, a new day) falls through to the regular route, which is the truth and
fills both caches. The replies are byte-for-byte those of the route (ETag, Cache-Control, body)."""
from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Receive, Scope, Send

from broadcaster.protocol.wire import API_PREFIX
from broadcaster.station import manifests
from broadcaster.station.secrets import TOKEN_PREFIX

PATH = API_PREFIX + "/manifest"
_PREFIX = b"bearer " + TOKEN_PREFIX.encode()


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return any(t.strip().removeprefix("W/") == etag for t in header.split(",")) or header.strip() == "*"


class ManifestFastPath:
    def __init__(self, app: ASGIApp, state) -> None:  # noqa: ANN001 — the FastAPI app.state
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        auth = inm = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"if-none-match":
                inm = value
        st = self.state
        cache = getattr(st, "identities", None)
        if cache is None or auth is None or auth[:len(_PREFIX)].lower() != _PREFIX:
            await self.app(scope, receive, send)
            return
        if cache.due():
            cache.changes(st.engine)  # at most once per recheck_s: other replicas' changes
        ident = cache.get(hashlib.sha256(auth[7:].strip()).hexdigest())
        entry = manifests.cached_for(st.broadcaster, ident, st.clock()) if ident is not None else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        etag = entry.etag.encode()
        headers = [(b"etag", etag), (b"cache-control", b"no-cache")]
        if inm is not None and etag_matches(inm.decode("latin-1"), entry.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(entry.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})
