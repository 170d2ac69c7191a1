"""The interchange over HTTP(S) (docs/interchange.md). Thin: the signature is the peer's authentication, checked
in broadcaster/interchange; admins register peers with their user login (api/deps.py)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Body, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import Auth, Context
from api.errors import responses
from broadcaster.interchange import envelope, errors, outbox, peers
from broadcaster.interchange.errors import Refused
from broadcaster.interchange.models import SharedAudio
from loa.db import session_scope

router = APIRouter(prefix="/api/interchange/v1", tags=["interchange"])
admin_router = APIRouter(prefix="/api/v1/interchange", tags=["interchange"])
R = responses
Sha256 = Path(pattern="^[0-9a-f]{64}$")


@router.get("/identity")
def identity(request: Request) -> dict[str, str]:
    """This station's id and public key, for the other station's admin to pin (read it out; nothing is trusted
    from here automatically)."""
    return request.app.state.interchange.me.public_info()


@router.post("/messages", responses=R(401, 403, 409, 422, 503))
def receive_message(request: Request, background: BackgroundTasks,
                    envelope_in: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """A signed message from a registered peer; the reply is this station's signed receipt."""
    st = request.app.state
    return st.interchange.receive(envelope_in, st.clock(), defer=background.add_task)


@router.get("/audio/{sha256}", response_class=FileResponse, responses=R(401, 403, 404))
def audio(request: Request, sha256: str = Sha256):
    """A bulletin's audio, for a peer whose outbox holds that bulletin (signed request headers)."""
    st = request.app.state
    station = envelope.request_station(request.headers)
    with session_scope(st.engine) as s:
        peer = peers.find_enabled(s, station)
        if peer is None:
            raise errors.unknown_peer(station)
        envelope.verify_request("GET", request.url.path, request.headers, peer.keys, st.clock(),
                                st.settings.interchange_clock_skew_s)
        shared = s.get(SharedAudio, (peer.id, sha256)) is not None
    store = st.interchange.store
    if not shared or not store.exists(sha256):
        raise Refused("interchange_audio_not_found", 404, "Không có âm thanh này cho đài của bạn",
                      "No such audio for your station")
    return FileResponse(store.path_for(sha256), media_type="application/octet-stream")


class PeerIn(BaseModel):
    station_id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    role: str = Field(pattern="^(upper|lower)$", description="upper: the station above us; lower: a commune station")
    base_url: str = Field(min_length=8, max_length=500)
    public_key: str = Field(min_length=40, max_length=100, description="base64 raw Ed25519 public key")
    communes: list[str] = Field(default_factory=list, max_length=5000, description="lower: its commune codes")


class KeyIn(BaseModel):
    public_key: str = Field(min_length=40, max_length=100)


@admin_router.get("/peers", responses=R(401, 403))
def list_peers(principal: Auth, ctx: Context) -> list[dict[str, Any]]:
    with session_scope(ctx.engine) as s:
        return [peers.describe(p) for p in peers.list_all(s, principal)]


@admin_router.post("/peers", status_code=201, responses=R(401, 403, 409, 422))
def register_peer(body: PeerIn, principal: Auth, ctx: Context) -> dict[str, Any]:
    with session_scope(ctx.engine) as s:
        peer = peers.register(s, principal, station_id=body.station_id, name=body.name, role=body.role,
                              base_url=body.base_url, public_key=body.public_key, communes=body.communes, now=ctx.now)
        outbox.ensure_pump(s, ctx.now)
        return peers.describe(peer)


@admin_router.post("/peers/{station_id}/keys", responses=R(401, 403, 404, 422))
def add_peer_key(station_id: str, body: KeyIn, principal: Auth, ctx: Context) -> dict[str, Any]:
    with session_scope(ctx.engine) as s:
        peers.add_key(s, principal, station_id, body.public_key, ctx.now)
        return peers.describe(peers.get(s, station_id))


class CommunesIn(BaseModel):
    communes: list[str] = Field(min_length=1, max_length=5000)


@admin_router.put("/peers/{station_id}/communes", responses=R(401, 403, 404, 422))
def set_peer_communes(station_id: str, body: CommunesIn, principal: Auth, ctx: Context) -> dict[str, Any]:
    with session_scope(ctx.engine) as s:
        return peers.describe(peers.set_communes(s, principal, station_id, body.communes, ctx.now))


@admin_router.post("/peers/{station_id}/disable", responses=R(401, 403, 404))
def disable_peer(station_id: str, principal: Auth, ctx: Context) -> dict[str, Any]:
    with session_scope(ctx.engine) as s:
        return peers.describe(peers.disable(s, principal, station_id, ctx.now))


@admin_router.get("/outbox", responses=R(401, 403))
def outbox_summary(principal: Auth, ctx: Context) -> list[dict[str, Any]]:
    principal.require_admin()
    with session_scope(ctx.engine) as s:
        return outbox.summary(s)
