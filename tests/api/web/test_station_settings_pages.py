"""Station settings pages (issue 14): quiet hours, longest programme and CAP auto-air change what airs at once;
turning auto-air on asks first; the admin may change them through the API too."""
from __future__ import annotations

from datetime import timedelta


from tests.api.web.web_rig import make_item
from tests.api.web.org import as_user, csrf_headers


# ------------------------------------------------------------------ station settings take effect


def _week(client, world):
    return client.get(f"/api/v1/villages/{world.village_a}/timetable",
                      params={"date": "2026-03-03", "span": "day"}).json()


def test_station_settings_change_what_airs_at_once(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Tin khuya", status="approved")
    cadre = as_user(client, "cadre")
    r = client.post(f"/api/v1/communes/{world.a}/schedules", headers=csrf_headers(cadre), json={
        "title": "Tin khuya", "priority": "normal", "rrule": "FREQ=DAILY", "times": ["23:00"],
        "starts_at": "2026-03-03T00:00:00+07:00", "targets": {"villages": [world.village_a]},
        "programme": [{"type": "item", "content_id": item}]})
    assert r.status_code == 201, r.text

    def plays_at_23():
        day = _week(client, world)
        return sum(1 for d in day["devices"] for p in d["plays"] if "T23:00" in p["start"] or "T16:00" in p["start"])

    assert plays_at_23() == 0  # 22:00–05:00 by default: silenced
    token = as_user(client, "admin")
    page = client.get(f"/app/admin/communes/{world.a}/settings")
    assert page.status_code == 200 and "22:00–05:00" in page.text
    r = client.post(f"/app/admin/communes/{world.a}/settings", data={
        "csrf": token, "quiet_start": "23:30", "quiet_end": "05:00", "max_programme_min": "120"},
        follow_redirects=False)
    assert r.status_code == 303
    assert "23:30–05:00" in client.get(r.headers["location"]).text
    assert plays_at_23() == 2  # both clusters of Ún Tà now air it, no restart
    # Longest programme: the stored value is what the recording upload and the timetable read.
    from api.content.recording_upload import longest_programme_s
    from loa.db import session_scope

    r = client.post(f"/app/admin/communes/{world.a}/settings", data={
        "csrf": token, "quiet_start": "23:30", "quiet_end": "05:00", "max_programme_min": "1,5"})
    assert r.status_code == 200 or r.status_code == 303
    with session_scope(app.state.engine) as s:
        assert longest_programme_s(s, world.a) == 90  # what a recording upload is held to
    # …and what a schedule is checked against: the item and two minutes of silence are now too long.
    long_programme = [{"type": "item", "content_id": item}, {"type": "silence", "seconds": 120}]
    cadre = as_user(client, "cadre")
    r = client.post(f"/api/v1/communes/{world.a}/schedules", headers=csrf_headers(cadre), json={
        "title": "Dài", "priority": "normal", "at": "2026-03-03T09:00:00+07:00",
        "targets": {"villages": [world.village_a]}, "programme": long_programme})
    assert r.status_code == 422 and "tối đa 2 phút" in r.text, r.text
    token = as_user(client, "admin")
    entries = client.get("/api/v1/audit", params={"action": "station.settings"}).json()
    assert len(entries) == 2 and entries[0]["detail"]["max_programme_s"] == 90
    # Bad input: a clear message, nothing saved.
    for data, message in (({"quiet_start": "25:00", "quiet_end": "05:00", "max_programme_min": "60"},
                           "Giờ yên tĩnh phải có dạng"),
                          ({"quiet_start": "22:00", "quiet_end": "05:00", "max_programme_min": "0"}, "từ 1 đến 1440"),
                          ({"quiet_start": "22:00", "quiet_end": "05:00", "max_programme_min": "abc"}, "phải là một số")):
        r = client.post(f"/app/admin/communes/{world.a}/settings", data={"csrf": token, **data})
        assert r.status_code == 422 and message in r.text
    assert len(client.get("/api/v1/audit", params={"action": "station.settings"}).json()) == 2
    # No quiet hours at all.
    client.post(f"/app/admin/communes/{world.a}/settings", data={
        "csrf": token, "quiet_start": "22:00", "quiet_end": "05:00", "quiet_off": "1", "max_programme_min": "120"})
    got = client.get(f"/api/v1/communes/{world.a}/station-settings").json()
    assert got["quiet_start"] == got["quiet_end"] == "00:00"


def test_turning_on_cap_auto_air_asks_first_and_then_the_cap_decision_follows(client, app, world, clock):
    from tests.api.schedules.test_cap_api import sample

    clock.now += timedelta(hours=1)  # 09:00 on 2 March, inside the sample storm's validity
    admin = as_user(client, "admin")
    # The village's coordinates, typed on its page, put it inside the storm's polygon.
    client.post(f"/app/admin/villages/{world.village_a}", data={
        "csrf": admin, "name": "Ún Tà", "latitude": "22.45", "longitude": "103.92", "geocodes": "",
        "default_language": "pcc"})
    token = as_user(client, "cadre")  # the commune's cadre runs the station: may change its settings

    def storm(n):
        data = sample("storm.xml").replace(b"BAO05</identifier>", f"BAO05-{n}</identifier>".encode())
        r = client.post(f"/api/v1/communes/{world.a}/cap", content=data,
                        headers={"Content-Type": "application/xml", "X-CSRF-Token": token})
        assert r.status_code == 201, r.text
        return r.json()

    before = storm(1)  # auto-air off (the default): an Extreme + Immediate storm waits for a cadre
    assert before["emergency"]["status"] == "pending"
    form = {"csrf": token, "quiet_start": "22:00", "quiet_end": "05:00", "max_programme_min": "120", "auto_air": "1"}
    r = client.post(f"/app/admin/communes/{world.a}/settings", data=form)
    assert r.status_code == 200 and 'id="confirm-auto-air"' in r.text  # asked first, nothing saved yet
    assert client.get(f"/api/v1/communes/{world.a}/station-settings").json()["auto_air_extreme_immediate"] is False
    assert storm(2)["emergency"]["status"] == "pending"
    r = client.post(f"/app/admin/communes/{world.a}/settings", data={**form, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    after = storm(3)  # the next alert, same server, no restart: aired without a cadre
    assert after["alert"]["status"] == "aired" and after["emergency"]["status"] == "queued"
    # Turning it off needs no question, and takes effect as quickly.
    r = client.post(f"/app/admin/communes/{world.a}/settings", data={**form, "auto_air": ""}, follow_redirects=False)
    assert r.status_code == 303
    assert storm(4)["emergency"]["status"] == "pending"


def test_admin_may_change_station_settings_through_the_api(client, app, world):
    token = as_user(client, "admin")
    body = client.get(f"/api/v1/communes/{world.a}/station-settings").json()
    body = {k: body[k] for k in ("quiet_start", "quiet_end", "max_programme_s", "default_max_delay_s",
                                 "emergency_max_s", "auto_air_extreme_immediate", "timezone")}
    r = client.put(f"/api/v1/communes/{world.a}/station-settings", json={**body, "quiet_start": "21:00"},
                   headers=csrf_headers(token))
    assert r.status_code == 200 and r.json()["quiet_start"] == "21:00"
