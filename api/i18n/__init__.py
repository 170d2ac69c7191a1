"""Gettext catalogs for the web pages, loaded from the .po files at start (no compile step).

Message ids are English; `vi/LC_MESSAGES/messages.po` holds the Vietnamese. Vietnamese is the default; English
is the message ids themselves. The .po is read with Babel and turned into a `gettext` catalog in memory, so the
station runs straight from `pip install -e .` (nothing to build)."""
from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

CATALOG_DIR = Path(__file__).parent
DOMAIN = "messages"
LANGUAGES = ("vi", "en")  # the first is the default
DEFAULT = LANGUAGES[0]
LANG_COOKIE = "loa_lang"


def po_path(lang: str) -> Path:
    return CATALOG_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> NullTranslations:
    """The catalog for `lang` (English, or an unknown language, falls back to the message ids)."""
    path = po_path(lang)
    if lang not in LANGUAGES or not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the remembered choice (cookie), else the browser's first supported language
    (Accept-Language, by q-value), else Vietnamese."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for pos, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, pos, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT
