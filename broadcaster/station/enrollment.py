"""Pairing a device with the station (docs/device-protocol.md §2) and revoking it.

2a: the device starts an enrollment and shows a code; a cadre confirms it with a village; the device's next poll
gets the credentials once. 2b: a cadre asks for a code for a device; the installer types it into the box, which
claims it. Both end in `issue_credentials`: a new identity (`dev_…`) whose token only the device ever sees.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from broadcaster.protocol.wire import format_time
from broadcaster.station import secrets as sec
from broadcaster.station.context import StationContext, commune_slug, device_topic, village_slug, village_topic
from broadcaster.station.models import DeviceCredential, EnrollAttempt, Enrollment
from broadcaster.station.stored import stored_id
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.db import table_of
from loa.errors import DomainError, Invalid, NotFound, RateLimited
from loa.org import service as org
from loa.org.models import Device

DEVICE_CODE_TTL = timedelta(minutes=10)
CADRE_CODE_TTL = timedelta(hours=24)
POLL_INTERVAL_S = 5
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(minutes=10)
CADRE_ROLES = ("cadre",)


class Gone(DomainError):
    status = 410


def _expired() -> Gone:
    return Gone("enrollment_expired", "Mã đăng ký đã hết hạn hoặc bị từ chối; hãy bắt đầu lại",
                "The enrollment expired or was rejected; start again")


def _code_invalid() -> NotFound:
    return NotFound("code_invalid", "Mã đăng ký không đúng, đã dùng hoặc đã hết hạn",
                    "The enrollment code is unknown, used or expired")


def _clip(value: Any, n: int = 200) -> str | None:
    return str(value)[:n] if value else None


def device_actor(ip: str | None, identity: str | None = None) -> Principal:
    """The actor of an audit entry written for a box (no person): its identity once it has one, else a
    placeholder; `ip` is the address it called from. The entry names the device in `object_id`/`detail`."""
    return Principal(user_id=None, username=identity or "thiết bị / device", ip=ip, via="device")


def _take(session: Session, row: Enrollment, from_status: str, to_status: str, now: datetime,
          **values: Any) -> bool:
    """Move an enrollment from one status to the next in ONE conditional UPDATE, so that of two requests
    racing (two cadres typing the same code, a device's polls, a code claimed twice) exactly one wins and the
    others see it gone. True if this request won."""
    t = table_of(Enrollment)
    query = sa.update(t).where(t.c.id == row.id, t.c.status == from_status)
    if from_status == "pending":
        query = query.where(t.c.expires_at > now)
    # On the session's connection, as session.execute would run a Core statement: its result has the row count
    won = session.connection().execute(query.values(status=to_status, **values)).rowcount == 1
    if won:
        session.refresh(row)
    return won


def _pending_code_in_use(session: Session, digest: str, now: datetime) -> bool:
    return session.exec(select(Enrollment.id).where(
        Enrollment.code_hash == digest, col(Enrollment.status).in_(("pending", "confirmed")),
        Enrollment.expires_at > now)).first() is not None


def _fresh_code(session: Session, now: datetime) -> tuple[str, str]:
    for _ in range(20):
        code = sec.new_code()
        digest = sec.code_hash(code)
        if not _pending_code_in_use(session, digest, now):
            return code, digest
    raise RateLimited("busy", "Quá nhiều mã đang chờ; thử lại sau", "Too many pending codes; retry later", 60)


def _device_of(session: Session, row: Enrollment) -> Device:
    """The device an enrollment taken for credentials names: a confirmed (2a) or cadre (2b) one always names one;
    a device deleted since is an enrollment to start again."""
    device = session.get(Device, row.device_id) if row.device_id is not None else None
    if device is None:
        raise _expired()
    return device


# -- 2a: the device shows a code ---------------------------------------------------------------------------
def start(session: Session, info: dict[str, Any], now: datetime, ip: str | None = None) -> dict[str, Any]:
    code, digest = _fresh_code(session, now)
    secret = sec.new_secret()
    row = Enrollment(public_id="enr_" + sec.new_secret()[:22], kind="device", code_hash=digest,
                     poll_secret_hash=sec.secret_hash(secret), agent_version=_clip(info.get("agent_version"), 64),
                     hardware=_clip(info.get("hardware")), hostname=_clip(info.get("hostname")),
                     created_at=now, expires_at=now + DEVICE_CODE_TTL)
    session.add(row)
    session.flush()
    audit.record(session, device_actor(ip), "device.enroll_start", "enrollment", row.public_id, now,
                 hostname=row.hostname, hardware=row.hardware, agent_version=row.agent_version)
    return {"enrollment_id": row.public_id, "poll_secret": secret, "code": code,
            "expires_at": format_time(row.expires_at), "poll_interval_s": POLL_INTERVAL_S}


def poll(session: Session, ctx: StationContext, enrollment_id: str, poll_secret: str,
         now: datetime, ip: str | None = None) -> dict[str, Any] | None:
    """Credentials once a cadre confirmed; None while pending; 410 when expired, rejected or already consumed."""
    row = session.exec(select(Enrollment).where(Enrollment.public_id == enrollment_id,
                                                Enrollment.kind == "device")).first()
    if row is None or not sec.same(row.poll_secret_hash, sec.secret_hash(poll_secret)):
        raise NotFound("not_found", "Không tìm thấy lượt đăng ký", "Enrollment not found")
    if row.status in ("rejected", "consumed") or (row.status == "pending" and row.expires_at <= now):
        raise _expired()
    if row.status == "pending":
        return None
    if not _take(session, row, "confirmed", "consumed", now, consumed_at=now):
        raise _expired()  # another poll of the same enrollment took the credentials a moment ago
    return issue_credentials(session, ctx, _device_of(session, row), row, now, ip)


def confirm(session: Session, actor: Principal, commune_id: int, code: str, village_id: int, now: datetime,
            name: str | None = None, device_id: int | None = None) -> Device:
    """A cadre confirms the code a device shows and picks its village (a new device, or an existing one that
    is being re-enrolled)."""
    actor.require_role(commune_id, *CADRE_ROLES, admin=True)
    org.village_in_commune(session, commune_id, village_id)
    row = session.exec(select(Enrollment).where(
        Enrollment.code_hash == sec.code_hash(code.strip()), Enrollment.kind == "device",
        Enrollment.status == "pending", Enrollment.expires_at > now)).first()
    if row is None:
        raise _code_invalid()
    if device_id is not None:
        device = org.get_device(session, actor, device_id)
        if device.commune_id != commune_id:
            raise NotFound("device_not_found", "Không tìm thấy cụm loa", "Device not found")
    # Claim the code before creating anything: a second cadre typing it at the same moment gets 404.
    if not _take(session, row, "pending", "confirmed", now, commune_id=commune_id, created_by=actor.user_id):
        raise _code_invalid()
    if device_id is not None:
        device.village_id = village_id
    else:
        label = name or row.hostname or f"Cụm loa {row.public_id[-6:]}"
        device = Device(commune_id=commune_id, village_id=village_id, name=label[:200], created_at=now)
    session.add(device)
    session.flush()
    row.device_id = device.id
    session.add(row)
    audit.record(session, actor, "device.enroll_confirm", "device", device.id, now, commune_id=commune_id,
                 village_id=village_id, enrollment=row.public_id, hostname=row.hostname, hardware=row.hardware,
                 existing_device=device_id is not None)
    return device


def reject(session: Session, actor: Principal, commune_id: int, code: str, now: datetime) -> None:
    actor.require_role(commune_id, *CADRE_ROLES, admin=True)
    row = session.exec(select(Enrollment).where(
        Enrollment.code_hash == sec.code_hash(code.strip()), Enrollment.kind == "device",
        Enrollment.status == "pending", Enrollment.expires_at > now)).first()
    if row is None or not _take(session, row, "pending", "rejected", now, commune_id=commune_id,
                                created_by=actor.user_id):
        raise _code_invalid()
    audit.record(session, actor, "device.enroll_reject", "enrollment", row.public_id, now, commune_id=commune_id,
                 hostname=row.hostname, hardware=row.hardware)


# -- 2b: the cadre creates a code ----------------------------------------------------------------------------
def create_code(session: Session, actor: Principal, device_id: int, now: datetime) -> tuple[str, datetime]:
    device = org.get_device(session, actor, device_id)
    actor.require_role(device.commune_id, *CADRE_ROLES, admin=True)
    if device.village_id is None:
        raise Invalid("village_required", "Hãy chọn thôn cho cụm loa trước", "Assign the device to a village first")
    replaced = 0
    for old in session.exec(select(Enrollment).where(Enrollment.device_id == device.id, Enrollment.kind == "cadre",
                                                     Enrollment.status == "pending")):
        old.status = "rejected"  # one live code per device
        session.add(old)
        replaced += 1
    code, digest = _fresh_code(session, now)
    row = Enrollment(public_id="enr_" + sec.new_secret()[:22], kind="cadre", code_hash=digest, status="pending",
                     commune_id=device.commune_id, device_id=device.id, created_by=actor.user_id, created_at=now,
                     expires_at=now + CADRE_CODE_TTL)
    session.add(row)
    audit.record(session, actor, "device.enroll_code", "device", device.id, now, commune_id=device.commune_id,
                 enrollment=row.public_id, expires_at=format_time(row.expires_at), replaced_codes=replaced or None)
    return code, row.expires_at


def claim(session: Session, ctx: StationContext, code: str, info: dict[str, Any], ip: str,
          now: datetime) -> dict[str, Any]:
    recent = session.exec(select(func.count()).select_from(EnrollAttempt).where(
        EnrollAttempt.ip == ip, EnrollAttempt.at > now - WRONG_CODE_WINDOW)).one()
    if recent >= MAX_WRONG_CODES:
        raise RateLimited("rate_limited", "Nhập sai mã quá nhiều lần; hãy đợi 10 phút",
                          "Too many wrong codes; wait 10 minutes", int(WRONG_CODE_WINDOW.total_seconds()))
    # One indexed lookup whatever the code: unknown, used and expired codes take the same path.
    row = session.exec(select(Enrollment).where(
        Enrollment.code_hash == sec.code_hash(code.strip()), Enrollment.kind == "cadre")).first()
    reason = ("unknown_code" if row is None else "used" if row.status != "pending" else
              "expired" if row.expires_at <= now else None)
    # The conditional update makes a code claimed twice at once a used code for all but one request.
    if reason is None and row is not None and not _take(session, row, "pending", "consumed", now, consumed_at=now,
                                    agent_version=_clip(info.get("agent_version"), 64),
                                    hardware=_clip(info.get("hardware")), hostname=_clip(info.get("hostname"))):
        reason = "used"
    if reason is not None or row is None:  # (no row: reason is "unknown_code")
        session.add(EnrollAttempt(ip=ip[:64], at=now))
        # One entry per wrong code: at most MAX_WRONG_CODES per address per window, as after that the
        # address gets 429 above without writing (the API layer summarises those refusals).
        audit.record(session, device_actor(ip), "device.enroll_claim_failed", "enrollment",
                     row.public_id if row is not None else None, now,
                     commune_id=row.commune_id if row is not None else None, hostname=_clip(info.get("hostname")),
                     reason=reason)
        session.commit()  # the error reply rolls back the request's unit of work; the attempt must stay
        raise _code_invalid()
    return issue_credentials(session, ctx, _device_of(session, row), row, now, ip)


# -- credentials ------------------------------------------------------------------------------------------
def issue_credentials(session: Session, ctx: StationContext, device: Device, enrollment: Enrollment,
                      now: datetime, ip: str | None = None) -> dict[str, Any]:
    """A new identity for the device; earlier identities of the same device stop working. Audited here, so
    every way a box gets credentials is in the log: `device.enrolled`, or `device.reenrolled` when the device
    had been enrolled before (naming the identities it replaces)."""
    device_id = stored_id(device)
    replaced = []
    for old in session.exec(select(DeviceCredential).where(DeviceCredential.device_id == device_id,
                                                           col(DeviceCredential.revoked_at).is_(None))):
        old.revoked_at = now
        session.add(old)
        replaced.append(old.uid)
    again = device.enrolled_at is not None or bool(replaced)
    ctx.identity_changed([device_id])  # the old token stops at once here (other replicas: identities.py)
    token = sec.new_token()
    uid = sec.new_uid()
    cred = DeviceCredential(uid=uid, device_id=device_id, token_hash=sec.token_hash(token),
                            mqtt_hash=sec.mosquitto_hash(token) if ctx.mqtt_device_url else None,
                            hardware=enrollment.hardware, hostname=enrollment.hostname, created_at=now)
    session.add(cred)
    device.enrolled_at, device.revoked_at = now, None
    device.credential_hash = cred.token_hash
    device.agent_version = enrollment.agent_version
    device.status, device.last_seen = "online", now
    session.add(device)
    session.flush()
    audit.record(session, device_actor(ip, uid), "device.reenrolled" if again else "device.enrolled", "device",
                 device.id, now, commune_id=device.commune_id, identity=uid, village_id=device.village_id,
                 enrollment=enrollment.public_id, way="device_code" if enrollment.kind == "device" else "cadre_code",
                 approved_by_user_id=enrollment.created_by, replaced_identities=replaced or None,
                 hostname=enrollment.hostname, hardware=enrollment.hardware)
    mqtt = None
    if ctx.mqtt_device_url:
        mqtt = {"url": ctx.mqtt_device_url, "username": uid,
                "topics": [device_topic(device.commune_id, uid), village_topic(device.commune_id, device.village_id)]}
    return {"device_id": uid, "token": token, "commune_id": commune_slug(device.commune_id),
            "village_id": village_slug(device.village_id), "station_keys": ctx.public_keys(), "mqtt": mqtt}


def revoke(session: Session, actor: Principal, device_id: int, now: datetime) -> Device:
    device = org.get_device(session, actor, device_id)
    actor.require_role(device.commune_id, *CADRE_ROLES, admin=True)
    identities = []
    for cred in session.exec(select(DeviceCredential).where(DeviceCredential.device_id == device.id,
                                                            col(DeviceCredential.revoked_at).is_(None))):
        cred.revoked_at = now
        session.add(cred)
        identities.append(cred.uid)
    device.revoked_at, device.status, device.credential_hash = now, "revoked", None
    session.add(device)
    audit.record(session, actor, "device.revoke", "device", device.id, now, commune_id=device.commune_id,
                 identities=identities)
    return device
