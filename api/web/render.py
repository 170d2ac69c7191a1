"""Jinja2 rendering with the request's language, and a route class that shows domain errors as pages.

Every template gets `_` (gettext for the page language), `lang`, `csrf` (the form token), `user` (the
Principal or None) and a few filters for dates, durations and sizes."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.web.choices import ENGINE_NAMES, VOICE_LABELS
from loa.languages import display_name
from api.i18n import LANG_COOKIE, negotiate, translations
from api.web.flash import COOKIE as FLASH_COOKIE
from api.web.flash import clear as clear_flash
from api.web.flash import message_for, pending_code
from api.web.session import (ACCOUNT_PAGE, LoginRequired, PasswordChangeRequired, csrf_token, current_principal,
                             login_redirect)
from loa.errors import DomainError, Invalid

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "xml"]),
                  trim_blocks=True, lstrip_blocks=True)


def page_lang(request: Request) -> str:
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _local(value: datetime | None, tz: str = "Asia/Ho_Chi_Minh", fmt: str = "%d/%m/%Y %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def decimal(value: float | None, lang: str, digits: int = 1) -> str:
    """1.0 → "1,0" on a Vietnamese page (the decimal comma), "1.0" on an English one."""
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "vi" else text


env.filters.update(local=_local, duration=_duration, size=_size)
env.globals["decimal"] = decimal
env.globals["language_name"] = display_name
env.globals["engine_names"] = ENGINE_NAMES
env.globals["voice_labels"] = VOICE_LABELS


def _static_version() -> str:
    """A short hash of the static files: the URLs change when they do, so browsers may cache them for long."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


env.globals["static_version"] = _static_version()


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = page_lang(request)
    tr = translations(lang)
    if "user" not in context:
        context["user"] = current_principal(request)
    done = None
    if "flash" not in context:  # what the last action did (api/web/flash.py): only known codes, translated
        done = pending_code(request.query_params.get("done"), request.cookies.get(FLASH_COOKIE))
        context["flash"] = message_for(done, tr.gettext)
    html = env.get_template(template).render(
        request=request, lang=lang, _=tr.gettext, ngettext=tr.ngettext, csrf=csrf_token(request), **context)
    response = HTMLResponse(html, status_code=status)
    if request.cookies.get(FLASH_COOKIE):
        clear_flash(response)  # said once
    return response


def gettext_for(request: Request) -> Callable[[str], str]:
    return translations(page_lang(request)).gettext


def error_page(request: Request, exc: DomainError) -> HTMLResponse:
    english = page_lang(request) == "en"
    return render(request, "error.html", status=exc.status, code=exc.code,
                  message=exc.message_en if english else exc.message_vi)


class PageRoute(APIRoute):
    """Pages answer with HTML: a domain error (404 of another commune, 403 of a role, 409 of a state) becomes an
    error page with the same status, and a page that needs a login redirects to /login."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except PasswordChangeRequired:
                return RedirectResponse(ACCOUNT_PAGE, status_code=303)
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError as exc:  # a form field out of range: a page, not JSON
                fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors()[:5])
                return error_page(request, Invalid("validation_error", f"Dữ liệu không hợp lệ: {fields}",
                                                   f"Invalid input: {fields}"))

        return wrapped
