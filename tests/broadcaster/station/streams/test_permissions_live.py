"""The permission matrix of the live routes (issue 15): every endpoint × every role, anonymous and another
commune's cadre, against real sessions (the real hub's ffmpeg, a real enrolled loudspeaker). Only a commune
cadre goes on air, feeds, stops and publishes (the system admin, a secretary and a village head: 403); every
member and the system admin read a session and its recording; another commune's cadre gets 404 for all of it, so
a session's existence does not leak. Discovered by tests/api/matrix_registry.py for the route-coverage test.

Each session is short (a few seconds of speech at most) and ended before the next one starts, so ffmpeg
processes do not pile up; the app's shutdown ends whatever a failing test left on air."""
from __future__ import annotations

import pytest

from tests.broadcaster.station.device_rig import enroll_by_code
from tests.station_rig import (  # noqa: F401  (fixtures)
    _cheap_argon2, app, client, clock, db_url, engine, settings, world,
)
from tests.api.matrix_roles import ROLES, row
from tests.broadcaster.station.streams.audio import speech_webm

READ_ALL = row(200, 200, 200, 200, 404)
SPEAKER_ONLY = row(403, 200, 403, 403, 404)

# (method, path) → (what the path needs, expected status per role)
MATRIX = {
    ("POST", "/api/v1/communes/{commune_id}/live"): ("on_air_slot", row(403, 201, 403, 403, 404)),
    ("GET", "/api/v1/communes/{commune_id}/live"): ("ended", READ_ALL),
    ("GET", "/api/v1/live/{session_id}"): ("ended", READ_ALL),
    ("POST", "/api/v1/live/{session_id}/audio"): ("running", row(403, 204, 403, 403, 404)),
    ("POST", "/api/v1/live/{session_id}/stop"): ("running", SPEAKER_ONLY),
    ("GET", "/api/v1/live/{session_id}/recording"): ("ended", READ_ALL),
    ("POST", "/api/v1/live/{session_id}/publish"): ("ended_fresh", row(403, 201, 403, 403, 404)),
}

SLICE = 4000


def _slices(seconds: float) -> list[bytes]:
    data = speech_webm("quiet", seconds)
    return [data[i:i + SLICE] for i in range(0, len(data), SLICE)]


def _end_every_session(client, world) -> None:
    """Whatever is on air in commune A goes off (a cadre's stop), so the next start is not `live_busy`."""
    for s in client.get(f"/api/v1/communes/{world.a}/live", headers=world.h("cadre")).json():
        if s["on_air"]:
            assert client.post(f"/api/v1/live/{s['id']}/stop", headers=world.h("cadre")).status_code == 200


def _start(client, world) -> int:
    _end_every_session(client, world)
    r = client.post(f"/api/v1/communes/{world.a}/live", json={"villages": [world.village_a]},
                    headers=world.h("cadre"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _recorded(client, world) -> int:
    """A session that aired two seconds of speech and ended: it has a recording, not yet in the library."""
    sid = _start(client, world)
    h = {**world.h("cadre"), "Content-Type": "audio/webm"}
    for seq, chunk in enumerate(_slices(2.0)):
        assert client.post(f"/api/v1/live/{sid}/audio", params={"seq": seq}, content=chunk,
                           headers=h).status_code == 204
    ended = client.post(f"/api/v1/live/{sid}/stop", headers=world.h("cadre")).json()
    assert ended["recording"] and not ended["on_air"], ended
    return sid


def _request(client, world, method: str, path: str, role: str, kw: dict):
    url = path.format(**{k: v for k, v in kw.items() if "{" + k + "}" in path})
    headers = world.h(None if role == "anon" else role)
    if path.endswith("/audio"):
        return client.post(url, params={"seq": 0}, content=_slices(2.0)[0],
                           headers={**headers, "Content-Type": "audio/webm"})
    if path.endswith("/publish"):
        return client.post(url, json={"title": "Họp thôn trực tiếp"}, headers=headers)
    if method == "POST" and path.endswith("/live"):
        return client.post(url, json={"villages": None}, headers=headers)
    return client.request(method, url, headers=headers)


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_live_permission_matrix(endpoint, client, world):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    enroll_by_code(client, world)  # a loudspeaker in village A: a session has somewhere to go
    kw = {"commune_id": world.a}
    if kind == "ended":
        kw["session_id"] = _recorded(client, world)  # read-only routes: one session serves every role
    got = {}
    try:
        for role in ROLES:
            if kind == "running":  # each role meets a session that is on air and untouched
                kw["session_id"] = _start(client, world)
            elif kind == "ended_fresh":  # each role meets a recording not yet published
                kw["session_id"] = _recorded(client, world)
            elif kind == "on_air_slot":
                _end_every_session(client, world)
            got[role] = _request(client, world, method, path, role, kw)
    finally:
        _end_every_session(client, world)
    for role, r in got.items():
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", (role, r.text)
    assert {role: r.status_code for role, r in got.items()} == expected, {k: r.text[:200] for k, r in got.items()}
    if kind == "ended" and path.endswith("/recording"):
        assert got["cadre"].headers["content-type"] == "audio/mpeg" and len(got["cadre"].content) > 1000


def test_only_the_speaker_feeds_and_nobody_else_learns_the_session_exists(app, client, world):
    """A running session: another commune's cadre gets exactly what a session that does not exist gets, a member
    who may not speak is forbidden, another cadre of the commune is told it is not theirs; none of them moves
    the slice count, so the speaker's own slice 0 still goes on air. Once ended: the same order."""
    enroll_by_code(client, world)
    sid = _start(client, world)
    url = f"/api/v1/live/{sid}/audio"
    chunk = _slices(2.0)[0]

    def feed(role: str, session_id: int = sid):
        return client.post(f"/api/v1/live/{session_id}/audio", params={"seq": 0}, content=chunk,
                           headers={**world.h(role), "Content-Type": "audio/webm"})

    try:
        nowhere = feed("outsider", sid + 1000)
        outsider = feed("outsider")
        assert (outsider.status_code, outsider.json()["code"]) == (404, "live_not_found")
        assert outsider.json()["detail"] == nowhere.json()["detail"] and nowhere.status_code == 404
        for role in ("secretary", "village_head", "admin"):
            r = feed(role)
            assert (r.status_code, r.json()["code"]) == (403, "forbidden_role"), (role, r.text)
        r = feed("cadre2")
        assert (r.status_code, r.json()["code"]) == (409, "live_not_yours")
        assert app.state.live.running[sid].next_seq == 0  # nothing of theirs reached the mount
        assert client.post(url, params={"seq": 0}, content=chunk,
                           headers={**world.h("cadre"), "Content-Type": "audio/webm"}).status_code == 204
        assert app.state.live.running[sid].next_seq == 1
    finally:
        _end_every_session(client, world)
    assert feed("outsider").json()["code"] == "live_not_found"
    assert feed("secretary").json()["code"] == "forbidden_role"
    assert feed("cadre").json()["code"] == "live_ended"
