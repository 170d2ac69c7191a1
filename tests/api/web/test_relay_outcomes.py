"""What the station shows of scheduled relays (issue 15), from the loudspeakers' own reports: the manifest sends
the loudspeakers to the station's own mount of the radio (the embedded default), and when a loudspeaker gave
up on the radio after its retries the schedule page and the Loudspeakers page say so, in Vietnamese first."""
from __future__ import annotations

import re
from datetime import timedelta

from broadcaster.station.relays import mount_name
from tests.api.web.web_rig import login
from tests.api.web.devices import enroll, manifest_entries, play_record
from tests.api.web.test_relay_streams import _add

RADIO = "https://radio.example.vn/vov1.mp3"


def _relay_at_1900(client, world) -> tuple[str, list]:
    token = login(client, "admin")
    _add(client, token, "VOV1", RADIO)  # not checked now: nothing is fetched in this test
    sid = next(s["id"] for s in client.get("/api/v1/streams").json() if s["name"] == "VOV1")
    client.cookies.clear()
    token = login(client, "cadre")
    data = {"csrf": token, "item_id": "", "stream_id": str(sid), "relay_minutes": "30", "preset": "daily",
            "times": "19:00", "start_date": "2026-03-02", "villages": [str(world.village_a)], "priority": "normal",
            "repeat": "1", "action": "save"}
    assert client.post(f"/app/c/{world.a}/schedule", data=data, follow_redirects=False).status_code == 303
    devices = [d for d in client.get(f"/api/v1/communes/{world.a}/devices").json()
               if d["village_id"] == world.village_a]
    return token, [enroll(client, d["id"], token) for d in devices]


def test_relays_reach_the_loudspeakers_through_the_station_and_failures_are_shown(client, app, world, clock):
    _, (one, two) = _relay_at_1900(client, world)
    relays = [e for e in manifest_entries(client, one) if e["kind"] == "relay"]
    assert relays and {e["url"] for e in relays} == {f"/api/device/v1/streams/{mount_name(RADIO)}"}
    first = next(e for e in relays if e["start"].startswith("2026-03-02T12:00"))  # 19:00 in Hà Nội
    clock.now = clock.now.replace(hour=19, minute=31)
    first_two = next(e for e in manifest_entries(client, two) if e["start"] == first["start"])
    at = clock()
    play_record(client, one, 1, first, at - timedelta(minutes=31), at - timedelta(minutes=30), "failed",
                "relay_unreachable:4x in 60s: stream: http_404")
    play_record(client, two, 1, first_two, at - timedelta(minutes=31), at - timedelta(minutes=20), "failed",
                "relay_lost:3x in 60s: stream ended early")
    page = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    reported = re.search(r'<span class="reported-plays">(.*?)</span>', page, re.S).group(1)
    assert "✖ 2 lỗi" in reported
    assert "📻 1 không bắt được đài (đã phát nhạc nền thay thế)" in reported
    assert "📻 1 mất đài giữa chừng (đã phát nhạc nền thay thế)" in reported
    english = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a},
                         headers={"Accept-Language": "en"}).text
    assert "could not reach the radio (fallback music instead)" in english
    devices = client.get(f"/app/c/{world.a}/devices").text
    assert "không bắt được đài cần tiếp sóng, đã thử lại vẫn không được" in devices
    assert "đang tiếp sóng thì mất đài và đài không trở lại" in devices
    assert "một lần phát bị lỗi" not in devices  # the radio's own words, not "a play failed"
    report = client.get(f"/app/c/{world.a}/reports", params={"village": world.village_a, "month": "2026-03"}).text
    assert re.search(r'id="relay-failed">📻 2 lượt tiếp sóng không bắt được đài hoặc mất đài giữa chừng', report)
