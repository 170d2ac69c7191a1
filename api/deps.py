"""The one authentication dependency (`authenticated`) and request context helpers.

Bearer tokens (API clients) are exempt from CSRF checks: a browser never adds them on its own. Cookie
sessions must send the X-CSRF-Token header (the value returned at login and kept in the loa_csrf cookie) on
every unsafe method; the token is derived from the httpOnly session secret, so another site cannot forge it."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Path, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.errors import wants_english
from api.limits import client_address
from loa.accounts import auth
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import PermissionDenied, Unauthenticated
from loa.settings import Settings

SESSION_COOKIE = "loa_session"
CSRF_COOKIE = "loa_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def client_ip(request: Request) -> str:
    """The client's address (api/limits.py `client_address`: X-Forwarded-For only from LOA_TRUSTED_PROXIES)."""
    return client_address(request.scope, request.app.state.settings.trusted_proxies)


def require_same_origin(request: Request) -> None:
    """Login CSRF: another site must not log this browser in (to an account the attacker controls).

    Browsers say where a request comes from: Sec-Fetch-Site (Chromium, Firefox, Safari) and Origin (every browser
    on a POST). A request another site made is refused; one without either header is not a browser's (an API
    client, a script) and has no victim, so it passes. Our own origin is the Host the browser addressed (a page
    cannot change it) or LOA_PUBLIC_URL's."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    allowed = {request.headers.get("host", "").lower()}
    public = request.app.state.settings.public_url
    if public:
        allowed.add(urlsplit(public).netloc.lower())
    cross = site is not None and site not in ("same-origin", "none")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() not in allowed):
        cross = True
    if cross:
        raise PermissionDenied("login_cross_site",
                               "Chỉ đăng nhập được từ trang của đài. Hãy mở trang đăng nhập của đài rồi thử lại",
                               "Log in from the station's own page: open its login page and try again")


@dataclass
class Ctx:
    engine: Engine
    settings: Settings
    now: datetime
    lang: str
    ip: str


def context(request: Request) -> Ctx:
    state = request.app.state
    return Ctx(state.engine, state.settings, state.clock(), "en" if wants_english(request) else "vi",
               client_ip(request))


def authenticated(request: Request, ctx: Annotated[Ctx, Depends(context)]) -> Principal:
    principal = authenticated_to_change_password(request, ctx)
    if principal.must_change_password:
        raise PermissionDenied("password_change_required",
                               "Bạn đang dùng mật khẩu một lần: hãy đổi mật khẩu trước (POST /api/v1/auth/password)",
                               "You are using a one-time password: change it first (POST /api/v1/auth/password)")
    return principal


def authenticated_to_change_password(request: Request, ctx: Annotated[Ctx, Depends(context)]) -> Principal:
    """Who is asking, also when they still hold a one-time password: only the password change and logout use
    this directly; everything else goes through `authenticated`, which refuses such a user with 403."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    with session_scope(ctx.engine) as session:
        if scheme.lower() == "bearer" and secret.strip():
            principal, _ = auth.resolve(session, secret.strip(), auth.BEARER, ctx.ip, ctx.now)
            return principal
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthenticated("not_authenticated", "Bạn cần đăng nhập", "You need to log in")
        principal, _ = auth.resolve(session, cookie, auth.SESSION, ctx.ip, ctx.now)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = auth.csrf_for(cookie)
        if not (hmac.compare_digest(sent, expected)
                and hmac.compare_digest(request.cookies.get(CSRF_COOKIE, ""), expected)):
            raise PermissionDenied("csrf_failed", "Thiếu hoặc sai mã chống giả mạo (CSRF); hãy tải lại trang",
                                   "Missing or wrong CSRF token; reload the page")
    return principal


Auth = Annotated[Principal, Depends(authenticated)]
AuthMayMustChange = Annotated[Principal, Depends(authenticated_to_change_password)]
# Row ids in paths: bounded to the database's integer range, so a huge number is a clean 422, never a 500.
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
Context = Annotated[Ctx, Depends(context)]


def db_session(ctx: Context) -> Iterator[Session]:
    """One unit of work for a route: committed when the route function returns and before the response is sent
    (the dependency's scope is "function"), so a failed commit is the client's error answer, never a 200 for a
    write that did not happen; rolled back on any error."""
    with session_scope(ctx.engine) as session:
        yield session


DbSession = Annotated[Session, Depends(db_session, scope="function")]
