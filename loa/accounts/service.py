"""Creating users and giving them roles in communes. Only the system admin manages accounts."""
from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, select

from loa.accounts.models import Membership, Role, User
from loa.accounts.passwords import hash_password
from loa.accounts.principal import CommuneRole, Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Commune, Village

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


def _check_username(username: str) -> str:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise Invalid(
            "username_invalid",
            "Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch (2–63 ký tự)",
            "A username is 2–63 lowercase letters, digits, dots, dashes or underscores",
        )
    return username


def create_user(
    session: Session,
    actor: Principal,
    username: str,
    password: str,
    now: datetime,
    display_name: str = "",
    is_admin: bool = False,
) -> User:
    actor.require_admin()
    username = _check_username(username)
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict("username_taken", "Tên đăng nhập đã có người dùng", "That username is taken")
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                is_admin=is_admin, created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, now, is_admin=is_admin)
    return user


def get_user(session: Session, actor: Principal, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not (actor.is_admin or actor.user_id == user_id):
        raise NotFound("user_not_found", "Không tìm thấy người dùng", "User not found")
    return user


def list_users(session: Session, actor: Principal) -> list[User]:
    actor.require_admin()
    return list(session.exec(select(User).order_by(User.id)))


def set_active(session: Session, actor: Principal, user_id: int, active: bool, now: datetime) -> User:
    actor.require_admin()
    user = get_user(session, actor, user_id)
    user.is_active = active
    session.add(user)
    audit.record(session, actor, "user.activate" if active else "user.deactivate", "user", user.id, now)
    return user


def add_membership(
    session: Session,
    actor: Principal,
    user_id: int,
    commune_id: int,
    role: str,
    now: datetime,
    village_id: int | None = None,
) -> Membership:
    actor.require_admin()
    get_user(session, actor, user_id)
    if session.get(Commune, commune_id) is None:
        raise NotFound("commune_not_found", "Không tìm thấy xã", "Commune not found")
    role = Role(role).value
    if role == Role.village_head.value:
        village = session.get(Village, village_id) if village_id else None
        if village is None or village.commune_id != commune_id:
            raise Invalid("village_required", "Trưởng thôn phải gắn với một thôn của xã",
                          "A village head must be tied to a village of the commune")
    else:
        village_id = None
    existing = session.exec(
        select(Membership).where(Membership.user_id == user_id, Membership.commune_id == commune_id)
    ).first()
    if existing:
        existing.role, existing.village_id = role, village_id
        membership = existing
    else:
        membership = Membership(user_id=user_id, commune_id=commune_id, role=role, village_id=village_id,
                                created_at=now)
    session.add(membership)
    session.flush()
    audit.record(session, actor, "membership.set", "user", user_id, now, commune_id=commune_id, role=role,
                 village_id=village_id)
    return membership


def remove_membership(session: Session, actor: Principal, user_id: int, commune_id: int, now: datetime) -> None:
    actor.require_admin()
    membership = session.exec(
        select(Membership).where(Membership.user_id == user_id, Membership.commune_id == commune_id)
    ).first()
    if membership is None:
        raise NotFound("membership_not_found", "Người dùng không thuộc xã này", "The user is not in that commune")
    session.delete(membership)
    audit.record(session, actor, "membership.remove", "user", user_id, now, commune_id=commune_id)


def memberships_of(session: Session, user_id: int) -> list[Membership]:
    return list(session.exec(select(Membership).where(Membership.user_id == user_id).order_by(Membership.commune_id)))


def list_members(session: Session, actor: Principal, commune_id: int) -> list[tuple[User, Membership]]:
    actor.require_role(commune_id, "cadre", admin=True)
    rows = session.exec(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(Membership.commune_id == commune_id).order_by(User.username)
    )
    return [(u, m) for u, m in rows]


def principal_for(session: Session, user: User, ip: str | None, via: str) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        memberships={m.commune_id: CommuneRole(m.role, m.village_id) for m in memberships_of(session, user.id)},
        ip=ip,
        via=via,
    )
