"""Logging in: password checks with rate limiting, browser sessions, API tokens, CSRF tokens, first-start setup.

Rate limiting is persisted in the database (table login_attempts), per username and client IP: after
`max_failures` failed attempts within `window` seconds, further attempts get 429 until the oldest counted failure
leaves the window. A successful login resets the count. Being in the database, the limit holds across restarts
and across several API processes.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from loa.accounts.models import AuthToken, LoginAttempt, SetupToken, User
from loa.accounts.passwords import hash_password, verify_password
from loa.accounts.principal import Principal
from loa.accounts.service import _check_username, principal_for
from loa.audit import service as audit
from loa.errors import Conflict, NotFound, RateLimited, Unauthenticated

SESSION, BEARER = "session", "bearer"
TOKEN_PREFIX = "loa_"


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
        retry = max(1, int((oldest + timedelta(seconds=policy.window_seconds) - now).total_seconds()) + 1)
        raise RateLimited(
            "login_rate_limited",
            f"Đăng nhập sai quá nhiều lần; thử lại sau {retry} giây",
            f"Too many failed logins; try again in {retry} seconds",
            retry_after=retry,
        )


def authenticate(
    session: Session, username: str, password: str, ip: str, now: datetime, policy: LoginPolicy = LoginPolicy()
) -> User:
    """The user if the password is right; records the attempt either way (its own commit, so a failure
    is remembered even though the caller's transaction rolls back on the error)."""
    username = username.strip().lower()[:64]
    _check_rate(session, username, ip, now, policy)
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(user.password_hash if user else None, password) and bool(user and user.is_active)
    session.add(LoginAttempt(username=username, ip=ip, at=now, success=ok))
    actor = Principal(user_id=user.id if user else None, username=username, ip=ip, via="login")
    audit.record(session, actor, "auth.login" if ok else "auth.login_failed", "user",
                 user.id if user else None, now)
    session.commit()
    if not ok:
        raise _bad_credentials()
    return user  # type: ignore[return-value]


def issue_token(session: Session, user: User, kind: str, now: datetime, lifetime: timedelta, name: str = "") -> tuple[AuthToken, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AuthToken(user_id=user.id, kind=kind, name=name[:100], token_hash=_digest(secret), created_at=now,
                      expires_at=now + lifetime)
    session.add(token)
    session.flush()
    return token, secret


def resolve(session: Session, secret: str, kind: str, ip: str | None, now: datetime) -> tuple[Principal, AuthToken]:
    """The principal behind a session cookie or bearer token; 401 if unknown, expired, revoked or inactive."""
    token = session.exec(select(AuthToken).where(AuthToken.token_hash == _digest(secret))).first()
    if token is None or token.kind != kind or token.revoked_at is not None or token.expires_at <= now:
        raise Unauthenticated("not_authenticated", "Phiên đăng nhập không hợp lệ hoặc đã hết hạn",
                              "The session or token is invalid or has expired")
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("not_authenticated", "Tài khoản đã bị khoá", "The account is disabled")
    return principal_for(session, user, ip, kind), token


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
