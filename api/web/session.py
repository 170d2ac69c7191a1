"""Who is looking at a page, and the CSRF check for HTML forms.

Pages use the same session cookie and the same double-submit CSRF token as the JSON API (api/deps.py): a form
carries the token in a hidden field `csrf`, small scripts send it in the X-CSRF-Token header. The Principal comes
from the same `auth.resolve`, so a page sees exactly what the API would let the user see."""
from __future__ import annotations

import hmac
from datetime import timedelta
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from api.deps import CSRF_COOKIE, SESSION_COOKIE, client_ip, require_same_origin
from loa.accounts import auth
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import PermissionDenied, Unauthenticated


class LoginRequired(Exception):
    """Raised by a page that needs a logged-in user; the route class turns it into a redirect to /login."""


class PasswordChangeRequired(Exception):
    """Raised by a page when the user still holds a one-time password; the route class sends them to
    /app/account, the one page (with logout) they may use until they choose their own password."""


ACCOUNT_PAGE = "/app/account"


def now_of(request: Request):
    return request.app.state.clock()


def current_principal(request: Request) -> Principal | None:
    """The logged-in user of this browser, or None (no cookie, expired or revoked session)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        with session_scope(request.app.state.engine) as session:
            principal, _ = auth.resolve(session, cookie, auth.SESSION, client_ip(request), now_of(request))
    except Unauthenticated:
        return None
    return principal


def require_principal(request: Request, allow_one_time_password: bool = False) -> Principal:
    principal = current_principal(request)
    if principal is None:
        raise LoginRequired()
    if principal.must_change_password and not allow_one_time_password:
        raise PasswordChangeRequired()
    return principal


def csrf_token(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.csrf_for(cookie) if cookie else ""


def check_csrf(request: Request, sent: str | None) -> None:
    """The double-submit check of api/deps.py, for a token that came in a form field."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    expected = auth.csrf_for(cookie) if cookie else ""
    if not (expected and hmac.compare_digest(sent or "", expected)
            and hmac.compare_digest(request.cookies.get(CSRF_COOKIE, ""), expected)):
        raise PermissionDenied("csrf_failed", "Thiếu hoặc sai mã chống giả mạo (CSRF); hãy tải lại trang",
                               "Missing or wrong CSRF token; reload the page")


def start_session(request: Request, response: Response, username: str, password: str) -> None:
    """Check the password (with the API's rate limit) and set the same cookies as POST /api/v1/auth/login."""
    require_same_origin(request)  # login CSRF: a form on another site must not log this browser in
    settings, now = request.app.state.settings, now_of(request)
    policy = auth.LoginPolicy(settings.login_max_failures, settings.login_window_seconds)
    with session_scope(request.app.state.engine) as session:
        user = auth.authenticate(session, username, password, client_ip(request), now, policy)
        _, secret = auth.issue_token(session, user, auth.SESSION, now, timedelta(hours=settings.session_hours),
                                     user_agent=request.headers.get("user-agent", ""))
        must_change = user.must_change_password
    max_age = settings.session_hours * 3600
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")
    response.set_cookie(CSRF_COOKIE, auth.csrf_for(secret), max_age=max_age, httponly=False, samesite="lax",
                        secure=settings.cookie_secure, path="/")
    if must_change:  # a one-time password: straight to choosing a new one, wherever the login was going
        response.headers["location"] = ACCOUNT_PAGE


def end_session(request: Request, response: Response) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = current_principal(request)
    if cookie and principal is not None:
        with session_scope(request.app.state.engine) as session:
            _, token = auth.resolve(session, cookie, auth.SESSION, client_ip(request), now_of(request))
            auth.revoke(session, principal, token.id, now_of(request))
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None, default: str = "/app") -> str:
    """Only a local path: an open redirect to another site would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def require_admin(request: Request) -> Principal:
    """The signed-in station admin (403 for anyone else, the login page for nobody)."""
    user = require_principal(request)
    user.require_admin()
    return user


def admin_form(request: Request, csrf: str | None) -> Principal:
    """The admin, sending one of the admin's forms with its CSRF token."""
    user = require_admin(request)
    check_csrf(request, csrf)
    return user
