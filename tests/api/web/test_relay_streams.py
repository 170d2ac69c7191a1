"""Relay streams (issue 14): the admin keeps the list (validation, disable), a cadre relays one from the
schedule form after listening to a few seconds of it through the station (a real MP3 stream from a local HTTP
server), and the calendar shows the relay with the stream's name. Attack paths: a non-admin editing streams
(403), a file:// or internal address (422), another commune's stream (404)."""
from __future__ import annotations

import time

import pytest

from tests.api.web.web_rig import login
from tests.api.web.streamserver import RadioServer


@pytest.fixture(scope="module")
def radio():
    with RadioServer() as server:
        yield server


@pytest.fixture
def allow_local(app):
    """The test radio runs on this machine: let the station open 127.0.0.1 (any other local address stays
    refused, see test_internal_addresses_refused)."""
    app.state.settings.relay_allowed_hosts = "127.0.0.1"


def _count(app) -> int:
    from sqlmodel import select

    from loa.db import session_scope
    from schedules.streams.models import RelayStream

    with session_scope(app.state.engine) as s:
        return len(list(s.exec(select(RelayStream))))


def _add(client, token, name, url, **extra):
    data = {"csrf": token, "name": name, "url": url, "kind": "national", "commune_id": "", "enabled": "1", **extra}
    return client.post("/app/admin/streams", data=data, follow_redirects=False)


def _stream_id(client, name):
    return next(s["id"] for s in client.get("/api/v1/streams").json() if s["name"] == name)


