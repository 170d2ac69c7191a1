"""Helpers of the organisation, settings and audit page tests: log in as someone, the CSRF header."""
from __future__ import annotations

from tests.api.web.web_rig import login


def as_user(client, who):
    """A fresh session as `who` (the previous one's cookies dropped); returns its CSRF token."""
    client.cookies.clear()
    return login(client, who)


def csrf_headers(token):
    return {"X-CSRF-Token": token}
