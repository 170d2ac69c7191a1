"""Login (cookie session for the web UI, bearer tokens for API clients), logout, who am I, first-start setup."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from api.deps import CSRF_COOKIE, SESSION_COOKIE, Auth, Context, require_same_origin
from api.deps import Id
from api.errors import responses
from loa.accounts import auth
from loa.accounts.models import User
from loa.accounts.schemas import (LoginBody, MembershipOut, NewTokenOut, SessionOut, SetupBody, TokenCreate,
                                  TokenLoginBody, TokenOut, UserOut)
from loa.accounts.service import memberships_of
from loa.audit import service as audit
from loa.db import session_scope

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def user_out(session, user: User) -> UserOut:
    return UserOut(id=user.id, username=user.username, display_name=user.display_name, is_admin=user.is_admin,
                   is_active=user.is_active, created_at=user.created_at,
                   memberships=[MembershipOut(commune_id=m.commune_id, role=m.role, village_id=m.village_id)
                                for m in memberships_of(session, user.id)])


def _policy(ctx) -> auth.LoginPolicy:
    return auth.LoginPolicy(ctx.settings.login_max_failures, ctx.settings.login_window_seconds)


@router.post("/login", response_model=SessionOut, responses=responses(401, 403, 422, 429),
             summary="Log in with a password; sets the httpOnly session cookie and the CSRF cookie. A browser "
                     "request from another site (Origin / Sec-Fetch-Site) is refused: 403 login_cross_site")
def login(body: LoginBody, request: Request, response: Response, ctx: Context) -> SessionOut:
    require_same_origin(request)  # it sets cookies: another site must not log this browser in
    with session_scope(ctx.engine) as session:
        user = auth.authenticate(session, body.username, body.password, ctx.ip, ctx.now, _policy(ctx))
        token, secret = auth.issue_token(session, user, auth.SESSION, ctx.now,
                                         timedelta(hours=ctx.settings.session_hours))
        out = SessionOut(user=user_out(session, user), csrf_token=auth.csrf_for(secret), expires_at=token.expires_at)
    max_age = ctx.settings.session_hours * 3600
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="lax",
                        secure=ctx.settings.cookie_secure, path="/")
    response.set_cookie(CSRF_COOKIE, out.csrf_token, max_age=max_age, httponly=False, samesite="lax",
                        secure=ctx.settings.cookie_secure, path="/")
    return out


@router.post("/token", response_model=NewTokenOut, responses=responses(401, 422, 429),
             summary="Exchange a password for a bearer token (API clients)")
def token_login(body: TokenLoginBody, ctx: Context) -> NewTokenOut:
    with session_scope(ctx.engine) as session:
        user = auth.authenticate(session, body.username, body.password, ctx.ip, ctx.now, _policy(ctx))
        token, secret = auth.issue_token(session, user, auth.BEARER, ctx.now,
                                         timedelta(days=ctx.settings.token_days), body.name)
        return NewTokenOut(**token.model_dump(include=set(TokenOut.model_fields)), access_token=secret)


@router.post("/logout", status_code=204, responses=responses(401, 403), summary="End the session or revoke the token")
def logout(request: Request, response: Response, principal: Auth, ctx: Context) -> Response:
    secret = request.cookies.get(SESSION_COOKIE) if principal.via == auth.SESSION else \
        request.headers.get("authorization", "").partition(" ")[2].strip()
    with session_scope(ctx.engine) as session:
        _, token = auth.resolve(session, secret, principal.via, ctx.ip, ctx.now)
        auth.revoke(session, principal, token.id, ctx.now)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserOut, responses=responses(401), summary="The logged-in user and their roles")
def me(principal: Auth, ctx: Context) -> UserOut:
    with session_scope(ctx.engine) as session:
        return user_out(session, session.get(User, principal.user_id))


@router.get("/tokens", response_model=list[TokenOut], responses=responses(401))
def list_tokens(principal: Auth, ctx: Context) -> list[TokenOut]:
    with session_scope(ctx.engine) as session:
        return [TokenOut(**t.model_dump(include=set(TokenOut.model_fields)))
                for t in auth.list_tokens(session, principal)]


@router.post("/tokens", response_model=NewTokenOut, status_code=201, responses=responses(401, 403, 422),
             summary="Create a bearer token for the logged-in user")
def create_token(body: TokenCreate, principal: Auth, ctx: Context) -> NewTokenOut:
    with session_scope(ctx.engine) as session:
        user = session.get(User, principal.user_id)
        token, secret = auth.issue_token(session, user, auth.BEARER, ctx.now, timedelta(days=body.days), body.name)
        audit.record(session, principal, "auth.token_create", "token", token.id, ctx.now, name=body.name)
        return NewTokenOut(**token.model_dump(include=set(TokenOut.model_fields)), access_token=secret)


@router.delete("/tokens/{token_id}", status_code=204, responses=responses(401, 403, 404))
def revoke_token(token_id: Id, principal: Auth, ctx: Context) -> Response:
    with session_scope(ctx.engine) as session:
        auth.revoke(session, principal, token_id, ctx.now)
    return Response(status_code=204)


setup_router = APIRouter(prefix="/api/v1", tags=["setup"])


@setup_router.post("/setup", response_model=UserOut, status_code=201, responses=responses(401, 409, 422),
                   summary="Create the first admin with the one-time token printed at first start")
def setup(body: SetupBody, ctx: Context) -> UserOut:
    with session_scope(ctx.engine) as session:
        user = auth.complete_setup(session, body.token, body.username, body.password, body.display_name, ctx.ip,
                                   ctx.now)
        return user_out(session, user)
