"""A domain error in the words of the page's language, for a form that shows it next to what was typed."""
from __future__ import annotations

from fastapi import Request

from api.web.render import page_lang
from loa.errors import DomainError


def error_message(request: Request, exc: DomainError) -> str:
    return exc.message_en if page_lang(request) == "en" else exc.message_vi
