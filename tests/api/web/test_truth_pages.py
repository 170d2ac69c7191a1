"""The emergency status page says what the loudspeakers report (issue 12): after STOP it says "Đang dừng…"
until each loudspeaker confirms, names those silent for 10 s, and only then "Đã dừng trên 2/2 cụm loa". The
two boxes are set up through the Loudspeakers page and report through the real device endpoints."""
from __future__ import annotations

import re
from datetime import timedelta

from tests.api.web.web_rig import login, make_item
from tests.api.web.devices import beat, enroll, manifest_entries, play_record


def _row(html: str, device_id: int) -> str:
    return re.search(rf'<tr id="device-{device_id}">(.*?)</tr>', html, re.S).group(1)


def _two_boxes_with_a_daily_0830(client, app, world, facts, clock):
    """The cadre enrolls village A's two loudspeakers and saves a daily 08:30 schedule of «Tiêm phòng» from the
    schedule page; returns (the cadre's CSRF token, the two boxes)."""
    from tests.api.web.test_schedule_emergency import _check

    item = make_item(app, world, facts, clock(), title="Tiêm phòng", status="approved")
    token = login(client, "cadre")
    devices = [d for d in client.get(f"/api/v1/communes/{world.a}/devices").json()
               if d["village_id"] == world.village_a]
    one, two = (enroll(client, d["id"], token) for d in devices)
    assert _check(client, world, token, item, preset="daily", times="08:30", action="save").status_code == 303
    return token, one, two