def test_admin_keeps_the_list(client, app, world, radio, allow_local):
    token = login(client, "admin")
    page = client.get("/app/admin/streams")
    assert page.status_code == 200 and "Chưa có luồng nào" in page.text and len(page.content) < 100_000
    r = _add(client, token, "VOV1", f"{radio.base}/radio.mp3", check_now="1")
    assert r.status_code == 303 and r.headers["location"].startswith("/app/admin/streams?done=added")
    page = client.get(r.headers["location"])
    assert "Đã thêm luồng" in page.text and "VOV1" in page.text and f"{radio.base}/radio.mp3" in page.text
    sid = _stream_id(client, "VOV1")
    # a clear message, nothing saved: same name, a web page instead of a stream (checked now), a missing stream
    r = _add(client, token, "VOV1", f"{radio.base}/radio.mp3")
    assert r.status_code == 409 and "Đã có luồng mang tên này" in r.text
    r = _add(client, token, "Đài tỉnh", f"{radio.base}/page.html", check_now="1", kind="provincial")
    assert r.status_code == 502 and "trang web, không phải luồng âm thanh" in r.text
    r = _add(client, token, "Đài tỉnh", f"{radio.base}/missing", check_now="1")
    assert r.status_code == 502 and "máy chủ trả lời mã 404" in r.text
    assert _count(app) == 1
    # edit, then turn off: no longer offered to communes; on again
    r = client.post(f"/app/admin/streams/{sid}", data={"csrf": token, "name": "VOV1 — Thời sự", "kind": "national",
                    "url": f"{radio.base}/live.mp3", "commune_id": "", "enabled": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/streams/{sid}").json()["name"] == "VOV1 — Thời sự"
    r = client.post(f"/app/admin/streams/{sid}/enabled", data={"csrf": token, "enabled": "0"}, follow_redirects=False)
    assert r.status_code == 303 and "Đã tắt luồng" in client.get(r.headers["location"]).text
    assert client.get(f"/api/v1/communes/{world.a}/streams").json() == []
    client.post(f"/app/admin/streams/{sid}/enabled", data={"csrf": token, "enabled": "1"})
    assert [s["id"] for s in client.get(f"/api/v1/communes/{world.a}/streams").json()] == [sid]
    from sqlmodel import select

    from loa.audit.models import AuditEntry
    from loa.db import session_scope

    with session_scope(app.state.engine) as s:
        done = [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.object_type == "relay_stream"))]
    assert done == ["stream.create", "stream.update", "stream.update", "stream.update"]


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://radio.example.vn/live", "javascript:alert(1)", "http://localhost:8000/admin",
    "http://127.0.0.1:5432/", "http://10.0.0.5/stream", "http://192.168.1.1/", "http://172.16.0.9/x",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0.0.0.0/", "http://router.local/",
    "http://intranet/radio", "http://user:pass@radio.example.vn/live", "https://metadata.internal/x",
    "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0x7f.1/", "http://127.1/", "vov1.vn/live", "",
])
def test_internal_addresses_refused(client, app, world, url):
    token = login(client, "admin")
    r = _add(client, token, "Lạ", url)
    assert r.status_code == 422 and 'role="alert"' in r.text, url
    r = client.post("/api/v1/streams", json={"name": "Lạ", "url": url or " "},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 422, (url, r.text)
    assert _count(app) == 0


def test_only_the_admin_edits_streams(client, app, world, radio, allow_local):
    token = login(client, "admin")
    _add(client, token, "VOV1", f"{radio.base}/radio.mp3")
    sid = _stream_id(client, "VOV1")
    client.cookies.clear()
    token = login(client, "cadre")
    assert client.get("/app/admin/streams").status_code == 403
    assert client.get(f"/app/admin/streams/{sid}").status_code == 403
    assert _add(client, token, "Giả", f"{radio.base}/radio.mp3").status_code == 403
    r = client.post(f"/app/admin/streams/{sid}/enabled", data={"csrf": token, "enabled": "0"})
    assert r.status_code == 403
    r = client.post(f"/app/admin/streams/{sid}", data={"csrf": token, "name": "X", "url": f"{radio.base}/radio.mp3"})
    assert r.status_code == 403
    h = {"X-CSRF-Token": token}
    assert client.get("/api/v1/streams", headers=h).status_code == 403
    assert client.post("/api/v1/streams", json={"name": "X", "url": f"{radio.base}/radio.mp3"}, headers=h).status_code == 403
    assert client.patch(f"/api/v1/streams/{sid}", json={"enabled": False}, headers=h).status_code == 403
    assert _count(app) == 1
    # what a cadre may do: list the commune's streams
    assert [s["name"] for s in client.get(f"/api/v1/communes/{world.a}/streams").json()] == ["VOV1"]


def test_listen_through_the_station(client, app, world, radio, allow_local):
    from schedules.streams.sample import LISTEN_MAX_BYTES, LISTEN_SECONDS

    token = login(client, "admin")
    _add(client, token, "VOV1", f"{radio.base}/radio.mp3")
    _add(client, token, "VOV live", f"{radio.base}/live.mp3")
    _add(client, token, "Tắt máy", "http://127.0.0.1:9/radio.mp3")       # nobody listens on port 9
    _add(client, token, "Trang web", f"{radio.base}/page.html")
    _add(client, token, "Chuyển hướng", f"{radio.base}/to-internal")
    _add(client, token, "Đài huyện B", f"{radio.base}/radio.mp3", commune_id=str(world.b))
    ids = {s["name"]: s["id"] for s in client.get("/api/v1/streams").json()}
    client.cookies.clear()
    login(client, "secretary")
    base = f"/app/c/{world.a}/streams"
    r = client.get(f"{base}/{ids['VOV1']}/listen")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg" and r.content == radio.mp3
    assert r.headers["cache-control"] == "no-store"
    started = time.monotonic()
    r = client.get(f"{base}/{ids['VOV live']}/listen")
    took = time.monotonic() - started
    assert r.status_code == 200 and r.content[:3] in (b"ID3", radio.mp3[:3])
    assert LISTEN_SECONDS - 1 <= took <= LISTEN_SECONDS + 4 and 0 < len(r.content) <= LISTEN_MAX_BYTES
    r = client.get(f"{base}/{ids['Tắt máy']}/listen")
    assert r.status_code == 502 and r.text == "Không nghe được luồng này: không kết nối được máy chủ"
    r = client.get(f"{base}/{ids['Trang web']}/listen")
    assert r.status_code == 502 and "trang web" in r.text
    r = client.get(f"{base}/{ids['Chuyển hướng']}/listen")   # the radio redirects inside the network: refused
    assert r.status_code == 422 and "mạng nội bộ" in r.text and "/secret" not in radio.requests
    # the same through the API (a bearer-less cookie session reads too)
    assert client.get(f"/api/v1/communes/{world.a}/streams/{ids['VOV1']}/listen").content == radio.mp3
    # another commune's own stream, another commune, a stream that is off: not there
    assert client.get(f"{base}/{ids['Đài huyện B']}/listen").status_code == 404
    client.cookies.clear()
    login(client, "outsider")
    assert client.get(f"{base}/{ids['VOV1']}/listen").status_code == 404
    assert client.get(f"/app/c/{world.b}/streams/{ids['Đài huyện B']}/listen").status_code == 200


def test_schedule_relays_a_stream(client, app, world, radio, allow_local):
    token = login(client, "admin")
    _add(client, token, "VOV1", f"{radio.base}/radio.mp3")
    _add(client, token, "Đài huyện B", f"{radio.base}/radio.mp3", commune_id=str(world.b))
    ids = {s["name"]: s["id"] for s in client.get("/api/v1/streams").json()}
    client.cookies.clear()
    token = login(client, "cadre")
    page = client.get(f"/app/c/{world.a}/schedule")
    assert 'id="stream_id"' in page.text and "VOV1" in page.text and "Đài huyện B" not in page.text
    data = {"csrf": token, "item_id": "", "stream_id": str(ids["VOV1"]), "relay_minutes": "20",
            "preset": "daily", "times": "19:00", "start_date": "2026-03-02", "villages": [str(world.village_a)],
            "priority": "normal", "repeat": "1", "action": "check"}
    r = client.post(f"/app/c/{world.a}/schedule", data=data)
    assert r.status_code == 200 and 'id="save-schedule"' in r.text, r.text[-2000:]
    for bad, status, words in (({"relay_minutes": "0"}, 422, "1 đến 240 phút"),
                               ({"item_id": "1"}, 422, "không chọn cả hai"),
                               ({"stream_id": ""}, 422, "Hãy chọn một thông báo đã duyệt hoặc một đài tiếp sóng"),
                               ({"stream_id": str(ids["Đài huyện B"])}, 404, "Không tìm thấy luồng")):
        r = client.post(f"/app/c/{world.a}/schedule", data={**data, **bad, "action": "save"})
        assert r.status_code == status and words in r.text, bad
    r = client.post(f"/app/c/{world.a}/schedule", data={**data, "action": "save"}, follow_redirects=False)
    assert r.status_code == 303
    schedules = client.get(f"/api/v1/communes/{world.a}/schedules").json()
    assert len(schedules) == 1
    assert schedules[0]["programme"] == [{"type": "relay", "url": f"{radio.base}/radio.mp3", "duration_s": 1200.0,
                                          "title": "VOV1"}]
    week = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    section = week.split('id="week"', 1)[1].split("</section>", 1)[0]
    assert section.count("📻 Tiếp sóng: VOV1") == 7 and "19:00" in section
    listed = week.split(f'id="schedule-{schedules[0]["id"]}"', 1)[1].split("</li>", 1)[0]
    assert "📻 Tiếp sóng: VOV1 (20 phút)" in listed


def test_listens_at_once_are_bounded(client, app, world, radio, allow_local):
    """Each listen holds a server thread for seconds: past a few at once, the next is told to wait (429)."""
    from concurrent.futures import ThreadPoolExecutor

    from api.schedules.streams import LISTENS_AT_ONCE

    token = login(client, "admin")
    _add(client, token, "VOV live", f"{radio.base}/live.mp3")
    sid = _stream_id(client, "VOV live")
    client.cookies.clear()
    login(client, "cadre")
    url = f"/app/c/{world.a}/streams/{sid}/listen"
    with ThreadPoolExecutor(LISTENS_AT_ONCE + 2) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: client.get(url), range(LISTENS_AT_ONCE + 2)))
    assert codes == [200] * LISTENS_AT_ONCE + [429, 429]
    busy = client.get(url)  # all done: a listen works again
    assert busy.status_code == 200


