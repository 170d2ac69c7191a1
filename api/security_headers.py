"""Security headers on every response the station sends (HTML, JSON, audio, errors).

- Content-Security-Policy: scripts and styles only from the station's own /static files (the pages have no
  inline script; `style` attributes are allowed: they set the widths of report bars and cannot run code),
  audio from the station or the recorder's blob: preview, no plugins, no <base>, forms post only here, and no
  framing (`frame-ancestors 'none'`, with X-Frame-Options DENY for older browsers);
- X-Content-Type-Options: nosniff (an uploaded recording is never run as a script or a page);
- Referrer-Policy: same-origin (the station's paths, with ids and village names, do not leak to other sites).

FastAPI's /docs and /redoc pages load Swagger/ReDoc from a CDN with an inline script: they get a policy that
allows exactly that. `api.app.StationApp.full_stack` adds them to everything but the device fast path
(api/devices/fastpath.py), which appends FAST_PATH_HEADERS, a constant, to its own replies.
"""
from __future__ import annotations

from starlette.types import Message

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")

_COMMON = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"))
HEADERS = ((b"content-security-policy", CSP.encode()),) + _COMMON
DOCS_HEADERS = ((b"content-security-policy", DOCS_CSP.encode()),) + _COMMON
# Device replies (JSON manifests, audio) are read by agents, never rendered: the ones that matter for bytes.
FAST_PATH_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
_NAMES = {name for name, _ in HEADERS}


def add_security_headers(message: Message, path: str) -> None:
    """Add the headers to an http.response.start message, keeping any the response set itself."""
    headers = message.setdefault("headers", [])
    present = {name.lower() for name, _ in headers if name.lower() in _NAMES}
    extra = DOCS_HEADERS if path in DOCS_PATHS else HEADERS
    headers.extend(h for h in extra if h[0] not in present)
