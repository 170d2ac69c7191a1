"""Provinces and districts as organisations above communes (issue 16), and who works at them.

A commune belongs to a district (`communes.district_id`), a district to a province. Staff of a province or a
district hold a role there (`area_memberships`): `editor` composes bulletins, `approver` approves and sends
them. What they see is their area only, enforced here and nowhere else:

- a province's staff read the province, its districts and every commune in it;
- a district's staff read that district and its communes only;
- anyone else (a commune cadre, the staff of another province or district) is told "not found" (404), never
  "forbidden", so the existence of another area's bulletins and reports does not leak;
- the system admin reads everything and manages the levels, but composes and approves nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from loa.accounts.models import AreaMembership, User
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound, PermissionDenied
from loa.org import checks
from loa.org.models import Commune, District, Province

LEVELS = ("province", "district")
ROLES = ("editor", "approver")


@dataclass(frozen=True)
class AreaRole:
    level: str       # province | district
    area_id: int
    role: str        # editor | approver
    province_id: int


@dataclass(frozen=True)
class Area:
    """An organisation above communes: what a bulletin is sent from and a roll-up is made for."""
    level: str
    id: int
    name: str
    province_id: int

    @property
    def key(self) -> str:
        return f"{self.level}:{self.id}"


def area_missing() -> NotFound:
    return NotFound("area_not_found", "Không tìm thấy tỉnh/huyện", "Province or district not found")


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise Invalid("level_invalid", "Cấp phải là tỉnh hoặc huyện", "The level must be province or district")
    return level


def get_area(session: Session, level: str, area_id: int) -> Area:
    """The area as stored (no scoping: callers check `sees_area` first)."""
    _check_level(level)
    row = session.get(Province if level == "province" else District, area_id)
    if row is None:
        raise area_missing()
    return Area(level, row.id, row.name, row.id if level == "province" else row.province_id)


# ---------------------------------------------------------------- managing the levels (system admin)


def create_district(session: Session, actor: Principal, province_id: int, name: str, now: datetime,
                    code: str | None = None) -> District:
    actor.require_admin()
    if session.get(Province, province_id) is None:
        raise NotFound("province_not_found", "Không tìm thấy tỉnh", "Province not found")
    name = checks.name(name, "tên huyện", "district name")
    if code and session.exec(select(District).where(District.code == code)).first():
        raise Conflict("code_taken", "Mã huyện đã tồn tại", "That district code exists")
    district = District(province_id=province_id, name=name, code=code, created_at=now)
    session.add(district)
    session.flush()
    audit.record(session, actor, "district.create", "district", district.id, now, name=name,
                 province_id=province_id)
    return district


def rename_district(session: Session, actor: Principal, district_id: int, name: str, now: datetime,
                    code: str | None = None) -> District:
    """A district's new name and code (the web page's rename): the same checks as when it was created."""
    actor.require_admin()
    district = session.get(District, district_id)
    if district is None:
        raise NotFound("district_not_found", "Không tìm thấy huyện", "District not found")
    name = checks.name(name, "tên huyện", "district name")
    code = (code or "").strip() or None
    if code and session.exec(select(District).where(District.code == code, District.id != district_id)).first():
        raise Conflict("code_taken", "Mã huyện đã tồn tại", "That district code exists")
    before = {"name": district.name, "code": district.code}
    district.name, district.code = name, code
    session.add(district)
    audit.record(session, actor, "district.update", "district", district.id, now, before=before, name=name,
                 code=code)
    return district


def place_commune(session: Session, actor: Principal, commune_id: int, district_id: int | None,
                  now: datetime) -> Commune:
    """Put a commune under a district of its own province (None: under no district)."""
    actor.require_admin()
    commune = session.get(Commune, commune_id)
    if commune is None:
        raise NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")
    if district_id is not None:
        district = session.get(District, district_id)
        if district is None or district.province_id != commune.province_id:
            raise NotFound("district_not_found", "Không tìm thấy huyện trong tỉnh của xã",
                           "District not found in the commune's province")
    before = commune.district_id
    commune.district_id = district_id
    session.add(commune)
    audit.record(session, actor, "commune.place", "commune", commune.id, now, commune_id=commune.id,
                 district_before=before, district_after=district_id)
    return commune


def add_area_role(session: Session, actor: Principal, user_id: int, level: str, area_id: int, role: str,
                  now: datetime) -> AreaMembership:
    actor.require_admin()
    area = get_area(session, level, area_id)
    if role not in ROLES:
        raise Invalid("role_invalid", "Vai trò phải là người soạn hoặc người duyệt",
                      "The role must be editor or approver")
    if session.get(User, user_id) is None:
        raise NotFound("user_not_found", "Không tìm thấy tài khoản", "User not found")
    row = session.exec(select(AreaMembership).where(AreaMembership.user_id == user_id,
                                                    AreaMembership.level == level,
                                                    AreaMembership.area_id == area_id)).first()
    if row is None:
        row = AreaMembership(user_id=user_id, level=level, area_id=area_id, role=role, created_at=now)
    row.role = role
    session.add(row)
    session.flush()
    audit.record(session, actor, "area.role", "user", user_id, now, level=level, area_id=area.id, role=role)
    return row


def remove_area_role(session: Session, actor: Principal, user_id: int, level: str, area_id: int,
                     now: datetime) -> None:
    actor.require_admin()
    row = session.exec(select(AreaMembership).where(AreaMembership.user_id == user_id,
                                                    AreaMembership.level == level,
                                                    AreaMembership.area_id == area_id)).first()
    if row is not None:
        session.delete(row)
        audit.record(session, actor, "area.role_remove", "user", user_id, now, level=level, area_id=area_id)


def staff_at(session: Session, actor: Principal, level: str, area_id: int) -> list[tuple[AreaMembership, User]]:
    """Who holds a role at exactly this province or district (the admin's staff list), by name."""
    actor.require_admin()
    get_area(session, level, area_id)
    rows = session.exec(select(AreaMembership, User).join(User, col(User.id) == col(AreaMembership.user_id))
                        .where(AreaMembership.level == level, AreaMembership.area_id == area_id))
    return sorted(((m, u) for m, u in rows), key=lambda r: (r[1].display_name.lower(), r[1].username))


# ---------------------------------------------------------------- who sees what


def roles_of(session: Session, user_id: int | None) -> list[AreaRole]:
    if user_id is None:
        return []
    out = []
    for m in session.exec(select(AreaMembership).where(AreaMembership.user_id == user_id)
                           .order_by(AreaMembership.id)):
        try:
            area = get_area(session, m.level, m.area_id)
        except NotFound:
            continue  # the district was removed: the role leads nowhere
        out.append(AreaRole(m.level, m.area_id, m.role, area.province_id))
    return out


def sees_area(session: Session, actor: Principal, area: Area) -> bool:
    if actor.is_admin:
        return True
    for r in roles_of(session, actor.user_id):
        if (r.level, r.area_id) == (area.level, area.id):
            return True
        if r.level == "province" and r.area_id == area.province_id:
            return True  # a province's staff read its districts
    return False


def visible_area(session: Session, actor: Principal, level: str, area_id: int) -> Area:
    area = get_area(session, level, area_id)
    if not sees_area(session, actor, area):
        raise area_missing()
    return area


def require_role_at(session: Session, actor: Principal, area: Area, *roles: str) -> str:
    """The caller's role at exactly this area, if one of `roles`. Not staff of it at all → 404; staff with
    another role (or a province's staff acting for one of its districts) → 403."""
    if not sees_area(session, actor, area):
        raise area_missing()
    for r in roles_of(session, actor.user_id):
        if (r.level, r.area_id) == (area.level, area.id) and r.role in roles:
            return r.role
    raise PermissionDenied("forbidden_role", "Vai trò của bạn không được phép làm việc này",
                           "Your role does not allow this action", required_roles=list(roles))


def my_areas(session: Session, actor: Principal) -> list[Area]:
    """The areas the caller is staff of (their own, not the districts below a province)."""
    seen, out = set(), []
    for r in roles_of(session, actor.user_id):
        if (r.level, r.area_id) not in seen:
            seen.add((r.level, r.area_id))
            out.append(get_area(session, r.level, r.area_id))
    return out


def districts_of(session: Session, area: Area) -> list[District]:
    if area.level == "district":
        return [session.get(District, area.id)]
    return list(session.exec(select(District).where(District.province_id == area.id).order_by(District.name)))


def communes_of(session: Session, area: Area) -> list[Commune]:
    """Every commune in the area (a province's communes with or without a district)."""
    column = Commune.province_id if area.level == "province" else Commune.district_id
    return list(session.exec(select(Commune).where(column == area.id).order_by(Commune.name, Commune.id)))
