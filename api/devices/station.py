"""The station container: everything the device routes need, typed, built once per process by
`api.devices.setup.install`, and one dependency (`StationDep`) to get it.

Before this, the device routes read an untyped bag (`app.state.broadcaster`, `.nudger`, `.sse_hub`…) with
`getattr` and no types. The same objects stay reachable on `app.state` under their old names for the rest of the
app (web pages, schedules wiring, tests); the device side reads them from here."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.engine import Engine

from api.ratelimit import SlidingWindowLimit
from broadcaster.station.commands import Commander
from broadcaster.station.context import StationContext
from broadcaster.station.identities import IdentityCache
from broadcaster.station.nudges import Nudger
from broadcaster.station.push.command_relay import CommandRelay
from broadcaster.station.push.sse import SseHub
from broadcaster.station.push.sse_guard import StreamGuard
from broadcaster.station.live.service import LiveService
from broadcaster.station.relays import RelayRunner
from broadcaster.station.streams import StreamHub
from loa.settings import Settings

if TYPE_CHECKING:
    from broadcaster.station.push.mqtt import MqttPublisher


@dataclass
class Station:
    engine: Engine
    settings: Settings
    clock: Callable[[], datetime]
    context: StationContext  # keys, manifest, identity, standby and grant caches
    identities: IdentityCache
    sse_hub: SseHub
    sse_guard: StreamGuard
    command_relay: CommandRelay
    nudger: Nudger
    commander: Commander
    streams: StreamHub  # relayed radios and live speech, fanned out to the loudspeakers
    live: LiveService  # a cadre speaking live from a phone
    relay_runner: RelayRunner | None = None  # opens each scheduled radio's mount at its hours (one process only)
    mqtt: MqttPublisher | None = None  # set at start-up when LOA_MQTT_URL is configured
    # Called after a device is enrolled or revoked (a deployment that writes broker files hooks in here).
    on_device_enrolled: Callable[[], None] | None = None
    sse_ping_s: float = 20.0  # a comment line on every open event stream this often (proxies drop idle ones)
    # the per-address enrollment limits (api/devices/enroll_limits.py), made at the first enrollment call
    enroll_limits: dict[str, SlidingWindowLimit] = field(default_factory=dict)

    def device_enrolled(self) -> None:
        if self.on_device_enrolled is not None:
            self.on_device_enrolled()


def station_of(app: FastAPI) -> Station:
    station = app.state.station
    assert isinstance(station, Station), "api.devices.setup.install(app) builds the station"
    return station


def get_station(request: Request) -> Station:
    return station_of(request.app)


StationDep = Annotated[Station, Depends(get_station)]