def test_emergency_page_waits_for_the_loudspeakers_to_confirm_the_stop(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Lũ quét: sơ tán ngay", status="approved", kind="emergency")
    token = login(client, "cadre")
    devices = [d for d in client.get(f"/api/v1/communes/{world.a}/devices").json()
               if d["village_id"] == world.village_a]
    one, two = (enroll(client, d["id"], token) for d in devices)
    form = {"csrf": token, "item_id": str(item), "villages": [str(world.village_a)], "repeat": "until",
            "step": "air"}
    r = client.post(f"/app/c/{world.a}/emergency", data=form, follow_redirects=False)
    assert r.status_code == 303
    status_url = r.headers["location"]
    page = client.get(status_url).text
    assert "Đang phát khẩn cấp: 0/2 cụm loa báo đang phát" in page and 'http-equiv="refresh"' in page

    started = clock()
    entry_one = manifest_entries(client, one, "emergency")[0]
    clock.now += timedelta(seconds=1)
    beat(client, one, clock(), entry_one, started)
    clock.now += timedelta(seconds=4)
    page = client.get(status_url).text
    assert "1/2 cụm loa báo đang phát" in page
    assert "▶ Đang phát: Lũ quét" in _row(page, one.device_id) and "4 giây trước" in _row(page, one.device_id)
    assert "chưa có báo cáo nào" in _row(page, two.device_id)
    listing = client.get(f"/app/c/{world.a}/emergency").text  # the list of emergencies says the same
    assert "sơ tán ngay</a>: Đang phát khẩn cấp: 1/2 cụm loa báo đang phát" in listing

    clock.now += timedelta(seconds=5)
    r = client.post(f"/app/emergencies/{status_url.rsplit('/', 1)[1]}/cancel", data={"csrf": token},
                    follow_redirects=False)
    page = client.get(r.headers["location"]).text
    assert "Đang dừng… 0/2 cụm loa đã xác nhận" in page and "Đã dừng trên" not in page
    assert 'http-equiv="refresh"' in page and 'id="emergency-cancel"' not in page and 'id="unconfirmed"' not in page

    clock.now += timedelta(seconds=2)
    play_record(client, one, 1, entry_one, started, clock(), "interrupted", "cancelled")
    beat(client, one, clock())
    clock.now += timedelta(seconds=8)  # 10 s after the stop: box two has said nothing
    page = client.get(status_url).text
    assert re.search(r'id="unconfirmed">.*Chưa xác nhận sau 10 giây: Cụm loa 3', page, re.S)
    assert "đã dừng lúc" in _row(page, one.device_id) and "chưa xác nhận" in _row(page, two.device_id)
    english = client.get(status_url, headers={"Accept-Language": "en"}).text
    assert "Stopping… 1/2 loudspeakers confirmed" in english and "Đang dừng" not in english
    assert "Not confirmed after 10 seconds: Cụm loa 3" in english

    clock.now += timedelta(minutes=3)  # box two gets back in touch and reports when it really stopped
    entry_two = manifest_entries(client, two, "emergency")[0]
    play_record(client, two, 1, entry_two, started, clock() - timedelta(seconds=1), "interrupted", "cancelled")
    beat(client, two, clock())
    page = client.get(status_url).text
    assert "Đã dừng trên 2/2 cụm loa" in page and 'id="unconfirmed"' not in page
    assert 'http-equiv="refresh"' not in page
    assert "3 phút sau lệnh dừng" in _row(page, two.device_id)


def test_schedule_page_shows_what_the_loudspeakers_report_next_to_the_plan(client, app, world, facts, clock):
    token, one, two = _two_boxes_with_a_daily_0830(client, app, world, facts, clock)
    page = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    assert re.search(rf'id="now-{one.device_id}">.*?chưa có báo cáo nào', page, re.S)
    assert "loa báo" not in page  # nothing has begun yet: the calendar is only the plan

    clock.now = clock.now.replace(minute=30, second=5)
    entries = [e for e in manifest_entries(client, one) if e["start"].startswith("2026-03-02T01:30")]
    (entry,) = entries
    beat(client, one, clock(), entry, clock() - timedelta(seconds=5))
    clock.now += timedelta(seconds=25)
    page = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    now_one = re.search(rf'id="now-{one.device_id}">(.*?)</li>', page, re.S).group(1)
    assert "▶ Đang phát: Tiêm phòng" in now_one and "25 giây trước" in now_one
    assert "loa báo: ? 2 chưa có báo cáo nào" in page  # begun, nobody has sent its record yet

    clock.now += timedelta(minutes=5)
    play_record(client, one, 1, entry, clock().replace(minute=30, second=0), clock().replace(minute=30, second=9),
                "played")
    entry_two = [e for e in manifest_entries(client, two) if e["start"].startswith("2026-03-02T01:30")][0]
    play_record(client, two, 1, entry_two, clock().replace(minute=30, second=0),
                clock().replace(minute=30, second=4), "interrupted", "cancelled")
    beat(client, one, clock())
    page = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    assert "loa báo: ✔ 1 phát hết, ✂ 1 bị ngắt giữa chừng" in page
    assert re.search(rf'id="now-{one.device_id}">.*?Đang im lặng', page, re.S)
    assert re.search(rf'id="now-{two.device_id}">.*?chưa có báo cáo nào', page, re.S)  # records, no heartbeat


def test_report_counts_a_stopped_emergency_as_an_emergency_and_never_as_completed(client, app, world, facts,
                                                                                 clock):
    import csv
    import io

    item = make_item(app, world, facts, clock(), title="Hướng dẫn sơ tán", status="approved", kind="guidance")
    token = login(client, "cadre")
    devices = [d for d in client.get(f"/api/v1/communes/{world.a}/devices").json()
               if d["village_id"] == world.village_a]
    one, two = (enroll(client, d["id"], token) for d in devices)
    form = {"csrf": token, "item_id": str(item), "villages": [str(world.village_a)], "repeat": "1", "step": "air"}
    r = client.post(f"/app/c/{world.a}/emergency", data=form, follow_redirects=False)
    emergency_id = r.headers["location"].rsplit("/", 1)[1]
    started = clock()
    e1, e2 = (manifest_entries(client, box, "emergency")[0] for box in (one, two))
    clock.now += timedelta(seconds=1)
    client.post(f"/app/emergencies/{emergency_id}/cancel", data={"csrf": token})
    # Box one cut it half a second after the stop; box two did not get the stop and played it to its end.
    play_record(client, one, 1, e1, started, started + timedelta(seconds=1.5), "interrupted", "cancelled")
    play_record(client, two, 1, e2, started, started + timedelta(seconds=3.5), "played")
    clock.now += timedelta(minutes=1)
    page = client.get(f"/app/c/{world.a}/reports", params={"village": world.village_a, "month": "2026-03"}).text
    chart = page.split("Số phút đã phát theo loại")[1].split("</table>")[0]
    assert "Khẩn cấp" in chart and "Hướng dẫn" not in chart
    assert re.search(r"0 / \d+ phát xong.*?· 1 bị ngắt", page, re.S)
    assert "⚠ 1 lượt phát khẩn cấp vẫn tiếp tục sau lệnh dừng" in page
    csv_text = client.get(f"/app/c/{world.a}/reports.csv", params={"village": world.village_a,
                                                                   "month": "2026-03"}).text
    got = {(row["Chỉ số"], row["Mục"]): row["Giá trị"]
           for row in csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))}
    by_kind = "Số phút đã phát theo loại tin"
    assert got[(by_kind, "Khẩn cấp")] == "0.1" and (by_kind, "Hướng dẫn") not in got
    assert got[("Lượt phát", "Phát xong")] == "0" and got[("Lượt phát", "Bị ngắt")] == "1"
    assert got[("Lượt phát", "Lượt khẩn cấp phát sau lệnh dừng")] == "1"


