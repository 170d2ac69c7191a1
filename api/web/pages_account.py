"""Everyone's own account (/app/account: change the password, see and end one's sessions and tokens) and the
admin's pages (/app/admin: the hub; /app/admin/users: accounts, roles per commune and village, disable and
enable, one-time passwords).

Destructive actions (disable, reset a password, remove a role) first show a confirmation page: it works without
JavaScript and under the strict CSP. A one-time password is shown once, in the answer to the POST that made
it (never in a URL, never cached), and only its hash is kept."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import SESSION_COOKIE, Id
from api.web.form_errors import error_message
from api.web.render import PageRoute, gettext_for, render
from api.web.session import ACCOUNT_PAGE, admin_form, check_csrf, end_session, now_of, require_admin, require_principal
from loa.accounts import auth
from loa.accounts import service as accounts
from loa.accounts.models import Role, User
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import DomainError, Invalid
from loa.org import service as org

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=1024)]
Csrf = Annotated[str, Form(max_length=200)]
SmallField = Annotated[str, Form(max_length=20)]
NO_STORE = {"Cache-Control": "no-store"}


_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Macintosh", "Mac"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))
_BROWSERS = (("Zalo", "Zalo"), ("coc_coc", "Cốc Cốc"), ("CocCoc", "Cốc Cốc"), ("Edg/", "Edge"),
             ("Firefox/", "Firefox"), ("SamsungBrowser", "Samsung Internet"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"), ("curl/", "curl"), ("python", "Python"))


def device_label(user_agent: str) -> str:
    """"Chrome · Android" from a User-Agent header: enough for a person to tell their phone from another's."""
    browser = next((name for key, name in _BROWSERS if key in user_agent), "")
    system = next((name for key, name in _SYSTEMS if key in user_agent), "")
    return " · ".join(part for part in (browser, system) if part)


def _policy(request: Request) -> auth.LoginPolicy:
    settings = request.app.state.settings
    return auth.LoginPolicy(settings.login_max_failures, settings.login_window_seconds)


# --- everyone: /app/account ---------------------------------------------------------------------------------

def _account_page(request: Request, user: Principal, status: int = 200, error: str | None = None,
                  done: str | None = None):
    _ = gettext_for(request)
    with session_scope(request.app.state.engine) as s:
        me = s.get(User, user.user_id)
        credentials = auth.live_credentials(s, user, now_of(request))
        rows = [{"id": t.id, "kind": t.kind, "name": t.name, "device": device_label(t.user_agent),
                 "created_at": t.created_at,
                 "expires_at": auth.expires_at(t), "current": t.id == user.token_id} for t in credentials]
    flash = {"password": _("Your password is changed. Your other sessions and tokens have ended."),
             "revoked": _("That session has ended.")}.get(done or "")
    return render(request, "account.html", status=status, user=user, me=me, credentials=rows, error=error,
                  flash=flash, title=_("My account"))


@router.get("/app/account")
def account(request: Request, done: str | None = None):
    user = require_principal(request, allow_one_time_password=True)
    return _account_page(request, user, done=done)


@router.post("/app/account/password")
def change_password(request: Request, current_password: Text, new_password: Text, new_password2: Text,
                    csrf: Csrf = ""):
    user = require_principal(request, allow_one_time_password=True)
    check_csrf(request, csrf)
    _ = gettext_for(request)
    if new_password != new_password2:
        return _account_page(request, user, 422, _("The two new passwords are not the same. Type them again."))
    try:
        with session_scope(request.app.state.engine) as s:
            auth.change_password(s, user, current_password, new_password, now_of(request), _policy(request))
    except DomainError as exc:
        return _account_page(request, user, exc.status, error_message(request, exc))
    return RedirectResponse(f"{ACCOUNT_PAGE}?done=password", status_code=303)


