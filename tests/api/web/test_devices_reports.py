"""Devices and reports pages: status from real heartbeats, volume through the form (audited), an enrollment
code; monthly report figures from real proof-of-play records and offline alerts, and the CSV export."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.api.web.web_rig import login, make_item


def _devices(client, world):
    return [d for d in client.get(f"/api/v1/communes/{world.a}/devices").json() if d["village_id"] == world.village_a]


def test_devices_page_status_volume_and_code(client, app, world, clock):
    from tests.api.web.devices import beat, enroll

    token = login(client, "cadre")
    d1, d2 = _devices(client, world)
    box = enroll(client, d1["id"], token)
    beat(client, box, clock(), {"play_id": "p1", "sha256": None, "title": "Bản tin sáng", "priority": "normal"})
    clock.now += timedelta(seconds=20)
    page = client.get(f"/app/c/{world.a}/devices")
    assert page.status_code == 200
    assert "Đang phát: Bản tin sáng" in page.text and "Chưa cài đặt" in page.text
    assert "báo cáo lúc 08:00:00, 20 giây trước" in page.text and "báo cáo cũ" not in page.text
    # Twelve minutes without a beat (one is due every 5): the page still says what the box last said, and
    # that this is old news.
    clock.now += timedelta(minutes=12) - timedelta(seconds=20)
    page = client.get(f"/app/c/{world.a}/devices")
    assert "Đang phát: Bản tin sáng" in page.text and "báo cáo lúc 08:00:00, 12 phút trước (báo cáo cũ)" in page.text
    api = client.get(f"/api/v1/devices/{d1['id']}/status").json()
    assert api["report_age_s"] == 720 and api["report_old"] and not api["out_of_contact"]
    assert api["last_reported_playing"]["title"] == "Bản tin sáng"
    r = client.post(f"/app/devices/{d1['id']}/sound", data={"csrf": token, "volume": "35", "muted": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    status = client.get(f"/api/v1/devices/{d1['id']}/status").json()
    assert status["volume"] == 35 and status["muted"] is True
    assert any(a["action"] == "device.sound" for a in client.get(f"/api/v1/communes/{world.a}/audit").json())
    bad = client.post(f"/app/devices/{d1['id']}/sound", data={"csrf": token, "volume": "300"})
    assert bad.status_code == 422 and "<html" in bad.text and "volume" in bad.text  # a page, not JSON
    r = client.post(f"/app/devices/{d2['id']}/code", data={"csrf": token})
    assert r.status_code == 200 and 'id="new-code"' in r.text
    # The heartbeat stops: after the offline limit (3 missed 5-minute beats) the page shows it off, with an alert,
    # and what it last said is only the past.
    clock.now += timedelta(seconds=app.state.settings.device_offline_after_s + 60)
    page = client.get(f"/app/c/{world.a}/devices").text
    assert "Tắt / mất tín hiệu" in page and "Cảnh báo" in page
    assert "Mất liên lạc; lần cuối báo đang phát: Bản tin sáng" in page and "▶ Đang phát" not in page


def test_devices_page_roles(client, app, world):
    token = login(client, "secretary")
    page = client.get(f"/app/c/{world.a}/devices")
    assert page.status_code == 200 and "/sound" not in page.text
    d1, _ = _devices(client, world)
    assert client.post(f"/app/devices/{d1['id']}/sound", data={"csrf": token, "volume": "10"}).status_code == 403
    client.cookies.clear()
    login(client, "outsider")
    assert client.get(f"/app/c/{world.a}/devices").status_code == 404
    token = client.cookies.get("loa_csrf")
    assert client.post(f"/app/devices/{d1['id']}/sound", data={"csrf": token, "volume": "10"}).status_code == 404


def _enroll_and_log(app, world, device_id, facts, item_id, clock):
    """A real identity for the device, then proof-of-play records through the station's ingest."""
    from broadcaster.station import plays
    from broadcaster.station.deviceauth import DeviceIdentity
    from broadcaster.station.models import DeviceAlert, DeviceCredential
    from loa.db import session_scope
    from loa.org.models import Device

    t = clock()
    with session_scope(app.state.engine) as s:
        d = s.get(Device, device_id)
        d.enrolled_at, d.status = t - timedelta(days=1), "online"
        s.add(d)
        s.add(DeviceCredential(uid=f"dev_{device_id}", device_id=device_id, token_hash=f"h{device_id}", created_at=t))
        s.add(DeviceAlert(commune_id=d.commune_id, device_id=device_id, kind="offline",
                          raised_at=t - timedelta(hours=3), resolved_at=t - timedelta(hours=2)))
        s.flush()
        ident = DeviceIdentity(uid=f"dev_{device_id}", device_id=device_id, commune_id=d.commune_id,
                               village_id=d.village_id, volume=80, muted=False)
        start = t - timedelta(hours=1)
        records = [
            {"seq": 1, "play_id": "a", "sha256": facts.sha256, "title": "x", "priority": "normal",
             "planned_start": start.isoformat(), "actual_start": start.isoformat(),
             "actual_end": (start + timedelta(seconds=90)).isoformat(), "result": "played", "reason": None},
            {"seq": 2, "play_id": "b", "sha256": facts.sha256, "title": "x", "priority": "normal",
             "planned_start": (start + timedelta(minutes=5)).isoformat(), "actual_start": None,
             "actual_end": None, "result": "failed", "reason": "sink_error:test"},
        ]
        plays.ingest(s, ident, records, t)


