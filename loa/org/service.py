"""Provinces, communes, villages and devices, always scoped to what the principal may see."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Commune, Device, Province, Village


def _commune_missing() -> NotFound:
    return NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")


def create_province(session: Session, actor: Principal, name: str, now: datetime, code: str | None = None) -> Province:
    actor.require_admin()
    if code and session.exec(select(Province).where(Province.code == code)).first():
        raise Conflict("code_taken", "Mã tỉnh đã tồn tại", "That province code exists")
    province = Province(name=name, code=code, created_at=now)
    session.add(province)
    session.flush()
    audit.record(session, actor, "province.create", "province", province.id, now, name=name)
    return province


def list_provinces(session: Session, actor: Principal) -> list[Province]:
    visible = actor.visible_communes()
    query = select(Province).order_by(Province.id)
    if visible is not None:
        query = query.where(Province.id.in_(select(Commune.province_id).where(Commune.id.in_(visible))))
    return list(session.exec(query))


def create_commune(session: Session, actor: Principal, province_id: int, name: str, now: datetime,
                   code: str | None = None, timezone: str = "Asia/Ho_Chi_Minh") -> Commune:
    actor.require_admin()
    if session.get(Province, province_id) is None:
        raise NotFound("province_not_found", "Không tìm thấy tỉnh", "Province not found")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone_invalid", "Múi giờ không hợp lệ", "Unknown timezone") from None
    if code and session.exec(select(Commune).where(Commune.code == code)).first():
        raise Conflict("code_taken", "Mã xã đã tồn tại", "That commune code exists")
    commune = Commune(province_id=province_id, name=name, code=code, timezone=timezone, created_at=now)
    session.add(commune)
    session.flush()
    audit.record(session, actor, "commune.create", "commune", commune.id, now, commune_id=commune.id, name=name)
    return commune


def get_commune(session: Session, actor: Principal, commune_id: int) -> Commune:
    commune = session.get(Commune, commune_id)
    if commune is None or not actor.sees_commune(commune_id):
        raise _commune_missing()
    return commune


def list_communes(session: Session, actor: Principal) -> list[Commune]:
    visible = actor.visible_communes()
    query = select(Commune).order_by(Commune.id)
    if visible is not None:
        query = query.where(Commune.id.in_(visible))
    return list(session.exec(query))


def create_village(session: Session, actor: Principal, commune_id: int, name: str, now: datetime,
                   default_language: str = "vi", latitude: float | None = None, longitude: float | None = None,
                   geocodes: str | None = None) -> Village:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, "cadre", admin=True)
    if session.exec(select(Village).where(Village.commune_id == commune_id, Village.name == name)).first():
        raise Conflict("village_exists", "Thôn này đã có trong xã", "That village already exists in the commune")
    village = Village(commune_id=commune_id, name=name, default_language=default_language, latitude=latitude,
                      longitude=longitude, geocodes=geocodes, created_at=now)
    session.add(village)
    session.flush()
    audit.record(session, actor, "village.create", "village", village.id, now, commune_id=commune_id, name=name)
    return village


def list_villages(session: Session, actor: Principal, commune_id: int) -> list[Village]:
    get_commune(session, actor, commune_id)
    query = select(Village).where(Village.commune_id == commune_id).order_by(Village.id)
    if actor.role_in(commune_id) == "village_head" and not actor.is_admin:
        query = query.where(Village.id == actor.village_in(commune_id))
    return list(session.exec(query))


def get_village(session: Session, actor: Principal, village_id: int) -> Village:
    village = session.get(Village, village_id)
    if village is None or not actor.sees_commune(village.commune_id) or (
        not actor.is_admin and actor.role_in(village.commune_id) == "village_head"
        and actor.village_in(village.commune_id) != village_id
    ):
        raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
    return village


def village_in_commune(session: Session, commune_id: int, village_id: int | None) -> Village | None:
    """The village if it belongs to the commune; a village of another commune is reported as missing."""
    if village_id is None:
        return None
    village = session.get(Village, village_id)
    if village is None or village.commune_id != commune_id:
        raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
    return village


def create_device(session: Session, actor: Principal, commune_id: int, name: str, now: datetime,
                  village_id: int | None = None) -> Device:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, "cadre", admin=True)
    village_in_commune(session, commune_id, village_id)
    device = Device(commune_id=commune_id, village_id=village_id, name=name, created_at=now)
    session.add(device)
    session.flush()
    audit.record(session, actor, "device.create", "device", device.id, now, commune_id=commune_id, name=name)
    return device


def list_devices(session: Session, actor: Principal, commune_id: int) -> list[Device]:
    get_commune(session, actor, commune_id)
    query = select(Device).where(Device.commune_id == commune_id).order_by(Device.id)
    if actor.role_in(commune_id) == "village_head" and not actor.is_admin:
        query = query.where(Device.village_id == actor.village_in(commune_id))
    return list(session.exec(query))


def get_device(session: Session, actor: Principal, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None or not actor.sees_commune(device.commune_id) or (
        not actor.is_admin and actor.role_in(device.commune_id) == "village_head"
        and device.village_id != actor.village_in(device.commune_id)
    ):
        raise NotFound("device_not_found", "Không tìm thấy cụm loa", "Device not found")
    return device
