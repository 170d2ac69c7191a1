"""An edit that takes away the play on air (issue 12): the schedules service names, right after the
re-materialization and before the manifests are rebuilt, the devices whose play of the rule was on air and is
now gone or plays other audio, so the broadcaster cuts them with a signed command at once. An edit that leaves
the play on air as it is (its title, its end date) names nobody: nothing is cut needlessly."""
from __future__ import annotations

from datetime import timedelta

from tests.api.schedules.schedules_rig import h, once

RELAY = [{"type": "relay", "url": "https://vov.vn/vov1", "duration_s": 600, "title": "Thời sự VOV1"}]
OTHER = [{"type": "relay", "url": "https://vov.vn/vov2", "duration_s": 600, "title": "VOV2"}]


def _service(app):
    return app.state.schedules


def test_edits_that_take_the_play_off_air_name_those_devices_only(client, app, station, engine, clock):
    st = station
    svc = _service(app)
    calls: list[tuple] = []
    svc.on_plays_withdrawn.append(lambda commune, rule, at, devices: calls.append((commune, rule, at, devices)))
    body = once(st, "2026-03-02T09:00:00+07:00", programme=RELAY, title="Tiếp sóng",
                targets={"villages": [st.w.village_a, st.w.village_a2]})
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules", json=body, headers=h(st, "cadre"))
    assert r.status_code == 201, r.text
    rule = r.json()["schedule"]["id"]
    clock.now = clock.now.replace(hour=9, minute=5)  # the relay is on air on the three devices of commune A
    svc.materialize_commune(st.w.a, clock())
    assert calls == []

    # the title only: the same audio on the same devices, nothing to cut
    r = client.put(f"/api/v1/schedules/{rule}", json={**body, "title": "Tiếp sóng VOV1"}, headers=h(st, "cadre"))
    assert r.status_code == 200, r.text
    assert calls == []

    # village A2 taken out: its one device loses the play on air, village A's two keep it
    r = client.put(f"/api/v1/schedules/{rule}", json={**body, "targets": {"villages": [st.w.village_a]}},
                   headers=h(st, "cadre"))
    assert r.status_code == 200, r.text
    assert calls == [(st.w.a, f"s{rule}", clock(), {st.dev_a2v})]

    # other audio for the same play: the two devices still on air must drop the old stream now
    calls.clear()
    clock.now += timedelta(seconds=30)
    r = client.put(f"/api/v1/schedules/{rule}", json={**body, "targets": {"villages": [st.w.village_a]},
                                                      "programme": OTHER}, headers=h(st, "cadre"))
    assert r.status_code == 200, r.text
    assert calls == [(st.w.a, f"s{rule}", clock(), {st.dev_a1, st.dev_a2})]


def test_a_stopped_schedule_is_not_cut_twice(client, app, station, engine, clock):
    """DELETE already sends its own stop command (rule_stopped): the withdrawal does not send a second one."""
    st = station
    svc = _service(app)
    stopped: list[tuple] = []
    withdrawn: list[tuple] = []
    svc.on_rule_stopped.append(lambda *a: stopped.append(a))
    svc.on_plays_withdrawn.append(lambda *a: withdrawn.append(a))
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules",
                    json=once(st, "2026-03-02T09:00:00+07:00", programme=RELAY, title="Tiếp sóng"),
                    headers=h(st, "cadre"))
    rule = r.json()["schedule"]["id"]
    clock.now = clock.now.replace(hour=9, minute=5)
    svc.materialize_commune(st.w.a, clock())
    assert client.delete(f"/api/v1/schedules/{rule}", headers=h(st, "cadre")).status_code == 204
    assert [a[1] for a in stopped] == [f"s{rule}"] and withdrawn == []


def test_an_item_archived_or_edited_while_on_air_is_cut_at_once(client, app, station, engine, clock):
    """Not at the scheduler's next tick: archiving the item (or editing its words, which takes its approval
    away) re-materializes the commune at once, and the plays of it on air are named for a signed stop."""
    st = station
    svc = _service(app)
    calls: list[tuple] = []
    svc.on_plays_withdrawn.append(lambda commune, rule, at, devices: calls.append((commune, rule, devices)))
    r = client.post(f"/api/v1/communes/{st.w.a}/schedules",
                    json=once(st, "2026-03-02T09:00:00+07:00", targets={"villages": [st.w.village_a]}),
                    headers=h(st, "cadre"))
    assert r.status_code == 201, r.text
    rule = r.json()["schedule"]["id"]
    clock.now = clock.now.replace(hour=9, minute=0, second=1)  # the item lasts 1.6 s
    svc.materialize_commune(st.w.a, clock())
    assert calls == []
    r = client.post(f"/api/v1/content/{st.items['vneid']}/archive", headers=h(st, "cadre"))
    assert r.status_code == 200, r.text
    assert calls == [(st.w.a, f"s{rule}", {st.dev_a1, st.dev_a2})]