def test_monthly_report_and_csv(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="approved", language="pcc", kind="news")
    login(client, "cadre")
    d1, d2 = _devices(client, world)
    _enroll_and_log(app, world, d1["id"], facts, item, clock)
    page = client.get(f"/app/c/{world.a}/reports", params={"village": world.village_a, "month": "2026-03"})
    assert page.status_code == 200
    assert "Tin tức" in page.text and "Tiếng Giáy" in page.text and "1,5 phút" in page.text
    assert "1 lỗi" in page.text
    # Enrolled one day ago (1,440 min) with one hour offline: 95.8 %.
    assert "95,8%" in page.text and "60,0 phút mất liên lạc" in page.text
    r = client.get(f"/app/c/{world.a}/reports.csv", params={"village": world.village_a, "month": "2026-03"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    got = {(row["Chỉ số"], row["Mục"]): row["Giá trị"] for row in rows}  # a Vietnamese page: Vietnamese columns
    assert got[("Số phút đã phát theo loại tin", "Tin tức")] == "1.5"
    assert got[("Số phút đã phát theo thứ tiếng", "Tiếng Giáy")] == "1.5"
    assert got[("Lượt phát", "Phát xong")] == "1" and got[("Lượt phát", "Lỗi")] == "1"
    assert got[("Thời gian hoạt động (%)", d1["name"])] == "95.8" and got[("Thời gian hoạt động (%)", d2["name"])] == ""
    client.cookies.set("loa_lang", "en")  # the same file from an English page: English columns and words
    r = client.get(f"/app/c/{world.a}/reports.csv", params={"village": world.village_a, "month": "2026-03"})
    got = {(row["Figure"], row["Item"]): row["Value"] for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert got[("Minutes aired by kind", "News")] == "1.5" and got[("Plays", "Failed")] == "1"
    client.cookies.set("loa_lang", "vi")
    assert client.get(f"/app/c/{world.a}/reports", params={"month": "2026-13"}).status_code == 422
    client.cookies.clear()
    login(client, "outsider")
    assert client.get(f"/app/c/{world.a}/reports.csv", params={"village": world.village_a}).status_code == 404


def test_report_counts_planned_plays_from_schedules(client, app, world, facts, clock):
    from tests.api.web.test_schedule_emergency import _check

    item = make_item(app, world, facts, clock(), status="approved")
    token = login(client, "cadre")
    assert _check(client, world, token, item, action="save").status_code == 303
    clock.now += timedelta(days=2)  # now 4 March 08:00: 2/3 17:00, 3/3 06:00 and 17:00, 4/3 06:00 — 4 plays × 2 devices
    client.cookies.clear()
    login(client, "cadre")  # the 12-hour session ended meanwhile
    page = client.get(f"/app/c/{world.a}/reports", params={"village": world.village_a, "month": "2026-03"})
    assert "0 / 8" in page.text
