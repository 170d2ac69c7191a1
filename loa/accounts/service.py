"""Creating users and giving them roles in communes. Only the system admin manages accounts."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlmodel import Session, select

from loa.accounts.models import AuthToken, Membership, Role, User
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
    must_change_password: bool = False,
) -> User:
    """`must_change_password`: the password is a one-time one the admin hands over (the web form makes one)."""
    actor.require_admin()
    username = _check_username(username)
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict("username_taken", "Tên đăng nhập đã có người dùng", "That username is taken")
    user = User(username=username, display_name=display_name.strip() or username,
                password_hash=hash_password(password), is_admin=is_admin, must_change_password=must_change_password,
                created_at=now)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, now, is_admin=is_admin,
                 one_time_password=must_change_password or None)
    return user


def get_user(session: Session, actor: Principal, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not (actor.is_admin or actor.user_id == user_id):
        raise NotFound("user_not_found", "Không tìm thấy người dùng", "User not found")
    return user


def list_users(session: Session, actor: Principal) -> list[User]:
    actor.require_admin()
    return list(session.exec(select(User).order_by(User.id)))


def user_by_name(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound("user_not_found", "Không tìm thấy người dùng", "User not found")
    return user


def end_tokens(session: Session, user_id: int, now: datetime, keep_token_id: int | None = None) -> int:
    """Revoke every live session and API token of the user (but `keep_token_id`); returns how many ended.

    Every request checks its token in the database (auth.resolve), so a revoked one stops at the next request."""
    live = session.exec(select(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None)))
    ended = 0
    for token in live:
        if token.id != keep_token_id and token.expires_at > now:
            token.revoked_at = now
            session.add(token)
            ended += 1
    return ended


def _other_active_admins(session: Session, user_id: int) -> int:
    return len(session.exec(select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True),
                                                   User.id != user_id)).all())


def set_active(session: Session, actor: Principal, user_id: int, active: bool, now: datetime) -> User:
    """Enable or disable an account. Disabling ends all its sessions and tokens at once; the last active admin
    cannot be disabled (no one could manage accounts any more, and the CLI would be the only way back)."""
    actor.require_admin()
    user = get_user(session, actor, user_id)
    if not active and user.is_admin and _other_active_admins(session, user.id) == 0:
        raise Conflict("last_admin", "Không thể khoá quản trị viên cuối cùng: hãy tạo hoặc mở một quản trị viên khác "
                                     "trước", "The last admin cannot be disabled: enable or create another admin first")
    ended = 0
    if not active:
        ended = end_tokens(session, user.id, now)
    if user.is_active != active:
        user.is_active = active
        session.add(user)
    audit.record(session, actor, "user.enable" if active else "user.disable", "user", user.id, now,
                 username=user.username, tokens_ended=ended or None)
    return user


# Letters and digits a person reads out over the phone without confusion (no 0/o, 1/l/i).
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def one_time_password() -> str:
    """12 random characters in three groups ("k7mq-p9xa-4hzt"): about 59 bits, easy to copy by hand."""
    while True:
        groups = ["".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(4)) for _ in range(3)]
        candidate = "-".join(groups)
        try:
            hash_password(candidate)  # the policy (a random draw could, in theory, repeat a group)
        except Invalid:
            continue
        return candidate


def reset_password(session: Session, actor: Principal, user_id: int, now: datetime) -> tuple[User, str]:
    """A new one-time password for the user (returned once, only its hash is kept); all their sessions and
    tokens end, and the next login can do nothing but choose a new password."""
    password = one_time_password()
    return _replace_password(session, actor, user_id, password, now, "user.password_reset", one_time=True), password


def set_password(session: Session, actor: Principal, user_id: int, password: str, now: datetime) -> User:
    """The admin (or the shell: `loa admin passwd`) sets a password; the user's sessions and tokens end."""
    return _replace_password(session, actor, user_id, password, now, "user.password_set", one_time=False)


def _replace_password(session: Session, actor: Principal, user_id: int, password: str, now: datetime,
                      action: str, one_time: bool) -> User:
    """The admin's change of another's password: it replaces the old one, and every session and token of the user
    ends (audited as `action`). A one-time password can do nothing but choose a new one at the next login."""
    actor.require_admin()
    user = get_user(session, actor, user_id)
    user.password_hash = hash_password(password)
    user.must_change_password = one_time
    session.add(user)
    ended = end_tokens(session, user.id, now)
    audit.record(session, actor, action, "user", user.id, now, username=user.username, tokens_ended=ended or None)
    return user


def update_user(session: Session, actor: Principal, user_id: int, now: datetime, display_name: str | None = None,
                is_admin: bool | None = None) -> User:
    actor.require_admin()
    user = get_user(session, actor, user_id)
    changes: dict = {}
    if display_name is not None and display_name.strip() and display_name.strip() != user.display_name:
        user.display_name = changes["display_name"] = display_name.strip()
    if is_admin is not None and is_admin != user.is_admin:
        if not is_admin and user.is_active and _other_active_admins(session, user.id) == 0:
            raise Conflict("last_admin", "Không thể bỏ quyền quản trị của quản trị viên cuối cùng",
                           "The last admin cannot lose the admin right")
        user.is_admin = changes["is_admin"] = is_admin
    if changes:
        session.add(user)
        audit.record(session, actor, "user.update", "user", user.id, now, **changes)
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


def principal_for(session: Session, user: User, ip: str | None, via: str, token_id: int | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        memberships={m.commune_id: CommuneRole(m.role, m.village_id) for m in memberships_of(session, user.id)},
        ip=ip,
        via=via,
        must_change_password=user.must_change_password,
        token_id=token_id,
    )
