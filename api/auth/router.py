"""Login (cookie session for the web UI, bearer tokens for API clients), logout, who am I, first-start setup."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from api.deps import CSRF_COOKIE, SESSION_COOKIE, Auth, AuthMayMustChange, Context, require_same_origin
from api.deps import Id
from api.errors import responses
from loa.accounts import auth
from loa.accounts import service as accounts
from loa.accounts.models import User
from loa.accounts.schemas import (CredentialOut, LoginBody, MembershipOut, NewTokenOut, OneTimePasswordOut,
                                  PasswordChange, SessionOut, SetupBody, TokenCreate, TokenLoginBody, TokenOut,
                                  UserOut, UserUpdate)
from loa.accounts.service import memberships_of
from loa.audit import service as audit
from loa.db import session_scope

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def user_out(session, user: User) -> UserOut:
    return UserOut(id=user.id, username=user.username, display_name=user.display_name, is_admin=user.is_admin,
                   is_active=user.is_active, must_change_password=user.must_change_password,
                   created_at=user.created_at,
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
                                         timedelta(hours=ctx.settings.session_hours),
                                         user_agent=request.headers.get("user-agent", ""))
        out = SessionOut(user=user_out(session, user), csrf_token=auth.csrf_for(secret), expires_at=token.expires_at)
    max_age = ctx.settings.session_hours * 3600
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="lax",
                        secure=ctx.settings.cookie_secure, path="/")
    response.set_cookie(CSRF_COOKIE, out.csrf_token, max_age=max_age, httponly=False, samesite="lax",
                        secure=ctx.settings.cookie_secure, path="/")
    return out


@router.post("/token", response_model=NewTokenOut, responses=responses(401, 422, 429),
             summary="Exchange a password for a bearer token (API clients)")
def token_login(body: TokenLoginBody, request: Request, ctx: Context) -> NewTokenOut:
    with session_scope(ctx.engine) as session:
        user = auth.authenticate(session, body.username, body.password, ctx.ip, ctx.now, _policy(ctx))
        token, secret = auth.issue_token(session, user, auth.BEARER, ctx.now,
                                         timedelta(days=ctx.settings.token_days), body.name,
                                         request.headers.get("user-agent", ""))
        return NewTokenOut(**token.model_dump(include=set(TokenOut.model_fields)), access_token=secret)


@router.post("/logout", status_code=204, responses=responses(401, 403), summary="End the session or revoke the token")
def logout(request: Request, response: Response, principal: AuthMayMustChange, ctx: Context) -> Response:
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


@router.post("/password", response_model=UserOut, responses=responses(401, 403, 422, 429),
             summary="Change your own password. The current one must be right (422 current_password_wrong, under "
                     "the login rate limit); the new one follows the password rules. Every other session and "
                     "token of yours ends; the one making this request stays. Also the way out of a one-time "
                     "password")
def change_password(body: PasswordChange, principal: AuthMayMustChange, ctx: Context) -> UserOut:
    with session_scope(ctx.engine) as session:
        user = auth.change_password(session, principal, body.current_password, body.new_password, ctx.now,
                                    _policy(ctx))
        return user_out(session, user)


@router.get("/sessions", response_model=list[CredentialOut], responses=responses(401, 403),
            summary="Your own browser sessions and API tokens that still work (revoke one with DELETE "
                    "/api/v1/auth/tokens/{id})")
def list_sessions(principal: Auth, ctx: Context) -> list[CredentialOut]:
    with session_scope(ctx.engine) as session:
        return [CredentialOut(id=t.id, kind=t.kind, name=t.name, user_agent=t.user_agent, created_at=t.created_at,
                              expires_at=auth.expires_at(t), current=(t.id == principal.token_id))
                for t in auth.live_credentials(session, principal, ctx.now)]


@router.get("/tokens", response_model=list[TokenOut], responses=responses(401))
def list_tokens(principal: Auth, ctx: Context) -> list[TokenOut]:
    with session_scope(ctx.engine) as session:
        return [TokenOut(**t.model_dump(include=set(TokenOut.model_fields)))
                for t in auth.list_tokens(session, principal)]


@router.post("/tokens", response_model=NewTokenOut, status_code=201, responses=responses(401, 403, 422),
             summary="Create a bearer token for the logged-in user")
def create_token(body: TokenCreate, request: Request, principal: Auth, ctx: Context) -> NewTokenOut:
    auth.check_lifetime(body.days)
    with session_scope(ctx.engine) as session:
        user = session.get(User, principal.user_id)
        token, secret = auth.issue_token(session, user, auth.BEARER, ctx.now, timedelta(days=body.days), body.name,
                                         request.headers.get("user-agent", ""))
        audit.record(session, principal, "auth.token_create", "token", token.id, ctx.now, name=body.name)
        return NewTokenOut(**token.model_dump(include=set(TokenOut.model_fields)), access_token=secret)


@router.delete("/tokens/{token_id}", status_code=204, responses=responses(401, 403, 404),
               summary="Revoke one of your sessions or tokens (an admin may revoke anyone's)")
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


users_router = APIRouter(prefix="/api/v1/users", tags=["organisation"])


@users_router.patch("/{user_id}", response_model=UserOut, responses=responses(401, 403, 404, 409, 422),
                    summary="Change a user's display name or admin right (admin; the last admin keeps the right)")
def update_user(user_id: Id, body: UserUpdate, principal: Auth, ctx: Context) -> UserOut:
    with session_scope(ctx.engine) as session:
        user = accounts.update_user(session, principal, user_id, ctx.now, body.display_name, body.is_admin)
        return user_out(session, user)


@users_router.post("/{user_id}/reset-password", response_model=OneTimePasswordOut,
                   responses=responses(401, 403, 404),
                   summary="Give the user a one-time password (admin). It is in this answer only; every session and "
                           "token of the user ends, and until they choose a new password their requests get 403 "
                           "password_change_required (but POST /api/v1/auth/password and logout)")
def reset_password(user_id: Id, principal: Auth, ctx: Context) -> OneTimePasswordOut:
    with session_scope(ctx.engine) as session:
        user, password = accounts.reset_password(session, principal, user_id, ctx.now)
        return OneTimePasswordOut(user_id=user.id, username=user.username, one_time_password=password)


@users_router.post("/{user_id}/disable", response_model=UserOut, responses=responses(401, 403, 404, 409),
                   summary="Disable an account (admin): its sessions and tokens end at once and login is refused "
                           "(401 account_disabled). The last active admin cannot be disabled (409 last_admin)")
def disable_user(user_id: Id, principal: Auth, ctx: Context) -> UserOut:
    with session_scope(ctx.engine) as session:
        return user_out(session, accounts.set_active(session, principal, user_id, False, ctx.now))


@users_router.post("/{user_id}/enable", response_model=UserOut, responses=responses(401, 403, 404),
                   summary="Enable a disabled account again (admin); the user logs in with their password")
def enable_user(user_id: Id, principal: Auth, ctx: Context) -> UserOut:
    with session_scope(ctx.engine) as session:
        return user_out(session, accounts.set_active(session, principal, user_id, True, ctx.now))
