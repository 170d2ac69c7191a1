"""Registering peers: only an admin pins another station's key and address (CLI `loa interchange peer-add`, or
POST /api/v1/interchange/peers). A message from a station nobody registered is refused, never adopted."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from broadcaster.interchange.models import LOWER, UPPER, InterchangePeer
from broadcaster.protocol.wire import b64decode, key_id_for
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from schedules.tables import saved_id

_STATION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def parse_public_key(text: str) -> tuple[str, str]:
    """(key_id, base64) of a base64 raw Ed25519 public key, as `loa interchange identity` prints it."""
    try:
        raw = b64decode(text.strip())
        return key_id_for(raw), text.strip()
    except (ValueError, TypeError) as exc:
        raise Invalid("interchange_public_key_invalid", "Khóa công khai phải là 32 byte Ed25519 dạng base64",
                      "The public key must be 32 raw Ed25519 bytes in base64") from exc


def _check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise Invalid("interchange_url_invalid", "Địa chỉ đài phải dạng https://tram.example.vn",
                      "The station address must look like https://station.example.vn")
    return url


def register(session: Session, actor: Principal, *, station_id: str, name: str, role: str, base_url: str,
             public_key: str, now: datetime, communes: list[str] | None = None) -> InterchangePeer:
    actor.require_admin()
    if not _STATION_RE.match(station_id):
        raise Invalid("interchange_station_id_invalid", "Mã đài chỉ gồm chữ thường, số, . _ - (tối đa 64)",
                      "A station id is lowercase letters, digits, . _ - (64 at most)")
    if role not in (UPPER, LOWER):
        raise Invalid("interchange_role_invalid", "Vai trò phải là upper (đài cấp trên) hoặc lower (đài cấp dưới)",
                      "The role must be upper (the station above) or lower (a station below)")
    codes = sorted({c.strip() for c in communes or [] if c.strip()})
    if role == LOWER and not codes:
        raise Invalid("interchange_communes_required", "Đài cấp dưới cần danh sách mã xã nó phụ trách",
                      "A lower station needs the codes of the communes it runs")
    if role == UPPER and session.exec(select(InterchangePeer).where(InterchangePeer.role == UPPER,
                                                                   InterchangePeer.enabled)).first():
        raise Conflict("interchange_upper_exists", "Đài đã có một đài cấp trên", "This station already has an "
                       "upper station")
    if session.exec(select(InterchangePeer).where(InterchangePeer.station_id == station_id)).first():
        raise Conflict("interchange_peer_exists", f"Đài {station_id} đã được đăng ký",
                       f"Station {station_id} is already registered")
    key_id, key = parse_public_key(public_key)
    peer = InterchangePeer(station_id=station_id, name=name.strip() or station_id, role=role,
                           base_url=_check_url(base_url), keys={key_id: key}, communes=codes, created_at=now)
    session.add(peer)
    session.flush()
    audit.record(session, actor, "interchange.peer_registered", "interchange_peer", peer.id, now,
                 station_id=station_id, role=role, key_id=key_id, base_url=peer.base_url, communes=codes or None)
    return peer


def get(session: Session, station_id: str) -> InterchangePeer:
    peer = session.exec(select(InterchangePeer).where(InterchangePeer.station_id == station_id)).first()
    if peer is None:
        raise NotFound("interchange_peer_not_found", f"Không có đài {station_id}", f"No peer {station_id}")
    return peer


def find_enabled(session: Session, station_id: str) -> InterchangePeer | None:
    peer = session.exec(select(InterchangePeer).where(InterchangePeer.station_id == station_id)).first()
    return peer if peer is not None and peer.enabled else None


def add_key(session: Session, actor: Principal, station_id: str, public_key: str, now: datetime) -> str:
    """Pin one more key (the peer rotated): both verify until the old one is removed."""
    actor.require_admin()
    peer = get(session, station_id)
    key_id, key = parse_public_key(public_key)
    peer.keys = {**peer.keys, key_id: key}
    session.add(peer)
    audit.record(session, actor, "interchange.peer_key_added", "interchange_peer", peer.id, now, key_id=key_id)
    return key_id


def set_base_url(session: Session, actor: Principal, station_id: str, base_url: str, now: datetime) -> InterchangePeer:
    """The peer moved (a new address or a proxy in front of it): its key stays pinned."""
    actor.require_admin()
    peer = get(session, station_id)
    peer.base_url = _check_url(base_url)
    session.add(peer)
    audit.record(session, actor, "interchange.peer_moved", "interchange_peer", peer.id, now, base_url=peer.base_url)
    return peer


def set_communes(session: Session, actor: Principal, station_id: str, communes: list[str],
                 now: datetime) -> InterchangePeer:
    """A lower station now runs these communes (one more joined it, one left)."""
    actor.require_admin()
    peer = get(session, station_id)
    codes = sorted({c.strip() for c in communes if c.strip()})
    if peer.role != LOWER or not codes:
        raise Invalid("interchange_communes_required", "Chỉ đài cấp dưới có danh sách xã, và không được rỗng",
                      "Only a lower station has communes, and the list cannot be empty")
    peer.communes = codes
    session.add(peer)
    audit.record(session, actor, "interchange.peer_communes", "interchange_peer", peer.id, now, communes=codes)
    return peer


def disable(session: Session, actor: Principal, station_id: str, now: datetime) -> InterchangePeer:
    """Stop trusting a peer: its messages are refused and nothing more is sent to it (rows stay for the record)."""
    actor.require_admin()
    peer = get(session, station_id)
    peer.enabled = False
    session.add(peer)
    audit.record(session, actor, "interchange.peer_disabled", "interchange_peer", peer.id, now)
    return peer


def list_all(session: Session, actor: Principal) -> list[InterchangePeer]:
    actor.require_admin()
    return list(session.exec(select(InterchangePeer).order_by(InterchangePeer.station_id)))


def serving(session: Session, commune_codes: list[str]) -> dict[int, list[str]]:
    """Which enabled lower peers run which of these communes: {peer id: [codes]} (the rest are local)."""
    wanted = set(commune_codes)
    out: dict[int, list[str]] = {}
    for peer in session.exec(select(InterchangePeer).where(InterchangePeer.role == LOWER, InterchangePeer.enabled)):
        mine = sorted(wanted & set(peer.communes))
        if mine:
            out[saved_id(peer)] = mine
    return out


def upper(session: Session) -> InterchangePeer | None:
    return session.exec(select(InterchangePeer).where(InterchangePeer.role == UPPER,
                                                      InterchangePeer.enabled)).first()


def describe(peer: InterchangePeer) -> dict[str, Any]:
    """What an admin sees of a peer (CLI and API): never more than its public keys' ids."""
    return {"station_id": peer.station_id, "name": peer.name, "role": peer.role, "base_url": peer.base_url,
            "key_ids": sorted(peer.keys), "communes": peer.communes, "enabled": peer.enabled,
            "failures": peer.failures, "next_attempt_at": peer.next_attempt_at, "last_error": peer.last_error,
            "last_delivery_at": peer.last_delivery_at, "last_received_at": peer.last_received_at}
