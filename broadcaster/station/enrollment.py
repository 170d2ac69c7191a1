"""Pairing a device with the station (docs/device-protocol.md §2) and revoking it.

2a: the device starts an enrollment and shows a code; a cadre confirms it with a village; the device's next poll
gets the credentials once. 2b: a cadre asks for a code for a device; the installer types it into the box, which
claims it. Both end in `issue_credentials`: a new identity (`dev_…`) whose token only the device ever sees.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, func, select

from broadcaster.protocol.wire import format_time
from broadcaster.station import secrets as sec
from broadcaster.station.context import StationContext, commune_slug, device_topic, village_slug, village_topic
from broadcaster.station.models import DeviceCredential, EnrollAttempt, Enrollment
from loa.accounts.principal import Principal
from loa.audit import service as audit
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


def _pending_code_in_use(session: Session, digest: str, now: datetime) -> bool:
    return session.exec(select(Enrollment.id).where(
        Enrollment.code_hash == digest, Enrollment.status.in_(("pending", "confirmed")),
        Enrollment.expires_at > now)).first() is not None


def _fresh_code(session: Session, now: datetime) -> tuple[str, str]:
    for _ in range(20):
        code = sec.new_code()
        digest = sec.code_hash(code)
        if not _pending_code_in_use(session, digest, now):
            return code, digest
    raise RateLimited("busy", "Quá nhiều mã đang chờ; thử lại sau", "Too many pending codes; retry later", 60)


# -- 2a: the device shows a code ---------------------------------------------------------------------------
def start(session: Session, info: dict[str, Any], now: datetime) -> dict[str, Any]:
    code, digest = _fresh_code(session, now)
    secret = sec.new_secret()
    row = Enrollment(public_id="enr_" + sec.new_secret()[:22], kind="device", code_hash=digest,
                     poll_secret_hash=sec.secret_hash(secret), agent_version=_clip(info.get("agent_version"), 64),
                     hardware=_clip(info.get("hardware")), hostname=_clip(info.get("hostname")),
                     created_at=now, expires_at=now + DEVICE_CODE_TTL)
    session.add(row)
    session.flush()
    return {"enrollment_id": row.public_id, "poll_secret": secret, "code": code,
            "expires_at": format_time(row.expires_at), "poll_interval_s": POLL_INTERVAL_S}


def poll(session: Session, ctx: StationContext, enrollment_id: str, poll_secret: str,
         now: datetime) -> dict[str, Any] | None:
    """Credentials once a cadre confirmed; None while pending; 410 when expired, rejected or already consumed."""
    row = session.exec(select(Enrollment).where(Enrollment.public_id == enrollment_id,
                                                Enrollment.kind == "device")).first()
    if row is None or not sec.same(row.poll_secret_hash, sec.secret_hash(poll_secret)):
        raise NotFound("not_found", "Không tìm thấy lượt đăng ký", "Enrollment not found")
    if row.status in ("rejected", "consumed") or (row.status == "pending" and row.expires_at <= now):
        raise _expired()
    if row.status == "pending":
        return None
    device = session.get(Device, row.device_id)
    row.status, row.consumed_at = "consumed", now
    session.add(row)
    return issue_credentials(session, ctx, device, row, now)


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
        device.village_id = village_id
    else:
        label = name or row.hostname or f"Cụm loa {row.public_id[-6:]}"
        device = Device(commune_id=commune_id, village_id=village_id, name=label[:200], created_at=now)
    session.add(device)
    session.flush()
    row.status, row.device_id, row.commune_id, row.created_by = "confirmed", device.id, commune_id, actor.user_id
    session.add(row)
    audit.record(session, actor, "device.enroll_confirm", "device", device.id, now, commune_id=commune_id,
                 village_id=village_id, hostname=row.hostname)
    return device


def reject(session: Session, actor: Principal, commune_id: int, code: str, now: datetime) -> None:
    actor.require_role(commune_id, *CADRE_ROLES, admin=True)
    row = session.exec(select(Enrollment).where(
        Enrollment.code_hash == sec.code_hash(code.strip()), Enrollment.kind == "device",
        Enrollment.status == "pending", Enrollment.expires_at > now)).first()
    if row is None:
        raise _code_invalid()
    row.status = "rejected"
    session.add(row)


# -- 2b: the cadre creates a code ----------------------------------------------------------------------------
def create_code(session: Session, actor: Principal, device_id: int, now: datetime) -> tuple[str, datetime]:
    device = org.get_device(session, actor, device_id)
    actor.require_role(device.commune_id, *CADRE_ROLES, admin=True)
    if device.village_id is None:
        raise Invalid("village_required", "Hãy chọn thôn cho cụm loa trước", "Assign the device to a village first")
    for old in session.exec(select(Enrollment).where(Enrollment.device_id == device.id, Enrollment.kind == "cadre",
                                                     Enrollment.status == "pending")):
        old.status = "rejected"  # one live code per device
        session.add(old)
    code, digest = _fresh_code(session, now)
    row = Enrollment(public_id="enr_" + sec.new_secret()[:22], kind="cadre", code_hash=digest, status="pending",
                     commune_id=device.commune_id, device_id=device.id, created_by=actor.user_id, created_at=now,
                     expires_at=now + CADRE_CODE_TTL)
    session.add(row)
    audit.record(session, actor, "device.enroll_code", "device", device.id, now, commune_id=device.commune_id)
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
    if row is None or row.status != "pending" or row.expires_at <= now:
        session.add(EnrollAttempt(ip=ip[:64], at=now))
        session.commit()  # the error reply rolls back the request's unit of work; the attempt must stay
        raise _code_invalid()
    device = session.get(Device, row.device_id)
    row.status, row.consumed_at = "consumed", now
    row.agent_version, row.hardware, row.hostname = (_clip(info.get("agent_version"), 64),
                                                     _clip(info.get("hardware")), _clip(info.get("hostname")))
    session.add(row)
    return issue_credentials(session, ctx, device, row, now)


# -- credentials ------------------------------------------------------------------------------------------
def issue_credentials(session: Session, ctx: StationContext, device: Device, enrollment: Enrollment,
                      now: datetime) -> dict[str, Any]:
    """A new identity for the device; earlier identities of the same device stop working."""
    for old in session.exec(select(DeviceCredential).where(DeviceCredential.device_id == device.id,
                                                           DeviceCredential.revoked_at.is_(None))):
        old.revoked_at = now
        session.add(old)
    ctx.identity_changed([device.id])  # the old token stops at once here (other replicas: identities.py)
    token = sec.new_token()
    uid = sec.new_uid()
    cred = DeviceCredential(uid=uid, device_id=device.id, token_hash=sec.token_hash(token),
                            mqtt_hash=sec.mosquitto_hash(token) if ctx.mqtt_device_url else None,
                            hardware=enrollment.hardware, hostname=enrollment.hostname, created_at=now)
    session.add(cred)
    device.enrolled_at, device.revoked_at = now, None
    device.credential_hash = cred.token_hash
    device.agent_version = enrollment.agent_version
    device.status, device.last_seen = "online", now
    session.add(device)
    session.flush()
    mqtt = None
    if ctx.mqtt_device_url:
        mqtt = {"url": ctx.mqtt_device_url, "username": uid,
                "topics": [device_topic(device.commune_id, uid), village_topic(device.commune_id, device.village_id)]}
    return {"device_id": uid, "token": token, "commune_id": commune_slug(device.commune_id),
            "village_id": village_slug(device.village_id), "station_keys": ctx.public_keys(), "mqtt": mqtt}


def revoke(session: Session, actor: Principal, device_id: int, now: datetime) -> Device:
    device = org.get_device(session, actor, device_id)
    actor.require_role(device.commune_id, *CADRE_ROLES, admin=True)
    for cred in session.exec(select(DeviceCredential).where(DeviceCredential.device_id == device.id,
                                                            DeviceCredential.revoked_at.is_(None))):
        cred.revoked_at = now
        session.add(cred)
    device.revoked_at, device.status, device.credential_hash = now, "revoked", None
    session.add(device)
    audit.record(session, actor, "device.revoke", "device", device.id, now, commune_id=device.commune_id)
    return device
