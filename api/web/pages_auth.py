"""Log in and out, the language switch, static files and the home page of each commune."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.deps import Id
from api.i18n import LANG_COOKIE, LANGUAGES
from api.web.form_errors import error_message
from api.web.render import STATIC, PageRoute, gettext_for, render
from api.web.session import (check_csrf, current_principal, end_session, now_of, require_principal, safe_next,
                             start_session)
from content.library.models import ContentItem, Status
from loa.db import session_scope
from loa.errors import DomainError, NotFound
from loa.org import areas
from loa.org import service as org
from sqlmodel import func, select

router = APIRouter(route_class=PageRoute, include_in_schema=False)
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


@router.get("/static/{name}")
def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        raise NotFound("not_found", "Không tìm thấy", "Not found")
    # The URL carries ?v=<hash of the files>, so a long cache is safe on a slow link.
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix],
                        headers={"Cache-Control": "public, max-age=604800"})


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it at the root whatever the page says; the page links the SVG (base.html)."""
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=604800"})


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> RedirectResponse:
    """Remember the chosen language for a year (a preference, not a session: no CSRF needed)."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None):
    if current_principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), user=None)


@router.post("/login")
def login(request: Request, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)], next: Annotated[str, Form(max_length=500)] = "/app"):
    response = RedirectResponse(safe_next(next), status_code=303)
    try:
        start_session(request, response, username, password)
    except DomainError as exc:
        return render(request, "login.html", status=exc.status, error=error_message(request, exc),
                      next=safe_next(next), username=username, user=None)
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = ""):
    check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response)
    return response


@router.get("/app")
def app_home(request: Request):
    """One commune: straight to its page. Several (or an admin): a list to choose from."""
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        communes = org.list_communes(s, user)
        staff_areas = areas.my_areas(s, user) if not communes else []
    if len(communes) == 1:
        return RedirectResponse(f"/app/c/{communes[0].id}", status_code=303)
    if staff_areas:  # province or district staff (issue 16): their bulletins
        return RedirectResponse("/app/bulletins", status_code=303)
    return render(request, "communes.html", communes=communes, user=user, title=gettext_for(request)("Communes"))


@router.get("/app/c/{commune_id}")
def commune_home(request: Request, commune_id: Id):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        counts = dict(s.exec(select(ContentItem.status, func.count()).where(ContentItem.commune_id == commune_id)
                             .group_by(ContentItem.status)).all())
        villages = org.list_villages(s, user, commune_id)
    return render(request, "home.html", commune=commune, user=user, villages=villages,
                  waiting=counts.get(Status.submitted.value, 0), drafts=counts.get(Status.draft.value, 0),
                  approved=counts.get(Status.approved.value, 0), now=now_of(request))