@router.post("/app/account/revoke/{token_id}")
def revoke(request: Request, token_id: Id, csrf: Csrf = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    if token_id == user.token_id:  # ending this very session is logging out
        response = RedirectResponse("/login", status_code=303)
        end_session(request, response)
        return response
    with session_scope(request.app.state.engine) as s:
        auth.revoke(s, Principal(user.user_id, user.username, False, ip=user.ip, via=user.via), token_id,
                    now_of(request))  # as a plain user: only one's own
    return RedirectResponse(f"{ACCOUNT_PAGE}?done=revoked", status_code=303)


# --- the admin: /app/admin ----------------------------------------------------------------------------------

@router.get("/app/admin")
def admin_home(request: Request):
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        users = accounts.list_users(s, user)
    return render(request, "admin_home.html", user=user, title=gettext_for(request)("Administration"),
                  user_count=len(users), disabled_count=sum(1 for u in users if not u.is_active))


def _role_choices(s, user: Principal) -> tuple[list, list]:
    communes = org.list_communes(s, user)
    villages = [(c, v) for c in communes for v in org.list_villages(s, user, c.id)]
    return communes, villages


def _users_page(request: Request, user: Principal, status: int = 200, error: str | None = None,
                form: dict | None = None, done: str | None = None):
    _ = gettext_for(request)
    with session_scope(request.app.state.engine) as s:
        users = accounts.list_users(s, user)
        communes, villages = _role_choices(s, user)
        names = {c.id: c.name for c in communes}
        village_names = {v.id: v.name for _c, v in villages}
        rows = [{"u": u, "roles": [(names.get(m.commune_id, "?"), m.role, village_names.get(m.village_id))
                                   for m in accounts.memberships_of(s, u.id)]} for u in users]
    flash = {"disabled": _("The account is disabled. Its sessions have ended."),
             "enabled": _("The account can log in again.")}.get(done or "")
    return render(request, "admin_users.html", status=status, user=user, rows=rows, communes=communes,
                  villages=villages, error=error, form=form or {}, flash=flash, roles=[r.value for r in Role],
                  title=_("Users"))


@router.get("/app/admin/users")
def admin_users(request: Request, done: str | None = None):
    return _users_page(request, require_admin(request), done=done)


def _optional_id(value: str, name: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit() or len(value.strip()) > 9:
        raise Invalid("validation_error", f"Dữ liệu không hợp lệ: {name}", f"Invalid input: {name}")
    return int(value)


@router.post("/app/admin/users")
def admin_create_user(request: Request, username: Annotated[str, Form(max_length=64)],
                      display_name: Annotated[str, Form(max_length=200)] = "",
                      role: SmallField = "", commune_id: SmallField = "", village_id: SmallField = "",
                      is_admin: SmallField = "", csrf: Csrf = ""):
    """A new account with a one-time password (shown once here): the person chooses their own at first login."""
    user = admin_form(request, csrf)
    form = {"username": username, "display_name": display_name, "role": role, "commune_id": commune_id,
            "village_id": village_id, "is_admin": bool(is_admin)}
    _ = gettext_for(request)
    try:
        commune = _optional_id(commune_id, "commune_id")
        village = _optional_id(village_id, "village_id")
        if role and role not in {r.value for r in Role}:
            raise Invalid("role_invalid", "Vai trò không hợp lệ", "Unknown role")
        if role and commune is None:
            raise Invalid("commune_required", "Hãy chọn xã cho vai trò này", "Choose the commune for this role")
        if not role and not is_admin:
            raise Invalid("role_required", "Hãy chọn một vai trò trong xã, hoặc quyền quản trị",
                          "Choose a role in a commune, or the admin right")
        with session_scope(request.app.state.engine) as s:
            password = accounts.one_time_password()
            created = accounts.create_user(s, user, username, password, now_of(request), display_name,
                                           is_admin=bool(is_admin), must_change_password=True)
            if role:
                accounts.add_membership(s, user, created.id, commune, role, now_of(request), village)
            out = {"id": created.id, "username": created.username, "display_name": created.display_name}
    except DomainError as exc:  # nothing is kept: the user and the role are one transaction
        return _users_page(request, user, exc.status, error_message(request, exc), form)
    response = render(request, "one_time_password.html", user=user, target=out, password=password, created=True,
                      title=_("One-time password"))
    response.headers.update(NO_STORE)
    return response


def _user_page(request: Request, user: Principal, user_id: int, status: int = 200, error: str | None = None,
               done: str | None = None):
    _ = gettext_for(request)
    with session_scope(request.app.state.engine) as s:
        target = accounts.get_user(s, user, user_id)
        communes, villages = _role_choices(s, user)
        names = {c.id: c.name for c in communes}
        village_names = {v.id: v.name for _c, v in villages}
        memberships = [{"commune_id": m.commune_id, "commune": names.get(m.commune_id, "?"), "role": m.role,
                        "village": village_names.get(m.village_id)} for m in accounts.memberships_of(s, user_id)]
        s.expunge(target)
    flash = {"role": _("The role is saved."), "role_removed": _("The role is removed."),
             "enabled": _("The account can log in again.")}.get(done or "")
    return render(request, "admin_user.html", status=status, user=user, target=target, memberships=memberships,
                  communes=communes, villages=villages, roles=[r.value for r in Role], error=error, flash=flash,
                  title=target.username)


@router.get("/app/admin/users/{user_id}")
def admin_user(request: Request, user_id: Id, done: str | None = None):
    return _user_page(request, require_admin(request), user_id, done=done)


@router.post("/app/admin/users/{user_id}/roles")
def admin_set_role(request: Request, user_id: Id, commune_id: Annotated[str, Form(max_length=12)],
                   role: Annotated[str, Form(max_length=20)], village_id: Annotated[str, Form(max_length=12)] = "",
                   csrf: Csrf = ""):
    user = admin_form(request, csrf)
    try:
        commune = _optional_id(commune_id, "commune_id")
        if commune is None:
            raise Invalid("commune_required", "Hãy chọn xã cho vai trò này", "Choose the commune for this role")
        if role not in {r.value for r in Role}:
            raise Invalid("role_invalid", "Vai trò không hợp lệ", "Unknown role")
        with session_scope(request.app.state.engine) as s:
            accounts.add_membership(s, user, user_id, commune, role, now_of(request), _optional_id(village_id,
                                                                                                   "village_id"))
    except DomainError as exc:
        return _user_page(request, user, user_id, exc.status, error_message(request, exc))
    return RedirectResponse(f"/app/admin/users/{user_id}?done=role", status_code=303)


CONFIRMS = {"disable", "reset", "remove-role"}


@router.get("/app/admin/users/{user_id}/confirm/{action}")
def admin_confirm(request: Request, user_id: Id, action: str, commune_id: int | None = None):
    """Ask first: what will happen, in words, with one button to go on and one to go back."""
    user = require_admin(request)
    if action not in CONFIRMS:
        raise Invalid("validation_error", "Dữ liệu không hợp lệ: action", "Invalid input: action")
    with session_scope(request.app.state.engine) as s:
        target = accounts.get_user(s, user, user_id)
        commune = org.get_commune(s, user, commune_id) if action == "remove-role" and commune_id else None
        if action == "remove-role" and commune is None:
            raise Invalid("commune_required", "Hãy chọn xã", "Choose the commune")
        s.expunge(target)
        if commune is not None:
            s.expunge(commune)
    return render(request, "admin_confirm.html", user=user, target=target, action=action, role_commune=commune,
                  title=gettext_for(request)("Are you sure?"))


@router.post("/app/admin/users/{user_id}/roles/{commune_id}/remove")
def admin_remove_role(request: Request, user_id: Id, commune_id: Id, csrf: Csrf = ""):
    user = admin_form(request, csrf)
    with session_scope(request.app.state.engine) as s:
        accounts.remove_membership(s, user, user_id, commune_id, now_of(request))
    return RedirectResponse(f"/app/admin/users/{user_id}?done=role_removed", status_code=303)


@router.post("/app/admin/users/{user_id}/disable")
def admin_disable(request: Request, user_id: Id, csrf: Csrf = ""):
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            accounts.set_active(s, user, user_id, False, now_of(request))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _user_page(request, user, user_id, exc.status, error_message(request, exc))
    if user_id == user.user_id:  # an admin who disabled themselves (another admin remains) is logged out
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/app/admin/users?done=disabled", status_code=303)


@router.post("/app/admin/users/{user_id}/enable")
def admin_enable(request: Request, user_id: Id, csrf: Csrf = ""):
    user = admin_form(request, csrf)
    with session_scope(request.app.state.engine) as s:
        accounts.set_active(s, user, user_id, True, now_of(request))
    return RedirectResponse(f"/app/admin/users/{user_id}?done=enabled", status_code=303)


@router.post("/app/admin/users/{user_id}/reset-password")
def admin_reset_password(request: Request, user_id: Id, csrf: Csrf = ""):
    user = admin_form(request, csrf)
    with session_scope(request.app.state.engine) as s:
        target, password = accounts.reset_password(s, user, user_id, now_of(request))
        out = {"id": target.id, "username": target.username, "display_name": target.display_name}
    if user_id == user.user_id:  # one's own reset ends one's own session too
        request.cookies.pop(SESSION_COOKIE, None)
    response = render(request, "one_time_password.html", user=user, target=out, password=password, created=False,
                      title=gettext_for(request)("One-time password"))
    response.headers.update(NO_STORE)
    return response
