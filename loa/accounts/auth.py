"""Logging in: password checks with rate limiting, browser sessions, API tokens, CSRF tokens, first-start setup.

Rate limiting is persisted in the database (table login_attempts), per username and client IP: after
`max_failures` failed attempts within `window` seconds, further attempts get 429 until the oldest counted failure
leaves the window. A successful login resets the count. Being in the database, the limit holds across restarts
and across several API processes.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from loa.accounts.models import AuthToken, LoginAttempt, SetupToken, User
from loa.accounts.passwords import hash_password, verify_password
from loa.accounts.principal import Principal
from loa.accounts.service import _check_username, end_tokens, principal_for
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound, RateLimited, Unauthenticated

SESSION, BEARER = "session", "bearer"
TOKEN_PREFIX = "loa_"
MAX_TOKEN_DAYS = 365  # no credential lives longer: a token forgotten in a script stops within a year
MAX_TOKEN_LIFETIME = timedelta(days=MAX_TOKEN_DAYS)


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    window_seconds: int = 900


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for(session_secret: str) -> str:
    """The CSRF token bound to a session: derived from the (httpOnly) session secret, so a page on another
    site can neither read nor forge it; the browser sends it back in the X-CSRF-Token header."""
    return hmac.new(session_secret.encode(), b"loa-csrf", hashlib.sha256).hexdigest()


def _bad_credentials() -> Unauthenticated:
    return Unauthenticated("bad_credentials", "Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password")


def _check_rate(session: Session, username: str, ip: str, now: datetime, policy: LoginPolicy) -> None:
    since = now - timedelta(seconds=policy.window_seconds)
    last_success = session.exec(
        select(sa.func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success.is_(True)
        )
    ).one()
    if last_success is not None and last_success > since:
        since = last_success
    failures = list(session.exec(
        select(LoginAttempt.at).where(
            LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
            LoginAttempt.at > since,
        ).order_by(LoginAttempt.at)
    ))
    if len(failures) >= policy.max_failures:
        oldest = failures[-policy.max_failures]
        remaining = (oldest + timedelta(seconds=policy.window_seconds) - now).total_seconds()
        retry = max(1, int(remaining) + 1)
        minutes = max(1, math.ceil(remaining / 60))  # people read minutes ("898 giây" said nothing); Retry-After: s
        raise RateLimited(
            "login_rate_limited",
            f"Đăng nhập sai quá nhiều lần. Thử lại sau {minutes} phút",
            f"Too many failed logins. Try again in {minutes} minute{'' if minutes == 1 else 's'}",
            retry_after=retry,
            retry_after_minutes=minutes,
        )


def authenticate(
    session: Session, username: str, password: str, ip: str, now: datetime, policy: LoginPolicy = LoginPolicy()
) -> User:
    """The user if the password is right; records the attempt either way (its own commit, so a failure
    is remembered even though the caller's transaction rolls back on the error)."""
    username = username.strip().lower()[:64]
    _check_rate(session, username, ip, now, policy)
    user = session.exec(select(User).where(User.username == username)).first()
    right = verify_password(user.password_hash if user else None, password)
    disabled = bool(right and user and not user.is_active)
    ok = right and not disabled
    session.add(LoginAttempt(username=username, ip=ip, at=now, success=ok))
    actor = Principal(user_id=user.id if user else None, username=username, ip=ip, via="login")
    action = "auth.login" if ok else "auth.login_disabled" if disabled else "auth.login_failed"
    audit.record(session, actor, action, "user", user.id if user else None, now)
    session.commit()
    if disabled:  # said only to someone who knows the password: it tells them whom to ask
        raise Unauthenticated("account_disabled", "Tài khoản này đã bị khoá. Hãy liên hệ quản trị của đài",
                              "This account is disabled. Ask the station's admin")
    if not ok:
        raise _bad_credentials()
    return user  # type: ignore[return-value]


def check_lifetime(days: int) -> None:
    if days > MAX_TOKEN_DAYS:
        raise Invalid("token_too_long", f"Mã truy cập dùng được tối đa {MAX_TOKEN_DAYS} ngày; hãy chọn ít hơn",
                      f"A token lasts at most {MAX_TOKEN_DAYS} days; choose fewer", max_days=MAX_TOKEN_DAYS)
    if days < 1:
        raise Invalid("token_too_short", "Mã truy cập phải dùng được ít nhất 1 ngày", "A token lasts at least 1 day")


def issue_token(session: Session, user: User, kind: str, now: datetime, lifetime: timedelta, name: str = "",
                user_agent: str = "") -> tuple[AuthToken, str]:
    """A new session or bearer token; a lifetime past 365 days (LOA_TOKEN_DAYS set too high) is cut to 365."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AuthToken(user_id=user.id, kind=kind, name=name[:100], user_agent=(user_agent or "")[:200],
                      token_hash=_digest(secret), created_at=now, expires_at=now + min(lifetime, MAX_TOKEN_LIFETIME))
    session.add(token)
    session.flush()
    return token, secret


def resolve(session: Session, secret: str, kind: str, ip: str | None, now: datetime) -> tuple[Principal, AuthToken]:
    """The principal behind a session cookie or bearer token; 401 if unknown, expired, revoked or inactive."""
    token = session.exec(select(AuthToken).where(AuthToken.token_hash == _digest(secret))).first()
    if token is None or token.kind != kind or token.revoked_at is not None or expires_at(token) <= now:
        raise Unauthenticated("not_authenticated", "Phiên đăng nhập không hợp lệ hoặc đã hết hạn",
                              "The session or token is invalid or has expired")
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("account_disabled", "Tài khoản này đã bị khoá. Hãy liên hệ quản trị của đài",
                              "This account is disabled. Ask the station's admin")
    return principal_for(session, user, ip, kind, token.id), token


def expires_at(token: AuthToken) -> datetime:
    """When the token stops working: never later than 365 days after its creation, whatever a row made before
    the cap says (the migration cut them too; this holds for any row restored from an older backup)."""
    return min(token.expires_at, token.created_at + MAX_TOKEN_LIFETIME)


def revoke(session: Session, actor: Principal, token_id: int, now: datetime) -> None:
    token = session.get(AuthToken, token_id)
    if token is None or (token.user_id != actor.user_id and not actor.is_admin):
        raise NotFound("token_not_found", "Không tìm thấy mã truy cập", "Token not found")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(token)
        audit.record(session, actor, "auth.revoke", "token", token.id, now)


def list_tokens(session: Session, actor: Principal) -> list[AuthToken]:
    return list(session.exec(
        select(AuthToken).where(AuthToken.user_id == actor.user_id, AuthToken.kind == BEARER).order_by(AuthToken.id)
    ))


def live_credentials(session: Session, actor: Principal, now: datetime) -> list[AuthToken]:
    """The caller's own sessions and tokens that still work, newest first (the account page lists them)."""
    rows = session.exec(select(AuthToken).where(AuthToken.user_id == actor.user_id, AuthToken.revoked_at.is_(None))
                        .order_by(AuthToken.id.desc()))
    return [t for t in rows if expires_at(t) > now]


def change_password(session: Session, actor: Principal, current: str, new: str, now: datetime,
                    policy: LoginPolicy = LoginPolicy()) -> User:
    """A user changes their own password. The current one must be right, under the login's rate limit (a stolen
    session must not be a way to guess it); every other session and token of theirs ends, this one stays."""
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None or not user.is_active:
        raise NotFound("user_not_found", "Không tìm thấy người dùng", "User not found")
    ip = actor.ip or ""
    _check_rate(session, user.username, ip, now, policy)
    if not verify_password(user.password_hash, current):
        session.add(LoginAttempt(username=user.username, ip=ip, at=now, success=False))
        audit.record(session, actor, "user.password_change_failed", "user", user.id, now)
        session.commit()  # remembered although the error rolls the request back
        raise Invalid("current_password_wrong", "Mật khẩu hiện tại không đúng", "The current password is wrong")
    if new == current:
        raise Invalid("password_unchanged", "Mật khẩu mới phải khác mật khẩu hiện tại",
                      "The new password must differ from the current one")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.add(user)
    ended = end_tokens(session, user.id, now, keep_token_id=actor.token_id)
    audit.record(session, actor, "user.password_change", "user", user.id, now, tokens_ended=ended or None)
    return user


# --- first start -------------------------------------------------------------------------------------------

def has_users(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is not None


def new_setup_token(session: Session, now: datetime) -> str | None:
    """At start-up with no users: a fresh one-time token (older unused ones stop working). None if users exist."""
    if has_users(session):
        return None
    session.exec(sa.delete(SetupToken).where(SetupToken.used_at.is_(None)))
    secret = secrets.token_urlsafe(24)
    session.add(SetupToken(token_hash=_digest(secret), created_at=now))
    return secret


def complete_setup(session: Session, secret: str, username: str, password: str, display_name: str, ip: str | None,
                   now: datetime) -> User:
    """Creates the first admin with the one-time token printed at first start."""
    if has_users(session):
        raise Conflict("setup_done", "Hệ thống đã được thiết lập", "The station is already set up")
    token = session.exec(select(SetupToken).where(SetupToken.token_hash == _digest(secret))).first()
    if token is None or token.used_at is not None:
        raise Unauthenticated("setup_token_invalid", "Mã thiết lập không đúng", "Wrong setup token")
    token.used_at = now
    user = User(username=_check_username(username), display_name=display_name or username,
                password_hash=hash_password(password), is_admin=True, created_at=now)
    session.add_all([token, user])
    session.flush()
    audit.record(session, Principal(user.id, user.username, True, ip=ip, via="setup"), "setup.complete", "user",
                 user.id, now)
    return user


CLI = Principal(None, "cli", True, via="cli")  # the shell is trusted: `loa admin create` acts as the system