def test_a_schedule_stopped_mid_play_waits_for_its_loudspeakers(client, app, world, facts, clock):
    token, one, two = _two_boxes_with_a_daily_0830(client, app, world, facts, clock)
    (schedule,) = client.get(f"/api/v1/communes/{world.a}/schedules").json()
    clock.now = clock.now.replace(minute=30, second=1)
    entries = {}
    for box in (one, two):
        (entries[box.device_id],) = [e for e in manifest_entries(client, box)
                                     if e["start"].startswith("2026-03-02T01:30")]
        beat(client, box, clock(), entries[box.device_id], clock() - timedelta(seconds=1))
    api = f"/api/v1/schedules/{schedule['id']}/stop"  # the same facts for API clients
    assert client.get(api).json()["air_state"] == "not_stopped"
    clock.now += timedelta(seconds=1)
    r = client.post(f"/app/schedules/{schedule['id']}/cancel", data={"csrf": token, "confirmed": "1"},
                    follow_redirects=False)
    got = client.get(api).json()
    assert (got["air_state"], got["stop_confirmed"], got["stop_total"]) == ("stopping", 0, 2), got
    assert got["summary_vi"] == "Đang dừng… 0/2 cụm loa đã xác nhận"
    page = client.get(r.headers["location"]).text
    stop = re.search(rf'id="stop-{schedule["id"]}"(.*?)</li>', page, re.S).group(1)
    assert "«Tiêm phòng»:" in stop and "Đang dừng… 0/2 cụm loa đã xác nhận" in stop
    clock.now += timedelta(seconds=1)
    play_record(client, one, 1, entries[one.device_id], clock() - timedelta(seconds=2), clock(), "interrupted",
                "cancelled")
    beat(client, one, clock())
    clock.now += timedelta(seconds=10)
    page = client.get(r.headers["location"]).text
    stop = re.search(rf'id="stop-{schedule["id"]}"(.*?)</li>', page, re.S).group(1)
    assert "1/2 cụm loa đã xác nhận" in stop and "Chưa xác nhận sau 10 giây: Cụm loa 3" in stop
    assert "Cụm loa 1 đã dừng lúc 08:30:03" in stop
    got = client.get(api).json()
    assert got["unconfirmed"] == ["Cụm loa 3"] and got["stop_confirmed"] == 1
    (first,) = [x for x in got["loudspeakers"] if x["device_id"] == one.device_id]
    assert first["state"] == "confirmed" and first["delay_s"] is not None
    beat(client, two, clock(), entries[two.device_id], clock() - timedelta(seconds=13))  # says it still plays it
    page = client.get(r.headers["location"]).text
    assert "Chưa xác nhận sau 10 giây: Cụm loa 3" in page
    clock.now += timedelta(seconds=1)
    beat(client, two, clock())
    page = client.get(r.headers["location"]).text
    stop = re.search(rf'id="stop-{schedule["id"]}"(.*?)</li>', page, re.S).group(1)
    assert "Đã dừng trên 2/2 cụm loa" in stop and "Chưa xác nhận" not in stop
    got = client.get(api).json()
    assert (got["air_state"], got["stop_confirmed"], got["unconfirmed"]) == ("stopped", 2, [])
    assert got["summary_en"] == "Stopped on 2/2 loudspeakers"
