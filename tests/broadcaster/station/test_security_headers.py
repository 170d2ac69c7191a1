"""Security headers on every response (issue 13, Low): HTML pages, JSON, problem+json errors, audio, and the
device fast path's own replies (which get constant bytes only)."""
from __future__ import annotations

from datetime import timedelta

from api.security_headers import CSP
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station_rig import make_item


def _has_all(r, csp: bool = True) -> None:
    assert r.headers["x-content-type-options"] == "nosniff", r.url
    assert r.headers["x-frame-options"] == "DENY", r.url
    if csp:
        assert r.headers["content-security-policy"] == CSP, r.url
        assert "frame-ancestors 'none'" in CSP and "script-src 'self';" in CSP and "object-src 'none'" in CSP
        assert r.headers["referrer-policy"] == "same-origin", r.url


def test_every_kind_of_response_has_them(app, client, engine, world, facts, clock, schedules_service):
    item = make_item(engine, world, facts, clock, status="approved", title="Bản tin")
    _has_all(client.get("/api/v1/health"))                                   # JSON
    _has_all(client.get("/login"))                                           # HTML
    _has_all(client.get("/api/v1/content/999999", headers=world.h("cadre")))  # problem+json 404
    _has_all(client.get("/app/c/1/library", follow_redirects=False))          # a redirect
    _has_all(client.get(f"/api/v1/content/{item}/audio", headers=world.h("cadre")))  # audio
    _has_all(client.post("/api/v1/auth/login", json={"username": "x"}))      # a 422
    docs = client.get("/docs")
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"] and docs.headers["x-frame-options"] == "DENY"
    # the device fast path: its own replies, with constant headers
    dev, creds = enroll_by_code(client, world, name="A")
    schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=DAILY")
    schedules_service.materialize_commune(world.a, clock())
    hits = app.state.identities.hits
    first = client.get(f"{DEV}/manifest", headers=dh(creds))
    again = client.get(f"{DEV}/manifest", headers={**dh(creds), "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and app.state.identities.hits > hits  # answered by the fast path
    for r in (first, again):
        _has_all(r, csp=False)
    sha = facts.sha256  # the item's audio, granted to the device by its manifest
    assert sha in first.text
    audio = client.get(f"{DEV}/audio/{sha}", headers=dh(creds))
    assert audio.status_code == 200 and audio.headers["cache-control"] == "private, max-age=31536000, immutable"
    _has_all(audio, csp=False)


def test_a_header_the_response_sets_itself_is_kept(client):
    r = client.get("/docs")
    assert r.headers.get_list("content-security-policy") == [r.headers["content-security-policy"]]
