"""Relay streams: the system admin keeps the list; a commune's members see the enabled streams offered to
their commune. Every change is audited."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Commune
from schedules.streams.models import KINDS, RelayStream
from schedules.streams.sample import stream_address
from schedules.streams.urls import check_resolved, check_url


def _missing() -> NotFound:
    return NotFound("stream_not_found", "Không tìm thấy luồng tiếp sóng", "Relay stream not found")


def _clean_name(session: Session, name: str, stream_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Invalid("stream_name_missing", "Hãy đặt tên cho luồng (ví dụ VOV1)", "Give the stream a name (e.g. VOV1)")
    if len(name) > 120:
        raise Invalid("stream_name_long", "Tên luồng dài quá 120 ký tự", "The name is longer than 120 characters")
    same = session.exec(select(RelayStream).where(RelayStream.name == name)).first()
    if same is not None and same.id != stream_id:
        raise Conflict("stream_name_taken", "Đã có luồng mang tên này", "A stream with that name exists")
    return name


def _check_commune(session: Session, commune_id: int | None) -> None:
    if commune_id is not None and session.get(Commune, commune_id) is None:
        raise NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise Invalid("stream_kind_invalid", "Loại đài không hợp lệ", "Unknown kind of station")
    return kind


def list_all(session: Session, actor: Principal) -> list[RelayStream]:
    actor.require_admin()
    return list(session.exec(select(RelayStream).order_by(RelayStream.name)))


def get_for_admin(session: Session, actor: Principal, stream_id: int) -> RelayStream:
    actor.require_admin()
    row = session.get(RelayStream, stream_id)
    if row is None:
        raise _missing()
    return row


def for_commune(session: Session, actor: Principal, commune_id: int, enabled_only: bool = True) -> list[RelayStream]:
    """The streams this commune may relay (its own and those offered to every commune)."""
    if not actor.sees_commune(commune_id):
        raise NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")
    query = select(RelayStream).where(or_(col(RelayStream.commune_id).is_(None),
                                          col(RelayStream.commune_id) == commune_id))
    if enabled_only:
        query = query.where(col(RelayStream.enabled).is_(True))
    return list(session.exec(query.order_by(RelayStream.name)))


def get_for_commune(session: Session, actor: Principal, commune_id: int, stream_id: int) -> RelayStream:
    """A stream the commune may relay; another commune's own stream, or a disabled one, is not there."""
    if not actor.sees_commune(commune_id):
        raise NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")
    row = session.get(RelayStream, stream_id)
    if row is None or not row.enabled or row.commune_id not in (None, commune_id):
        raise _missing()
    return row


def create(session: Session, actor: Principal, *, name: str, url: str, kind: str, commune_id: int | None,
           enabled: bool, now: datetime, allowed_hosts: Iterable[str] = (), check_now: bool = False) -> RelayStream:
    actor.require_admin()
    allowed_hosts = list(allowed_hosts)
    row = RelayStream(name=_clean_name(session, name), url=check_url(url, allowed_hosts), kind=_check_kind(kind),
                      commune_id=commune_id, enabled=enabled, created_at=now, updated_at=now)
    _check_commune(session, commune_id)
    check_resolved(row.url, allowed_hosts)  # a public name that points inside the network
    row.url = stream_address(row.url, allowed_hosts, check_now)
    session.add(row)
    session.flush()
    audit.record(session, actor, "stream.create", "relay_stream", row.id, now, commune_id=commune_id,
                 name=row.name, url=row.url, enabled=enabled)
    return row


def update(session: Session, actor: Principal, stream_id: int, now: datetime, allowed_hosts: Iterable[str] = (),
           check_now: bool = False, all_communes: bool = False, *, name: str | None = None, url: str | None = None,
           kind: str | None = None, commune_id: int | None = None, enabled: bool | None = None) -> RelayStream:
    """Only the fields given (not None) change; all checks pass before anything is written."""
    row = get_for_admin(session, actor, stream_id)
    allowed_hosts = list(allowed_hosts)
    name = _clean_name(session, name, row.id) if name is not None else row.name
    url = check_url(url, allowed_hosts) if url is not None else row.url
    kind = _check_kind(kind) if kind is not None else row.kind
    if all_communes:
        commune_id = None
    elif commune_id is None:
        commune_id = row.commune_id
    _check_commune(session, commune_id)
    enabled = enabled if enabled is not None else row.enabled
    if url != row.url:
        check_resolved(url, allowed_hosts)
    if url != row.url or check_now:
        url = stream_address(url, allowed_hosts, check_now)
    before = {"name": row.name, "url": row.url, "kind": row.kind, "commune_id": row.commune_id, "enabled": row.enabled}
    row.name, row.url, row.kind, row.commune_id, row.enabled, row.updated_at = name, url, kind, commune_id, enabled, now
    session.add(row)
    session.flush()
    after = {"name": name, "url": url, "kind": kind, "commune_id": commune_id, "enabled": enabled}
    audit.record(session, actor, "stream.update", "relay_stream", row.id, now, commune_id=commune_id,
                 changed={k: after[k] for k in after if after[k] != before[k]})
    return row