def test_listen_to_playlists_and_hls(client, app, world, radio, allow_local):
    """What radios publish besides a direct stream: .pls and .m3u playlists (the station follows them, checking
    the address inside), and HLS (.m3u8, as VOV publishes): the live edge's segments, made MP3 by ffmpeg from a
    pipe. A playlist that points inside the network is refused like a direct address."""
    from content.audio.ffmpeg import probe

    token = login(client, "admin")
    for name, path in (("PLS", "radio.pls"), ("M3U", "radio.m3u"), ("HLS", "hls/master.m3u8"),
                       ("HLS media", "hls/index.m3u8"), ("HLS inside", "hls/inside.m3u8")):
        assert _add(client, token, name, f"{radio.base}/{path}").status_code == 303
    # the loudspeakers' ffmpeg plays HLS but not a .pls/.m3u file: the stream it names is what is saved
    streams = {s["name"]: s for s in client.get("/api/v1/streams").json()}
    assert streams["PLS"]["url"] == streams["M3U"]["url"] == f"{radio.base}/radio.mp3"
    assert streams["HLS"]["url"] == f"{radio.base}/hls/master.m3u8"
    r = _add(client, token, "PLS inside", f"{radio.base}/internal.pls")
    assert r.status_code == 422 and "mạng nội bộ" in r.text
    ids = {name: s["id"] for name, s in streams.items()}
    base = f"/app/c/{world.a}/streams"
    for name in ("PLS", "M3U"):
        r = client.get(f"{base}/{ids[name]}/listen")
        assert r.status_code == 200 and r.content == radio.mp3, name
    for name in ("HLS", "HLS media"):
        r = client.get(f"{base}/{ids[name]}/listen")
        assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg", (name, r.text[:200])
        path = app.state.settings.audio_dir.parent / f"{name}.mp3"
        path.write_bytes(r.content)
        info = probe(path)
        assert info.codec == "mp3" and 5.0 <= info.duration_s <= 13.0, (name, info)
    r = client.get(f"{base}/{ids['HLS inside']}/listen")   # a segment inside the network: refused
    assert r.status_code == 422 and "mạng nội bộ" in r.text
