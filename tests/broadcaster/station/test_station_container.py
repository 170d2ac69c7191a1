"""The typed station container the device routes read (api/devices/station.py): built once by the app, the same
objects the rest of the app still finds on app.state, and its enrollment hook called by the real routes."""
from __future__ import annotations

from api.devices.station import Station, station_of
from broadcaster.station.context import StationContext
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code


def test_the_app_builds_one_typed_station(app):
    station = station_of(app)
    assert isinstance(station, Station) and isinstance(station.context, StationContext)
    assert station.engine is app.state.engine and station.settings is app.state.settings
    assert (app.state.broadcaster, app.state.nudger, app.state.commander, app.state.sse_hub) == \
        (station.context, station.nudger, station.commander, station.sse_hub)
    assert station.identities is station.context.identities and station.mqtt is None  # no broker configured


def test_enrolling_and_revoking_call_the_station_hook(app, client, world):
    calls: list[str] = []
    station_of(app).on_device_enrolled = lambda: calls.append("changed")
    device_id, creds = enroll_by_code(client, world)
    assert calls == ["changed"]  # the claim route: the broker learns the new credentials
    assert client.get(f"{DEV}/keys", headers=dh(creds)).status_code == 200
    r = client.post(f"/api/v1/devices/{device_id}/revoke", headers=world.h("cadre"))
    assert r.status_code == 200, r.text
    assert calls == ["changed", "changed"]  # revoked: the broker's files drop it
    assert client.get(f"{DEV}/keys", headers=dh(creds)).status_code == 401
