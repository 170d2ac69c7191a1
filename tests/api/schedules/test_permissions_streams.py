"""The permission matrix of the relay streams and the commune overview (issue 14): every endpoint × every role,
anonymous and another commune's cadre. The list is the system admin's (403 for everyone else, members of a
commune included); what a commune may relay, its listen and its overview are its members' (404 for another
commune's cadre). Discovered by tests/api/matrix_registry.py for the route-coverage test."""
from __future__ import annotations

import itertools

import pytest

from loa.db import session_scope
from tests.api.schedules.schedules_rig import h
from tests.api.matrix_roles import row
from tests.api.web.streamserver import RadioServer

_n = itertools.count()


ADMIN = row(200, 403, 403, 403, 403)
READ_ALL = row(200, 200, 200, 200, 404)

MATRIX = {
    ("GET", "/api/v1/streams"): (None, ADMIN),
    ("POST", "/api/v1/streams"): ("stream_body", row(201, 403, 403, 403, 403)),
    ("GET", "/api/v1/streams/{stream_id}"): ("stream", ADMIN),
    ("PATCH", "/api/v1/streams/{stream_id}"): ("stream_patch", ADMIN),
    ("GET", "/api/v1/communes/{commune_id}/streams"): (None, READ_ALL),
    ("GET", "/api/v1/communes/{commune_id}/streams/{stream_id}/listen"): ("stream", READ_ALL),
    ("GET", "/api/v1/communes/{commune_id}/reports/overview"): (None, READ_ALL),
}


@pytest.fixture(scope="module")
def radio():
    with RadioServer() as server:
        yield server


def _prepare(kind, app, engine, st, clock, radio):
    from loa.accounts.auth import CLI
    from schedules.streams import service as streams

    n = next(_n)
    kw = {"commune_id": st.w.a}
    body = None
    if kind == "stream_body":
        body = {"name": f"VOV {n}", "url": f"{radio.base}/radio.mp3", "kind": "national"}
    elif kind in ("stream", "stream_patch"):
        with session_scope(engine) as s:
            kw["stream_id"] = streams.create(s, CLI, name=f"Đài {n}", url=f"{radio.base}/radio.mp3",
                                             kind="provincial", commune_id=st.w.a, enabled=True, now=clock(),
                                             allowed_hosts=[radio.host]).id
        if kind == "stream_patch":
            body = {"enabled": False}
    return kw, body


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_streams_permission_matrix(endpoint, app, client, engine, station, clock, radio):
    app.state.settings.relay_allowed_hosts = radio.host
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = {}
    for role in expected:
        kw, body = _prepare(kind, app, engine, station, clock, radio)
        url = path.format(**{k: v for k, v in kw.items() if "{" + k + "}" in path})
        r = client.request(method, url, json=body, headers=h(station, None if role == "anon" else role))
        got[role] = r.status_code
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (role, r.text)
    assert got == expected
