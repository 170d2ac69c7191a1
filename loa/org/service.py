"""Provinces, communes, villages and devices, always scoped to what the principal may see."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org import checks
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
    name = checks.name(name, "tên thôn", "village name")
    latitude, longitude = checks.coordinates(latitude, longitude)
    geocodes, default_language = checks.geocodes(geocodes), checks.language(default_language)
    _village_name_free(session, commune_id, name)
    village = Village(commune_id=commune_id, name=name, default_language=default_language, latitude=latitude,
                      longitude=longitude, geocodes=geocodes, created_at=now)
    session.add(village)
    session.flush()
    audit.record(session, actor, "village.create", "village", village.id, now, commune_id=commune_id, name=name,
                 latitude=latitude, longitude=longitude, geocodes=geocodes, default_language=default_language)
    return village


def _village_name_free(session: Session, commune_id: int, name: str, but: int | None = None) -> None:
    same = session.exec(select(Village).where(Village.commune_id == commune_id, Village.name == name)).first()
    if same is not None and same.id != but:
        raise Conflict("village_exists", "Thôn này đã có trong xã", "That village already exists in the commune")


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
                  village_id: int | None = None, latitude: float | None = None,
                  longitude: float | None = None) -> Device:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, "cadre", admin=True)
    name = checks.name(name, "tên cụm loa", "loudspeaker name")
    latitude, longitude = checks.coordinates(latitude, longitude)
    village_in_commune(session, commune_id, village_id)
    device = Device(commune_id=commune_id, village_id=village_id, name=name, latitude=latitude, longitude=longitude,
                    created_at=now)
    session.add(device)
    session.flush()
    audit.record(session, actor, "device.create", "device", device.id, now, commune_id=commune_id, name=name,
                 village_id=village_id, latitude=latitude, longitude=longitude)
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


# Editing the organisation is the system admin's job (issue 14): a commune's cadre runs the station but does not
# redraw it. A non-member still gets 404 before the 403, so other communes' objects do not leak.

def _changes(row, values: dict) -> dict:
    """{field: [old, new]} of what really changes, applied to `row`: the audit entry says what was edited."""
    changed = {}
    for key, value in values.items():
        old = getattr(row, key)
        if old != value:
            changed[key] = [old, value]
            setattr(row, key, value)
    return changed


def update_commune(session: Session, actor: Principal, commune_id: int, now: datetime, *, name: str,
                   code: str | None, timezone: str, province_id: int | None = None) -> Commune:
    commune = get_commune(session, actor, commune_id)
    actor.require_admin()
    name = checks.name(name, "tên xã", "commune name")
    code = (code or "").strip() or None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone_invalid", "Múi giờ không hợp lệ", "Unknown timezone") from None
    if province_id is not None and session.get(Province, province_id) is None:
        raise NotFound("province_not_found", "Không tìm thấy tỉnh", "Province not found")
    if code:
        same = session.exec(select(Commune).where(Commune.code == code)).first()
        if same is not None and same.id != commune_id:
            raise Conflict("code_taken", "Mã xã đã tồn tại", "That commune code exists")
    changed = _changes(commune, {"name": name, "code": code, "timezone": timezone,
                                 "province_id": province_id or commune.province_id})
    if changed:
        session.add(commune)
        audit.record(session, actor, "commune.update", "commune", commune_id, now, commune_id=commune_id,
                     changes=changed)
    return commune


def update_village(session: Session, actor: Principal, village_id: int, now: datetime, *, name: str,
                   latitude: float | None, longitude: float | None, geocodes: str | None,
                   default_language: str) -> Village:
    village = get_village(session, actor, village_id)
    actor.require_admin()
    name = checks.name(name, "tên thôn", "village name")
    latitude, longitude = checks.coordinates(latitude, longitude)
    values = {"name": name, "latitude": latitude, "longitude": longitude, "geocodes": checks.geocodes(geocodes),
              "default_language": checks.language(default_language)}
    _village_name_free(session, village.commune_id, name, but=village_id)
    changed = _changes(village, values)
    if changed:
        session.add(village)
        audit.record(session, actor, "village.update", "village", village_id, now, commune_id=village.commune_id,
                     changes=changed)
    return village


def village_references(session: Session, village_id: int) -> list[str]:
    """Tables whose rows point at the village by foreign key (devices, members, announcements, play records…),
    found from the schema itself so a table added later is not forgotten. The per-village nudge serial is the
    village's own and goes with it."""
    from sqlalchemy import func
    from sqlmodel import SQLModel

    found = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "village_nudges":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "villages" and fk.column.name == "id":
                count = session.exec(select(func.count()).select_from(table).where(fk.parent == village_id)).one()
                if count:
                    found.append(table.name)
    return found


def delete_village(session: Session, actor: Principal, village_id: int, now: datetime,
                   other_uses: list[str] | None = None) -> None:
    """Remove a village nobody uses. `other_uses` are the uses the caller found outside this package (schedules
    and emergencies that target it); anything still pointing at it refuses the deletion with 409."""
    village = get_village(session, actor, village_id)
    actor.require_admin()
    uses = village_references(session, village_id) + list(other_uses or [])
    if uses:
        raise Conflict("village_in_use",
                       "Không xoá được: thôn còn cụm loa, người dùng, bản tin hoặc lịch phát gắn với nó. "
                       "Hãy chuyển chúng sang thôn khác trước.",
                       "Cannot delete: loudspeakers, users, announcements or schedules still belong to this "
                       "village. Move them to another village first.", uses=sorted(set(uses)))
    from sqlalchemy import text

    session.execute(text("DELETE FROM village_nudges WHERE village_id = :v"), {"v": village_id})
    audit.record(session, actor, "village.delete", "village", village_id, now, commune_id=village.commune_id,
                 name=village.name)
    session.delete(village)
    session.flush()


def update_device(session: Session, actor: Principal, device_id: int, now: datetime, *, name: str,
                  village_id: int | None, latitude: float | None, longitude: float | None) -> Device:
    device = get_device(session, actor, device_id)
    actor.require_admin()
    name = checks.name(name, "tên cụm loa", "loudspeaker name")
    latitude, longitude = checks.coordinates(latitude, longitude)
    village_in_commune(session, device.commune_id, village_id)
    changed = _changes(device, {"name": name, "village_id": village_id, "latitude": latitude,
                                "longitude": longitude})
    if changed:
        session.add(device)
        audit.record(session, actor, "device.update", "device", device_id, now, commune_id=device.commune_id,
                     changes=changed)
    return device
